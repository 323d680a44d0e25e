"""Organisations: a directory for all, edited by the network administrator, never deleted."""

from __future__ import annotations

import uuid

import httpx

from .conftest import Actor, Factory, Tenant
from .helpers import assert_problem, error_locs

ORGS = "/api/v1/organisations"


def _org(**changes: object) -> dict[str, object]:
    tag = uuid.uuid4().hex[:6]
    body: dict[str, object] = {
        "name": f"Sunrise Child Services {tag}",
        "short_name": f"SCS{tag}",
        "kind": "ngo",
        "provinces": ["battambang", "pursat"],
        "contact_email": "info@scs.example.org",
    }
    body.update(changes)
    return body


async def test_network_admin_creates_and_deactivates(
    client: httpx.AsyncClient, network_admin: Actor, tenant_a: Tenant
) -> None:
    created = await client.post(ORGS, json=_org(), headers=network_admin.headers)
    assert created.status_code == 201, created.text
    org = created.json()
    assert org["provinces"] == ["battambang", "pursat"] and org["active"] is True
    path = f"{ORGS}/{org['id']}"
    deactivated = await client.patch(
        path,
        json={"active": False},
        headers={**network_admin.headers, "If-Match": created.headers["etag"]},
    )
    assert deactivated.json()["active"] is False
    # Members no longer see it; the network administrator still does (nothing is deleted).
    caseworker = tenant_a["caseworker"]
    assert_problem(await client.get(path, headers=caseworker.headers), 404)
    listed = await client.get(ORGS, params={"q": org["short_name"]}, headers=caseworker.headers)
    assert listed.json()["items"] == []
    assert (await client.get(path, headers=network_admin.headers)).json()["active"] is False
    inactive = await client.get(
        ORGS, params={"active": "false", "q": org["short_name"]}, headers=network_admin.headers
    )
    assert [o["id"] for o in inactive.json()["items"]] == [org["id"]]


async def test_organisation_input_errors(client: httpx.AsyncClient, network_admin: Actor) -> None:
    headers = network_admin.headers
    first = _org()
    assert (await client.post(ORGS, json=first, headers=headers)).status_code == 201
    assert_problem(await client.post(ORGS, json=_org(name=first["name"]), headers=headers), 409)
    bad_province = await client.post(ORGS, json=_org(provinces=["atlantis"]), headers=headers)
    assert ["body", "provinces", 0] in error_locs(assert_problem(bad_province, 422))
    bad_kind = await client.post(ORGS, json=_org(kind="club"), headers=headers)
    assert ["body", "kind"] in error_locs(assert_problem(bad_kind, 422))
    assert_problem(await client.get(f"{ORGS}/not-a-uuid", headers=headers), 422)
    assert_problem(await client.get(f"{ORGS}/{uuid.uuid4()}", headers=headers), 404)


async def test_every_member_reads_the_directory(
    client: httpx.AsyncClient, tenant_a: Tenant, tenant_b: Tenant, factory: Factory
) -> None:
    analyst = tenant_a["analyst"]
    other = await client.get(f"{ORGS}/{tenant_b.organisation_id}", headers=analyst.headers)
    assert other.status_code == 200
    assert other.headers["etag"]
    provinces = await client.get("/api/v1/provinces", headers=analyst.headers)
    codes = {p["code"]: p["official_code"] for p in provinces.json()}
    assert len(codes) == 25 and codes["phnom_penh"] == "12" and codes["battambang"] == "02"
