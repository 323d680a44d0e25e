"""Users: who may create and manage whom, password rules, concurrency, audit."""

from __future__ import annotations

import uuid

import httpx

from .conftest import Actor, Factory, Tenant
from .helpers import assert_problem, error_locs

USERS = "/api/v1/users"


def _new_user(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "email": f"new.{uuid.uuid4().hex[:8]}@example.org",
        "full_name": "Chenda Sok",
        "role": "caseworker",
        "password": "Mekong-River-Sunset-7",
    }
    body.update(changes)
    return body


async def test_org_admin_creates_a_user_who_can_log_in(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    body = _new_user(email="Mixed.Case@Example.org")
    response = await client.post(USERS, json=body, headers=tenant_a["org_admin"].headers)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["organisation_id"] == str(tenant_a.organisation_id)
    assert created["email"] == "mixed.case@example.org"
    assert "Mekong" not in response.text and "argon2" not in response.text
    assert response.headers["location"].endswith(created["id"])
    actor = Actor(
        uuid.UUID(created["id"]),
        tenant_a.organisation_id,
        created["email"],
        "caseworker",
        str(body["password"]),
    )
    assert (await factory.login(actor)).status_code == 200


async def test_user_input_errors(client: httpx.AsyncClient, tenant_a: Tenant) -> None:
    headers = tenant_a["org_admin"].headers
    taken = await client.post(
        USERS, json=_new_user(email=tenant_a["analyst"].email), headers=headers
    )
    assert_problem(taken, 409)
    for password, rule in [
        ("short-1", "at least 12"),
        ("password1234", "too common"),
        ("Qwertyuiop12", "too common"),
        ("aaaaaaaaaaaaaaaa", "repetitive"),
    ]:
        weak = await client.post(USERS, json=_new_user(password=password), headers=headers)
        body = assert_problem(weak, 422)
        assert rule in body["detail"], (password, body)
        assert error_locs(body) == [["body", "password"]]
    unknown_field = await client.post(USERS, json=_new_user(is_superuser=True), headers=headers)
    assert ["body", "is_superuser"] in error_locs(assert_problem(unknown_field, 422))
    bad_role = await client.post(USERS, json=_new_user(role="god"), headers=headers)
    assert ["body", "role"] in error_locs(assert_problem(bad_role, 422))
    bad_email = await client.post(USERS, json=_new_user(email="not-an-email"), headers=headers)
    assert ["body", "email"] in error_locs(assert_problem(bad_email, 422))
    wrong_type = await client.post(USERS, json=_new_user(full_name=["a"]), headers=headers)
    assert_problem(wrong_type, 422)


async def test_org_admin_cannot_create_network_admins_or_users_elsewhere(
    client: httpx.AsyncClient, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    headers = tenant_a["org_admin"].headers
    assert_problem(
        await client.post(USERS, json=_new_user(role="network_admin"), headers=headers), 403
    )
    elsewhere = _new_user(organisation_id=str(tenant_b.organisation_id))
    assert_problem(await client.post(USERS, json=elsewhere, headers=headers), 403)


async def test_network_admin_manages_org_admins_only(
    client: httpx.AsyncClient, tenant_a: Tenant, network_admin: Actor, factory: Factory
) -> None:
    headers = network_admin.headers
    # The first administrator of an organisation without one (tenant_a has one: see
    # test_network_admin_creates_only_a_first_admin in test_network_takeover.py).
    new_org = await factory.organisation()
    org_admin = _new_user(role="org_admin", organisation_id=str(new_org))
    created = await client.post(USERS, json=org_admin, headers=headers)
    assert created.status_code == 201, created.text
    assert created.json()["organisation_id"] == str(new_org)
    caseworker = _new_user(role="caseworker", organisation_id=str(tenant_a.organisation_id))
    assert_problem(await client.post(USERS, json=caseworker, headers=headers), 403)
    missing_org = _new_user(role="org_admin", organisation_id=str(uuid.uuid4()))
    assert ["body", "organisation_id"] in error_locs(
        assert_problem(await client.post(USERS, json=missing_org, headers=headers), 422)
    )

    listing = await client.get(
        USERS, params={"organisation_id": str(tenant_a.organisation_id)}, headers=headers
    )
    roles = {u["role"] for u in listing.json()["items"]}
    assert roles == {"org_admin"}
    # A caseworker of a member organisation is invisible to the network administrator.
    assert_problem(
        await client.get(f"{USERS}/{tenant_a['caseworker'].user_id}", headers=headers), 404
    )
    assert (
        await client.get(f"{USERS}/{tenant_a['org_admin'].user_id}", headers=headers)
    ).status_code == 200


async def test_list_users_is_scoped_filtered_and_paginated(
    client: httpx.AsyncClient, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    headers = tenant_a["org_admin"].headers
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = await client.get(USERS, params=params, headers=headers)
        assert page.status_code == 200, page.text
        body = page.json()
        seen += [u["email"] for u in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            assert "link" not in page.headers
            break
        assert 'rel="next"' in page.headers["link"]
    assert sorted(seen) == sorted(a.email for a in tenant_a.actors.values())
    only = await client.get(USERS, params={"role": "analyst"}, headers=headers)
    assert [u["email"] for u in only.json()["items"]] == [tenant_a["analyst"].email]
    assert_problem(await client.get(USERS, params={"role": "king"}, headers=headers), 422)
    assert_problem(await client.get(USERS, params={"cursor": "garbage"}, headers=headers), 422)
    assert_problem(await client.get(USERS, params={"limit": "0"}, headers=headers), 422)
    clamped = await client.get(USERS, params={"limit": "100000"}, headers=headers)
    assert clamped.status_code == 200


async def test_updates_need_a_current_if_match(client: httpx.AsyncClient, tenant_a: Tenant) -> None:
    headers = tenant_a["org_admin"].headers
    path = f"{USERS}/{tenant_a['analyst'].user_id}"
    etag = (await client.get(path, headers=headers)).headers["etag"]
    assert_problem(await client.patch(path, json={"full_name": "A"}, headers=headers), 428)
    first = await client.patch(path, json={"full_name": "A"}, headers={**headers, "If-Match": etag})
    assert first.status_code == 200
    assert first.headers["etag"] != etag
    stale = await client.patch(path, json={"full_name": "B"}, headers={**headers, "If-Match": etag})
    assert_problem(stale, 412)
    assert (await client.get(path, headers=headers)).json()["full_name"] == "A"


async def test_role_change_and_self_protection(client: httpx.AsyncClient, tenant_a: Tenant) -> None:
    admin = tenant_a["org_admin"]
    headers = {**admin.headers, "If-Match": "*"}
    promote = await client.patch(
        f"{USERS}/{tenant_a['caseworker'].user_id}", json={"role": "case_manager"}, headers=headers
    )
    assert promote.json()["role"] == "case_manager"
    me = await client.get(f"{USERS}/me", headers=tenant_a["caseworker"].headers)
    assert "cases:approve" in me.json()["scopes"]  # scopes follow the current role at once
    assert_problem(
        await client.patch(f"{USERS}/{admin.user_id}", json={"active": False}, headers=headers), 409
    )
    assert_problem(
        await client.patch(
            f"{USERS}/{tenant_a['analyst'].user_id}",
            json={"role": "network_admin"},
            headers=headers,
        ),
        403,
    )


async def test_password_reset_by_admin(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    target = tenant_a["analyst"]
    response = await client.post(
        f"{USERS}/{target.user_id}/reset-password", headers=tenant_a["org_admin"].headers
    )
    assert response.status_code == 200
    temporary = response.json()["temporary_password"]
    assert_problem(await client.get(f"{USERS}/me", headers=target.headers), 401)
    login = await factory.login(target, password=temporary)
    assert login.status_code == 200
    assert login.json()["password_change_required"] is True
    # The temporary password's login may only set a new password (it used to read /users/me).
    refused = assert_problem(await client.get(f"{USERS}/me", headers=target.headers), 403)
    assert refused["type"].endswith("/password-change-required")
    changed = await client.post(
        f"{USERS}/me/password",
        json={"current_password": temporary, "new_password": "Tonle-Sap-Lake-2026"},
        headers=target.headers,
    )
    assert changed.status_code == 204, changed.text
    me = await client.get(f"{USERS}/me", headers=target.headers)
    assert me.status_code == 200
    assert me.json()["must_change_password"] is False


async def test_change_own_password(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    actor = tenant_a["case_manager"]
    other = Actor(**{**actor.__dict__})
    await factory.login(other)
    path = f"{USERS}/me/password"
    wrong = await client.post(
        path,
        json={"current_password": "nope-nope-nope", "new_password": "Tonle-Sap-Lake-2026"},
        headers=actor.headers,
    )
    assert error_locs(assert_problem(wrong, 422)) == [["body", "current_password"]]
    weak = await client.post(
        path,
        json={"current_password": actor.password, "new_password": "password1234"},
        headers=actor.headers,
    )
    assert error_locs(assert_problem(weak, 422)) == [["body", "new_password"]]
    ok = await client.post(
        path,
        json={"current_password": actor.password, "new_password": "Tonle-Sap-Lake-2026"},
        headers=actor.headers,
    )
    assert ok.status_code == 204
    assert (await client.get(f"{USERS}/me", headers=actor.headers)).status_code == 200
    assert_problem(await client.get(f"{USERS}/me", headers=other.headers), 401)
    assert (await factory.login(actor, password="Tonle-Sap-Lake-2026")).status_code == 200


async def test_user_changes_are_audited_with_field_names_only(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    admin = tenant_a["org_admin"]
    target = tenant_a["caseworker"]
    await client.patch(
        f"{USERS}/{target.user_id}",
        json={"full_name": "Secret Name"},
        headers={**admin.headers, "If-Match": "*"},
    )
    events = await client.get(
        "/api/v1/audit",
        params={"resource_id": str(target.user_id), "action": "user.update"},
        headers=admin.headers,
    )
    items = events.json()["items"]
    assert len(items) == 1
    assert items[0]["changed_fields"] == ["full_name"]
    assert items[0]["actor_user_id"] == str(admin.user_id)
    assert "Secret Name" not in events.text


async def test_network_admin_creates_network_analysts(
    client: httpx.AsyncClient, network_admin: Actor, factory: Factory
) -> None:
    body = _new_user(role="network_analyst")
    created = await client.post(USERS, json=body, headers=network_admin.headers)
    assert created.status_code == 201, created.text
    analyst = Actor(
        uuid.UUID(created.json()["id"]),
        network_admin.organisation_id,
        created.json()["email"],
        "network_analyst",
        str(body["password"]),
    )
    await factory.login(analyst)
    me = await client.get(f"{USERS}/me", headers=analyst.headers)
    assert me.json()["scopes"] == ["stats:network"]
