"""The rules of alternative care: the facilities directory (edited by the operator or the
network administrator), a child's placements as non-overlapping periods with one open at a
time (residential care only after family tracing and a recorded decision), and family
tracing. The child's `care_arrangement` is written here only, from the open placement.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api import service_kit
from ovc_api.audit.service import record, record_read
from ovc_api.auth.principal import Principal
from ovc_api.care.models import (
    ARRANGEMENT_OF,
    FACILITY_KINDS,
    RESIDENTIAL,
    CareFacility,
    Placement,
    PlacementType,
    TracingAttempt,
    TracingOutcome,
)
from ovc_api.care.schemas import (
    FacilityCreate,
    FacilityUpdate,
    GatekeepingRead,
    PlacementCreate,
    PlacementRead,
    PlacementUpdate,
    TracingCreate,
    TracingRead,
    TracingUpdate,
)
from ovc_api.cases.models import Case
from ovc_api.children.models import Child
from ovc_api.concurrency import apply_changes
from ovc_api.db import unique_or_conflict
from ovc_api.errors import Forbidden, NotFound, Unprocessable
from ovc_api.identity.models import Organisation
from ovc_api.tenancy import resolve_reference, scoped

FACILITY = "care_facility"
PLACEMENT = "placement"
TRACING = "tracing_attempt"
LAST_RESORT = (
    "Residential care is the last resort: record the family tracing that came before and the "
    "decision (who decided, when, and why family-based care is not possible) in `gatekeeping`"
)


# --- facilities ------------------------------------------------------------------------------


async def facility_or_404(session: AsyncSession, facility_id: uuid.UUID) -> CareFacility:
    """Facilities are the network's directory: every member reads every one."""
    facility = await session.get(CareFacility, facility_id)
    if facility is None:
        raise NotFound()
    return facility


def facilities() -> Any:
    """The directory's statement (no resident is ever reachable from it)."""
    return select(CareFacility)


async def record_facility(
    session: AsyncSession, principal: Principal, data: FacilityCreate
) -> CareFacility:
    """An organisation's administrator records its own facilities; the network
    administrator records any member's (and must say whose)."""
    operator = data.organisation_id
    if principal.is_network_admin:
        if operator is None:
            raise Unprocessable.field(["body", "organisation_id"], "name the operator organisation")
        if await session.get(Organisation, operator) is None:
            raise Unprocessable.field(["body", "organisation_id"], "no such organisation")
    elif operator is not None and operator != principal.organisation_id:
        raise Forbidden("An organisation records its own facilities")
    facility = CareFacility(
        **service_kit.stored(data, exclude={"organisation_id"}),
        organisation_id=operator or principal.organisation_id,
    )
    return await service_kit.insert(session, principal, facility, resource=FACILITY)


async def correct_facility(
    session: AsyncSession,
    principal: Principal,
    facility: CareFacility,
    data: FacilityUpdate,
    *,
    if_match: str | None,
) -> CareFacility:
    """Only the operator organisation or the network administrator edits a facility."""
    if not principal.is_network_admin and facility.organisation_id != principal.organisation_id:
        raise Forbidden("Only the operator organisation or the network administrator edits it")
    changes = service_kit.stored(data, sent_only=True, not_null={"name", "kind", "province"})
    return await service_kit.correct(
        session, principal, facility, changes, if_match=if_match, resource=FACILITY
    )


# --- placements ------------------------------------------------------------------------------


PLACEMENTS = service_kit.Records(Placement, PLACEMENT, parent="child_id", order=("started_on",))
placements_of = PLACEMENTS.of
placement_in_scope = PLACEMENTS.under


async def open_placement(session: AsyncSession, child_id: uuid.UUID) -> Placement | None:
    statement = select(Placement).where(
        col(Placement.child_id) == child_id, col(Placement.ended_on).is_(None)
    )
    return (await session.exec(statement)).first()


async def present_placements(
    session: AsyncSession, placements: list[Placement]
) -> list[PlacementRead]:
    """Placements with their gatekeeping decision and the tracing outcome behind it."""
    tracing_ids = {p.gatekeeping_tracing_id for p in placements if p.gatekeeping_tracing_id}
    outcomes: dict[uuid.UUID, str] = {}
    if tracing_ids:
        rows = await session.exec(
            select(TracingAttempt.id, TracingAttempt.outcome).where(
                col(TracingAttempt.id).in_(tracing_ids)
            )
        )
        outcomes = dict(rows.all())
    shown = []
    for placement in placements:
        result = PlacementRead.model_validate(placement)
        if placement.gatekeeping_tracing_id is not None:
            result.gatekeeping = GatekeepingRead(
                decided_by=placement.gatekeeping_decided_by,
                decided_on=placement.gatekeeping_decided_on,
                tracing_id=placement.gatekeeping_tracing_id,
                tracing_outcome=outcomes[placement.gatekeeping_tracing_id],
                family_care_not_possible_reason=placement.family_care_not_possible_reason or "",
            )
        shown.append(result)
    return shown


