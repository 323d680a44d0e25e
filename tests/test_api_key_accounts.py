"""Issue 10, section 3: API keys are the organisation's service accounts, answered for by a
person; they never outlive that person's rights, and never stand in for a person where
four eyes are needed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from alembic import command
from sqlalchemy import TextClause, Uuid, bindparam, create_engine, text
from sqlalchemy.engine import make_url

from ovc_api.db import alembic_config

from .conftest import Actor, Factory, Tenant, make_test_database
from .helpers import assert_problem, error_locs

KEYS = "/api/v1/api-keys"
USERS = "/api/v1/users"


async def _key(client: httpx.AsyncClient, admin: Actor, scopes: list[str]) -> dict[str, Any]:
    response = await client.post(
        KEYS, json={"label": "partner integration", "scopes": scopes}, headers=admin.headers
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def _bearer(key: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {key['key']}"}


async def _patch_user(
    client: httpx.AsyncClient, admin: Actor, user: Actor, changes: dict[str, Any]
) -> None:
    current = await client.get(f"{USERS}/{user.user_id}", headers=admin.headers)
    response = await client.patch(
        f"{USERS}/{user.user_id}",
        json=changes,
        headers={**admin.headers, "If-Match": current.headers["etag"]},
    )
    assert response.status_code == 200, response.text


async def test_deactivating_the_responsible_user_suspends_the_key(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    creator = await factory.user(tenant_a.organisation_id, "org_admin")
    key = await _key(client, creator, ["cases:read", "cases:all"])
    assert (await client.get("/api/v1/children", headers=_bearer(key))).status_code == 200

    await _patch_user(client, tenant_a["org_admin"], creator, {"active": False})
    suspended = assert_problem(await client.get("/api/v1/children", headers=_bearer(key)), 401)
    assert suspended["type"].endswith("/api-key-suspended")
    assert key["responsible"]["id"] == str(creator.user_id)

    listing = await client.get(KEYS, headers=tenant_a["org_admin"].headers)
    listed = next(k for k in listing.json()["items"] if k["id"] == key["id"])
    assert listed["responsible"] == {
        "id": str(creator.user_id),
        "full_name": "Test org_admin",
        "active": False,
    }
    assert listed["effective_scopes"] == []

    handed = await client.post(
        f"{KEYS}/{key['id']}/hand-over",
        json={"responsible_user_id": str(tenant_a["org_admin"].user_id)},
        headers=tenant_a["org_admin"].headers,
    )
    assert handed.status_code == 200, handed.text
    assert handed.json()["responsible"]["id"] == str(tenant_a["org_admin"].user_id)
    assert (await client.get("/api/v1/children", headers=_bearer(key))).status_code == 200
    log = await client.get(
        "/api/v1/audit",
        params={"action": "api_key.hand_over"},
        headers=tenant_a["org_admin"].headers,
    )
    assert [e["resource_id"] for e in log.json()["items"]] == [key["id"]]


async def test_a_key_holds_at_most_its_responsible_users_current_scopes(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    creator = await factory.user(tenant_a.organisation_id, "org_admin")
    key = await _key(client, creator, ["cases:read", "cases:all", "stats:read"])
    assert (await client.get("/api/v1/children", headers=_bearer(key))).status_code == 200

    await _patch_user(client, tenant_a["org_admin"], creator, {"role": "analyst"})
    assert_problem(await client.get("/api/v1/children", headers=_bearer(key)), 403)
    assert (await client.get("/api/v1/stats/cases", headers=_bearer(key))).status_code == 200
    details = await client.get(f"{KEYS}/{key['id']}", headers=tenant_a["org_admin"].headers)
    assert details.json()["scopes"] == ["cases:all", "cases:read", "stats:read"]
    assert details.json()["effective_scopes"] == ["stats:read"]


async def test_hand_over_needs_an_active_colleague_holding_the_keys_scopes(
    client: httpx.AsyncClient, tenant_a: Tenant, tenant_b: Tenant, factory: Factory
) -> None:
    admin = tenant_a["org_admin"]
    key = await _key(client, admin, ["cases:read"])
    path = f"{KEYS}/{key['id']}/hand-over"
    inactive = await factory.user(tenant_a.organisation_id, "case_manager", active=False)
    for user_id in (
        tenant_b["org_admin"].user_id,  # another organisation's: unknown
        uuid.uuid4(),
        inactive.user_id,
        tenant_a["analyst"].user_id,  # holds no cases:read
    ):
        response = await client.post(
            path, json={"responsible_user_id": str(user_id)}, headers=admin.headers
        )
        assert error_locs(assert_problem(response, 422)) == [["body", "responsible_user_id"]]
    fine = await client.post(
        path,
        json={"responsible_user_id": str(tenant_a["case_manager"].user_id)},
        headers=admin.headers,
    )
    assert fine.status_code == 200
    assert_problem(
        await client.post(
            path,
            json={"responsible_user_id": str(admin.user_id)},
            headers=tenant_a["case_manager"].headers,
        ),
        403,
    )
    assert_problem(
        await client.post(
            f"{KEYS}/{key['id']}/hand-over",
            json={"responsible_user_id": str(tenant_b["org_admin"].user_id)},
            headers=tenant_b["org_admin"].headers,
        ),
        404,
    )


async def test_keys_cannot_request_or_decide_closures(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    key = await _key(
        client, tenant_a["org_admin"], ["cases:read", "cases:write", "cases:all", "cases:approve"]
    )
    case_id = await factory.case(tenant_a.organisation_id, status="review")
    requested = await client.post(
        f"/api/v1/cases/{case_id}/closure-requests",
        json={"reason": "other", "closed_on": "2026-03-01"},
        headers=_bearer(key),
    )
    assert assert_problem(requested, 403)["type"].endswith("/person-required")

    other_case = await factory.case(tenant_a.organisation_id, status="review")
    closure_id = (await factory.casework(tenant_a.organisation_id, other_case))[
        "closure_request_id"
    ]
    base = f"/api/v1/cases/{other_case}/closure-requests/{closure_id}"
    for action, body in (("approve", {}), ("reject", {"comment": "Not yet"})):
        response = await client.post(f"{base}/{action}", json=body, headers=_bearer(key))
        assert assert_problem(response, 403)["type"].endswith("/person-required"), action
    # People still can.
    approved = await client.post(
        f"{base}/approve", json={}, headers=tenant_a["case_manager"].headers
    )
    assert approved.status_code == 200, approved.text


def _uuids(sql: str, *names: str) -> TextClause:
    return text(sql).bindparams(*(bindparam(name, type_=Uuid()) for name in names))


def test_existing_keys_answer_to_their_creator_after_the_migration(tmp_path: Path) -> None:
    """Migration 0006 gives every existing key its creator as the responsible user."""
    for database in make_test_database(tmp_path, "keys"):
        config = alembic_config(database.owner_url, database.app_url)
        command.upgrade(config, "0004")
        url = make_url(database.owner_url)
        driver = "sqlite" if url.drivername.startswith("sqlite") else "postgresql+psycopg"
        engine = create_engine(url.set(drivername=driver))
        org, user, key = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        try:
            with engine.begin() as conn:
                if driver != "sqlite":
                    conn.execute(text("SELECT set_config('ovc.system', 'on', true)"))
                conn.execute(
                    _uuids(
                        "INSERT INTO organisations (id, name, short_name, kind, provinces, "
                        "active, created_at, updated_at, version) VALUES (:id, 'Old NGO', "
                        "'OLD', 'ngo', '[]', true, :now, :now, 1)",
                        "id",
                    ),
                    {"id": org, "now": datetime.now(UTC)},
                )
                conn.execute(
                    _uuids(
                        "INSERT INTO users (id, organisation_id, email, full_name, role, "
                        "password_hash, active, must_change_password, password_changed_at, "
                        "created_at, updated_at, version) VALUES (:id, :org, 'old@example.org', "
                        "'Old admin', 'org_admin', 'x', true, false, :now, :now, :now, 1)",
                        "id",
                        "org",
                    ),
                    {"id": user, "org": org, "now": datetime.now(UTC)},
                )
                conn.execute(
                    _uuids(
                        "INSERT INTO api_keys (id, organisation_id, label, prefix, "
                        "secret_digest, scopes, created_by, created_at) VALUES (:id, :org, "
                        "'old key', 'abcdefabcdef', 'digest', '[]', :user, :now)",
                        "id",
                        "org",
                        "user",
                    ),
                    {"id": key, "org": org, "user": user, "now": datetime.now(UTC)},
                )
            command.upgrade(config, "head")
            with engine.begin() as conn:
                if driver != "sqlite":
                    conn.execute(text("SELECT set_config('ovc.system', 'on', true)"))
                responsible = conn.execute(
                    text("SELECT responsible_user_id FROM api_keys")
                ).scalar_one()
            assert uuid.UUID(str(responsible)) == user
        finally:
            engine.dispose()
