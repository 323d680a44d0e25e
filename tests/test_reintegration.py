"""Reintegration: a plan for a child leaving care, the move with monitoring visits in the
work list, visits recording stability, re-separation reopening planning."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import httpx

from ovc_api.care.reintegration import add_months
from ovc_api.clock import local_today

from .conftest import Actor, Factory, Tenant
from .helpers import assert_problem, error_locs

PLANS = "/api/v1/reintegration-plans"


async def _child_in_care(factory: Factory, tenant: Tenant) -> tuple[uuid.UUID, uuid.UUID]:
    """A child in a residential care institution since 2025-01-01, and its case, assigned to
    the tenant's caseworker."""
    org = tenant.organisation_id
    child_id = await factory.child(org, care_arrangement="residential_care")
    case_id = await factory.case(org, child_id=child_id, assigned_to=tenant["caseworker"].user_id)
    return child_id, case_id


def _plan(case_id: uuid.UUID, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "case_id": str(case_id),
        "target_placement_type": "kinship_care",
        "caregiver": "Yeay Phan (grandmother)",
        "planned_move_on": "2026-03-01",
        "readiness": {
            "assessed_on": "2026-01-20",
            "child": {"score": 3, "notes": "Wants to live with grandmother"},
            "family": {"score": 2, "notes": "Needs food support for three months"},
            "community": {"score": 3, "notes": "Village chief supportive"},
        },
        "preparation_steps": [
            {"description": "Family visit at the centre", "due_on": "2026-02-01"},
            {"description": "Enrol at Kdol primary school", "due_on": "2026-02-20"},
        ],
        "support_package": [
            {"service_type": "emergency_food_package", "planned_on": "2026-03-01"},
            {"service_type": "school_enrolment_support"},
            {"service_type": "positive_parenting", "description": "Parenting club, monthly"},
        ],
    }
    body.update(changes)
    return body