async def _facility_for(
    session: AsyncSession, placement_type: PlacementType, facility_id: uuid.UUID | None
) -> uuid.UUID | None:
    """Residential care and group homes happen at a facility of the matching kind."""
    kinds = FACILITY_KINDS.get(placement_type)
    if kinds is None:
        if facility_id is not None:
            raise Unprocessable.field(
                ["body", "facility_id"], f"a {placement_type.value} placement has no facility"
            )
        return None
    if facility_id is None:
        raise Unprocessable.field(
            ["body", "facility_id"], f"a {placement_type.value} placement names its facility"
        )
    facility = await session.get(CareFacility, facility_id)
    if facility is None:
        raise Unprocessable.field(["body", "facility_id"], "no such facility")
    if facility.kind not in {kind.value for kind in kinds}:
        allowed = ", ".join(sorted(kind.value for kind in kinds))
        raise Unprocessable.field(
            ["body", "facility_id"],
            f"a {placement_type.value} placement needs a facility of kind {allowed}, "
            f"not {facility.kind}",
        )
    return facility.id


async def _gatekeeping(
    session: AsyncSession, principal: Principal, child: Child, data: PlacementCreate
) -> dict[str, Any]:
    """The decision behind a residential placement, refused without tracing before it."""
    gate = data.gatekeeping
    if data.placement_type not in RESIDENTIAL:
        if gate is not None:
            raise Unprocessable.field(["body", "gatekeeping"], "only for residential care")
        return {}
    if gate is None:
        raise Unprocessable.field(["body", "gatekeeping"], LAST_RESORT, kind="missing")
    if gate.decided_on > data.started_on:
        raise Unprocessable.field(
            ["body", "gatekeeping", "decided_on"], "the decision cannot postdate the placement"
        )
    tracing = await _visible_tracing(session, principal, gate.tracing_id)
    if tracing is None or tracing.child_id != child.id:
        raise Unprocessable.field(
            ["body", "gatekeeping", "tracing_id"], "no such tracing attempt for this child"
        )
    if tracing.attempted_on > gate.decided_on:
        raise Unprocessable.field(
            ["body", "gatekeeping", "tracing_id"], "the tracing must come before the decision"
        )
    if tracing.outcome == TracingOutcome.in_progress.value:
        raise Unprocessable.field(
            ["body", "gatekeeping", "tracing_id"], "the tracing is still in progress"
        )
    return {
        "gatekeeping_decided_by": gate.decided_by.value,
        "gatekeeping_decided_on": gate.decided_on,
        "gatekeeping_tracing_id": tracing.id,
        "family_care_not_possible_reason": gate.family_care_not_possible_reason,
    }


async def _visible_tracing(
    session: AsyncSession, principal: Principal, tracing_id: uuid.UUID
) -> TracingAttempt | None:
    statement = select(TracingAttempt).where(col(TracingAttempt.id) == tracing_id)
    return (await session.exec(scoped(statement, principal, TracingAttempt))).first()


def _overlap(start: date, end: date | None, other_start: date, other_end: date | None) -> bool:
    """Half-open periods [start, end): an open period runs for ever."""
    return (other_end is None or start < other_end) and (end is None or other_start < end)


async def _derive_arrangement(
    session: AsyncSession, principal: Principal, child: Child, current: Placement | None
) -> None:
    """The child's care arrangement follows its open placement: the one place it is set."""
    if current is None:
        return
    arrangement = ARRANGEMENT_OF[PlacementType(current.placement_type)].value
    await apply_changes(session, child, {"care_arrangement": arrangement}, "*", principal)


