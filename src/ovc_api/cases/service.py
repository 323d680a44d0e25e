"""The rules of cases: opening, correcting, the status workflow, closure approvals, reopening.

Each operation takes the session, the caller and its typed input, enforces every rule, writes
the history and audit rows, and returns the rows (or raises a problem error). Routes, the CLI
and the demo call these; nothing here commits or knows HTTP.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api import service_kit
from ovc_api.auth.principal import Principal
from ovc_api.cases.models import (
    Case,
    CaseStatus,
    CaseStatusChange,
    ClosureRequest,
    ClosureRequestStatus,
)
from ovc_api.cases.queries import (
    access_log,
    add_concerns,
    resolve_assignee,
    update_case,
)
from ovc_api.cases.schemas import (
    CaseCreate,
    CaseUpdate,
    ClosureApproval,
    ClosureRejection,
    ClosureRequestCreate,
    Reopening,
    TransitionCreate,
)
from ovc_api.cases.visibility import sees_all_cases
from ovc_api.cases.workflow import check_transition, status_change
from ovc_api.children.models import Child
from ovc_api.concurrency import apply_changes
from ovc_api.db import utcnow
from ovc_api.errors import Conflict, Forbidden, NotFound, Unprocessable
from ovc_api.families.models import Family
from ovc_api.revisions import RevisionRead
from ovc_api.tenancy import resolve_reference, scoped

RESOURCE = "case"
CLOSURE = "closure_request"
ASSIGN_NEEDS_ALL = "Assigning a case to someone else needs the cases:all scope (a case manager)"


case_in_scope = service_kit.Records(Case, RESOURCE).in_scope


async def open_case(
    session: AsyncSession, principal: Principal, data: CaseCreate
) -> tuple[Case, Child]:
    """A new case in intake, for a child of the caller's organisation, with its first
    history row; assigned to the caller unless they may assign others."""
    assignee = data.assigned_to or principal.user_id
    if assignee is None:
        raise Unprocessable.field(
            ["body", "assigned_to"], "required when the caller is not a person (API key)"
        )
    if assignee != principal.user_id and not sees_all_cases(principal):
        raise Forbidden(ASSIGN_NEEDS_ALL)
    child = await resolve_reference(session, principal, Child, data.child_id, "child_id")
    if child.archived_at is not None:
        raise Unprocessable.field(["body", "child_id"], "the child's record is archived")
    family_id = data.family_id
    if family_id is not None:
        await resolve_reference(session, principal, Family, family_id, "family_id")
    else:
        family_id = child.family_id
    await resolve_assignee(session, principal, assignee)
    if child.date_of_birth is not None and data.opened_on < child.date_of_birth:
        raise Unprocessable.field(["body", "opened_on"], "cannot be before the child's birth")
    case = Case(
        **service_kit.stored(data, exclude={"child_id", "family_id", "assigned_to", "concerns"}),
        organisation_id=principal.organisation_id,
        child_id=child.id,
        family_id=family_id,
        assigned_to=assignee,
        status=CaseStatus.intake.value,
        created_by=principal.user_id,
    )
    session.add(case)
    await session.flush()
    add_concerns(session, case, [c.value for c in data.concerns])
    session.add(status_change(case, principal, None))
    service_kit.audit(session, principal, RESOURCE, "create", case.id, case_id=case.id)
    return case, child


async def correct_case(
    session: AsyncSession,
    principal: Principal,
    case: Case,
    data: CaseUpdate,
    *,
    if_match: str | None,
) -> Case:
    """A correction of the case's fields (not its status: that moves by transitions)."""
    changes = service_kit.stored(data, sent_only=True, exclude={"concerns", "status"})
    for required in ("risk_level", "referral_source", "assigned_to"):
        if required in changes and changes[required] is None:
            raise Unprocessable.field(["body", required], "cannot be null")
    if "concerns" in data.model_fields_set and data.concerns is None:
        raise Unprocessable.field(["body", "concerns"], "cannot be null")
    if "assigned_to" in changes and changes["assigned_to"] != case.assigned_to:
        if not sees_all_cases(principal):
            raise Forbidden(ASSIGN_NEEDS_ALL)
        await resolve_assignee(session, principal, changes["assigned_to"])
    if changes.get("family_id") is not None:
        await resolve_reference(session, principal, Family, changes["family_id"], "family_id")
    return await update_case(session, case, changes, data.concerns, if_match, principal)


async def transition(
    session: AsyncSession,
    principal: Principal,
    case: Case,
    data: TransitionCreate,
    *,
    if_match: str | None = None,
) -> Case:
    """Move the case along the workflow (409 names the allowed targets)."""
    check_transition(case.status, data.to_status)
    previous = case.status
    await apply_changes(session, case, {"status": data.to_status.value}, if_match or "*", principal)
    session.add(status_change(case, principal, previous, note=data.note))
    service_kit.audit(
        session,
        principal,
        RESOURCE,
        "transition",
        case.id,
        case_id=case.id,
        changed_fields=["status"],
        detail=f"{previous}->{case.status}",
    )
    return case


async def closure_request(
    session: AsyncSession, principal: Principal, case: Case, closure_request_id: uuid.UUID
) -> ClosureRequest:
    """A closure request of this case (another case's, even a visible one, is a 404)."""
    statement = scoped(select(ClosureRequest), principal, ClosureRequest).where(
        col(ClosureRequest.id) == closure_request_id, col(ClosureRequest.case_id) == case.id
    )
    request = (await session.exec(statement)).first()
    if request is None:
        raise NotFound()
    return request