async def _open(client: httpx.AsyncClient, actor: Actor, case_id: uuid.UUID) -> dict[str, Any]:
    response = await client.post(PLANS, json=_plan(case_id), headers=actor.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_a_child_returns_home_and_monitoring_appears_in_the_work_list(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    worker = tenant_a["caseworker"]
    child_id, case_id = await _child_in_care(factory, tenant_a)
    plan = await _open(client, worker, case_id)
    assert plan["status"] == "planning" and plan["readiness"]["family"]["score"] == 2
    assert [s["service_type"] for s in plan["support_package"]] == [
        "emergency_food_package",
        "school_enrolment_support",
        "positive_parenting",
    ]
    moved_on = local_today() - timedelta(days=40)
    moved = await client.post(
        f"{PLANS}/{plan['id']}/move",
        json={"moved_on": moved_on.isoformat()},
        headers=worker.headers,
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["status"] == "monitoring" and moved.json()["placement_id"]
    history = (
        await client.get(f"/api/v1/children/{child_id}/placements", headers=worker.headers)
    ).json()
    assert [(p["placement_type"], p["ended_on"]) for p in history] == [
        ("residential_care", moved_on.isoformat()),
        ("kinship_care", None),
    ]
    child = await client.get(f"/api/v1/children/{child_id}", headers=worker.headers)
    assert child.json()["care_arrangement"] == "kinship_care"
    visits = (await client.get(f"{PLANS}/{plan['id']}/monitoring", headers=worker.headers)).json()
    assert [(v["months_after_move"], v["due_on"]) for v in visits] == [
        (m, add_months(moved_on, m).isoformat()) for m in (1, 3, 6, 12)
    ]
    tasks = await client.get("/api/v1/tasks", params={"days_ahead": 90}, headers=worker.headers)
    assert tasks.status_code == 200, tasks.text
    body = tasks.json()
    assert [i["record_id"] for i in body["overdue_monitoring_visits"]["items"]] == [visits[0]["id"]]
    assert [i["record_id"] for i in body["upcoming_monitoring_visits"]["items"]] == [
        visits[1]["id"]
    ]
    assert body["overdue_monitoring_visits"]["items"][0]["detail"] == "1"


async def test_monitoring_visits_record_stability_and_the_last_completes_the_plan(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    worker = tenant_a["caseworker"]
    _, case_id = await _child_in_care(factory, tenant_a)
    plan = await _open(client, worker, case_id)
    await client.post(
        f"{PLANS}/{plan['id']}/move", json={"moved_on": "2025-03-01"}, headers=worker.headers
    )
    visits = (await client.get(f"{PLANS}/{plan['id']}/monitoring", headers=worker.headers)).json()
    early = await client.patch(
        f"{PLANS}/{plan['id']}/monitoring/{visits[0]['id']}",
        json={"visited_on": "2025-02-28", "placement_stable": True},
        headers={**worker.headers, "If-Match": "*"},
    )
    assert error_locs(assert_problem(early, 422)) == [["body", "visited_on"]]
    for visit, stable in zip(visits, (True, False, True, True), strict=True):
        done = await client.patch(
            f"{PLANS}/{plan['id']}/monitoring/{visit['id']}",
            json={"visited_on": visit["due_on"], "placement_stable": stable, "notes": "ok"},
            headers={**worker.headers, "If-Match": "*"},
        )
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "done"
    read = await client.get(f"{PLANS}/{plan['id']}", headers=worker.headers)
    assert read.json()["status"] == "completed"
    shown = (await client.get(f"{PLANS}/{plan['id']}/monitoring", headers=worker.headers)).json()
    assert [v["placement_stable"] for v in shown] == [True, False, True, True]


async def test_the_monitoring_schedule_is_the_organisations(
    client: httpx.AsyncClient, tenant_a: Tenant, tenant_b: Tenant, factory: Factory
) -> None:
    settings = f"/api/v1/organisations/{tenant_a.organisation_id}/care-settings"
    default = await client.get(settings, headers=tenant_a["caseworker"].headers)
    assert default.json() == {"monitoring_months": [1, 3, 6, 12]}
    foreign = await client.put(
        settings, json={"monitoring_months": [2]}, headers=tenant_b["org_admin"].headers
    )
    assert_problem(foreign, 403)
    bad = await client.put(
        settings, json={"monitoring_months": [6, 2]}, headers=tenant_a["org_admin"].headers
    )
    assert error_locs(assert_problem(bad, 422)) == [["body", "monitoring_months"]]
    own = await client.put(
        settings, json={"monitoring_months": [2, 6, 24]}, headers=tenant_a["org_admin"].headers
    )
    assert own.status_code == 200, own.text
    worker = tenant_a["caseworker"]
    _, case_id = await _child_in_care(factory, tenant_a)
    plan = await _open(client, worker, case_id)
    await client.post(
        f"{PLANS}/{plan['id']}/move", json={"moved_on": "2026-01-31"}, headers=worker.headers
    )
    visits = (await client.get(f"{PLANS}/{plan['id']}/monitoring", headers=worker.headers)).json()
    assert [v["due_on"] for v in visits] == ["2026-03-31", "2026-07-31", "2028-01-31"]


async def test_a_re_separation_ends_the_placement_and_reopens_planning(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    org = tenant_a.organisation_id
    worker = tenant_a["caseworker"]
    child_id, case_id = await _child_in_care(factory, tenant_a)
    plan = await _open(client, worker, case_id)
    await client.post(
        f"{PLANS}/{plan['id']}/move", json={"moved_on": "2025-06-01"}, headers=worker.headers
    )
    url = f"{PLANS}/{plan['id']}/re-separation"
    back_to_care = {
        "separated_on": "2025-10-15",
        "placement_type": "residential_care",
        "facility_id": str(await factory.facility(org)),
        "reason": "Grandmother hospitalised; no other relative",
    }
    refused = await client.post(url, json=back_to_care, headers=worker.headers)
    assert error_locs(assert_problem(refused, 422)) == [["body", "gatekeeping"]]
    early = await client.post(
        url, json={**back_to_care, "separated_on": "2025-06-01"}, headers=worker.headers
    )
    assert error_locs(assert_problem(early, 422)) == [["body", "separated_on"]]
    tracing = await factory.tracing(org, child_id, attempted_on=date(2025, 10, 1))
    gate = {
        "decided_by": "case_conference",
        "decided_on": "2025-10-10",
        "tracing_id": str(tracing),
        "family_care_not_possible_reason": "No relative able to care while she recovers",
    }
    done = await client.post(
        url, json={**back_to_care, "gatekeeping": gate}, headers=worker.headers
    )
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["re_separations"]) == ("planning", 1)
    assert done.json()["re_separated_on"] == "2025-10-15"
    history = (
        await client.get(f"/api/v1/children/{child_id}/placements", headers=worker.headers)
    ).json()
    assert [(p["placement_type"], p["ended_on"]) for p in history] == [
        ("residential_care", "2025-06-01"),
        ("kinship_care", "2025-10-15"),
        ("residential_care", None),
    ]
    visits = (await client.get(f"{PLANS}/{plan['id']}/monitoring", headers=worker.headers)).json()
    assert {v["status"] for v in visits} == {"cancelled"}
    again = await client.post(
        url, json={**back_to_care, "gatekeeping": gate}, headers=worker.headers
    )
    assert_problem(again, 409)


async def test_a_visit_of_the_placement_before_a_re_separation_cannot_be_recorded_again(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    org = tenant_a.organisation_id
    worker = tenant_a["caseworker"]
    child_id, case_id = await _child_in_care(factory, tenant_a)
    plan = await _open(client, worker, case_id)
    moved = await client.post(
        f"{PLANS}/{plan['id']}/move", json={"moved_on": "2025-06-01"}, headers=worker.headers
    )
    assert moved.status_code == 200, moved.text
    monitoring = f"{PLANS}/{plan['id']}/monitoring"
    first = (await client.get(monitoring, headers=worker.headers)).json()[0]
    visit = {"visited_on": "2025-07-01", "placement_stable": True}
    done = await client.patch(
        f"{monitoring}/{first['id']}", json=visit, headers={**worker.headers, "If-Match": "*"}
    )
    assert done.status_code == 200, done.text
    tracing = await factory.tracing(org, child_id, attempted_on=date(2025, 10, 1))
    separated = await client.post(
        f"{PLANS}/{plan['id']}/re-separation",
        json={
            "separated_on": "2025-10-15",
            "placement_type": "residential_care",
            "facility_id": str(await factory.facility(org)),
            "reason": "Grandmother hospitalised",
            "gatekeeping": {
                "decided_by": "case_conference",
                "decided_on": "2025-10-10",
                "tracing_id": str(tracing),
                "family_care_not_possible_reason": "No relative able to care",
            },
        },
        headers=worker.headers,
    )
    assert separated.status_code == 200, separated.text
    again = await client.post(
        f"{PLANS}/{plan['id']}/move", json={"moved_on": "2026-01-10"}, headers=worker.headers
    )
    assert again.status_code == 200, again.text
    # The earlier placement's visit is history now: recording it again would date a visit
    # of an ended placement after its end.
    stale = await client.patch(
        f"{monitoring}/{first['id']}",
        json={"visited_on": "2026-02-10", "placement_stable": True},
        headers={**worker.headers, "If-Match": "*"},
    )
    assert_problem(stale, 409)
    visits = (await client.get(monitoring, headers=worker.headers)).json()
    assert [v["status"] for v in visits if v["id"] == first["id"]] == ["done"]
    current = [v for v in visits if v["status"] == "scheduled"]
    assert current and all(v["due_on"] > "2026-01-10" for v in current)
    recorded = await client.patch(
        f"{monitoring}/{current[0]['id']}",
        json={"visited_on": current[0]["due_on"], "placement_stable": True},
        headers={**worker.headers, "If-Match": "*"},
    )
    assert recorded.status_code == 200, recorded.text


async def test_bad_plans_are_refused(
    client: httpx.AsyncClient, tenant_a: Tenant, tenant_b: Tenant, factory: Factory
) -> None:
    worker = tenant_a["caseworker"]
    _, case_id = await _child_in_care(factory, tenant_a)
    residential = await client.post(
        PLANS, json=_plan(case_id, target_placement_type="residential_care"), headers=worker.headers
    )
    assert error_locs(assert_problem(residential, 422)) == [["body", "target_placement_type"]]
    unknown = await client.post(
        PLANS, json=_plan(case_id, target_placement_type="orphanage"), headers=worker.headers
    )
    assert error_locs(assert_problem(unknown, 422)) == [["body", "target_placement_type"]]
    bad_score = _plan(case_id)
    bad_score["readiness"]["child"]["score"] = 7
    scored = await client.post(PLANS, json=bad_score, headers=worker.headers)
    assert error_locs(assert_problem(scored, 422)) == [["body", "readiness", "child", "score"]]
    _, foreign_case = await _child_in_care(factory, tenant_b)
    foreign = await client.post(PLANS, json=_plan(foreign_case), headers=worker.headers)
    assert error_locs(assert_problem(foreign, 422)) == [["body", "case_id"]]
    plan = await _open(client, worker, case_id)
    twice = await client.post(PLANS, json=_plan(case_id), headers=worker.headers)
    assert_problem(twice, 409)
    # Before the child's current placement began (2025-01-01): overlapping periods.
    before = await client.post(
        f"{PLANS}/{plan['id']}/move", json={"moved_on": "2024-12-01"}, headers=worker.headers
    )
    assert error_locs(assert_problem(before, 422)) == [["body", "moved_on"]]


async def test_caseworkers_see_plans_of_their_own_cases_only(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    manager = tenant_a["case_manager"]
    org = tenant_a.organisation_id
    child_id = await factory.child(org, care_arrangement="residential_care")
    case_id = await factory.case(org, child_id=child_id, assigned_to=manager.user_id)
    plan = await _open(client, manager, case_id)
    hidden = await client.get(f"{PLANS}/{plan['id']}", headers=tenant_a["caseworker"].headers)
    assert_problem(hidden, 404)
    listed = await client.get(PLANS, headers=tenant_a["caseworker"].headers)
    assert plan["id"] not in [p["id"] for p in listed.json()["items"]]
