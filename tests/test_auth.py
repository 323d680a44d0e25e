"""Login, token validation, refresh rotation and reuse detection, logout, throttling."""

from __future__ import annotations

import time
import uuid

import httpx
from jose import jwt

from ovc_api.app import create_app
from ovc_api.settings import Settings

from .conftest import Actor, Factory, Tenant
from .helpers import assert_problem

ME = "/api/v1/users/me"


async def test_login_returns_access_and_refresh_tokens(
    client: httpx.AsyncClient, factory: Factory, settings: Settings
) -> None:
    organisation_id = await factory.organisation()
    actor = await factory.user(organisation_id, "caseworker", login=False)
    response = await factory.login(actor)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == settings.access_token_minutes * 60
    assert response.headers["cache-control"] == "no-store"
    claims = jwt.get_unverified_claims(body["access_token"])
    assert set(claims) >= {"sub", "org", "scopes", "iss", "aud", "iat", "exp", "jti"}
    assert claims["org"] == str(organisation_id)
    assert claims["scopes"] == ["cases:read", "cases:write"]
    me = await client.get(ME, headers=actor.headers)
    assert me.status_code == 200
    assert me.json()["email"] == actor.email
    assert me.headers["etag"]


async def test_unknown_user_and_wrong_password_look_the_same(
    client: httpx.AsyncClient, factory: Factory, tenant_a: Tenant
) -> None:
    wrong = await factory.login(tenant_a["caseworker"], password="Wrong-password-123")
    unknown = await client.post(
        "/api/v1/auth/token", data={"username": "nobody@example.org", "password": "whatever-123"}
    )
    a, b = assert_problem(wrong, 401), assert_problem(unknown, 401)
    assert a["detail"] == b["detail"] == "Incorrect email or password"


async def test_login_time_is_comparable_for_unknown_users(
    client: httpx.AsyncClient, factory: Factory, tenant_a: Tenant
) -> None:
    async def measure(username: str) -> float:
        started = time.perf_counter()
        for _ in range(5):
            await client.post(
                "/api/v1/auth/token",
                data={"username": username, "password": "Not-the-password-1"},
            )
        return time.perf_counter() - started

    # Both paths verify one argon2 hash; neither may be an order of magnitude faster.
    known = await measure(tenant_a["analyst"].email)
    unknown = await measure(f"ghost-{uuid.uuid4().hex}@example.org")
    assert unknown > known / 10


async def test_login_form_validation(client: httpx.AsyncClient) -> None:
    missing = await client.post("/api/v1/auth/token", data={"username": "a@example.org"})
    body = assert_problem(missing, 422)
    assert ["body", "password"] in [e["loc"] for e in body["errors"]]
    wrong_type = await client.post(
        "/api/v1/auth/token", json={"username": "a@example.org", "password": "x"}
    )
    assert_problem(wrong_type, 415)


def _forge(settings: Settings, actor: Actor, **changes: object) -> str:
    claims = jwt.get_unverified_claims(actor.token)
    claims.update(changes)
    key = str(changes.pop("_key", settings.secret_key))
    return jwt.encode({k: v for k, v in claims.items() if k != "_key"}, key, algorithm="HS256")


async def test_bad_tokens_are_401_with_www_authenticate(
    client: httpx.AsyncClient, tenant_a: Tenant, settings: Settings
) -> None:
    actor = tenant_a["caseworker"]
    _header, payload, _sig = actor.token.split(".")
    import base64
    import json

    none_header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    alg_none = none_header.decode().rstrip("=") + "." + payload + "."
    now = int(time.time())
    tokens = {
        "malformed": "not-a-token",
        "forged signature": _forge(settings, actor, _key="another-secret-key-of-enough-length"),
        "alg none": alg_none,
        "expired": _forge(settings, actor, exp=now - 10, iat=now - 1000),
        "wrong audience": _forge(settings, actor, aud="someone-else"),
        "wrong issuer": _forge(settings, actor, iss="someone-else"),
        "refresh token as access token": actor.refresh_token,
        "unknown session": _forge(settings, actor, sid=str(uuid.uuid4())),
        "not a uuid subject": _forge(settings, actor, sub="admin"),
        "api key shaped garbage": "ovc_0123456789ab_nothing",
    }
    for label, token in tokens.items():
        response = await client.get(ME, headers={"Authorization": f"Bearer {token}"})
        assert_problem(response, 401), label
    assert_problem(await client.get(ME), 401)
    assert_problem(await client.get(ME, headers={"Authorization": "Basic abc"}), 401)


