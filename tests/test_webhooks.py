"""Webhooks: subscriptions, signed deliveries from the outbox, retries, tenancy of events.

Deliveries go to a real local HTTP server (tests set OVC_WEBHOOK_ALLOW_PRIVATE); signatures
are checked by the independent `standardwebhooks` verifier.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import col, select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from ovc_api.cases import service as cases_service
from ovc_api.cases.schemas import CaseCreate
from ovc_api.cli import main
from ovc_api.db import utcnow
from ovc_api.outbox import Event
from ovc_api.settings import Settings
from ovc_api.webhooks import worker
from ovc_api.webhooks.destinations import UnsafeDestination, check_url
from ovc_api.webhooks.service import RETRY_DELAYS

from .conftest import Actor, Factory, Tenant, system_session, use_settings_env
from .helpers import assert_problem
from .webhook_receiver import Receiver

HOOKS = "/api/v1/webhooks"
CONSENT = {"given_by": "Yeay Phan", "relation": "grandmother", "given_on": "2026-01-20"}


def case_body(child_id: uuid.UUID, **changes: Any) -> dict[str, Any]:
    return {
        "child_id": str(child_id),
        "referral_source": "commune_committee",
        "concerns": ["out_of_school"],
        "risk_level": "high",
        "opened_on": "2026-02-03",
        **changes,
    }


async def subscribe(
    client: httpx.AsyncClient, admin: Actor, url: str, *types: str
) -> dict[str, Any]:
    response = await client.post(
        HOOKS, json={"url": url, "event_types": list(types)}, headers=admin.headers
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def open_case(client: httpx.AsyncClient, factory: Factory, actor: Actor) -> str:
    child_id = await factory.child(actor.organisation_id, created_by=actor.user_id)
    response = await client.post("/api/v1/cases", json=case_body(child_id), headers=actor.headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def deliver(app: FastAPI, *tenants: Tenant, **kwargs: Any) -> worker.Round:
    """A worker round for these organisations only (others' leftovers are not the test's)."""
    return await worker.run_once(
        app.state.database,
        app.state.settings,
        organisation_ids={t.organisation_id for t in tenants},
        **kwargs,
    )


def verified(secret: str, received: Any) -> dict[str, Any]:
    """The payload, if the independent verifier accepts the signature (raises otherwise)."""
    payload: dict[str, Any] = Webhook(secret).verify(received.body, received.headers)
    return payload


# --- subscriptions ------------------------------------------------------------------------


async def test_org_admin_subscribes_and_the_secret_is_shown_only_once(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    admin = tenant_a["org_admin"]
    created = await subscribe(client, admin, "https://hooks.example.org/ovc", "case.created")
    assert created["secret"].startswith("whsec_")
    assert created["event_types"] == ["case.created"]
    shown = await client.get(f"{HOOKS}/{created['id']}", headers=admin.headers)
    assert shown.status_code == 200
    assert "secret" not in shown.json()
    listed = await client.get(HOOKS, headers=admin.headers)
    assert [w["id"] for w in listed.json()["items"]] == [created["id"]]
    assert created["secret"] not in json.dumps(listed.json())
    assert "whsec_" not in json.dumps(listed.json()) + shown.text


async def test_case_manager_may_not_subscribe(client: httpx.AsyncClient, tenant_a: Tenant) -> None:
    response = await client.post(
        HOOKS,
        json={"url": "https://hooks.example.org/x", "event_types": ["case.created"]},
        headers=tenant_a["case_manager"].headers,
    )
    assert_problem(response, 403)


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"url": "ftp://hooks.example.org/x", "event_types": ["case.created"]}, "url"),
        ({"url": "https://hooks.example.org/x", "event_types": ["case.deleted"]}, "event_types"),
        ({"url": "https://hooks.example.org/x", "event_types": []}, "event_types"),
    ],
)
async def test_bad_subscriptions_are_422(
    client: httpx.AsyncClient, tenant_a: Tenant, body: dict[str, Any], loc: str
) -> None:
    response = await client.post(HOOKS, json=body, headers=tenant_a["org_admin"].headers)
    problem = assert_problem(response, 422)
    assert any(loc in error["loc"] for error in problem["errors"]), problem


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/x",
        "https://10.1.2.3/x",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/x",
        "https://localhost/x",
        "http://hooks.example.org/x",
    ],
)
def test_private_loopback_and_plain_http_destinations_are_refused(url: str) -> None:
    with pytest.raises(UnsafeDestination):
        check_url(url, allow_private=False)
    check_url("https://hooks.example.org/x", allow_private=False)


async def test_delivery_to_a_private_address_is_refused_unless_allowed(
    settings: Settings,
) -> None:
    strict = settings.model_copy(update={"webhook_allow_private": False})
    with Receiver() as receiver:
        job = worker.Job(uuid.uuid4(), uuid.uuid4(), receiver.url, "msg_1", b"{}", ["whsec_AA=="])
        async with httpx.AsyncClient() as http:
            refused = await worker.send(job, strict, http)
            allowed = await worker.send(job, settings, http)
    assert (refused.succeeded, refused.error) == (False, "refused: must be an https:// URL")
    assert allowed.succeeded
    assert len(receiver.received) == 1


# --- deliveries ---------------------------------------------------------------------------


async def test_a_new_case_is_delivered_signed_per_standard_webhooks_without_personal_data(
    app: FastAPI, client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    with Receiver() as receiver:
        hook = await subscribe(client, tenant_a["org_admin"], receiver.url, "case.created")
        case_id = await open_case(client, factory, tenant_a["caseworker"])
        done = await deliver(app, tenant_a)
    assert done.succeeded == 1
    (message,) = receiver.received
    payload = verified(hook["secret"], message)
    assert payload["type"] == "case.created"
    assert payload["data"]["id"] == case_id
    assert payload["data"]["organisation_id"] == str(tenant_a.organisation_id)
    assert payload["data"]["version"] == 1
    assert set(payload["data"]) == {
        "event_id",
        "resource_type",
        "id",
        "organisation_id",
        "case_id",
        "version",
        "change",
    }
    for name in ("Sreyneang", "Chhun", "grandmother"):
        assert name not in message.body.decode()
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 43 + "=").verify(message.body, message.headers)
    log = await client.get(
        f"{HOOKS}/{hook['id']}/deliveries", headers=tenant_a["org_admin"].headers
    )
    (entry,) = log.json()["items"]
    assert (entry["status"], entry["attempts"], entry["response_code"]) == ("succeeded", 1, 204)
    assert entry["latency_ms"] is not None
    assert entry["message_id"] == message.headers["webhook-id"]


async def test_a_rolled_back_change_sends_nothing(
    app: FastAPI, client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    worker_actor = tenant_a["case_manager"]
    child_id = await factory.child(tenant_a.organisation_id)
    data = CaseCreate.model_validate(case_body(child_id))
    with Receiver() as receiver:
        await subscribe(client, tenant_a["org_admin"], receiver.url, "case.created")
        with pytest.raises(RuntimeError):
            async with factory.as_service(worker_actor) as (session, principal):
                rolled_back, _ = await cases_service.open_case(session, principal, data)
                raise RuntimeError("the request failed after the case was written")
        async with factory.as_service(worker_actor) as (session, principal):
            kept, _ = await cases_service.open_case(session, principal, data)
        await deliver(app, tenant_a)
    delivered = [json.loads(m.body)["data"]["id"] for m in receiver.received]
    assert delivered == [str(kept.id)]
    async with system_session(app) as session:
        events = await session.exec(select(Event).where(col(Event.resource_id) == rolled_back.id))
        assert events.all() == []


async def test_a_failing_endpoint_is_retried_with_backoff_for_a_day_then_disabled(
    app: FastAPI, client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    admin = tenant_a["org_admin"]
    start = utcnow()
    with Receiver(status=500) as receiver:
        hook = await subscribe(client, admin, receiver.url, "case.created")
        await open_case(client, factory, tenant_a["caseworker"])
        await deliver(app, tenant_a, now=start)
        assert len(receiver.received) == 1
        await deliver(app, tenant_a, now=start + timedelta(seconds=RETRY_DELAYS[0] - 1))
        assert len(receiver.received) == 1, "retried before its time"
        moment = start
        for delay in RETRY_DELAYS:
            moment += timedelta(seconds=delay)
            await deliver(app, tenant_a, now=moment)
    assert len(receiver.received) == len(RETRY_DELAYS) + 1
    assert moment - start >= timedelta(hours=24)
    assert len({m.headers["webhook-id"] for m in receiver.received}) == 1
    shown = (await client.get(f"{HOOKS}/{hook['id']}", headers=admin.headers)).json()
    assert shown["active"] is False
    assert "failed attempts" in shown["disabled_reason"]
    assert "HTTP 500" in shown["disabled_reason"]
    log = await client.get(f"{HOOKS}/{hook['id']}/deliveries", headers=admin.headers)
    (entry,) = log.json()["items"]
    assert (entry["status"], entry["attempts"], entry["response_code"]) == ("failed", 11, 500)
    detail = await client.get(
        f"{HOOKS}/{hook['id']}/deliveries/{entry['id']}", headers=admin.headers
    )
    attempts = detail.json()["attempt_log"]
    assert [a["attempt"] for a in attempts] == list(range(1, 12))
    assert {a["response_code"] for a in attempts} == {500}
    # Re-enabled by the administrator, the reason goes.
    enabled = await client.patch(
        f"{HOOKS}/{hook['id']}", json={"active": True}, headers={**admin.headers, "If-Match": "*"}
    )
    assert (enabled.json()["active"], enabled.json()["disabled_reason"]) == (True, None)


async def test_a_redirect_to_another_host_is_not_followed(
    app: FastAPI, client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    admin = tenant_a["org_admin"]
    with Receiver(status=307, location="http://hooks.example.org/elsewhere") as receiver:
        hook = await subscribe(client, admin, receiver.url, "case.created")
        ping = await client.post(f"{HOOKS}/{hook['id']}/ping", headers=admin.headers)
        assert ping.status_code == 202
        await deliver(app, tenant_a)
    assert len(receiver.received) == 1
    detail = await client.get(
        f"{HOOKS}/{hook['id']}/deliveries/{ping.json()['id']}", headers=admin.headers
    )
    (attempt,) = detail.json()["attempt_log"]
    assert attempt["error"] == "redirected to another host: not followed"
    assert attempt["response_code"] == 307


async def test_a_slow_endpoint_times_out(settings: Settings) -> None:
    quick = settings.model_copy(update={"webhook_timeout_seconds": 0.3})
    with Receiver(delay=1.5) as receiver:
        job = worker.Job(uuid.uuid4(), uuid.uuid4(), receiver.url, "msg_1", b"{}", ["whsec_AA=="])
        async with httpx.AsyncClient() as http:
            result = await worker.send(job, quick, http)
    assert (result.succeeded, result.error) == (False, "no answer within 0.3 s")


async def test_ping_redelivery_and_secret_rotation_with_overlap(
    app: FastAPI, client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    admin = tenant_a["org_admin"]
    with Receiver() as receiver:
        hook = await subscribe(client, admin, receiver.url, "case.created")
        ping = await client.post(f"{HOOKS}/{hook['id']}/ping", headers=admin.headers)
        await deliver(app, tenant_a)
        rotated = await client.post(
            f"{HOOKS}/{hook['id']}/rotate-secret", json={"overlap_hours": 1}, headers=admin.headers
        )
        assert rotated.status_code == 200, rotated.text
        new_secret = rotated.json()["secret"]
        assert new_secret != hook["secret"]
        again = await client.post(
            f"{HOOKS}/{hook['id']}/deliveries/{ping.json()['id']}/redeliver",
            headers=admin.headers,
        )
        assert again.status_code == 202, again.text
        await deliver(app, tenant_a)
        await client.post(
            f"{HOOKS}/{hook['id']}/rotate-secret", json={"overlap_hours": 0}, headers=admin.headers
        )
    first, second = receiver.received
    assert verified(hook["secret"], first)["type"] == "ping"
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    # During the overlap both the new and the previous secret verify.
    assert verified(new_secret, second)["type"] == "ping"
    assert verified(hook["secret"], second)["type"] == "ping"
    pending = await client.post(
        f"{HOOKS}/{hook['id']}/deliveries/{ping.json()['id']}/redeliver", headers=admin.headers
    )
    assert pending.status_code == 202


async def test_referral_events_reach_both_parties_and_no_third_organisation(
    app: FastAPI,
    client: httpx.AsyncClient,
    tenant_a: Tenant,
    tenant_b: Tenant,
    factory: Factory,
) -> None:
    tenant_c = await factory.tenant()
    types = ("case.created", "referral.received", "referral.accepted")
    with Receiver() as a_hooks, Receiver() as b_hooks, Receiver() as c_hooks:
        secrets = {
            name: (await subscribe(client, tenant["org_admin"], receiver.url, *types))["secret"]
            for name, tenant, receiver in (
                ("a", tenant_a, a_hooks),
                ("b", tenant_b, b_hooks),
                ("c", tenant_c, c_hooks),
            )
        }
        case_id = await open_case(client, factory, tenant_a["case_manager"])
        sent = await client.post(
            "/api/v1/referrals",
            json={
                "case_id": case_id,
                "receiving_organisation_id": str(tenant_b.organisation_id),
                "services_requested": ["counselling"],
                "reason": "Needs counselling",
                "consent": {**CONSENT, "given_on": "2026-02-04", "method": "verbal"},
            },
            headers=tenant_a["case_manager"].headers,
        )
        assert sent.status_code == 201, sent.text
        referral_id = sent.json()["id"]
        accepted = await client.post(
            f"/api/v1/referrals/{referral_id}/accept",
            json={},
            headers=tenant_b["case_manager"].headers,
        )
        assert accepted.status_code == 200, accepted.text
        await deliver(app, tenant_a, tenant_b, tenant_c)
    a_types = [verified(secrets["a"], m)["type"] for m in a_hooks.received]
    b_payloads = [verified(secrets["b"], m) for m in b_hooks.received]
    assert sorted(a_types) == ["case.created", "referral.accepted", "referral.received"]
    assert sorted(p["type"] for p in b_payloads) == ["referral.accepted", "referral.received"]
    assert {p["data"]["id"] for p in b_payloads} == {referral_id}
    assert all(p["data"]["case_id"] is None for p in b_payloads), "the sender's case id leaked"
    assert c_hooks.received == []


async def test_several_workers_share_the_queue_without_sending_twice(
    app: FastAPI, client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    if not app.state.database.is_postgres:
        pytest.skip("SQLite runs one worker (SKIP LOCKED is PostgreSQL's)")
    with Receiver() as receiver:
        await subscribe(client, tenant_a["org_admin"], receiver.url, "case.created")
        for _ in range(5):
            await open_case(client, factory, tenant_a["case_manager"])
        rounds = await asyncio.gather(*(deliver(app, tenant_a) for _ in range(3)))
    assert sum(r.succeeded for r in rounds) == 5
    assert len(receiver.received) == 5
    assert len({m.headers["webhook-id"] for m in receiver.received}) == 5


async def test_the_worker_command_delivers_one_round(
    client: httpx.AsyncClient,
    tenant_a: Tenant,
    factory: Factory,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_settings_env(monkeypatch, settings)
    monkeypatch.setenv("OVC_WEBHOOK_ALLOW_PRIVATE", "true")
    monkeypatch.setenv("OVC_WEBHOOK_TIMEOUT_SECONDS", "2")
    monkeypatch.setenv("OVC_DATABASE_POOL_SIZE", "2")  # a shared test server: few connections
    with Receiver() as receiver:
        hook = await subscribe(client, tenant_a["org_admin"], receiver.url, "case.created")
        case_id = await open_case(client, factory, tenant_a["case_manager"])
        assert await asyncio.to_thread(main, ["worker", "--once"]) == 0
    (message,) = receiver.received
    assert verified(hook["secret"], message)["data"]["id"] == case_id
    assert "delivered" in capsys.readouterr().out


async def test_the_app_can_run_one_worker_in_process_as_the_demo_does(
    settings: Settings, tenant_a: Tenant, factory: Factory
) -> None:
    from ovc_api.app import create_app

    in_process = settings.model_copy(
        update={
            "webhook_worker_in_process": True,
            "webhook_poll_seconds": 0.2,
            "database_pool_size": 2,
        }
    )
    application = create_app(in_process)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            with Receiver() as receiver:
                hook = await subscribe(http, tenant_a["org_admin"], receiver.url, "case.created")
                case_id = await open_case(http, factory, tenant_a["case_manager"])
                for _ in range(300):
                    if receiver.received:
                        break
                    await asyncio.sleep(0.1)
    (message,) = receiver.received
    assert verified(hook["secret"], message)["data"]["id"] == case_id
