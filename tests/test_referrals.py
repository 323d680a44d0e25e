"""Referrals: consent required, the state machine, and exactly what each party sees when."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import httpx
import pytest_asyncio

from ovc_api.clock import local_today

from .conftest import Factory, Tenant
from .helpers import assert_problem, error_locs

REFERRALS = "/api/v1/referrals"
CONSENT = {
    "given_by": "Yeay Phan",
    "relation": "grandmother",
    "given_on": "2026-01-20",
    "method": "thumbprint",
}


class Scene:
    """Sender A refers its case to receiver B; C is a third organisation."""

    def __init__(self, a: Tenant, b: Tenant, c: Tenant, ids: dict[str, uuid.UUID]) -> None:
        self.a, self.b, self.c, self.ids = a, b, c, ids

    def body(self, **changes: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "case_id": str(self.ids["case_id"]),
            "receiving_organisation_id": str(self.b.organisation_id),
            "services_requested": ["vocational_training", "counselling"],
            "reason": "Left behind with grandmother; needs training at 16",
            "urgency": "urgent",
            "consent": CONSENT,
        }
        body.update(changes)
        return body


@pytest_asyncio.fixture
async def scene(tenant_a: Tenant, tenant_b: Tenant, factory: Factory) -> Scene:
    tenant_c = await factory.tenant()
    org = tenant_a.organisation_id
    family_id = await factory.family(org)
    child_id = await factory.child(org, family_id=family_id, date_of_birth=date(2010, 5, 4))
    case_id = await factory.case(
        org,
        child_id=child_id,
        family_id=family_id,
        assigned_to=tenant_a["caseworker"].user_id,
        concerns=("left_behind_by_migration", "out_of_school"),
    )
    note_ids = await factory.casework(org, case_id)
    return Scene(
        tenant_a,
        tenant_b,
        tenant_c,
        {"case_id": case_id, "child_id": child_id, "family_id": family_id, **note_ids},
    )


async def _send(client: httpx.AsyncClient, scene: Scene) -> dict[str, Any]:
    response = await client.post(
        REFERRALS, json=scene.body(), headers=scene.a["caseworker"].headers
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def _act(
    client: httpx.AsyncClient,
    referral_id: str,
    action: str,
    headers: dict[str, str],
    body: dict[str, Any] | None = None,
) -> httpx.Response:
    return await client.post(
        f"{REFERRALS}/{referral_id}/{action}", json=body or {}, headers=headers
    )


async def _reads(
    client: httpx.AsyncClient, scene: Scene, headers: dict[str, str]
) -> dict[str, int]:
    ids = scene.ids
    paths = {
        "child": f"/api/v1/children/{ids['child_id']}",
        "family": f"/api/v1/families/{ids['family_id']}",
        "case": f"/api/v1/cases/{ids['case_id']}",
        "notes": f"/api/v1/cases/{ids['case_id']}/notes",
        "note": f"/api/v1/cases/{ids['case_id']}/notes/{ids['note_id']}",
        "assessments": f"/api/v1/cases/{ids['case_id']}/assessments",
        "history": f"/api/v1/cases/{ids['case_id']}/history",
    }
    return {
        name: (await client.get(path, headers=headers)).status_code for name, path in paths.items()
    }


NOTHING = {
    "child": 404,
    "family": 404,
    "case": 404,
    "notes": 404,
    "note": 404,
    "assessments": 404,
    "history": 404,
}
CORE_ONLY = {**NOTHING, "child": 200, "family": 200, "case": 200}


async def test_a_pending_referral_shows_the_receiver_only_the_consent_summary(
    client: httpx.AsyncClient, scene: Scene
) -> None:
    """Not the sender's free-text reason, nor who consented and their relation, until the
    receiver accepts (issue 10, section 6); the sender always sees them."""
    referral = await _send(client, scene)
    receiver = scene.b["case_manager"].headers
    hidden = ("reason", "consent_given_by", "consent_relation")
    pending = (await client.get(f"{REFERRALS}/{referral['id']}", headers=receiver)).json()
    assert [pending[field] for field in hidden] == [None, None, None]
    listed = await client.get(REFERRALS, headers=receiver)
    (in_list,) = [r for r in listed.json()["items"] if r["id"] == referral["id"]]
    assert [in_list[field] for field in hidden] == [None, None, None]
    sent = (
        await client.get(f"{REFERRALS}/{referral['id']}", headers=scene.a["case_manager"].headers)
    ).json()
    assert all(sent[field] for field in hidden)
    accepted = await _act(client, referral["id"], "accept", receiver, {"note": "We can help"})
    assert all(accepted.json()[field] for field in hidden)


async def test_the_receiver_sees_the_summary_then_the_core_records_then_nothing(
    client: httpx.AsyncClient, scene: Scene
) -> None:
    referral = await _send(client, scene)
    receiver = scene.b["case_manager"].headers
    pending = await client.get(f"{REFERRALS}/{referral['id']}", headers=receiver)
    assert pending.status_code == 200
    seen = pending.json()
    assert seen["direction"] == "received"
    assert seen["case_id"] is seen["child_id"] is seen["family_id"] is None
    assert seen["summary"] == {
        "child_first_name": "Sreyneang",
        "age": _age(date(2010, 5, 4)),
        "sex": "female",
        "province": "battambang",
        "district": "Bavel",
        "concerns": ["left_behind_by_migration", "out_of_school"],
        "services_requested": ["vocational_training", "counselling"],
    }
    assert await _reads(client, scene, receiver) == NOTHING

    accepted = await _act(client, referral["id"], "accept", receiver, {"note": "We can help"})
    assert accepted.json()["status"] == "accepted"
    assert accepted.json()["child_id"] == str(scene.ids["child_id"])
    assert await _reads(client, scene, receiver) == CORE_ONLY
    # Read-only: no writes, and no listing of the other organisation's records.
    patch = await client.patch(
        f"/api/v1/children/{scene.ids['child_id']}",
        json={"village": "X"},
        headers={**receiver, "If-Match": "*"},
    )
    assert_problem(patch, 404)
    listed = await client.get("/api/v1/children", params={"limit": 200}, headers=receiver)
    assert str(scene.ids["child_id"]) not in [c["id"] for c in listed.json()["items"]]

    completed = await _act(client, referral["id"], "complete", receiver)
    assert completed.json()["status"] == "completed"
    assert await _reads(client, scene, receiver) == NOTHING
    # The sender keeps full access throughout.
    assert await _reads(client, scene, scene.a["case_manager"].headers) == {k: 200 for k in NOTHING}


async def test_withdrawal_and_decline_end_access(client: httpx.AsyncClient, scene: Scene) -> None:
    receiver = scene.b["case_manager"].headers
    first = await _send(client, scene)
    await _act(client, first["id"], "accept", receiver)
    withdrawn = await _act(client, first["id"], "withdraw", scene.a["case_manager"].headers)
    assert withdrawn.json()["status"] == "withdrawn"
    assert await _reads(client, scene, receiver) == NOTHING
    second = await _send(client, scene)
    declined = await _act(client, second["id"], "decline", receiver, {"reason": "No places"})
    assert declined.json()["status"] == "declined"
    assert declined.json()["decision_reason"] == "No places"
    assert await _reads(client, scene, receiver) == NOTHING


async def test_a_third_organisation_sees_nothing(client: httpx.AsyncClient, scene: Scene) -> None:
    referral = await _send(client, scene)
    await _act(client, referral["id"], "accept", scene.b["case_manager"].headers)
    third = scene.c["case_manager"].headers
    assert_problem(await client.get(f"{REFERRALS}/{referral['id']}", headers=third), 404)
    assert_problem(await _act(client, referral["id"], "accept", third), 404)
    assert await _reads(client, scene, third) == NOTHING
    listed = await client.get(REFERRALS, headers=third)
    assert referral["id"] not in [r["id"] for r in listed.json()["items"]]


async def test_state_machine(client: httpx.AsyncClient, scene: Scene) -> None:
    referral = await _send(client, scene)
    sender, receiver = scene.a["case_manager"].headers, scene.b["case_manager"].headers
    assert_problem(await _act(client, referral["id"], "accept", sender), 403)
    assert_problem(await _act(client, referral["id"], "withdraw", receiver), 403)
    assert_problem(await _act(client, referral["id"], "complete", receiver), 409)
    assert error_locs(
        assert_problem(await _act(client, referral["id"], "decline", receiver), 422)
    ) == [["body", "reason"]]
    await _act(client, referral["id"], "accept", receiver)
    illegal = assert_problem(
        await _act(client, referral["id"], "decline", receiver, {"reason": "x"}), 409
    )
    assert illegal["allowed"] == ["complete"]
    await _act(client, referral["id"], "complete", receiver)
    after = assert_problem(await _act(client, referral["id"], "withdraw", sender), 409)
    assert after["allowed"] == []


async def test_referral_input_errors(
    client: httpx.AsyncClient, scene: Scene, factory: Factory
) -> None:
    headers = scene.a["caseworker"].headers
    inactive = await factory.organisation(active=False)
    foreign_case = await factory.case(scene.b.organisation_id)
    checks: list[tuple[dict[str, Any], list[Any]]] = [
        (
            scene.body(receiving_organisation_id=str(scene.a.organisation_id)),
            ["body", "receiving_organisation_id"],
        ),
        (
            scene.body(receiving_organisation_id=str(inactive)),
            ["body", "receiving_organisation_id"],
        ),
        (
            scene.body(receiving_organisation_id=str(uuid.uuid4())),
            ["body", "receiving_organisation_id"],
        ),
        (scene.body(consent=None), ["body", "consent"]),
        ({k: v for k, v in scene.body().items() if k != "consent"}, ["body", "consent"]),
        (
            scene.body(
                consent={**CONSENT, "given_on": (local_today() + timedelta(days=1)).isoformat()}
            ),
            ["body", "consent", "given_on"],
        ),
        (scene.body(consent={**CONSENT, "method": "telepathy"}), ["body", "consent", "method"]),
        (scene.body(case_id=str(foreign_case)), ["body", "case_id"]),
        (scene.body(services_requested=[]), ["body", "services_requested"]),
        (scene.body(services_requested=["flying_lessons"]), ["body", "services_requested", 0]),
        (scene.body(reason="x" * 2001), ["body", "reason"]),
    ]
    for body, loc in checks:
        response = await client.post(REFERRALS, json=body, headers=headers)
        assert loc in error_locs(assert_problem(response, 422)), (loc, response.text)
    await _send(client, scene)
    assert_problem(await client.post(REFERRALS, json=scene.body(), headers=headers), 409)


async def test_no_referral_for_a_closed_case(
    client: httpx.AsyncClient, scene: Scene, factory: Factory
) -> None:
    closed = await factory.case(
        scene.a.organisation_id,
        status="closed",
        assigned_to=scene.a["caseworker"].user_id,
        closure_reason="reunified_with_family",
    )
    response = await client.post(
        REFERRALS, json=scene.body(case_id=str(closed)), headers=scene.a["caseworker"].headers
    )
    assert_problem(response, 409)


async def test_services_under_a_referral(client: httpx.AsyncClient, scene: Scene) -> None:
    referral = await _send(client, scene)
    receiver, sender = scene.b["case_manager"].headers, scene.a["case_manager"].headers
    service = {
        "service_type": "vocational_training",
        "delivered_on": "2026-02-10",
        "referral_id": referral["id"],
        "quantity": "12",
        "unit": "session",
    }
    pending = await client.post("/api/v1/services", json=service, headers=receiver)
    assert error_locs(assert_problem(pending, 422)) == [["body", "referral_id"]]
    await _act(client, referral["id"], "accept", receiver)
    created = await client.post("/api/v1/services", json=service, headers=receiver)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["organisation_id"] == str(scene.b.organisation_id)
    assert body["case_id"] == str(scene.ids["case_id"]) and body["province"] == "battambang"
    # Someone else's referral (the sender itself, or a third party) is refused.
    for headers in (sender, scene.c["case_manager"].headers):
        refused = await client.post("/api/v1/services", json=service, headers=headers)
        assert error_locs(assert_problem(refused, 422)) == [["body", "referral_id"]]
    for headers in (sender, receiver):
        under = await client.get(f"{REFERRALS}/{referral['id']}/services", headers=headers)
        assert [s["id"] for s in under.json()] == [body["id"]]
    listed = await client.get(
        "/api/v1/services", params={"referral_id": referral["id"]}, headers=sender
    )
    assert [s["id"] for s in listed.json()["items"]] == [body["id"]]
    assert_problem(
        await client.patch(
            f"/api/v1/services/{body['id']}",
            json={"notes": "x"},
            headers={**sender, "If-Match": "*"},
        ),
        403,
    )
    # After completion the receiver keeps what it recorded itself.
    await _act(client, referral["id"], "complete", receiver)
    kept = await client.get(f"/api/v1/services/{body['id']}", headers=receiver)
    assert kept.status_code == 200


async def test_receiver_opens_its_own_linked_case(client: httpx.AsyncClient, scene: Scene) -> None:
    referral = await _send(client, scene)
    receiver = scene.b["case_manager"].headers
    assert_problem(await _act(client, referral["id"], "case", receiver), 409)
    await _act(client, referral["id"], "accept", receiver)
    opened = await _act(client, referral["id"], "case", receiver)
    assert opened.status_code == 201, opened.text
    own_case = opened.json()["receiver_case_id"]
    assert_problem(await _act(client, referral["id"], "case", receiver), 409)
    await _act(client, referral["id"], "complete", receiver)
    kept = await client.get(f"/api/v1/cases/{own_case}", headers=receiver)
    assert kept.status_code == 200
    child = await client.get(f"/api/v1/children/{kept.json()['child']['id']}", headers=receiver)
    assert child.json()["organisation_id"] == str(scene.b.organisation_id)
    assert child.json()["given_name_latin"] == "Sreyneang"


async def test_access_through_a_referral_is_audited_in_the_owners_log(
    client: httpx.AsyncClient, scene: Scene
) -> None:
    referral = await _send(client, scene)
    reader = scene.b["case_manager"]
    await _act(client, referral["id"], "accept", reader.headers)
    await client.get(f"/api/v1/children/{scene.ids['child_id']}", headers=reader.headers)
    log = await client.get(
        "/api/v1/audit",
        params={"action": "child.read", "resource_id": str(scene.ids["child_id"])},
        headers=scene.a["org_admin"].headers,
    )
    entries = [e for e in log.json()["items"] if e["actor_user_id"] == str(reader.user_id)]
    assert len(entries) == 1
    assert entries[0]["via_referral_id"] == referral["id"]


async def test_caseworkers_see_referrals_of_their_cases_only(
    client: httpx.AsyncClient, scene: Scene, factory: Factory
) -> None:
    referral = await _send(client, scene)
    colleague = await factory.user(scene.a.organisation_id, "caseworker")
    assert_problem(
        await client.get(f"{REFERRALS}/{referral['id']}", headers=colleague.headers), 404
    )
    receiving_worker = scene.b["caseworker"].headers
    assert_problem(await client.get(f"{REFERRALS}/{referral['id']}", headers=receiving_worker), 404)
    mine = await client.get(
        REFERRALS, params={"direction": "sent"}, headers=scene.a["caseworker"].headers
    )
    assert [r["id"] for r in mine.json()["items"]] == [referral["id"]]


def _age(born: date) -> int:
    today = local_today()
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


async def test_incoming_referrals_and_conference_actions_are_tasks(
    client: httpx.AsyncClient, scene: Scene, factory: Factory
) -> None:
    referral = await _send(client, scene)
    receiver = scene.b["case_manager"].headers
    tasks = (await client.get("/api/v1/tasks", headers=receiver)).json()
    incoming = tasks["incoming_referrals"]
    assert incoming["total"] == 1
    assert incoming["items"][0]["referral_id"] == referral["id"]
    assert incoming["items"][0]["urgency"] == "urgent"
    assert incoming["items"][0]["child_first_name"] == "Sreyneang"
    await _act(client, referral["id"], "accept", receiver)
    after = (await client.get("/api/v1/tasks", headers=receiver)).json()
    assert after["incoming_referrals"] == {"total": 0, "items": []}

    conference = await client.post(
        "/api/v1/case-conferences",
        json={
            "case_id": str(scene.ids["case_id"]),
            "held_on": "2026-02-05",
            "participant_organisation_ids": [str(scene.b.organisation_id)],
            "action_items": [
                {
                    "organisation_id": str(scene.b.organisation_id),
                    "description": "School uniform",
                    "due_on": "2026-02-20",
                }
            ],
        },
        headers=scene.a["case_manager"].headers,
    )
    assert conference.status_code == 201, conference.text
    actions = (await client.get("/api/v1/tasks", headers=receiver)).json()["conference_actions"]
    assert [(a["description"], a["on"]) for a in actions["items"]] == [
        ("School uniform", "2026-02-20")
    ]
    sender_actions = (
        await client.get("/api/v1/tasks", headers=scene.a["case_manager"].headers)
    ).json()
    assert sender_actions["conference_actions"]["total"] == 0
