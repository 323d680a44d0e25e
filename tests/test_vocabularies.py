"""Vocabularies: every code list the API accepts, English and Khmer labels, ETag caching."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from ovc_api.vocabularies.khmer import KHMER
from ovc_api.vocabularies.service import VOCABULARIES

from .conftest import Tenant
from .helpers import assert_problem

URL = "/api/v1/vocabularies"


def _is_khmer(text: str) -> bool:
    return any("\u1780" <= ch <= "\u17ff" for ch in text)


def test_every_code_has_a_khmer_label_and_no_label_is_stale() -> None:
    assert set(KHMER) == set(VOCABULARIES)
    for name, codes in VOCABULARIES.items():
        assert set(KHMER[name]) == {m.value for m in codes}, name
        for code, label in KHMER[name].items():
            assert _is_khmer(label), f"{name}.{code}"


def _enums(schema: Any, found: list[frozenset[str]]) -> None:
    if isinstance(schema, dict):
        if "enum" in schema and all(isinstance(v, str) for v in schema["enum"]):
            found.append(frozenset(schema["enum"]))
        for value in schema.values():
            _enums(value, found)
    elif isinstance(schema, list):
        for value in schema:
            _enums(value, found)


# Enumerations of the API's own mechanics, not code lists of the domain.
# Fields whose codes are for programs, not people (no label is shown to a caseworker).
MECHANICS = {
    "sort",
    "format",
    "scope",
    "group_by",
    "period",
    "variant",
    "role",
    "scopes",
    "event_types",
}


def test_every_code_list_in_request_bodies_is_served(app: FastAPI) -> None:
    schemas = app.openapi()["components"]["schemas"]
    served = {frozenset(m.value for m in codes) for codes in VOCABULARIES.values()}
    missing = []
    for name, schema in schemas.items():
        if not (name.endswith(("Create", "Update")) or name in {"Gatekeeping", "GroupRow"}):
            continue
        for field, definition in schema.get("properties", {}).items():
            if field in MECHANICS:
                continue
            found: list[frozenset[str]] = []
            _enums(definition, found)
            refs = [
                schemas[ref.rsplit("/", 1)[1]]
                for ref in _refs(definition)
                if "enum" in schemas[ref.rsplit("/", 1)[1]]
            ]
            found += [frozenset(r["enum"]) for r in refs]
            missing += [(name, field) for codes in found if codes not in served]
    assert missing == []


def _refs(schema: Any) -> list[str]:
    if isinstance(schema, dict):
        own = [schema["$ref"]] if "$ref" in schema else []
        return own + [r for value in schema.values() for r in _refs(value)]
    if isinstance(schema, list):
        return [r for value in schema for r in _refs(value)]
    return []


async def test_labels_by_accept_language_and_etag_caching(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    headers = tenant_a["caseworker"].headers
    english = await client.get(f"{URL}/placement_type", headers=headers)
    assert english.status_code == 200, english.text
    labels = {i["code"]: i["label"] for i in english.json()["items"]}
    assert labels["kinship_care"] == "Kinship care"
    assert english.headers["content-language"] == "en"
    assert "accept-language" in english.headers["vary"].lower()
    khmer = await client.get(
        f"{URL}/placement_type", headers={**headers, "Accept-Language": "km-KH, en;q=0.5"}
    )
    assert khmer.json()["language"] == "km"
    assert {i["code"]: i["label"] for i in khmer.json()["items"]}["kinship_care"] == (
        "ការថែទាំដោយសាច់ញាតិ"
    )
    assert khmer.headers["etag"] != english.headers["etag"]
    french = await client.get(f"{URL}/placement_type", headers={**headers, "Accept-Language": "fr"})
    assert french.json() == english.json()
    cached = await client.get(
        f"{URL}/placement_type", headers={**headers, "If-None-Match": english.headers["etag"]}
    )
    assert cached.status_code == 304 and cached.content == b""
    everything = await client.get(URL, headers={**headers, "Accept-Language": "km"})
    names = [v["name"] for v in everything.json()["vocabularies"]]
    assert names == list(VOCABULARIES)
    provinces = everything.json()["vocabularies"][0]["items"]
    assert {"code": "battambang", "label": "បាត់ដំបង"} in provinces
    assert_problem(await client.get(f"{URL}/orphan_types", headers=headers), 404)


def test_openapi_enums_carry_their_english_labels(app: FastAPI) -> None:
    schemas = app.openapi()["components"]["schemas"]
    description = schemas["PlacementType"]["description"]
    assert "`kinship_care`: Kinship care" in description
    assert "/api/v1/vocabularies/placement_type" in description
    assert (
        "Provincial Department of Social Affairs (DoSVY)"
        in schemas["GatekeepingAuthority"]["description"]
    )
