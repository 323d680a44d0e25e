"""Smaller holes around the walls (issue 10, section 6): searches, e-mail probing, /metrics,
caching and sniffing headers, the JWT library's minimum version."""

from __future__ import annotations

import tomllib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from packaging.requirements import Requirement

from ovc_api.app import create_app
from ovc_api.settings import Environment, Settings

from .conftest import PASSWORD, Actor, Tenant

USERS = "/api/v1/users"
ORGS = "/api/v1/organisations"


# --- searches -------------------------------------------------------------------------


async def test_user_search_takes_wildcards_literally(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    admin = tenant_a["org_admin"]
    # "%" would match everyone, "t_c" "Test caseworker" and "Test case_manager".
    for wildcard in ("%", "t_c", "\\"):
        found = await client.get(USERS, params={"q": wildcard}, headers=admin.headers)
        assert found.status_code == 200
        assert found.json()["items"] == [], wildcard
    found = await client.get(USERS, params={"q": "test org_"}, headers=admin.headers)
    assert [u["email"] for u in found.json()["items"]] == [admin.email]


async def test_organisation_search_takes_wildcards_literally(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    headers = tenant_a["caseworker"].headers
    for wildcard in ("%", "_"):
        found = await client.get(ORGS, params={"q": wildcard}, headers=headers)
        assert found.status_code == 200
        assert found.json()["items"] == [], wildcard


# --- e-mail addresses -----------------------------------------------------------------


async def test_a_taken_email_answers_the_same_whichever_organisation_holds_it(
    client: httpx.AsyncClient, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    """Addresses are unique across the network (login is by e-mail alone): the 409 must not
    tell an administrator whether the address is in its own organisation or another."""
    taken = tenant_b["caseworker"].email
    answers = []
    for admin in (tenant_a["org_admin"], tenant_b["org_admin"]):
        response = await client.post(
            USERS,
            json={
                "email": taken.upper(),
                "full_name": "Probe",
                "role": "caseworker",
                "password": PASSWORD,
            },
            headers=admin.headers,
        )
        assert response.status_code == 409, response.text
        body = response.json()
        answers.append({k: body[k] for k in ("type", "title", "status", "detail")})
    assert answers[0] == answers[1]
    assert "any organisation" in answers[0]["detail"]


# --- /metrics -------------------------------------------------------------------------


@asynccontextmanager
async def _client_for(settings: Settings, **changes: object) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update=changes), check_schema=False)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http
    await app.state.database.engine.dispose()


async def test_metrics_need_the_metrics_token_when_one_is_set(settings: Settings) -> None:
    async with _client_for(settings, metrics_token="scrape-me-0123456789") as http:
        anonymous = await http.get("/metrics")
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"].startswith("Bearer")
        wrong = await http.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        right = await http.get("/metrics", headers={"Authorization": "Bearer scrape-me-0123456789"})
        assert right.status_code == 200
        assert "ovc_http_requests_total" in right.text


async def test_metrics_are_not_served_in_production_without_a_token(settings: Settings) -> None:
    async with _client_for(settings, environment=Environment.production) as http:
        assert (await http.get("/metrics")).status_code == 404
    async with _client_for(
        settings, environment=Environment.production, metrics_token="t" * 32
    ) as http:
        response = await http.get("/metrics", headers={"Authorization": "Bearer " + "t" * 32})
        assert response.status_code == 200


# --- response headers -----------------------------------------------------------------


async def test_api_responses_are_never_cached_nor_sniffed(
    client: httpx.AsyncClient, tenant_a: Tenant, network_admin: Actor
) -> None:
    manager = tenant_a["case_manager"]
    for path, headers in [
        ("/api/v1/users/me", manager.headers),
        ("/api/v1/children", manager.headers),
        ("/api/v1/stats/cases?format=csv", manager.headers),
        ("/api/v1/exports/children", manager.headers),
        ("/api/v1/children", {}),  # a 401 problem
        ("/api/v1/nowhere", manager.headers),  # a 404 problem
    ]:
        response = await client.get(path, headers=headers)
        assert response.headers["cache-control"] == "no-store", path
        assert response.headers["x-content-type-options"] == "nosniff", path


async def test_docs_and_health_still_work_and_are_not_sniffed(client: httpx.AsyncClient) -> None:
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    assert docs.headers["x-content-type-options"] == "nosniff"
    schema = await client.get("/openapi.json")
    assert schema.status_code == 200
    assert schema.json()["info"]["title"] == "ovc-api"
    health = await client.get("/healthz")
    assert health.status_code == 200
    assert health.headers["x-content-type-options"] == "nosniff"


# --- dependencies ---------------------------------------------------------------------


def test_python_jose_is_at_least_3_4() -> None:
    """3.3 has CVE-2024-33663 (algorithm confusion) and CVE-2024-33664 (JWE bomb)."""
    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    [jose] = [
        Requirement(r)
        for r in project["project"]["dependencies"]
        if Requirement(r).name == "python-jose"
    ]
    for vulnerable in ("3.3.0", "3.3.1", "3.0.0"):
        assert not jose.specifier.contains(vulnerable), vulnerable
    assert jose.specifier.contains("3.4.0")
