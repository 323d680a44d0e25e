"""Issue 10, section 2: the network administrator cannot take over a member organisation.

A reset password yields a credential that can only set a new password; the network's actions
on a member's people are in that member's audit log and told to the user; the network
creates only a member's first administrator and never gives a member's user a network role;
with SMTP configured the temporary password goes by e-mail, never through the admin.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Iterator
from email import message_from_bytes
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI

from ovc_api.app import create_app
from ovc_api.settings import Settings

from .conftest import PASSWORD, Actor, Factory, Tenant
from .helpers import assert_problem

USERS = "/api/v1/users"
NEW_PASSWORD = "Mekong-Delta-Ferry-2026"


def _problem_slug(response: httpx.Response, status: int) -> str:
    return str(assert_problem(response, status)["type"]).rsplit("/", 1)[-1]


async def _reset(client: httpx.AsyncClient, admin: Actor, user: Actor) -> httpx.Response:
    return await client.post(f"{USERS}/{user.user_id}/reset-password", headers=admin.headers)


async def test_temporary_password_only_sets_a_new_password(
    client: httpx.AsyncClient, tenant_a: Tenant, network_admin: Actor, factory: Factory
) -> None:
    target = tenant_a["org_admin"]
    reset = await _reset(client, network_admin, target)
    assert reset.status_code == 200, reset.text
    temporary = reset.json()["temporary_password"]
    login = await factory.login(target, password=temporary)
    assert login.status_code == 200
    # Everything but setting a new password is refused, with its own problem type.
    for path in ("/api/v1/children", "/api/v1/cases", USERS, f"{USERS}/me", "/api/v1/audit"):
        response = await client.get(path, headers=target.headers)
        assert _problem_slug(response, 403) == "password-change-required", path
    body = login.json()
    assert body["password_change_required"] is True
    assert body["scope"] == ""
    created = await client.post(
        "/api/v1/api-keys", json={"label": "x", "scopes": ["cases:read"]}, headers=target.headers
    )
    assert _problem_slug(created, 403) == "password-change-required"
    # A refreshed token is no way out.
    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": target.refresh_token}
    )
    assert refreshed.status_code == 200
    assert refreshed.json()["password_change_required"] is True
    target.token = refreshed.json()["access_token"]
    assert _problem_slug(await client.get("/api/v1/children", headers=target.headers), 403) == (
        "password-change-required"
    )

    changed = await client.post(
        f"{USERS}/me/password",
        json={"current_password": temporary, "new_password": NEW_PASSWORD},
        headers=target.headers,
    )
    assert changed.status_code == 204, changed.text
    assert (await client.get("/api/v1/children", headers=target.headers)).status_code == 200
    again = await factory.login(target, password=NEW_PASSWORD)
    assert again.json()["password_change_required"] is False
    assert again.json()["notices"] == []
    assert "cases:read" in again.json()["scope"]


async def test_the_user_is_told_the_network_reset_their_password(
    client: httpx.AsyncClient, tenant_a: Tenant, network_admin: Actor, factory: Factory
) -> None:
    target = tenant_a["org_admin"]
    temporary = (await _reset(client, network_admin, target)).json()["temporary_password"]
    login = await factory.login(target, password=temporary)
    notices = login.json()["notices"]
    assert len(notices) == 1
    assert "reset by the network administrator on 20" in notices[0]
    await client.post(
        f"{USERS}/me/password",
        json={"current_password": temporary, "new_password": NEW_PASSWORD},
        headers=target.headers,
    )
    me = (await client.get(f"{USERS}/me", headers=target.headers)).json()
    assert me["password_reset_by_network_at"] is not None
    # The organisation's own admin resetting a password is no network reset.
    analyst = tenant_a["analyst"]
    own_reset = (await _reset(client, target, analyst)).json()["temporary_password"]
    analyst_login = await factory.login(analyst, password=own_reset)
    assert analyst_login.json()["password_change_required"] is True
    assert analyst_login.json()["notices"] == []


async def test_network_actions_are_in_the_member_audit_log(
    client: httpx.AsyncClient, tenant_a: Tenant, network_admin: Actor, factory: Factory
) -> None:
    second_admin = await factory.user(tenant_a.organisation_id, "org_admin")
    assert (await _reset(client, network_admin, second_admin)).status_code == 200
    user = await client.get(f"{USERS}/{second_admin.user_id}", headers=network_admin.headers)
    patched = await client.patch(
        f"{USERS}/{second_admin.user_id}",
        json={"full_name": "Renamed by the network", "active": False},
        headers={**network_admin.headers, "If-Match": user.headers["etag"]},
    )
    assert patched.status_code == 200, patched.text

    log = await client.get(
        "/api/v1/audit",
        params={"user_id": str(network_admin.user_id)},
        headers=tenant_a["org_admin"].headers,
    )
    assert log.status_code == 200
    events = log.json()["items"]
    assert [e["action"] for e in events] == ["user.deactivate", "user.read", "user.password_reset"]
    assert {e["resource_id"] for e in events} == {str(second_admin.user_id)}
    # Reading the member's administrators is in its log too.
    listing = await client.get(
        USERS,
        params={"organisation_id": str(tenant_a.organisation_id)},
        headers=network_admin.headers,
    )
    assert listing.status_code == 200
    listed = await client.get(
        "/api/v1/audit",
        params={"user_id": str(network_admin.user_id), "action": "user.list"},
        headers=tenant_a["org_admin"].headers,
    )
    assert [set(e["record_ids"]) for e in listed.json()["items"]] == [
        {u["id"] for u in listing.json()["items"]}
    ]
    # ...and still in the network's own log.
    own = await client.get(
        "/api/v1/audit",
        params={"user_id": str(network_admin.user_id), "action": "user.password_reset"},
        headers=network_admin.headers,
    )
    assert [e["resource_id"] for e in own.json()["items"]] == [str(second_admin.user_id)]


async def test_network_admin_creates_only_a_first_admin(
    client: httpx.AsyncClient, tenant_a: Tenant, network_admin: Actor, factory: Factory
) -> None:
    def new_admin(organisation_id: uuid.UUID) -> dict[str, Any]:
        return {
            "email": f"admin.{uuid.uuid4().hex[:8]}@example.org",
            "full_name": "First admin",
            "role": "org_admin",
            "password": PASSWORD,
            "organisation_id": str(organisation_id),
        }

    has_admin = await client.post(
        USERS, json=new_admin(tenant_a.organisation_id), headers=network_admin.headers
    )
    assert_problem(has_admin, 403)
    empty = await factory.organisation()
    first = await client.post(USERS, json=new_admin(empty), headers=network_admin.headers)
    assert first.status_code == 201, first.text
    second = await client.post(USERS, json=new_admin(empty), headers=network_admin.headers)
    assert_problem(second, 403)
    # The creation is in the new organisation's own log too.
    admin = Actor(
        uuid.UUID(first.json()["id"]), empty, first.json()["email"], "org_admin", PASSWORD
    )
    await factory.login(admin)
    log = await client.get("/api/v1/audit", params={"action": "user.create"}, headers=admin.headers)
    assert [e["actor_user_id"] for e in log.json()["items"]] == [str(network_admin.user_id)]


@pytest.mark.parametrize("role", ["network_admin", "network_analyst"])
async def test_member_users_never_get_a_network_role(
    client: httpx.AsyncClient, tenant_a: Tenant, network_admin: Actor, role: str
) -> None:
    target = tenant_a["org_admin"]
    user = await client.get(f"{USERS}/{target.user_id}", headers=network_admin.headers)
    assert user.status_code == 200
    response = await client.patch(
        f"{USERS}/{target.user_id}",
        json={"role": role},
        headers={**network_admin.headers, "If-Match": user.headers["etag"]},
    )
    assert_problem(response, 403)
    me = await client.get(f"{USERS}/me", headers=target.headers)
    assert me.json()["role"] == "org_admin"


# --- reset codes by e-mail --------------------------------------------------------------


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append((list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 Message accepted"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[tuple[_Mailbox, int]]:
    mailbox = _Mailbox()
    port = _free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


def _mail_app(settings: Settings, port: int) -> FastAPI:
    return create_app(
        settings.model_copy(
            update={
                "smtp_host": "127.0.0.1",
                "smtp_port": port,
                "smtp_from": "ovc-api@example.org",
                "smtp_security": "none",
            }
        )
    )


async def test_reset_codes_go_by_email_when_smtp_is_configured(
    smtp_server: tuple[_Mailbox, int],
    settings: Settings,
    tenant_a: Tenant,
    network_admin: Actor,
    factory: Factory,
) -> None:
    mailbox, port = smtp_server
    transport = httpx.ASGITransport(app=_mail_app(settings, port))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as mailing:
        target = tenant_a["org_admin"]
        reset = await _reset(mailing, network_admin, target)
    assert reset.status_code == 200, reset.text
    assert reset.json() == {"temporary_password": None, "delivery": "email"}
    await asyncio.sleep(0)
    assert len(mailbox.messages) == 1
    recipients, raw = mailbox.messages[0]
    assert recipients == [target.email]
    message = message_from_bytes(raw)
    text = message.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert "network administrator" in text
    temporary = next(
        line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("Temporary")
    )
    assert temporary not in reset.text
    login = await factory.login(target, password=temporary)
    assert login.status_code == 200
    assert login.json()["password_change_required"] is True


async def test_a_refused_mail_changes_nothing(
    settings: Settings, tenant_a: Tenant, network_admin: Actor, factory: Factory
) -> None:
    transport = httpx.ASGITransport(app=_mail_app(settings, _free_port()))  # nobody listens
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as mailing:
        reset = await _reset(mailing, network_admin, tenant_a["org_admin"])
    assert_problem(reset, 503)
    assert (await factory.login(tenant_a["org_admin"])).status_code == 200
