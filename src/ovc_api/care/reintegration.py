"""The rules of reintegration: a plan per child leaving care (one active at a time), the
move (a family-based placement, and monitoring visits scheduled at the organisation's
months), visits recording whether the placement holds, and re-separation (the placement
ends, the remaining visits are cancelled, planning reopens).

Operations never commit and know nothing of HTTP.
"""

from __future__ import annotations

import calendar
import uuid
from datetime import date
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api import service_kit
from ovc_api.audit.service import record
from ovc_api.auth.principal import Principal
from ovc_api.care import service as care
from ovc_api.care.models import (
    DEFAULT_MONITORING_MONTHS,
    FAMILY_BASED,
    CareSettings,
    MonitoringVisit,
    PlacementType,
    PlanStatus,
    ReintegrationPlan,
    VisitStatus,
)
from ovc_api.care.reintegration_schemas import (
    CareSettings as CareSettingsBody,
)
from ovc_api.care.reintegration_schemas import (
    MoveBody,
    PlanCreate,
    PlanUpdate,
    ReSeparationBody,
    VisitRead,
    VisitUpdate,
)
from ovc_api.care.schemas import PlacementCreate
from ovc_api.cases.models import Case
from ovc_api.children.models import Child
from ovc_api.concurrency import apply_changes
from ovc_api.errors import Conflict, Forbidden, NotFound, Unprocessable
from ovc_api.identity.models import Organisation
from ovc_api.tenancy import resolve_reference, scoped

PLAN = "reintegration_plan"
VISIT = "monitoring_visit"
ACTIVE = (PlanStatus.planning.value, PlanStatus.monitoring.value)
_JSON_FIELDS = ("readiness", "preparation_steps", "support_package")  # stored as JSON


def add_months(day: date, months: int) -> date:
    """The same day `months` later (the month's last day when it is shorter)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


async def monitoring_months(session: AsyncSession, organisation_id: uuid.UUID) -> list[int]:
    """The organisation's schedule (readable by every member), else 1, 3, 6 and 12."""
    settings = await session.get(CareSettings, organisation_id)
    return list(settings.monitoring_months if settings else DEFAULT_MONITORING_MONTHS)


async def care_settings(
    session: AsyncSession, principal: Principal, organisation: Organisation
) -> CareSettingsBody:
    """An organisation's monitoring schedule, as every member may read it."""
    return CareSettingsBody(monitoring_months=await monitoring_months(session, organisation.id))


async def set_care_settings(
    session: AsyncSession, principal: Principal, organisation: Organisation, data: CareSettingsBody
) -> CareSettingsBody:
    """An organisation sets its own monitoring schedule."""
    if organisation.id != principal.organisation_id:
        raise Forbidden("An organisation sets its own care settings")
    settings = await session.get(CareSettings, organisation.id)
    if settings is None:
        session.add(
            CareSettings(organisation_id=organisation.id, monitoring_months=data.monitoring_months)
        )
    else:
        await apply_changes(
            session, settings, {"monitoring_months": data.monitoring_months}, "*", principal
        )
    record(
        session,
        principal,
        "organisation.care_settings_update",
        resource_type="organisation",
        resource_id=organisation.id,
    )
    return data


plan_in_scope = service_kit.Records(ReintegrationPlan, PLAN).in_scope


def plans(principal: Principal) -> Any:
    return scoped(select(ReintegrationPlan), principal, ReintegrationPlan)


def _dumped(data: PlanCreate | PlanUpdate, field: str) -> Any:
    value = getattr(data, field)
    if value is None:
        return None
    if isinstance(value, list):
        return [item.model_dump(mode="json") for item in value]
    return value.model_dump(mode="json")


def _family_based(placement_type: PlacementType, loc: list[str]) -> None:
    if placement_type not in FAMILY_BASED:
        allowed = ", ".join(sorted(t.value for t in FAMILY_BASED))
        raise Unprocessable.field(loc, f"a reintegration is into family-based care: {allowed}")