async def test_refresh_rotates_and_reuse_revokes_the_chain(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    actor = tenant_a["case_manager"]
    first_refresh = actor.refresh_token
    rotated = await client.post("/api/v1/auth/refresh", json={"refresh_token": first_refresh})
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()
    assert second["refresh_token"] != first_refresh
    new_headers = {"Authorization": f"Bearer {second['access_token']}"}
    assert (await client.get(ME, headers=new_headers)).status_code == 200

    reuse = await client.post("/api/v1/auth/refresh", json={"refresh_token": first_refresh})
    assert_problem(reuse, 401)
    # The whole chain is gone: the newest refresh token and the live access tokens too.
    again = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}
    )
    assert_problem(again, 401)
    assert_problem(await client.get(ME, headers=new_headers), 401)
    assert_problem(await client.get(ME, headers=actor.headers), 401)

    audit = await client.get(
        "/api/v1/audit",
        params={"action": "auth.refresh_reuse"},
        headers=tenant_a["org_admin"].headers,
    )
    assert [e["actor_user_id"] for e in audit.json()["items"]] == [str(actor.user_id)]


async def test_refresh_input_errors(client: httpx.AsyncClient) -> None:
    assert_problem(await client.post("/api/v1/auth/refresh", json={"refresh_token": "nope"}), 401)
    assert_problem(await client.post("/api/v1/auth/refresh", json={}), 422)
    assert_problem(
        await client.post("/api/v1/auth/refresh", json={"refresh_token": "x", "extra": 1}), 422
    )
    malformed = await client.post(
        "/api/v1/auth/refresh", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_problem(malformed, 422)


async def test_logout_ends_access_and_refresh_tokens(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    actor = tenant_a["analyst"]
    other_login = Actor(**{**actor.__dict__})
    await factory.login(other_login)
    assert (await client.post("/api/v1/auth/logout", headers=actor.headers)).status_code == 204
    assert_problem(await client.get(ME, headers=actor.headers), 401)
    assert_problem(
        await client.post("/api/v1/auth/refresh", json={"refresh_token": actor.refresh_token}),
        401,
    )
    # Another login of the same person is a different session and keeps working.
    assert (await client.get(ME, headers=other_login.headers)).status_code == 200


async def test_deactivating_a_user_cuts_live_tokens_and_logins(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    admin, worker = tenant_a["org_admin"], tenant_a["caseworker"]
    read = await client.get(f"/api/v1/users/{worker.user_id}", headers=admin.headers)
    response = await client.patch(
        f"/api/v1/users/{worker.user_id}",
        json={"active": False},
        headers={**admin.headers, "If-Match": read.headers["etag"]},
    )
    assert response.status_code == 200, response.text
    assert_problem(await client.get(ME, headers=worker.headers), 401)
    assert_problem(await factory.login(worker), 401)
    assert_problem(
        await client.post("/api/v1/auth/refresh", json={"refresh_token": worker.refresh_token}),
        401,
    )


async def test_deactivating_an_organisation_cuts_its_users(
    client: httpx.AsyncClient, tenant_a: Tenant, network_admin: Actor, factory: Factory
) -> None:
    path = f"/api/v1/organisations/{tenant_a.organisation_id}"
    read = await client.get(path, headers=network_admin.headers)
    response = await client.patch(
        path,
        json={"active": False},
        headers={**network_admin.headers, "If-Match": read.headers["etag"]},
    )
    assert response.status_code == 200, response.text
    for actor in tenant_a.actors.values():
        assert_problem(await client.get(ME, headers=actor.headers), 401)
    assert_problem(await factory.login(tenant_a["org_admin"]), 401)


async def test_throttling_per_account_after_repeated_failures(
    client: httpx.AsyncClient, factory: Factory, tenant_a: Tenant, settings: Settings
) -> None:
    actor = tenant_a["analyst"]
    for _ in range(settings.login_max_failures):
        assert_problem(await factory.login(actor, password="Wrong-password-123"), 401)
    throttled = await factory.login(actor)  # even the right password must wait now
    assert_problem(throttled, 429)
    assert int(throttled.headers["retry-after"]) > 0
    # Other accounts are not affected.
    assert (await factory.login(tenant_a["caseworker"])).status_code == 200


async def test_throttling_per_client_address(
    factory: Factory, tenant_a: Tenant, settings: Settings
) -> None:
    strict = settings.model_copy(update={"login_max_failures_per_address": 4})
    app = create_app(strict)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as attacker:
        for i in range(strict.login_max_failures_per_address):
            await attacker.post(
                "/api/v1/auth/token",
                data={"username": f"guess{i}@example.org", "password": "Wrong-password-1"},
            )
        blocked = await attacker.post(
            "/api/v1/auth/token",
            data={
                "username": tenant_a["case_manager"].email,
                "password": tenant_a["case_manager"].password,
            },
        )
    assert_problem(blocked, 429)
    # The same account from another address still logs in.
    assert (await factory.login(tenant_a["case_manager"])).status_code == 200


async def test_login_events_are_audited(
    client: httpx.AsyncClient, factory: Factory, tenant_a: Tenant
) -> None:
    actor = tenant_a["caseworker"]
    await factory.login(actor, password="Wrong-password-123")
    response = await client.get(
        "/api/v1/audit",
        params={"user_id": str(actor.user_id)},
        headers=tenant_a["org_admin"].headers,
    )
    actions = [event["action"] for event in response.json()["items"]]
    assert actions[:2] == ["auth.login_failed", "auth.login"]
