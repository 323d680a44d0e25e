"""`ovc-api demo`'s data: the cases it promises, consistent with the rules, usable over HTTP.

The demo is loaded once into a database of its own (the shared test database holds other
tests' organisations), on SQLite or on PostgreSQL with row-level security like the rest.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import func
from sqlmodel import SQLModel, col, select

from ovc_api.app import create_app
from ovc_api.auth.scopes import Role
from ovc_api.cases.models import Case, CaseStatus, CaseStatusChange, ClosureRequest
from ovc_api.casework.models import CasePlanAction, FollowUp, FollowUpStatus
from ovc_api.children.models import Child
from ovc_api.clock import local_today
from ovc_api.db import Database, run_migrations, set_tenant_context
from ovc_api.demo import DEMO_CASES, DEMO_PASSWORD, DEMO_SEED, PROFILES, DemoBuilder, Staff
from ovc_api.families.models import Family, FamilyMember
from ovc_api.identity.models import Organisation, User
from ovc_api.settings import Settings
from ovc_api.text import search_key

from .conftest import make_settings, make_test_database

KHMER_BLOCK = range(0x1780, 0x1800)


@pytest.fixture(scope="module")
def demo_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    tmp = tmp_path_factory.mktemp("demo")
    with contextmanager(make_test_database)(tmp, "demo") as database:
        settings = make_settings(database, tmp)
        run_migrations(settings)
        yield settings


@pytest_asyncio.fixture(scope="module")
async def demo(demo_settings: Settings) -> AsyncIterator[Database]:
    """The loaded demo, and a connection to read it back as the system."""
    from ovc_api.demo import load_demo_data

    printed = await load_demo_data(demo_settings)
    assert printed.splitlines()[-3] == (
        "Demo cases: KFSO 120, LOTUS 65, BFEC 95, DOSVY-BTB 20 "
        "(each with its child, family and casework)"
    )
    assert printed.splitlines()[-1] == (
        "Alternative care: LOTUS's home in transition, a reintegration with a year of "
        "monitoring, a re-separation, 1 placed in residential care after tracing, "
        "a birth-registration campaign for 105 children"
    )
    database = Database.from_settings(demo_settings, owner=True)
    yield database
    await database.engine.dispose()


async def _all(database: Database, statement: Any) -> list[Any]:
    async with database.session() as session, session.begin():
        await set_tenant_context(session, None, system=True)
        return list((await session.exec(statement)).all())


async def _org_ids(database: Database) -> dict[str, uuid.UUID]:
    rows = await _all(database, select(Organisation.short_name, Organisation.id))
    return {name: org_id for name, org_id in rows}


async def test_each_organisation_has_the_cases_the_demo_promises(demo: Database) -> None:
    orgs = await _org_ids(demo)
    counts = await _all(
        demo, select(Case.organisation_id, func.count()).group_by(col(Case.organisation_id))
    )
    by_name = {name: n for org_id, n in counts for name, oid in orgs.items() if oid == org_id}
    assert by_name == DEMO_CASES == {"KFSO": 120, "LOTUS": 65, "BFEC": 95, "DOSVY-BTB": 20}
    # mostly the NGOs: the government body refers cases more than it holds them
    assert DEMO_CASES["DOSVY-BTB"] < min(DEMO_CASES[n] for n in ("KFSO", "LOTUS", "BFEC"))


async def test_every_case_belongs_with_its_child_family_and_staff(demo: Database) -> None:
    rows = await _all(
        demo,
        select(Case, Child.organisation_id, User.organisation_id, User.role)
        .join(Child, col(Child.id) == col(Case.child_id))
        .join(User, col(User.id) == col(Case.assigned_to)),
    )
    assert len(rows) == 300
    assert [r for r in rows if r[1] != r[0].organisation_id] == []
    assert [r for r in rows if r[2] != r[0].organisation_id] == []
    assert {r[3] for r in rows} == {Role.caseworker.value, Role.case_manager.value}
    families = dict(await _all(demo, select(Family.id, Family.organisation_id)))
    with_family = [r[0] for r in rows if r[0].family_id is not None]
    assert [c for c in with_family if families[c.family_id] != c.organisation_id] == []
    members = await _all(demo, select(FamilyMember))
    assert [m for m in members if families[m.family_id] != m.organisation_id] == []
    migrated = [m for m in members if m.migrated]
    assert {m.migration_destination for m in migrated} == {"Thailand"}
    assert {m.relation for m in migrated} == {"mother", "father"}
    caregivers = {m.relation for m in members if m.is_caregiver}
    assert {"grandmother", "grandfather", "mother", "neighbour", "foster_parent"} <= caregivers


async def test_closed_cases_have_a_reason_and_every_step_recorded(demo: Database) -> None:
    cases = await _all(demo, select(Case))
    changes = await _all(demo, select(CaseStatusChange).order_by(col(CaseStatusChange.changed_at)))
    by_case: dict[uuid.UUID, list[CaseStatusChange]] = {}
    for change in changes:
        by_case.setdefault(change.case_id, []).append(change)
    closed = [c for c in cases if c.status == CaseStatus.closed]
    assert closed and [c for c in closed if not (c.closure_reason and c.closed_on)] == []
    assert [c for c in cases if c.status != CaseStatus.closed and c.closure_reason] == []
    for case in cases:
        steps = by_case[case.id]
        assert steps[0].from_status is None and steps[0].to_status == CaseStatus.intake
        assert [s.from_status for s in steps[1:]] == [s.to_status for s in steps[:-1]]
        assert steps[-1].to_status == case.status
        assert steps[-1].closure_reason == case.closure_reason
    approved = await _all(
        demo, select(ClosureRequest).where(col(ClosureRequest.status) == "approved")
    )
    assert sorted(r.case_id for r in approved) == sorted(c.id for c in closed)
    assert {c.status for c in cases} == {s.value for s in CaseStatus}


async def test_the_demo_obeys_the_closure_rules_of_the_api(demo: Database) -> None:
    """Loaded through the services: nobody approved their own closure request, and no closure
    date lies in the future (the API refuses both)."""
    requests = await _all(demo, select(ClosureRequest))
    decided = [r for r in requests if r.decided_by is not None]
    assert decided and [r for r in decided if r.decided_by == r.requested_by] == []
    assert [r for r in requests if r.closed_on > local_today()] == []


async def test_names_are_nfc_in_both_scripts_and_searchable(demo: Database) -> None:
    children = await _all(demo, select(Child))
    assert len(children) == 300
    for child in children:
        names = (
            child.given_name_latin,
            child.family_name_latin,
            child.given_name_khmer,
            child.family_name_khmer,
        )
        for name in filter(None, names):
            assert unicodedata.normalize("NFC", name) == name
        for name in filter(None, names[2:]):
            assert all(ord(ch) in KHMER_BLOCK for ch in name), name
        assert child.search_text == search_key(*names)
    khmer = [c for c in children if c.given_name_khmer]
    assert len(khmer) == len([c for c in children if c.family_name_khmer])
    assert 0 < len(children) - len(khmer) < 30  # a few recorded in Latin script only


async def test_tasks_are_due_relative_to_today(demo: Database) -> None:
    today = local_today()
    cases = {c.id: c for c in await _all(demo, select(Case))}
    follow_ups = await _all(demo, select(FollowUp))
    last_done: dict[uuid.UUID, date] = {}
    for f in follow_ups:
        if f.status == FollowUpStatus.done:
            assert f.done_on is not None
            last_done[f.case_id] = max(last_done.get(f.case_id, f.done_on), f.done_on)
    assert {i: c.last_contact_on for i, c in cases.items() if c.last_contact_on} == last_done
    scheduled = [f for f in follow_ups if f.status == FollowUpStatus.scheduled]
    open_cases = [c for c in cases.values() if c.status != CaseStatus.closed]
    assert sorted(f.case_id for f in scheduled) == sorted(c.id for c in open_cases)
    overdue = [f for f in scheduled if f.scheduled_on < today]
    assert 0 < len(overdue) < len(scheduled)
    actions = await _all(demo, select(CasePlanAction))
    late = [a for a in actions if a.done_on is None and a.due_on < today]
    assert 0 < len(late) < len(actions)
    assert [a for a in actions if a.done_on and a.done_on > today] == []
    assert [c for c in cases.values() if c.opened_on > today] == []


def _comparable(rows: list[SQLModel]) -> list[tuple[str, dict[str, Any]]]:
    """The generated values, without the random ids, the random record keys (network
    statistics' perturbation: secret by design) and the clock-dependent timestamps."""
    return [
        (
            type(row).__name__,
            {
                k: v
                for k, v in row.model_dump().items()
                if not isinstance(v, uuid.UUID | datetime) and k != "record_key"
            },
        )
        for row in rows
    ]


def test_the_demo_is_the_same_on_every_run() -> None:
    organisation = Organisation(name="KFSO", short_name="KFSO", kind="ngo")
    staff = Staff(
        organisation,
        User(
            organisation_id=organisation.id,
            email="w@x",
            full_name="W",
            role="caseworker",
            password_hash="-",
        ),
        User(
            organisation_id=organisation.id,
            email="m@x",
            full_name="M",
            role="case_manager",
            password_hash="-",
        ),
    )
    runs = []
    for _ in range(2):
        builder = DemoBuilder(DEMO_SEED, date(2026, 11, 23), None)
        assert builder.build(staff, PROFILES["KFSO"]) == 120
        runs.append(_comparable(builder.rows))
    assert runs[0] == runs[1]
    assert len(runs[0]) > 1000


@pytest_asyncio.fixture(scope="module")
async def demo_client(demo: Database, demo_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    application = create_app(demo_settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http


async def _login(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    response = await client.post(
        "/api/v1/auth/token", data={"username": email, "password": DEMO_PASSWORD}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def _list_children(client: httpx.AsyncClient, headers: dict[str, str]) -> list[Any]:
    items: list[Any] = []
    cursor: str | None = None
    while True:
        params = {"limit": "50", **({"cursor": cursor} if cursor else {})}
        response = await client.get("/api/v1/children", params=params, headers=headers)
        assert response.status_code == 200, response.text
        items += response.json()["items"]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return items


async def test_demo_caseworker_sees_only_their_organisations_children(
    demo: Database, demo_client: httpx.AsyncClient
) -> None:
    kfso = (await _org_ids(demo))["KFSO"]
    worker = (
        await _all(demo, select(User).where(col(User.email) == "caseworker@kfso.example.org"))
    )[0]
    headers = await _login(demo_client, "caseworker@kfso.example.org")
    seen = await _list_children(demo_client, headers)
    assigned = await _all(demo, select(Case.child_id).where(col(Case.assigned_to) == worker.id))
    recorded = await _all(demo, select(Child.id).where(col(Child.created_by) == worker.id))
    assert {c["organisation_id"] for c in seen} == {str(kfso)}
    assert sorted(c["id"] for c in seen) == sorted({str(i) for i in assigned + recorded})
    assert 0 < len(seen) < DEMO_CASES["KFSO"]

    manager = await _login(demo_client, "manager@kfso.example.org")
    everyone = await _list_children(demo_client, manager)
    assert len(everyone) == len({c["id"] for c in everyone}) == DEMO_CASES["KFSO"]
    assert {c["organisation_id"] for c in everyone} == {str(kfso)}


async def test_referrals_in_every_state_and_conferences(
    demo: Database, demo_client: httpx.AsyncClient
) -> None:
    from ovc_api.conferences.models import CaseConference, ConferenceAction
    from ovc_api.demo.tables import REFERRALS
    from ovc_api.services.models import ServiceDelivery
    from ovc_api.sharing.models import Referral, ReferralStatus

    referrals = await _all(demo, select(Referral))
    expected: dict[str, int] = {}
    for _receiver, status, _services, _urgency in REFERRALS:
        expected[status.value] = expected.get(status.value, 0) + 1
    assert {s.value for s in ReferralStatus} == set(expected)
    counted: dict[str, int] = {}
    for referral in referrals:
        counted[referral.status] = counted.get(referral.status, 0) + 1
    assert counted == expected
    under = await _all(
        demo, select(ServiceDelivery).where(col(ServiceDelivery.referral_id).is_not(None))
    )
    assert len(under) == expected["accepted"] + expected["completed"]
    assert len(await _all(demo, select(CaseConference))) == 3
    assert len(await _all(demo, select(ConferenceAction))) == 9

    # The receiver of an accepted referral reads the child; of a pending one only the summary.
    orgs = await _org_ids(demo)
    lotus = await _login(demo_client, "manager@lotus.example.org")
    for referral in referrals:
        if referral.receiving_organisation_id != orgs["LOTUS"]:
            continue
        child = await demo_client.get(f"/api/v1/children/{referral.child_id}", headers=lotus)
        assert child.status_code == (200 if referral.status == "accepted" else 404)
    tasks = (await demo_client.get("/api/v1/tasks", headers=lotus)).json()
    assert tasks["incoming_referrals"]["total"] == sum(
        1
        for r in referrals
        if r.receiving_organisation_id == orgs["LOTUS"] and r.status == "pending"
    )


async def test_every_demo_child_has_one_open_placement_its_arrangement_follows(
    demo: Database,
) -> None:
    from ovc_api.care.models import ARRANGEMENT_OF, Placement, PlacementType

    children = dict(await _all(demo, select(Child.id, Child.care_arrangement)))
    open_placements = await _all(demo, select(Placement).where(col(Placement.ended_on).is_(None)))
    by_child = {p.child_id: p for p in open_placements}
    assert len(by_child) == len(open_placements)  # one open placement per child
    assert set(by_child) == set(children)
    assert [
        child
        for child, arrangement in children.items()
        if ARRANGEMENT_OF[PlacementType(by_child[child].placement_type)].value != arrangement
    ] == []


async def test_the_alternative_care_stories_are_told(demo: Database) -> None:
    from ovc_api.care.models import (
        CareFacility,
        MonitoringVisit,
        Placement,
        ReintegrationPlan,
        TracingAttempt,
    )
    from ovc_api.services.models import ServiceDelivery

    facilities = await _all(demo, select(CareFacility))
    assert [(f.name, f.transitioning_since is not None) for f in facilities] == [
        ("Little Lotus Children's Home", True)
    ]
    plans = await _all(demo, select(ReintegrationPlan))
    assert sorted((p.status, p.re_separations) for p in plans) == [
        ("completed", 0),
        ("planning", 1),
    ]
    completed = next(p for p in plans if p.status == "completed")
    visits = await _all(
        demo, select(MonitoringVisit).where(col(MonitoringVisit.plan_id) == completed.id)
    )
    assert sorted((v.months_after_move, v.placement_stable) for v in visits) == [
        (1, True),
        (3, True),
        (6, True),
        (12, True),
    ]
    gatekept = await _all(
        demo, select(Placement).where(col(Placement.gatekeeping_tracing_id).is_not(None))
    )
    assert len(gatekept) == 2 and {p.facility_id for p in gatekept} == {facilities[0].id}
    outcomes = dict(await _all(demo, select(TracingAttempt.id, TracingAttempt.outcome)))
    assert {outcomes[p.gatekeeping_tracing_id] for p in gatekept} == {"not_found", "found_unable"}
    campaign = await _all(
        demo,
        select(ServiceDelivery).where(
            col(ServiceDelivery.service_type) == "birth_certificate_support",
            col(ServiceDelivery.notes).like("Mobile birth registration%"),
        ),
    )
    assert len(campaign) == 105 and len({s.delivered_on for s in campaign}) == 1