async def open_plan(
    session: AsyncSession, principal: Principal, data: PlanCreate
) -> ReintegrationPlan:
    """A plan for a child in care; one active plan per child."""
    case = await resolve_reference(session, principal, Case, data.case_id, "case_id")
    _family_based(data.target_placement_type, ["body", "target_placement_type"])
    current = await care.open_placement(session, case.child_id)
    if current is not None and current.placement_type in {
        PlacementType.parents.value,
        PlacementType.single_parent.value,
    }:
        raise Unprocessable.field(["body", "case_id"], "the child already lives with a parent")
    active = await session.exec(
        select(ReintegrationPlan.id).where(
            col(ReintegrationPlan.child_id) == case.child_id,
            col(ReintegrationPlan.status).in_(ACTIVE),
        )
    )
    if active.first() is not None:
        raise Conflict("The child already has an active reintegration plan")
    plan = ReintegrationPlan(
        **service_kit.stored(
            data, include={"target_placement_type", "caregiver", "planned_move_on"}
        ),
        **{field: _dumped(data, field) for field in _JSON_FIELDS},
        organisation_id=principal.organisation_id,
        case_id=case.id,
        child_id=case.child_id,
        created_by=principal.user_id,
    )
    return await service_kit.insert(session, principal, plan, resource=PLAN, case_id=case.id)


async def correct_plan(
    session: AsyncSession,
    principal: Principal,
    plan: ReintegrationPlan,
    data: PlanUpdate,
    *,
    if_match: str | None,
) -> ReintegrationPlan:
    """Planning is revised until the move; afterwards only the steps and package are."""
    changes: dict[str, Any] = {}
    for field in data.model_fields_set:
        changes[field] = _dumped(data, field) if field in _JSON_FIELDS else getattr(data, field)
    if "target_placement_type" in changes:
        if changes["target_placement_type"] is None:
            changes.pop("target_placement_type")
        else:
            _family_based(changes["target_placement_type"], ["body", "target_placement_type"])
            changes["target_placement_type"] = changes["target_placement_type"].value
    if changes.get("caregiver", "") is None:
        changes.pop("caregiver")
    for listed in ("preparation_steps", "support_package"):
        if listed in changes and changes[listed] is None:
            changes[listed] = []
    moved = {"target_placement_type", "caregiver", "planned_move_on", "readiness"}
    if plan.status != PlanStatus.planning.value and moved & set(changes):
        raise Conflict("The child has moved: the plan's target and readiness are history")
    return await service_kit.correct(
        session, principal, plan, changes, if_match=if_match, resource=PLAN, case_id=plan.case_id
    )


async def move(
    session: AsyncSession, principal: Principal, plan: ReintegrationPlan, data: MoveBody
) -> ReintegrationPlan:
    """The child moves to the family: the placement starts and monitoring is scheduled."""
    if plan.status != PlanStatus.planning.value:
        raise Conflict("Only a plan in planning leads to a move")
    child = await session.get(Child, plan.child_id)
    if child is None:
        raise NotFound()
    placement = await care.record_placement(
        session,
        principal,
        child,
        PlacementCreate(
            placement_type=PlacementType(plan.target_placement_type),
            caregiver=data.caregiver or plan.caregiver,
            started_on=data.moved_on,
            reason="Reintegration",
        ),
        loc=["body", "moved_on"],
    )
    for months in await monitoring_months(session, plan.organisation_id):
        session.add(
            MonitoringVisit(
                organisation_id=plan.organisation_id,
                plan_id=plan.id,
                case_id=plan.case_id,
                placement_id=placement.id,
                months_after_move=months,
                due_on=add_months(data.moved_on, months),
            )
        )
    await apply_changes(
        session,
        plan,
        {
            "status": PlanStatus.monitoring.value,
            "moved_on": data.moved_on,
            "placement_id": placement.id,
        },
        "*",
        principal,
    )
    record(
        session,
        principal,
        "reintegration_plan.move",
        resource_type=PLAN,
        resource_id=plan.id,
        case_id=plan.case_id,
    )
    return plan


