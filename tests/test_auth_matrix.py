"""Every endpoint: anonymous 401, role without the scope 403, another organisation's ids 404."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from .conftest import Actor, Factory, Tenant
from .helpers import assert_problem
from .matrix import MATRIX, PUBLIC, Endpoint

pytestmark = pytest.mark.usefixtures("app")


def test_every_api_route_is_in_the_matrix(app: FastAPI) -> None:
    routes = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if path.startswith("/api/")
        for method in operations
    }
    listed = {(e.method, e.path) for e in MATRIX} | PUBLIC
    assert routes - listed == set(), "add these routes to tests/matrix.py"
    assert listed - routes == set(), "these matrix entries have no route"


async def _ids_of(client: httpx.AsyncClient, tenant: Tenant, factory: Factory) -> dict[str, Any]:
    """One record of every kind in the tenant; case data belongs to its caseworker's case."""
    admin = tenant["org_admin"]
    org = tenant.organisation_id
    family_id = await factory.family(org)
    child_id = await factory.child(org, family_id=family_id)
    case_id = await factory.case(
        org, child_id=child_id, family_id=family_id, assigned_to=tenant["caseworker"].user_id
    )
    key = await client.post(
        "/api/v1/api-keys",
        json={"label": "matrix", "scopes": ["cases:read"]},
        headers=admin.headers,
    )
    assert key.status_code == 201, key.text
    return {
        "organisation_id": tenant.organisation_id,
        "name": "placement_type",
        "user_id": tenant["org_admin"].user_id,
        "api_key_id": key.json()["id"],
        "child_id": child_id,
        "family_id": family_id,
        "member_id": await factory.family_member(org, family_id),
        "case_id": case_id,
        "import_id": await factory.import_job(org),
        **await factory.casework(org, case_id),
        **await factory.care(org, child_id, case_id),
        **await factory.sharing(org, case_id, child_id, await factory.organisation()),
        **await factory.webhook(org),
    }


async def _call(
    client: httpx.AsyncClient, endpoint: Endpoint, ids: dict[str, Any], actor: Actor | None
) -> httpx.Response:
    path = endpoint.path.format(**ids)
    headers = actor.headers if actor else {}
    if endpoint.method in {"PATCH", "PUT"}:
        headers = {**headers, "If-Match": "*"}
    return await client.request(
        endpoint.method, path, json=endpoint.body, params=endpoint.params, headers=headers
    )


async def test_anonymous_callers_get_401_everywhere(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    ids = await _ids_of(client, tenant_a, factory)
    for endpoint in MATRIX:
        response = await _call(client, endpoint, ids, None)
        assert response.status_code == 401, f"{endpoint}: {response.status_code}"
        assert_problem(response, 401)


async def test_roles_without_the_scope_get_403(
    client: httpx.AsyncClient, tenant_a: Tenant, network_admin: Actor, factory: Factory
) -> None:
    ids = await _ids_of(client, tenant_a, factory)
    actors = {**tenant_a.actors, "network_admin": network_admin}
    for endpoint in MATRIX:
        for role, actor in actors.items():
            if role in endpoint.allowed:
                continue
            response = await _call(client, endpoint, ids, actor)
            assert response.status_code == 403, f"{role} {endpoint}: {response.text}"
            assert_problem(response, 403)


async def test_another_organisations_records_answer_404_like_missing_ones(
    client: httpx.AsyncClient, tenant_a: Tenant, tenant_b: Tenant, factory: Factory
) -> None:
    foreign = await _ids_of(client, tenant_b, factory)
    missing = {key: uuid.uuid4() for key in foreign}
    for endpoint in (e for e in MATRIX if e.tenant_owned):
        for role in endpoint.allowed & set(tenant_a.actors):
            actor = tenant_a[role]
            other = await _call(client, endpoint, foreign, actor)
            absent = await _call(client, endpoint, missing, actor)
            body = assert_problem(other, 404)
            expected = assert_problem(absent, 404)
            assert {k: v for k, v in body.items() if k not in {"instance", "request_id"}} == {
                k: v for k, v in expected.items() if k not in {"instance", "request_id"}
            }, f"{role} {endpoint}: another organisation's record differs from a missing one"


async def test_allowed_roles_can_read(
    client: httpx.AsyncClient, tenant_a: Tenant, network_admin: Actor, factory: Factory
) -> None:
    ids = await _ids_of(client, tenant_a, factory)
    actors = {**tenant_a.actors, "network_admin": network_admin}
    for endpoint in (e for e in MATRIX if e.method == "GET"):
        for role in endpoint.allowed:
            if endpoint.tenant_owned and role == "network_admin":
                continue  # ids of tenant A are another organisation's for the network admin
            response = await _call(client, endpoint, ids, actors[role])
            assert response.status_code == 200, f"{role} {endpoint}: {response.text}"
