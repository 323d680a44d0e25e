"""The demo's alternative-care stories, recorded through the services as each organisation's
people would: Little Lotus Children's Home (an RCI in transition since the network's
study tour) reintegrates one child with twelve months of monitoring and sees another
re-separated; KFSO places a child in residential care after tracing found no relative; and
KFSO records a birth-registration campaign as one group event."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api.auth.principal import Principal
from ovc_api.care import reintegration
from ovc_api.care import service as care
from ovc_api.care.models import CareFacility
from ovc_api.care.reintegration_schemas import MoveBody, PlanCreate, ReSeparationBody, VisitUpdate
from ovc_api.care.schemas import FacilityCreate, PlacementCreate, TracingCreate
from ovc_api.cases.models import Case, CaseStatus
from ovc_api.children.models import CareArrangement, Child
from ovc_api.clock import local_today
from ovc_api.demo.sharing import Member
from ovc_api.services.group import record_group_event
from ovc_api.services.group_schemas import GroupEvent

CAMPAIGN_SIZE = 105  # "105 vulnerable children have received their birth certificates"


def _plan(case: Case, caregiver: str) -> PlanCreate:
    return PlanCreate.model_validate(
        {
            "case_id": case.id,
            "target_placement_type": "kinship_care",
            "caregiver": caregiver,
            "planned_move_on": case.opened_on + timedelta(days=60),
            "readiness": {
                "assessed_on": case.opened_on + timedelta(days=25),
                "child": {"score": 3, "notes": "Wants to go home; knows the family"},
                "family": {"score": 2, "notes": "Needs food and school support at first"},
                "community": {"score": 3, "notes": "Village chief and CCWC supportive"},
            },
            "preparation_steps": [
                {
                    "description": "Family visits the child at the home",
                    "due_on": case.opened_on + timedelta(days=30),
                    "done_on": case.opened_on + timedelta(days=31),
                },
                {
                    "description": "Enrol at the village primary school",
                    "due_on": case.opened_on + timedelta(days=55),
                },
            ],
            "support_package": [
                {"service_type": "emergency_food_package", "description": "Three months"},
                {"service_type": "school_enrolment_support"},
                {"service_type": "positive_parenting", "description": "Parenting club"},
            ],
        }
    )


async def _trace(
    session: AsyncSession,
    actor: Principal,
    child: Child,
    case: Case,
    sought: str,
    on: date,
    outcome: str,
) -> uuid.UUID:
    attempt = await care.record_tracing(
        session,
        actor,
        child,
        TracingCreate.model_validate(
            {
                "sought": sought,
                "method": "community_inquiry",
                "attempted_on": on,
                "outcome": outcome,
                "case_id": case.id,
            }
        ),
    )
    return attempt.id


async def _residential_cases(
    session: AsyncSession, member: Member, cases: list[Case], before: date
) -> list[tuple[Case, Child]]:
    found = []
    for case in sorted(cases, key=lambda c: (c.opened_on, str(c.id))):
        if case.organisation_id != member.organisation.id or case.opened_on > before:
            continue
        child = await session.get(Child, case.child_id)
        if child is not None and child.care_arrangement == CareArrangement.residential_care.value:
            found.append((case, child))
    return found


async def load_care(session: AsyncSession, members: dict[str, Member], cases: list[Case]) -> str:
    """Every story; returns a line for the demo's summary."""
    today = local_today()
    lotus, kfso = members["LOTUS"], members["KFSO"]
    facility = await care.record_facility(
        session,
        lotus.acting(lotus.admin),
        FacilityCreate.model_validate(
            {
                "name": "Little Lotus Children's Home",
                "kind": "residential_care_institution",
                "registration_number": "MoSVY-RCI-PNP-0142",
                "registered_on": "2011-03-01",
                "province": "phnom_penh",
                "district": "Chamkar Mon",
                "capacity": 60,
                "transitioning_since": "2022-12-18",
            }
        ),
    )
    manager = lotus.acting(lotus.manager)
    stories = await _residential_cases(session, lotus, cases, today - timedelta(days=430))
    (home, home_child), (back, back_child) = stories[0], stories[1]
    # A child returns to her grandmother and the placement holds for a year.
    await _trace(
        session, manager, home_child, home, "Grandmother in Kandal", home.opened_on, "found_willing"
    )
    plan = await reintegration.open_plan(session, manager, _plan(home, "Grandmother"))
    await reintegration.move(session, manager, plan, MoveBody(moved_on=plan.planned_move_on))
    for visit in await reintegration.visits_of(session, plan):
        await reintegration.record_visit(
            session,
            manager,
            plan,
            visit,
            VisitUpdate(visited_on=visit.due_on, placement_stable=True, notes="Settled, at school"),
            if_match="*",
        )
    # Another goes home, but the placement breaks down after three months.
    await _trace(
        session, manager, back_child, back, "Aunt in Takhmao", back.opened_on, "found_willing"
    )
    plan = await reintegration.open_plan(session, manager, _plan(back, "Aunt"))
    moved_on = back.opened_on + timedelta(days=60)
    await reintegration.move(session, manager, plan, MoveBody(moved_on=moved_on))
    visits = await reintegration.visits_of(session, plan)
    for visit, stable in zip(visits[:2], (True, False), strict=True):
        await reintegration.record_visit(
            session,
            manager,
            plan,
            visit,
            VisitUpdate(visited_on=visit.due_on, placement_stable=stable),
            if_match="*",
        )
    separated = moved_on + timedelta(days=100)
    traced = await _trace(
        session,
        manager,
        back_child,
        back,
        "Other relatives",
        separated - timedelta(days=6),
        "found_unable",
    )
    await reintegration.re_separate(
        session,
        manager,
        plan,
        ReSeparationBody.model_validate(
            {
                "separated_on": separated,
                "placement_type": "residential_care",
                "facility_id": facility.id,
                "reason": "Aunt left for work in Thailand; no one else could care",
                "gatekeeping": {
                    "decided_by": "case_conference",
                    "decided_on": separated - timedelta(days=2),
                    "tracing_id": traced,
                    "family_care_not_possible_reason": "Relatives found unable to care",
                },
            }
        ),
    )
    placed = await _residential_placement(session, kfso, cases, facility, today)
    campaign = await _campaign(session, kfso, cases, today)
    return (
        f"Alternative care: LOTUS's home in transition, a reintegration with a year of "
        f"monitoring, a re-separation, {placed} placed in residential care after tracing, "
        f"a birth-registration campaign for {campaign} children"
    )