async def record_placement(
    session: AsyncSession,
    principal: Principal,
    child: Child,
    data: PlacementCreate,
    *,
    loc: list[str] | None = None,
) -> Placement:
    """A new period of care. An open one ends the current placement on its start date; an
    earlier period recorded afterwards must fit between the others."""
    facility_id = await _facility_for(session, data.placement_type, data.facility_id)
    gatekeeping = await _gatekeeping(session, principal, child, data)
    existing = await placements_of(session, child)
    to_close: Placement | None = None
    for other in existing:
        if data.ended_on is None and other.ended_on is None and other.started_on < data.started_on:
            to_close = other
            continue
        if _overlap(data.started_on, data.ended_on, other.started_on, other.ended_on):
            until = other.ended_on.isoformat() if other.ended_on else "now"
            raise Unprocessable.field(
                loc or ["body", "started_on"],
                f"overlaps the {other.placement_type} placement from "
                f"{other.started_on.isoformat()} to {until}",
            )
    if to_close is not None:
        await apply_changes(
            session,
            to_close,
            {"ended_on": data.started_on, "end_reason": data.reason},
            "*",
            principal,
        )
        record(
            session,
            principal,
            "placement.end",
            resource_type=PLACEMENT,
            resource_id=to_close.id,
            changed_fields=["end_reason", "ended_on"],
        )
    placement = Placement(
        **service_kit.stored(data, exclude={"facility_id", "gatekeeping", "decision_reference"}),
        organisation_id=principal.organisation_id,
        child_id=child.id,
        facility_id=facility_id,
        decision_reference=(data.gatekeeping and data.gatekeeping.decision_reference)
        or data.decision_reference,
        recorded_by=principal.user_id,
        **gatekeeping,
    )
    async with unique_or_conflict(session, "The child's placements changed meanwhile: retry"):
        await service_kit.insert(session, principal, placement, resource=PLACEMENT)
    if data.ended_on is None:
        await _derive_arrangement(session, principal, child, placement)
    return placement


async def correct_placement(
    session: AsyncSession,
    principal: Principal,
    placement: Placement,
    data: PlacementUpdate,
    *,
    if_match: str | None,
) -> Placement:
    """Notes of a period; its type, dates and decision are facts (record a new period)."""
    changes = data.model_dump(exclude_unset=True)
    return await service_kit.correct(
        session, principal, placement, changes, if_match=if_match, resource=PLACEMENT
    )


# --- family tracing --------------------------------------------------------------------------


TRACINGS = service_kit.Records(
    TracingAttempt, TRACING, parent="child_id", order=("attempted_on", "id")
)
tracing_of = TRACINGS.of
tracing_in_scope = TRACINGS.under


async def record_tracing(
    session: AsyncSession, principal: Principal, child: Child, data: TracingCreate
) -> TracingAttempt:
    """An attempt to find the child's family; with a case, it shows in the case's history."""
    if data.case_id is not None:
        case = await resolve_reference(session, principal, Case, data.case_id, "case_id")
        if case.child_id != child.id:
            raise Unprocessable.field(["body", "case_id"], "not a case of this child")
    attempt = TracingAttempt(
        **service_kit.stored(data),
        organisation_id=principal.organisation_id,
        child_id=child.id,
        recorded_by=principal.user_id,
    )
    return await service_kit.insert(
        session, principal, attempt, resource=TRACING, case_id=data.case_id
    )


async def correct_tracing(
    session: AsyncSession,
    principal: Principal,
    attempt: TracingAttempt,
    data: TracingUpdate,
    *,
    if_match: str | None,
) -> TracingAttempt:
    """An attempt in progress gets its outcome; notes are corrected with history."""
    changes = service_kit.stored(data, sent_only=True, not_null={"outcome"})
    return await service_kit.correct(
        session,
        principal,
        attempt,
        changes,
        if_match=if_match,
        resource=TRACING,
        case_id=attempt.case_id,
    )


def read_child_care(
    session: AsyncSession, principal: Principal, child: Child, resource: str, ids: list[uuid.UUID]
) -> None:
    """Reading a child's placements or tracing is reading the child's record: audited."""
    record_read(session, principal, resource, ids, single=False)


async def read_placements(
    session: AsyncSession, principal: Principal, child: Child
) -> list[PlacementRead]:
    """A child's care history, oldest first: a read of the child's record, audited."""
    placements = await placements_of(session, child)
    read_child_care(session, principal, child, PLACEMENT, [p.id for p in placements])
    return await present_placements(session, placements)


async def read_tracing(
    session: AsyncSession, principal: Principal, child: Child
) -> list[TracingRead]:
    """The attempts to find a child's family, oldest first: audited like `read_placements`."""
    attempts = await tracing_of(session, child)
    read_child_care(session, principal, child, TRACING, [a.id for a in attempts])
    return [TracingRead.model_validate(a) for a in attempts]
