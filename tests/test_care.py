"""Alternative care: the facilities directory, placements as periods (one open, none
overlapping, residential care only after tracing and a decision), family tracing."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy.exc import IntegrityError

from .conftest import Actor, Factory, Tenant
from .helpers import assert_problem, error_locs

FACILITIES = "/api/v1/facilities"


def _placements(child_id: uuid.UUID | str) -> str:
    return f"/api/v1/children/{child_id}/placements"


def _tracing(child_id: uuid.UUID | str) -> str:
    return f"/api/v1/children/{child_id}/tracing"


def _gate(tracing_id: uuid.UUID | str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "decided_by": "dosvy",
        "decided_on": "2026-02-10",
        "decision_reference": "DoSVY-BTB-2026-014",
        "tracing_id": str(tracing_id),
        "family_care_not_possible_reason": "No relatives found after three months of tracing",
    }
    body.update(changes)
    return body


# --- facilities ------------------------------------------------------------------------------


async def test_an_organisation_records_its_own_facility_every_member_reads_it(
    client: httpx.AsyncClient, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    admin = tenant_a["org_admin"]
    body = {
        "name": "Kdol Children's Home",
        "kind": "residential_care_institution",
        "registration_number": "MoSVY-RCI-0231",
        "registered_on": "2012-05-01",
        "province": "battambang",
        "district": "Bavel",
        "capacity": 45,
        "transitioning_since": "2022-12-18",
    }
    created = await client.post(FACILITIES, json=body, headers=admin.headers)
    assert created.status_code == 201, created.text
    facility = created.json()
    assert facility["organisation_id"] == str(tenant_a.organisation_id)
    assert facility["transitioning"] is True
    # Another member reads it (the directory), but may not edit it.
    other = tenant_b["caseworker"]
    read = await client.get(f"{FACILITIES}/{facility['id']}", headers=other.headers)
    assert read.status_code == 200 and read.json() == facility
    assert set(facility) >= {"capacity", "kind"} and "children" not in facility
    patch = await client.patch(
        f"{FACILITIES}/{facility['id']}",
        json={"capacity": 10},
        headers={**tenant_b["org_admin"].headers, "If-Match": read.headers["etag"]},
    )
    assert_problem(patch, 403)
    own = await client.patch(
        f"{FACILITIES}/{facility['id']}",
        json={"capacity": 30, "transitioning_since": None},
        headers={**admin.headers, "If-Match": created.headers["etag"]},
    )
    assert own.status_code == 200, own.text
    assert own.json()["capacity"] == 30 and own.json()["transitioning"] is False
    listed = await client.get(
        FACILITIES,
        params={"organisation_id": str(tenant_a.organisation_id), "transitioning": "false"},
        headers=other.headers,
    )
    assert [f["id"] for f in listed.json()["items"]] == [facility["id"]]


async def test_only_the_network_admin_records_another_organisations_facility(
    client: httpx.AsyncClient, tenant_a: Tenant, tenant_b: Tenant, network_admin: Actor
) -> None:
    body = {"name": "Transit centre", "kind": "transit_centre", "province": "pursat"}
    foreign = {**body, "organisation_id": str(tenant_b.organisation_id)}
    assert_problem(
        await client.post(FACILITIES, json=foreign, headers=tenant_a["org_admin"].headers), 403
    )
    missing = await client.post(FACILITIES, json=body, headers=network_admin.headers)
    assert error_locs(assert_problem(missing, 422)) == [["body", "organisation_id"]]
    made = await client.post(FACILITIES, json=foreign, headers=network_admin.headers)
    assert made.status_code == 201, made.text
    assert made.json()["organisation_id"] == str(tenant_b.organisation_id)
    patched = await client.patch(
        f"{FACILITIES}/{made.json()['id']}",
        json={"capacity": 12},
        headers={**network_admin.headers, "If-Match": made.headers["etag"]},
    )
    assert patched.status_code == 200, patched.text


async def test_unknown_facility_kind_is_refused(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    body = {"name": "X", "kind": "orphanage", "province": "pursat"}
    response = await client.post(FACILITIES, json=body, headers=tenant_a["org_admin"].headers)
    assert error_locs(assert_problem(response, 422)) == [["body", "kind"]]


# --- placements ------------------------------------------------------------------------------


async def test_a_new_child_starts_with_one_placement_and_the_arrangement_follows_placements(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    worker = tenant_a["caseworker"]
    child = await client.post(
        "/api/v1/children",
        json={
            "given_name_latin": "Vanna",
            "family_name_latin": uuid.uuid4().hex[:8],
            "sex": "male",
            "care_arrangement": "kinship_care",
            "province": "battambang",
        },
        headers=worker.headers,
    )
    assert child.status_code == 201, child.text
    child_id = child.json()["id"]
    first = (await client.get(_placements(child_id), headers=worker.headers)).json()
    assert [(p["placement_type"], p["ended_on"], p["recorded_at_intake"]) for p in first] == [
        ("kinship_care", None, True)
    ]
    moved = await client.post(
        _placements(child_id),
        json={
            "placement_type": "foster_care",
            "started_on": "2099-01-01",
            "caregiver": "Mrs Sok Chenda",
            "reason": "Grandmother too ill to care",
        },
        headers=worker.headers,
    )
    assert moved.status_code == 201, moved.text
    history = (await client.get(_placements(child_id), headers=worker.headers)).json()
    assert [(p["placement_type"], p["ended_on"]) for p in history] == [
        ("kinship_care", "2099-01-01"),
        ("foster_care", None),
    ]
    assert history[0]["end_reason"] == "Grandmother too ill to care"
    read = await client.get(f"/api/v1/children/{child_id}", headers=worker.headers)
    assert read.json()["care_arrangement"] == "foster_care"
    assert read.headers["etag"] != child.headers["etag"]
    # The derived field is read-only: the current value passes, another is refused.
    etag = read.headers["etag"]
    other = await client.patch(
        f"/api/v1/children/{child_id}",
        json={"care_arrangement": "parents"},
        headers={**worker.headers, "If-Match": etag},
    )
    assert error_locs(assert_problem(other, 422)) == [["body", "care_arrangement"]]
    same = await client.patch(
        f"/api/v1/children/{child_id}",
        json={"care_arrangement": "foster_care", "village": "Ou Lmun"},
        headers={**worker.headers, "If-Match": etag},
    )
    assert same.status_code == 200, same.text


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        # reversed period
        (
            {"placement_type": "parents", "started_on": "2024-05-01", "ended_on": "2024-04-01"},
            ["body"],
        ),
        # an earlier period overlapping the current one (open since 2025-01-01)
        (
            {"placement_type": "parents", "started_on": "2024-06-01", "ended_on": "2025-02-01"},
            ["body", "started_on"],
        ),
        # an open placement starting before the current one
        ({"placement_type": "parents", "started_on": "2024-12-01"}, ["body", "started_on"]),
        # a family placement has no facility
        (
            {"placement_type": "kinship_care", "started_on": "2026-02-01", "facility_id": "F"},
            ["body", "facility_id"],
        ),
        # residential care names its facility
        (
            {"placement_type": "residential_care", "started_on": "2026-02-01"},
            ["body", "facility_id"],
        ),
        # unknown code
        ({"placement_type": "orphanage", "started_on": "2026-02-01"}, ["body", "placement_type"]),
    ],
)
async def test_bad_periods_and_codes_are_refused(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory, body: dict[str, Any], loc: Any
) -> None:
    org = tenant_a.organisation_id
    child_id = await factory.child(org, created_by=tenant_a["caseworker"].user_id)
    if body.get("facility_id") == "F":
        body = {**body, "facility_id": str(await factory.facility(org))}
    response = await client.post(
        _placements(child_id), json=body, headers=tenant_a["caseworker"].headers
    )
    assert loc in error_locs(assert_problem(response, 422)), response.text
    # Nothing changed: still the one open placement.
    history = (
        await client.get(_placements(child_id), headers=tenant_a["caseworker"].headers)
    ).json()
    assert [(p["placement_type"], p["ended_on"]) for p in history] == [("kinship_care", None)]


async def test_an_earlier_period_that_fits_is_recorded_afterwards(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    manager = tenant_a["case_manager"]
    child_id = await factory.child(tenant_a.organisation_id)
    earlier = {"placement_type": "parents", "started_on": "2020-01-01", "ended_on": "2025-01-01"}
    response = await client.post(_placements(child_id), json=earlier, headers=manager.headers)
    assert response.status_code == 201, response.text
    history = (await client.get(_placements(child_id), headers=manager.headers)).json()
    assert [p["placement_type"] for p in history] == ["parents", "kinship_care"]
    child = await client.get(f"/api/v1/children/{child_id}", headers=manager.headers)
    assert child.json()["care_arrangement"] == "kinship_care"


async def test_a_placement_at_a_facility_of_another_kind_is_refused(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    org = tenant_a.organisation_id
    child_id = await factory.child(org)
    group_home = await factory.facility(org, kind="group_home")
    tracing = await factory.tracing(org, child_id)
    body = {
        "placement_type": "residential_care",
        "started_on": "2026-02-15",
        "facility_id": str(group_home),
        "gatekeeping": _gate(tracing),
    }
    response = await client.post(
        _placements(child_id), json=body, headers=tenant_a["case_manager"].headers
    )
    problem = assert_problem(response, 422)
    assert error_locs(problem) == [["body", "facility_id"]]
    assert "residential_care_institution" in problem["errors"][0]["msg"]


# --- gatekeeping -----------------------------------------------------------------------------


async def test_residential_care_without_tracing_and_decision_is_refused_clearly(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    org = tenant_a.organisation_id
    child_id = await factory.child(org)
    body = {
        "placement_type": "residential_care",
        "started_on": "2026-02-15",
        "facility_id": str(await factory.facility(org)),
    }
    response = await client.post(
        _placements(child_id), json=body, headers=tenant_a["case_manager"].headers
    )
    problem = assert_problem(response, 422)
    assert error_locs(problem) == [["body", "gatekeeping"]]
    assert "last resort" in problem["errors"][0]["msg"]


async def test_residential_care_after_tracing_and_a_decision_records_both(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    org = tenant_a.organisation_id
    manager = tenant_a["case_manager"]
    child_id = await factory.child(org)
    tracing = await factory.tracing(org, child_id, outcome="not_found")
    facility = await factory.facility(org)
    body = {
        "placement_type": "residential_care",
        "started_on": "2026-02-15",
        "facility_id": str(facility),
        "gatekeeping": _gate(tracing),
    }
    response = await client.post(_placements(child_id), json=body, headers=manager.headers)
    assert response.status_code == 201, response.text
    gate = response.json()["gatekeeping"]
    assert gate["decided_by"] == "dosvy" and gate["tracing_outcome"] == "not_found"
    assert response.json()["decision_reference"] == "DoSVY-BTB-2026-014"
    child = await client.get(f"/api/v1/children/{child_id}", headers=manager.headers)
    assert child.json()["care_arrangement"] == "residential_care"


@pytest.mark.parametrize(
    ("gate", "loc"),
    [
        ({"decided_on": "2026-02-20"}, ["body", "gatekeeping", "decided_on"]),  # after placement
        ({"decided_on": "2026-01-05"}, ["body", "gatekeeping", "tracing_id"]),  # before tracing
        ({"decided_by": "village_chief"}, ["body", "gatekeeping", "decided_by"]),  # unknown code
        (
            {"family_care_not_possible_reason": ""},
            ["body", "gatekeeping", "family_care_not_possible_reason"],
        ),
    ],
)
async def test_bad_gatekeeping_decisions_are_refused(
    client: httpx.AsyncClient,
    tenant_a: Tenant,
    factory: Factory,
    gate: dict[str, Any],
    loc: list[str],
) -> None:
    org = tenant_a.organisation_id
    child_id = await factory.child(org)
    tracing = await factory.tracing(org, child_id)  # attempted 2026-01-10
    body = {
        "placement_type": "residential_care",
        "started_on": "2026-02-15",
        "facility_id": str(await factory.facility(org)),
        "gatekeeping": _gate(tracing, **gate),
    }
    response = await client.post(
        _placements(child_id), json=body, headers=tenant_a["case_manager"].headers
    )
    assert error_locs(assert_problem(response, 422)) == [loc]


async def test_tracing_of_another_child_or_organisation_or_in_progress_does_not_count(
    client: httpx.AsyncClient, tenant_a: Tenant, tenant_b: Tenant, factory: Factory
) -> None:
    org = tenant_a.organisation_id
    child_id = await factory.child(org)
    facility = await factory.facility(org)
    others = {
        "sibling": await factory.tracing(org, await factory.child(org)),
        "foreign": await factory.tracing(
            tenant_b.organisation_id, await factory.child(tenant_b.organisation_id)
        ),
        "missing": uuid.uuid4(),
    }
    messages = set()
    for tracing in others.values():
        body = {
            "placement_type": "residential_care",
            "started_on": "2026-02-15",
            "facility_id": str(facility),
            "gatekeeping": _gate(tracing),
        }
        response = await client.post(
            _placements(child_id), json=body, headers=tenant_a["case_manager"].headers
        )
        problem = assert_problem(response, 422)
        assert error_locs(problem) == [["body", "gatekeeping", "tracing_id"]]
        messages.add(problem["errors"][0]["msg"])
    assert len(messages) == 1  # no existence oracle
    pending = await factory.tracing(org, child_id, outcome="in_progress")
    body["gatekeeping"] = _gate(pending)
    response = await client.post(
        _placements(child_id), json=body, headers=tenant_a["case_manager"].headers
    )
    assert "in progress" in assert_problem(response, 422)["errors"][0]["msg"]


async def test_one_open_placement_per_child_is_a_database_rule(
    factory: Factory, tenant_a: Tenant
) -> None:
    org = tenant_a.organisation_id
    child_id = await factory.child(org)  # has an open placement
    with pytest.raises(IntegrityError):
        await factory.placement(org, child_id, "parents", started_on=date(2026, 3, 1))
    with pytest.raises(IntegrityError):  # reversed
        await factory.placement(
            org,
            child_id,
            "parents",
            started_on=date(2020, 3, 1),
            ended_on=date(2020, 1, 1),
        )


async def test_overlapping_periods_are_refused_by_postgresql(
    factory: Factory, tenant_a: Tenant, app: Any
) -> None:
    if not app.state.database.is_postgres:
        pytest.skip("the exclusion constraint is PostgreSQL's; SQLite relies on the service")
    org = tenant_a.organisation_id
    child_id = await factory.child(org)  # open since 2025-01-01
    with pytest.raises(IntegrityError):
        await factory.placement(
            org, child_id, "parents", started_on=date(2024, 6, 1), ended_on=date(2025, 2, 1)
        )


async def test_caseworkers_see_placements_of_their_own_childrens_only(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    someone_elses = await factory.child(tenant_a.organisation_id)
    response = await client.get(_placements(someone_elses), headers=tenant_a["caseworker"].headers)
    assert_problem(response, 404)


# --- family tracing --------------------------------------------------------------------------


async def test_tracing_attempts_are_recorded_with_their_case_and_completed(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    org = tenant_a.organisation_id
    worker = tenant_a["caseworker"]
    child_id = await factory.child(org)
    case_id = await factory.case(org, child_id=child_id, assigned_to=worker.user_id)
    body = {
        "sought": "Mother, working in Thailand",
        "method": "phone",
        "attempted_on": "2026-01-20",
        "outcome": "in_progress",
        "case_id": str(case_id),
    }
    made = await client.post(_tracing(child_id), json=body, headers=worker.headers)
    assert made.status_code == 201, made.text
    done = await client.patch(
        f"{_tracing(child_id)}/{made.json()['id']}",
        json={"outcome": "found_willing", "notes": "Mother will return in March"},
        headers={**worker.headers, "If-Match": made.headers["etag"]},
    )
    assert done.status_code == 200, done.text
    listed = (await client.get(_tracing(child_id), headers=worker.headers)).json()
    assert [(t["outcome"], t["case_id"]) for t in listed] == [("found_willing", str(case_id))]
    other_case = await factory.case(org, assigned_to=worker.user_id)
    wrong = await client.post(
        _tracing(child_id), json={**body, "case_id": str(other_case)}, headers=worker.headers
    )
    assert error_locs(assert_problem(wrong, 422)) == [["body", "case_id"]]
    unknown = await client.post(
        _tracing(child_id), json={**body, "outcome": "maybe"}, headers=worker.headers
    )
    assert error_locs(assert_problem(unknown, 422)) == [["body", "outcome"]]


async def test_rls_alone_keeps_care_records_apart_and_shares_the_facilities_directory(
    app: Any, factory: Factory, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from ovc_api.db import set_tenant_context

    if not app.state.database.is_postgres:
        pytest.skip("row-level security is PostgreSQL's")
    org_a, org_b = tenant_a.organisation_id, tenant_b.organisation_id
    child_b = await factory.child(org_b)
    await factory.tracing(org_b, child_b)
    facility_b = await factory.facility(org_b)
    child_a = await factory.child(org_a)
    await factory.care(org_a, child_a, await factory.case(org_a, child_id=child_a))
    await factory.care(org_b, child_b, await factory.case(org_b, child_id=child_b))
    database = app.state.database
    async with database.session() as session, session.begin():
        await set_tenant_context(session, org_a)
        connection = await session.connection()
        for table in ("placements", "tracing_attempts", "reintegration_plans", "monitoring_visits"):
            orgs = {
                row[0]
                for row in await connection.execute(
                    text(f"SELECT DISTINCT organisation_id FROM {table}")
                )
            }
            assert orgs == {org_a}, table
        shared = await connection.execute(
            text("SELECT count(*) FROM care_facilities WHERE id = :id"), {"id": facility_b}
        )
        assert shared.scalar_one() == 1  # the directory is read by every member
        changed = await connection.execute(
            text("UPDATE care_facilities SET capacity = 1 WHERE id = :id"), {"id": facility_b}
        )
        assert changed.rowcount == 0  # but written by its operator only
        # The network administrator's widening opens only in the secretariat's transactions:
        # a member's transaction flipping `ovc.network` itself changes nothing.
        await set_tenant_context(session, org_a, network=True)
        flipped = await connection.execute(
            text("UPDATE care_facilities SET capacity = 1 WHERE id = :id"), {"id": facility_b}
        )
        assert flipped.rowcount == 0
    with pytest.raises(DBAPIError, match="row-level security"):
        async with database.session() as session, session.begin():
            await set_tenant_context(session, org_a)
            await (await session.connection()).execute(
                text(
                    "INSERT INTO placements (id, organisation_id, child_id, placement_type, "
                    "started_on, recorded_at_intake, created_at, updated_at, version) "
                    "VALUES (:id, :org, :child, 'parents', '2026-01-01', false, now(), now(), 1)"
                ),
                {"id": uuid.uuid4(), "org": org_b, "child": child_b},
            )


async def test_the_case_history_shows_the_childs_tracing_attempts_in_order(
    client: httpx.AsyncClient, tenant_a: Tenant, tenant_b: Tenant, factory: Factory
) -> None:
    org = tenant_a.organisation_id
    worker = tenant_a["caseworker"]
    child_id = await factory.child(org)
    case_id = await factory.case(org, child_id=child_id, assigned_to=worker.user_id)
    other_case = await factory.case(org, child_id=child_id, assigned_to=worker.user_id)
    body = {"sought": "Grandmother in Pursat", "method": "home_visit", "outcome": "in_progress"}
    on_case = await client.post(
        _tracing(child_id),
        json={**body, "attempted_on": "2026-01-20", "case_id": str(case_id)},
        headers=worker.headers,
    )
    assert on_case.status_code == 201, on_case.text
    moved = await client.post(
        f"/api/v1/cases/{case_id}/transitions",
        json={"to_status": "assessment"},
        headers=worker.headers,
    )
    assert moved.status_code == 200, moved.text
    on_no_case = await client.post(
        _tracing(child_id),
        json={**body, "attempted_on": "2026-01-25", "outcome": "found_willing"},
        headers=worker.headers,
    )
    on_other = await client.post(
        _tracing(child_id),
        json={**body, "attempted_on": "2026-01-26", "case_id": str(other_case)},
        headers=worker.headers,
    )
    assert on_no_case.status_code == on_other.status_code == 201
    history = await client.get(f"/api/v1/cases/{case_id}/history", headers=worker.headers)
    assert history.status_code == 200, history.text
    entries = history.json()["items"]
    assert [(e["kind"], e["to_status"], e["id"]) for e in entries] == [
        ("status_change", "intake", entries[0]["id"]),
        ("tracing_attempt", None, on_case.json()["id"]),
        ("status_change", "assessment", entries[2]["id"]),
        ("tracing_attempt", None, on_no_case.json()["id"]),
    ]  # the attempt on the child's other case is that case's
    assert entries[1]["tracing"] == {
        "sought": "Grandmother in Pursat",
        "method": "home_visit",
        "attempted_on": "2026-01-20",
        "outcome": "in_progress",
    }
    assert entries[1]["changed_by"] == str(worker.user_id) and entries[0]["tracing"] is None
    paged = await client.get(
        f"/api/v1/cases/{case_id}/history", params={"limit": 3}, headers=worker.headers
    )
    rest = await client.get(
        f"/api/v1/cases/{case_id}/history",
        params={"limit": 3, "cursor": paged.json()["next_cursor"]},
        headers=worker.headers,
    )
    assert [e["id"] for e in paged.json()["items"] + rest.json()["items"]] == [
        e["id"] for e in entries
    ]
    foreign = await client.get(
        f"/api/v1/cases/{case_id}/history", headers=tenant_b["case_manager"].headers
    )
    assert_problem(foreign, 404)