async def _residential_placement(
    session: AsyncSession, kfso: Member, cases: list[Case], facility: CareFacility, today: date
) -> int:
    """KFSO searched for a boy's family and found no one: DoSVY decides on residential care."""
    manager = kfso.acting(kfso.manager)
    for case in sorted(cases, key=lambda c: (c.opened_on, str(c.id))):
        if case.organisation_id != kfso.organisation.id or case.status == CaseStatus.closed.value:
            continue
        if case.opened_on > today - timedelta(days=90):
            continue
        child = await session.get(Child, case.child_id)
        if child is None or child.care_arrangement == CareArrangement.residential_care.value:
            continue
        await _trace(
            session,
            manager,
            child,
            case,
            "Father, last seen in Poipet",
            case.opened_on + timedelta(days=5),
            "not_found",
        )
        traced = await _trace(
            session,
            manager,
            child,
            case,
            "Relatives in Pailin",
            case.opened_on + timedelta(days=20),
            "not_found",
        )
        await care.record_placement(
            session,
            manager,
            child,
            PlacementCreate.model_validate(
                {
                    "placement_type": "residential_care",
                    "facility_id": facility.id,
                    "started_on": case.opened_on + timedelta(days=40),
                    "reason": "No family found; long-term care after discussing with DoSVY",
                    "gatekeeping": {
                        "decided_by": "dosvy",
                        "decided_on": case.opened_on + timedelta(days=35),
                        "decision_reference": "DoSVY-BTB/2025/031",
                        "tracing_id": traced,
                        "family_care_not_possible_reason": "Tracing found no relative left",
                    },
                }
            ),
        )
        return 1
    return 0


async def _campaign(session: AsyncSession, kfso: Member, cases: list[Case], today: date) -> int:
    """Commune officers brought the registration office to the village: one event."""
    children = [
        case.child_id
        for case in cases
        if case.organisation_id == kfso.organisation.id
        and case.opened_on <= today - timedelta(days=20)
    ][:CAMPAIGN_SIZE]
    event = GroupEvent.model_validate(
        {
            "service_type": "birth_certificate_support",
            "delivered_on": today - timedelta(days=20),
            "notes": "Mobile birth registration with the commune, Rom Lech village",
            "rows": [{"child_id": child_id} for child_id in children],
        }
    )
    results = await record_group_event(session, kfso.acting(kfso.manager), event)
    return sum(1 for result in results if result.status == 201)