def read_plan(
    session: AsyncSession, principal: Principal, plan: ReintegrationPlan
) -> ReintegrationPlan:
    """Reading a plan (or its visits) is reading the child's case: audited."""
    return service_kit.read(session, principal, plan, resource=PLAN, case_id=plan.case_id)


async def read_visits(
    session: AsyncSession, principal: Principal, plan: ReintegrationPlan
) -> list[VisitRead]:
    """The plan's monitoring visits by due date, read as the plan is (audited)."""
    read_plan(session, principal, plan)
    return [VisitRead.model_validate(v) for v in await visits_of(session, plan)]


VISITS = service_kit.Records(MonitoringVisit, VISIT, parent="plan_id", order=("due_on", "id"))
visits_of = VISITS.of
visit_in_scope = VISITS.under


async def record_visit(
    session: AsyncSession,
    principal: Principal,
    plan: ReintegrationPlan,
    visit: MonitoringVisit,
    data: VisitUpdate,
    *,
    if_match: str | None,
) -> MonitoringVisit:
    """A monitoring visit done: whether the placement holds. The last one completes the plan."""
    if visit.status == VisitStatus.cancelled.value:
        raise Conflict("The visit was cancelled (the child was re-separated)")
    if visit.placement_id != plan.placement_id:
        # After a re-separation and a new move, the plan's earlier visits describe a
        # placement that has ended: recording one now would date it after that placement.
        raise Conflict("The visit belongs to an earlier placement of the plan, which has ended")
    assert plan.moved_on is not None
    if data.visited_on < plan.moved_on:
        raise Unprocessable.field(["body", "visited_on"], "monitoring cannot predate the move")
    changes = {
        "status": VisitStatus.done.value,
        "visited_on": data.visited_on,
        "placement_stable": data.placement_stable,
        "notes": data.notes,
        "visited_by": principal.user_id,
    }
    await service_kit.correct(
        session,
        principal,
        visit,
        changes,
        if_match=if_match,
        resource=VISIT,
        case_id=visit.case_id,
    )
    remaining = [
        v for v in await visits_of(session, plan) if v.status == VisitStatus.scheduled.value
    ]
    if not remaining and plan.status == PlanStatus.monitoring.value:
        await apply_changes(session, plan, {"status": PlanStatus.completed.value}, "*", principal)
    return visit


async def re_separate(
    session: AsyncSession, principal: Principal, plan: ReintegrationPlan, data: ReSeparationBody
) -> ReintegrationPlan:
    """The family placement broke down: the child's new placement ends it, the remaining
    visits are cancelled and the plan goes back to planning."""
    if plan.status == PlanStatus.planning.value or plan.moved_on is None:
        raise Conflict("The child has not moved under this plan")
    if data.separated_on <= plan.moved_on:
        raise Unprocessable.field(["body", "separated_on"], "must come after the move")
    current = await care.open_placement(session, plan.child_id)
    if current is None or current.id != plan.placement_id:
        raise Conflict("The reintegration placement has already ended")
    child = await session.get(Child, plan.child_id)
    assert child is not None
    await care.record_placement(
        session,
        principal,
        child,
        PlacementCreate(
            placement_type=data.placement_type,
            facility_id=data.facility_id,
            caregiver=data.caregiver,
            started_on=data.separated_on,
            reason=f"Re-separation: {data.reason}",
            gatekeeping=data.gatekeeping,
        ),
        loc=["body", "separated_on"],
    )
    for visit in await visits_of(session, plan):
        if visit.status == VisitStatus.scheduled.value:
            await apply_changes(
                session, visit, {"status": VisitStatus.cancelled.value}, "*", principal
            )
    await apply_changes(
        session,
        plan,
        {
            "status": PlanStatus.planning.value,
            "re_separated_on": data.separated_on,
            "re_separations": plan.re_separations + 1,
            "moved_on": None,
            "placement_id": None,
        },
        "*",
        principal,
    )
    record(
        session,
        principal,
        "reintegration_plan.re_separation",
        resource_type=PLAN,
        resource_id=plan.id,
        case_id=plan.case_id,
    )
    return plan
