"""The change feed: commit order, resumable, what the caller may see, and no skipped row."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import col, select

from ovc_api.children import service as children_service
from ovc_api.children.schemas import ChildCreate
from ovc_api.outbox import Event

from .conftest import Actor, Factory, Tenant, system_session
from .helpers import assert_problem

CHANGES = "/api/v1/changes"
CONSENT = {"given_by": "Yeay Phan", "relation": "grandmother", "given_on": "2026-02-04"}


def child_body(**fields: Any) -> dict[str, Any]:
    return {
        "given_name_latin": "Dara",
        "family_name_latin": f"Sok{uuid.uuid4().hex[:6]}",
        "sex": "male",
        "date_of_birth": "2016-05-04",
        "province": "battambang",
        "district": "Bavel",
        "care_arrangement": "kinship_care",
        **fields,
    }


async def feed(
    client: httpx.AsyncClient, actor: Actor, cursor: str | None = None, **params: Any
) -> dict[str, Any]:
    query = {**params, **({"cursor": cursor} if cursor else {})}
    response = await client.get(CHANGES, params=query, headers=actor.headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def record_child(client: httpx.AsyncClient, actor: Actor) -> str:
    response = await client.post("/api/v1/children", json=child_body(), headers=actor.headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def open_case(client: httpx.AsyncClient, actor: Actor, child_id: str, **extra: Any) -> str:
    body = {
        "child_id": child_id,
        "referral_source": "commune_committee",
        "concerns": ["out_of_school"],
        "risk_level": "high",
        "opened_on": "2026-02-03",
        **extra,
    }
    response = await client.post("/api/v1/cases", json=body, headers=actor.headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_creates_and_updates_come_in_commit_order_and_the_cursor_resumes(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    manager = tenant_a["case_manager"]
    start = await feed(client, manager)
    assert (start["items"], start["has_more"]) == ([], False)
    child_id = await record_child(client, manager)
    case_id = await open_case(client, manager, child_id)
    corrected = await client.patch(
        f"/api/v1/cases/{case_id}",
        json={"risk_level": "low"},
        headers={**manager.headers, "If-Match": "*"},
    )
    assert corrected.status_code == 200, corrected.text
    # A new child's first placement is in the feed too (tested with care's records below).
    records = ["child", "case"]
    page = await feed(client, manager, start["next_cursor"], types=records)
    assert [(i["type"], i["change"], i["resource_id"]) for i in page["items"]] == [
        ("child.created", "created", child_id),
        ("case.created", "created", case_id),
        ("case.updated", "updated", case_id),
    ]
    positions = [i["position"] for i in page["items"]]
    assert positions == sorted(positions)
    assert [i["version"] for i in page["items"]] == [1, 1, 2]
    assert "Dara" not in str(page)
    up_to_date = await feed(client, manager, page["next_cursor"], types=records)
    assert (up_to_date["items"], up_to_date["has_more"]) == ([], False)
    assert up_to_date["next_cursor"] == page["next_cursor"]
    later = await record_child(client, manager)
    resumed = await feed(client, manager, up_to_date["next_cursor"], types=records)
    assert [i["resource_id"] for i in resumed["items"]] == [later]


async def test_pages_and_types(client: httpx.AsyncClient, tenant_a: Tenant) -> None:
    manager = tenant_a["case_manager"]
    child_id = await record_child(client, manager)
    case_id = await open_case(client, manager, child_id)
    records = ["child", "case"]  # not the child's first placement
    first = await client.get(
        CHANGES, params={"limit": 1, "types": records}, headers=manager.headers
    )
    assert first.json()["has_more"] is True
    assert 'rel="next"' in first.headers["link"]
    second = await feed(client, manager, first.json()["next_cursor"], limit=1, types=records)
    assert [i["resource_id"] for i in first.json()["items"] + second["items"]] == [
        child_id,
        case_id,
    ]
    only_cases = await feed(client, manager, types=["case"])
    assert [i["resource_id"] for i in only_cases["items"]] == [case_id]


@pytest.mark.parametrize(
    "params", [{"types": "spaceship"}, {"cursor": "not-a-cursor"}, {"limit": 0}]
)
async def test_bad_parameters_are_422(
    client: httpx.AsyncClient, tenant_a: Tenant, params: dict[str, Any]
) -> None:
    response = await client.get(CHANGES, params=params, headers=tenant_a["case_manager"].headers)
    assert_problem(response, 422)


async def test_an_analyst_may_not_read_the_feed(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    assert_problem(await client.get(CHANGES, headers=tenant_a["analyst"].headers), 403)


async def test_a_caseworker_sees_the_changes_of_their_own_cases_only(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    manager, worker = tenant_a["case_manager"], tenant_a["caseworker"]
    theirs = await open_case(
        client, manager, await record_child(client, manager), assigned_to=str(worker.user_id)
    )
    others = await open_case(client, manager, await record_child(client, manager))
    seen = {i["resource_id"] for i in (await feed(client, worker))["items"]}
    assert theirs in seen
    assert others not in seen
    everything = {i["resource_id"] for i in (await feed(client, manager))["items"]}
    assert {theirs, others} <= everything


async def test_another_organisation_sees_none_and_a_withdrawn_referral_is_a_tombstone(
    client: httpx.AsyncClient, tenant_a: Tenant, tenant_b: Tenant, factory: Factory
) -> None:
    tenant_c = await factory.tenant()
    sender, receiver = tenant_a["case_manager"], tenant_b["case_manager"]
    case_id = await open_case(client, sender, await record_child(client, sender))
    sent = await client.post(
        "/api/v1/referrals",
        json={
            "case_id": case_id,
            "receiving_organisation_id": str(tenant_b.organisation_id),
            "services_requested": ["counselling"],
            "reason": "Needs counselling",
            "consent": {**CONSENT, "method": "verbal"},
        },
        headers=sender.headers,
    )
    assert sent.status_code == 201, sent.text
    referral_id = sent.json()["id"]
    withdrawn = await client.post(
        f"/api/v1/referrals/{referral_id}/withdraw", json={}, headers=sender.headers
    )
    assert withdrawn.status_code == 200, withdrawn.text
    received = (await feed(client, receiver))["items"]
    assert [(i["type"], i["change"]) for i in received] == [
        ("referral.received", "created"),
        ("referral.withdrawn", "removed"),
    ]
    assert {i["resource_id"] for i in received} == {referral_id}
    assert all(i["case_id"] is None for i in received), "the sender's case id leaked"
    sent_side = [(i["type"], i["change"]) for i in (await feed(client, sender))["items"]]
    assert ("referral.withdrawn", "updated") in sent_side
    assert (await feed(client, tenant_c["case_manager"]))["items"] == []


async def test_a_long_transaction_committing_after_a_read_still_appears_after_its_cursor(
    app: FastAPI, client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    """The `updated_since` gap: a transaction that began earlier commits after a reader's
    cursor passed the rows committed meanwhile. Its change must still come after it."""
    if not app.state.database.is_postgres:
        pytest.skip("SQLite has one writer at a time: no transaction overlaps another's write")
    manager = tenant_a["case_manager"]
    data = ChildCreate.model_validate(child_body())
    async with factory.as_service(manager) as (session, principal):
        slow = await children_service.record_child(session, principal, data)
        await session.flush()  # written, not committed: the transaction stays open
        quick = await record_child(client, manager)  # begun later, committed first
        page = await feed(client, manager, types="child")
        assert [i["resource_id"] for i in page["items"]] == [quick]
        cursor = page["next_cursor"]
    resumed = await feed(client, manager, cursor, types="child")
    assert [i["resource_id"] for i in resumed["items"]] == [str(slow.id)]
    async with system_session(app) as session:
        rows = {
            str(e.resource_id): e
            for e in await session.exec(
                select(Event).where(col(Event.resource_id).in_([slow.id, uuid.UUID(quick)]))
            )
        }
    # An `occurred_at > last seen` reader would have skipped it: it was written first.
    assert rows[str(slow.id)].occurred_at < rows[quick].occurred_at
    assert rows[str(slow.id)].position > rows[quick].position  # type: ignore[operator]


async def test_placements_and_reintegration_are_in_the_feed_of_their_organisation_only(
    client: httpx.AsyncClient, tenant_a: Tenant, tenant_b: Tenant, factory: Factory
) -> None:
    worker, manager = tenant_a["caseworker"], tenant_a["case_manager"]
    outsider = tenant_b["case_manager"]
    child_id = await factory.child(tenant_a.organisation_id, care_arrangement="residential_care")
    case_id = await factory.case(
        tenant_a.organisation_id, child_id=child_id, assigned_to=worker.user_id
    )
    start, outside = await feed(client, manager), await feed(client, outsider)
    plan = await client.post(
        "/api/v1/reintegration-plans",
        json={
            "case_id": str(case_id),
            "target_placement_type": "kinship_care",
            "caregiver": "Yeay Phan (grandmother)",
            "planned_move_on": "2026-03-01",
        },
        headers=worker.headers,
    )
    assert plan.status_code == 201, plan.text
    plan_id = plan.json()["id"]
    moved = await client.post(
        f"/api/v1/reintegration-plans/{plan_id}/move",
        json={"moved_on": "2026-03-01"},
        headers=worker.headers,
    )
    assert moved.status_code == 200, moved.text
    new_placement = moved.json()["placement_id"]
    items = (await feed(client, manager, start["next_cursor"]))["items"]
    seen = [(i["type"], i["resource_type"], i["resource_id"]) for i in items]
    assert ("reintegration_plan.created", "reintegration_plan", plan_id) in seen
    assert ("placement.started", "placement", new_placement) in seen
    assert ("reintegration.moved", "reintegration_plan", plan_id) in seen
    assert any(t == "placement.ended" for t, _, _ in seen)
    # The caseworker's narrowed feed shows them too (its own case); another organisation none.
    mine = (await feed(client, worker, start["next_cursor"], types="placement"))["items"]
    assert {i["resource_id"] for i in mine} >= {new_placement}
    assert (await feed(client, outsider, outside["next_cursor"]))["items"] == []