async def read_closure_request(
    session: AsyncSession, principal: Principal, case: Case, closure_request_id: uuid.UUID
) -> ClosureRequest:
    found = await closure_request(session, principal, case, closure_request_id)
    return service_kit.read(session, principal, found, resource=CLOSURE, case_id=case.id)


def closure_requests(principal: Principal, case: Case) -> Any:
    """The case's closure requests (the list's statement)."""
    return scoped(select(ClosureRequest), principal, ClosureRequest).where(
        col(ClosureRequest.case_id) == case.id
    )


async def request_closure(
    session: AsyncSession, principal: Principal, case: Case, data: ClosureRequestCreate
) -> ClosureRequest:
    """Ask a case manager to close the case: one pending request at a time."""
    if case.status == CaseStatus.closed:
        raise Conflict("The case is already closed")
    if data.closed_on < case.opened_on:
        raise Unprocessable.field(["body", "closed_on"], "cannot be before the case was opened")
    pending = scoped(select(col(ClosureRequest.id)), principal, ClosureRequest).where(
        col(ClosureRequest.case_id) == case.id,
        col(ClosureRequest.status) == ClosureRequestStatus.pending.value,
    )
    if (pending_id := (await session.exec(pending)).first()) is not None:
        raise Conflict(
            "Another closure request of this case is pending: wait for its decision",
            extra={"pending_closure_request_id": str(pending_id)},
        )
    request = ClosureRequest(
        **service_kit.stored(data),
        organisation_id=case.organisation_id,
        case_id=case.id,
        requested_by=principal.user_id,
    )
    return await service_kit.insert(session, principal, request, resource=CLOSURE, case_id=case.id)


def _check_pending(request: ClosureRequest) -> None:
    if request.status != ClosureRequestStatus.pending:
        raise Conflict(
            f"This closure request is already {request.status}: only a pending one can be decided"
        )


async def _decide(
    session: AsyncSession,
    principal: Principal,
    request: ClosureRequest,
    status: ClosureRequestStatus,
    comment: str | None,
) -> None:
    _check_pending(request)
    decision = {
        "status": status.value,
        "decided_by": principal.user_id,
        "decided_at": utcnow(),
        "decision_comment": comment,
    }
    await apply_changes(session, request, decision, "*", principal)


async def approve_closure(
    session: AsyncSession,
    principal: Principal,
    case: Case,
    closure_request_id: uuid.UUID,
    data: ClosureApproval,
) -> ClosureRequest:
    """Approve a pending request (never one's own): the case is closed, with its history."""
    closure = await closure_request(session, principal, case, closure_request_id)
    _check_pending(closure)
    if closure.requested_by is not None and closure.requested_by == principal.user_id:
        raise Conflict("You requested this closure: another case manager must approve it")
    if case.status == CaseStatus.closed:
        raise Conflict("The case is already closed")
    await _decide(session, principal, closure, ClosureRequestStatus.approved, data.comment)
    previous = case.status
    closing = {
        "status": CaseStatus.closed.value,
        "closed_on": closure.closed_on,
        "closure_reason": closure.reason,
    }
    changed = await apply_changes(session, case, closing, "*", principal)
    session.add(
        status_change(
            case,
            principal,
            previous,
            note=closure.note,
            changed_by=closure.requested_by,
            approved_by=principal.user_id,
        )
    )
    service_kit.audit(session, principal, CLOSURE, "approve", closure.id, case_id=case.id)
    service_kit.audit(
        session, principal, RESOURCE, "close", case.id, case_id=case.id, changed_fields=changed
    )
    return closure


async def reject_closure(
    session: AsyncSession,
    principal: Principal,
    case: Case,
    closure_request_id: uuid.UUID,
    data: ClosureRejection,
) -> ClosureRequest:
    """Reject a pending request, saying why: the case stays open."""
    closure = await closure_request(session, principal, case, closure_request_id)
    await _decide(session, principal, closure, ClosureRequestStatus.rejected, data.comment)
    service_kit.audit(session, principal, CLOSURE, "reject", closure.id, case_id=case.id)
    return closure


async def reopen(session: AsyncSession, principal: Principal, case: Case, data: Reopening) -> Case:
    """Reopen a closed case; its history is kept."""
    if case.status != CaseStatus.closed:
        raise Conflict(f"Only a closed case can be reopened; this one is in {case.status}")
    previous = case.status
    reopening = {"status": data.to_status.value, "closed_on": None, "closure_reason": None}
    changed = await apply_changes(session, case, reopening, "*", principal)
    session.add(status_change(case, principal, previous, note=data.note))
    service_kit.audit(
        session, principal, RESOURCE, "reopen", case.id, case_id=case.id, changed_fields=changed
    )
    return case


def _record_case_read(session: AsyncSession, principal: Principal, case: Case, what: str) -> None:
    service_kit.audit(session, principal, RESOURCE, what, case.id, case_id=case.id)


def history(session: AsyncSession, principal: Principal, case: Case) -> Any:
    """The case's status changes (the list's statement); the reading is audited once."""
    _record_case_read(session, principal, case, "history_read")
    return scoped(select(CaseStatusChange), principal, CaseStatusChange).where(
        col(CaseStatusChange.case_id) == case.id
    )


def access_log_of(session: AsyncSession, principal: Principal, case: Case) -> Any:
    """Who looked at or changed the case (the list's statement)."""
    return access_log(session, principal, case.id)


def access_log_read(session: AsyncSession, principal: Principal, case: Case) -> None:
    """Audit a reading of the access log, after the page is read (so it does not list
    itself)."""
    _record_case_read(session, principal, case, "access_log_read")


async def revisions(session: AsyncSession, principal: Principal, case: Case) -> list[RevisionRead]:
    return await service_kit.revisions(session, principal, case, resource=RESOURCE, case_id=case.id)
