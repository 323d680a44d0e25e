"""API keys: scoped, shown once, stored hashed, revocable, expiring, usage recorded."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import update

from ovc_api.identity.models import ApiKey

from .conftest import Actor, Tenant, system_session
from .helpers import assert_problem, error_locs

KEYS = "/api/v1/api-keys"


async def _create(client: httpx.AsyncClient, tenant: Tenant, scopes: list[str]) -> dict[str, str]:
    response = await client.post(
        KEYS,
        json={"label": "reports script", "scopes": scopes},
        headers=tenant["org_admin"].headers,
    )
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    return response.json()  # type: ignore[no-any-return]


async def test_key_authenticates_with_its_scopes_only(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    created = await _create(client, tenant_a, ["audit:read"])
    key_headers = {"Authorization": f"Bearer {created['key']}"}
    assert (await client.get("/api/v1/audit", headers=key_headers)).status_code == 200
    assert_problem(await client.get("/api/v1/users", headers=key_headers), 403)
    assert_problem(await client.get("/api/v1/users/me", headers=key_headers), 403)
    details = await client.get(f"{KEYS}/{created['id']}", headers=tenant_a["org_admin"].headers)
    assert "key" not in details.json()
    assert created["key"] not in details.text
    assert details.json()["last_used_at"] is not None


async def test_key_scopes_are_limited(client: httpx.AsyncClient, tenant_a: Tenant) -> None:
    headers = tenant_a["org_admin"].headers
    admin_scope = await client.post(
        KEYS, json={"label": "x", "scopes": ["users:admin"]}, headers=headers
    )
    assert error_locs(assert_problem(admin_scope, 422)) == [["body", "scopes"]]
    not_mine = await client.post(
        KEYS, json={"label": "x", "scopes": ["stats:network"]}, headers=headers
    )
    assert_problem(not_mine, 403)
    unknown = await client.post(KEYS, json={"label": "x", "scopes": ["root"]}, headers=headers)
    assert_problem(unknown, 422)
    past = await client.post(
        KEYS,
        json={"label": "x", "scopes": ["cases:read"], "expires_at": "2020-01-01T00:00:00Z"},
        headers=headers,
    )
    assert error_locs(assert_problem(past, 422)) == [["body", "expires_at"]]


async def test_revoked_and_expired_keys_stop_working(
    client: httpx.AsyncClient, tenant_a: Tenant, app: FastAPI
) -> None:
    admin = tenant_a["org_admin"].headers
    revoked = await _create(client, tenant_a, ["audit:read"])
    response = await client.post(f"{KEYS}/{revoked['id']}/revoke", headers=admin)
    assert response.json()["revoked_at"] is not None
    assert_problem(
        await client.get("/api/v1/audit", headers={"Authorization": f"Bearer {revoked['key']}"}),
        401,
    )
    expiring = await _create(client, tenant_a, ["audit:read"])
    async with system_session(app) as session:
        await session.exec(
            update(ApiKey)
            .where(ApiKey.id == uuid.UUID(expiring["id"]))  # type: ignore[arg-type]
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert_problem(
        await client.get("/api/v1/audit", headers={"Authorization": f"Bearer {expiring['key']}"}),
        401,
    )
    listed = await client.get(KEYS, params={"revoked": "true"}, headers=admin)
    assert [k["id"] for k in listed.json()["items"]] == [revoked["id"]]
    events = await client.get("/api/v1/audit", params={"resource_type": "api_key"}, headers=admin)
    assert {e["action"] for e in events.json()["items"]} == {"api_key.create", "api_key.revoke"}


async def test_network_admin_issues_keys_for_network_figures_only(
    client: httpx.AsyncClient, network_admin: Actor
) -> None:
    created = await client.post(
        KEYS,
        json={"label": "ministry report", "scopes": ["stats:network"]},
        headers=network_admin.headers,
    )
    assert created.status_code == 201, created.text
    key = {"Authorization": f"Bearer {created.json()['key']}"}
    assert (await client.get("/api/v1/stats/network/cases", headers=key)).status_code == 200
    assert_problem(await client.get("/api/v1/children", headers=key), 403)
    # The network administrator holds no case scope to hand out.
    refused = await client.post(
        KEYS, json={"label": "x", "scopes": ["cases:read"]}, headers=network_admin.headers
    )
    assert_problem(refused, 403)
