"""Cases: one child's episode of support, its status workflow, closure approvals and history.

Every read and write is audited with the case id, so the case's access log can show who
looked at it or changed it.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response
from sqlmodel import col, select

from ovc_api import API_V1
from ovc_api.audit.models import AuditEvent
from ovc_api.audit.service import record, record_read
from ovc_api.auth.principal import (
    CaseApprover,
    CasesReader,
    CasesWriter,
    ClosureRequester,
    Principal,
)
from ovc_api.cases.deps import CaseForApproval, CaseForRead, CaseForWrite, SharedCaseForRead
from ovc_api.cases.filters import CaseListQuery
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
    case_read,
    case_reads,
    case_reads_from_rows,
    cases_with_children,
    resolve_assignee,
    update_case,
)
from ovc_api.cases.schemas import (
    AccessLogEntry,
    CaseCreate,
    CaseRead,
    CaseUpdate,
    ClosureApproval,
    ClosureRejection,
    ClosureRequestCreate,
    ClosureRequestRead,
    Reopening,
    StatusChangeRead,
    TransitionCreate,
)
from ovc_api.cases.visibility import sees_all_cases
from ovc_api.cases.workflow import check_transition, status_change
from ovc_api.children.models import Child
from ovc_api.concurrency import IfMatch, apply_changes, set_etag
from ovc_api.crud import Audited
from ovc_api.db import Session, utcnow
from ovc_api.errors import Conflict, Forbidden, NotFound, Unprocessable, error_responses
from ovc_api.families.models import Family
from ovc_api.idempotency import IdempotencyDep
from ovc_api.pagination import (
    Page,
    Pagination,
    fetch_page,
    parse_date,
    parse_datetime,
    sort_options,
)
from ovc_api.revisions import RevisionRead, revisions_of
from ovc_api.tenancy import resolve_reference, scoped, shared_read_source

router = APIRouter(prefix=f"{API_V1}/cases", tags=["cases"])
RESOURCE = "case"
CLOSURE = "closure_request"
CLOSURE_REQUESTS = Audited(CLOSURE, ClosureRequestRead)
SORTS = sort_options(
    col(Case.id),
    opened_on=(col(Case.opened_on), parse_date),
    created_at=(col(Case.created_at), parse_datetime),
    updated_at=(col(Case.updated_at), parse_datetime),
)
OLDEST_FIRST = sort_options(
    col(CaseStatusChange.id), changed_at=(col(CaseStatusChange.changed_at), parse_datetime)
)["changed_at"]
NEWEST_REQUEST_FIRST = sort_options(
    col(ClosureRequest.id), created_at=(col(ClosureRequest.created_at), parse_datetime)
)["-created_at"]
EVENT_SORTS = sort_options(col(AuditEvent.id), at=(col(AuditEvent.at), parse_datetime))
NEWEST_EVENT_FIRST = EVENT_SORTS["-at"]
OptionalIfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="Optional: the ETag of the case as last read (stale values get 412)",
    ),
]
ASSIGN_NEEDS_ALL = "Assigning a case to someone else needs the cases:all scope (a case manager)"


async def _read(session: Session, principal: Principal, case: Case, response: Response) -> CaseRead:
    set_etag(response, case)
    return await case_read(session, principal, case)


@router.post(
    "",
    summary="Open a case for a child (assigned to the caller unless they may assign others)",
    status_code=201,
    response_model=CaseRead,
    responses=error_responses(401, 403, 409, 422),
)
async def create_case(
    body: CaseCreate,
    response: Response,
    session: Session,
    principal: CasesWriter,
    idempotency: IdempotencyDep,
) -> Any:
    if (replayed := await idempotency.replay(principal, body)) is not None:
        return replayed
    assignee = body.assigned_to or principal.user_id
    if assignee is None:
        raise Unprocessable.field(
            ["body", "assigned_to"], "required when the caller is not a person (API key)"
        )
    if assignee != principal.user_id and not sees_all_cases(principal):
        raise Forbidden(ASSIGN_NEEDS_ALL)
    child = await resolve_reference(session, principal, Child, body.child_id, "child_id")
    if child.archived_at is not None:
        raise Unprocessable.field(["body", "child_id"], "the child's record is archived")
    family_id = body.family_id
    if family_id is not None:
        await resolve_reference(session, principal, Family, family_id, "family_id")
    else:
        family_id = child.family_id
    await resolve_assignee(session, principal, assignee)
    if child.date_of_birth is not None and body.opened_on < child.date_of_birth:
        raise Unprocessable.field(["body", "opened_on"], "cannot be before the child's birth")
    case = Case(
        organisation_id=principal.organisation_id,
        child_id=child.id,
        family_id=family_id,
        assigned_to=assignee,
        referral_source=body.referral_source.value,
        referral_source_detail=body.referral_source_detail,
        risk_level=body.risk_level.value,
        status=CaseStatus.intake.value,
        opened_on=body.opened_on,
        summary=body.summary,
        created_by=principal.user_id,
    )
    session.add(case)
    await session.flush()
    add_concerns(session, case, [c.value for c in body.concerns])
    session.add(status_change(case, principal, None))
    record(
        session,
        principal,
        "case.create",
        resource_type=RESOURCE,
        resource_id=case.id,
        case_id=case.id,
    )
    response.headers["Location"] = f"{API_V1}/cases/{case.id}"
    set_etag(response, case)
    (result,) = await case_reads(session, principal, [(case, child)])
    await idempotency.remember(201, result, response)
    return result


@router.get(
    "",
    summary="List cases with their child and concerns, filtered; `q` searches the child's names",
    response_model=Page[CaseRead],
    responses=error_responses(401, 403, 422),
)
async def list_cases(
    request: Request,
    response: Response,
    session: Session,
    principal: CasesReader,
    query: Annotated[CaseListQuery, Depends()],
    pagination: Pagination,
) -> Page[CaseRead]:
    statement = cases_with_children(principal, is_postgres=bool(session.info.get("is_postgres")))
    statement = query.apply(statement, principal)
    rows, next_cursor = await fetch_page(
        session, statement, pagination, SORTS[query.sort], request, response
    )
    items = case_reads_from_rows(rows)
    record_read(session, principal, RESOURCE, [c.id for c in items], single=False)
    return Page(items=items, next_cursor=next_cursor)


@router.get(
    "/{case_id}",
    summary="Read a case, with its child and concerns",
    response_model=CaseRead,
    responses=error_responses(401, 403, 404, 422),
)
async def get_case(
    case: SharedCaseForRead, response: Response, session: Session, principal: CasesReader
) -> CaseRead:
    via = await shared_read_source(session, principal, case)
    record_read(session, principal, RESOURCE, [case.id], case_id=case.id, via_referral=via)
    return await _read(session, principal, case, response)


@router.patch(
    "/{case_id}",
    summary="Correct a case (If-Match required; history is kept; status moves via /transitions)",
    response_model=CaseRead,
    responses=error_responses(401, 403, 404, 412, 422, 428),
)
async def update_case_record(
    case: CaseForWrite,
    body: CaseUpdate,
    response: Response,
    session: Session,
    principal: CasesWriter,
    if_match: IfMatch = None,
) -> CaseRead:
    changes = body.model_dump(exclude_unset=True, exclude={"concerns", "status"})
    for required in ("risk_level", "referral_source", "assigned_to"):
        if required in changes and changes[required] is None:
            raise Unprocessable.field(["body", required], "cannot be null")
    if "concerns" in body.model_fields_set and body.concerns is None:
        raise Unprocessable.field(["body", "concerns"], "cannot be null")
    changes = {k: (v.value if hasattr(v, "value") else v) for k, v in changes.items()}
    if "assigned_to" in changes and changes["assigned_to"] != case.assigned_to:
        if not sees_all_cases(principal):
            raise Forbidden(ASSIGN_NEEDS_ALL)
        await resolve_assignee(session, principal, changes["assigned_to"])
    if changes.get("family_id") is not None:
        await resolve_reference(session, principal, Family, changes["family_id"], "family_id")
    changed = await update_case(session, case, changes, body.concerns, if_match, principal)
    if changed:
        record(
            session,
            principal,
            "case.update",
            resource_type=RESOURCE,
            resource_id=case.id,
            case_id=case.id,
            changed_fields=changed,
        )
    return await _read(session, principal, case, response)


@router.post(
    "/{case_id}/transitions",
    summary="Move a case to the next status of the workflow (409 names the allowed ones)",
    response_model=CaseRead,
    responses=error_responses(401, 403, 404, 409, 412, 422),
)
async def transition_case(
    case: CaseForWrite,
    body: TransitionCreate,
    response: Response,
    session: Session,
    principal: CasesWriter,
    idempotency: IdempotencyDep,
    if_match: OptionalIfMatch = None,
) -> Any:
    if (replayed := await idempotency.replay(principal, body)) is not None:
        return replayed
    check_transition(case.status, body.to_status)
    previous = case.status
    await apply_changes(session, case, {"status": body.to_status.value}, if_match or "*", principal)
    session.add(status_change(case, principal, previous, note=body.note))
    record(
        session,
        principal,
        "case.transition",
        resource_type=RESOURCE,
        resource_id=case.id,
        case_id=case.id,
        changed_fields=["status"],
        detail=f"{previous}->{case.status}",
    )
    result = await _read(session, principal, case, response)
    await idempotency.remember(200, result, response)
    return result


async def _closure_request(
    session: Session, principal: Principal, case: Case, closure_request_id: uuid.UUID
) -> ClosureRequest:
    """A closure request of this case (another case's, even a visible one, is a 404)."""
    statement = scoped(select(ClosureRequest), principal, ClosureRequest).where(
        col(ClosureRequest.id) == closure_request_id, col(ClosureRequest.case_id) == case.id
    )
    request = (await session.exec(statement)).first()
    if request is None:
        raise NotFound()
    return request


def _check_pending(request: ClosureRequest) -> None:
    if request.status != ClosureRequestStatus.pending:
        raise Conflict(
            f"This closure request is already {request.status}: only a pending one can be decided"
        )


async def _decide(
    session: Session,
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


@router.post(
    "/{case_id}/closure-requests",
    summary="Ask a case manager to close the case (one pending request at a time)",
    status_code=201,
    response_model=ClosureRequestRead,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def request_case_closure(
    case: CaseForWrite,
    body: ClosureRequestCreate,
    response: Response,
    session: Session,
    principal: ClosureRequester,
    idempotency: IdempotencyDep,
) -> Any:
    if (replayed := await idempotency.replay(principal, body)) is not None:
        return replayed
    if case.status == CaseStatus.closed:
        raise Conflict("The case is already closed")
    if body.closed_on < case.opened_on:
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
        organisation_id=case.organisation_id,
        case_id=case.id,
        reason=body.reason.value,
        closed_on=body.closed_on,
        note=body.note,
        requested_by=principal.user_id,
    )
    session.add(request)
    await session.flush()
    record(
        session,
        principal,
        "closure_request.create",
        resource_type=CLOSURE,
        resource_id=request.id,
        case_id=case.id,
    )
    response.headers["Location"] = f"{API_V1}/cases/{case.id}/closure-requests/{request.id}"
    set_etag(response, request)
    result = ClosureRequestRead.model_validate(request)
    await idempotency.remember(201, result, response)
    return result


@router.get(
    "/{case_id}/closure-requests",
    summary="The case's closure requests, newest first",
    response_model=Page[ClosureRequestRead],
    responses=error_responses(401, 403, 404, 422),
)
async def list_closure_requests(
    case: CaseForRead,
    request: Request,
    response: Response,
    session: Session,
    principal: CasesReader,
    pagination: Pagination,
) -> Page[ClosureRequestRead]:
    statement = scoped(select(ClosureRequest), principal, ClosureRequest).where(
        col(ClosureRequest.case_id) == case.id
    )
    return await CLOSURE_REQUESTS.page(
        session,
        principal,
        statement,
        pagination,
        NEWEST_REQUEST_FIRST,
        request,
        response,
        case_id=case.id,
    )


@router.get(
    "/{case_id}/closure-requests/{closure_request_id}",
    summary="Read one closure request of the case",
    response_model=ClosureRequestRead,
    responses=error_responses(401, 403, 404, 422),
)
async def get_closure_request(
    case: CaseForRead,
    closure_request_id: uuid.UUID,
    response: Response,
    session: Session,
    principal: CasesReader,
) -> ClosureRequestRead:
    closure = await _closure_request(session, principal, case, closure_request_id)
    record_read(session, principal, CLOSURE, [closure.id], case_id=case.id)
    set_etag(response, closure)
    return ClosureRequestRead.model_validate(closure)


@router.post(
    "/{case_id}/closure-requests/{closure_request_id}/approve",
    summary="Approve a pending closure request (not one's own): the case is closed",
    response_model=ClosureRequestRead,
    responses=error_responses(401, 403, 404, 409, 412, 422),
)
async def approve_case_closure(
    case: CaseForApproval,
    closure_request_id: uuid.UUID,
    body: ClosureApproval,
    session: Session,
    principal: CaseApprover,
    idempotency: IdempotencyDep,
) -> Any:
    if (replayed := await idempotency.replay(principal, body)) is not None:
        return replayed
    closure = await _closure_request(session, principal, case, closure_request_id)
    _check_pending(closure)
    if closure.requested_by is not None and closure.requested_by == principal.user_id:
        raise Conflict("You requested this closure: another case manager must approve it")
    if case.status == CaseStatus.closed:
        raise Conflict("The case is already closed")
    await _decide(session, principal, closure, ClosureRequestStatus.approved, body.comment)
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
    record(
        session,
        principal,
        "closure_request.approve",
        resource_type=CLOSURE,
        resource_id=closure.id,
        case_id=case.id,
    )
    record(
        session,
        principal,
        "case.close",
        resource_type=RESOURCE,
        resource_id=case.id,
        case_id=case.id,
        changed_fields=changed,
    )
    result = ClosureRequestRead.model_validate(closure)
    await idempotency.remember(200, result, Response())
    return result


@router.post(
    "/{case_id}/closure-requests/{closure_request_id}/reject",
    summary="Reject a pending closure request, saying why: the case stays open",
    response_model=ClosureRequestRead,
    responses=error_responses(401, 403, 404, 409, 412, 422),
)
async def reject_case_closure(
    case: CaseForApproval,
    closure_request_id: uuid.UUID,
    body: ClosureRejection,
    session: Session,
    principal: CaseApprover,
    idempotency: IdempotencyDep,
) -> Any:
    if (replayed := await idempotency.replay(principal, body)) is not None:
        return replayed
    closure = await _closure_request(session, principal, case, closure_request_id)
    await _decide(session, principal, closure, ClosureRequestStatus.rejected, body.comment)
    record(
        session,
        principal,
        "closure_request.reject",
        resource_type=CLOSURE,
        resource_id=closure.id,
        case_id=case.id,
    )
    result = ClosureRequestRead.model_validate(closure)
    await idempotency.remember(200, result, Response())
    return result


@router.post(
    "/{case_id}/reopen",
    summary="Reopen a closed case (its history is kept)",
    response_model=CaseRead,
    responses=error_responses(401, 403, 404, 409, 412, 422),
)
async def reopen_case(
    case: CaseForApproval,
    body: Reopening,
    response: Response,
    session: Session,
    principal: CaseApprover,
    idempotency: IdempotencyDep,
) -> Any:
    if (replayed := await idempotency.replay(principal, body)) is not None:
        return replayed
    if case.status != CaseStatus.closed:
        raise Conflict(f"Only a closed case can be reopened; this one is in {case.status}")
    previous = case.status
    reopening = {"status": body.to_status.value, "closed_on": None, "closure_reason": None}
    changed = await apply_changes(session, case, reopening, "*", principal)
    session.add(status_change(case, principal, previous, note=body.note))
    record(
        session,
        principal,
        "case.reopen",
        resource_type=RESOURCE,
        resource_id=case.id,
        case_id=case.id,
        changed_fields=changed,
    )
    result = await _read(session, principal, case, response)
    await idempotency.remember(200, result, response)
    return result


@router.get(
    "/{case_id}/history",
    summary="The case's status changes, oldest first",
    response_model=Page[StatusChangeRead],
    responses=error_responses(401, 403, 404, 422),
)
async def list_case_history(
    case: CaseForRead,
    request: Request,
    response: Response,
    session: Session,
    principal: CasesReader,
    pagination: Pagination,
) -> Page[StatusChangeRead]:
    statement = scoped(select(CaseStatusChange), principal, CaseStatusChange).where(
        col(CaseStatusChange.case_id) == case.id
    )
    items, next_cursor = await fetch_page(
        session, statement, pagination, OLDEST_FIRST, request, response
    )
    record(
        session,
        principal,
        "case.history_read",
        resource_type=RESOURCE,
        resource_id=case.id,
        case_id=case.id,
    )
    return Page(items=[StatusChangeRead.model_validate(c) for c in items], next_cursor=next_cursor)


@router.get(
    "/{case_id}/access-log",
    summary="Who looked at or changed the case (list reads included), newest first",
    response_model=Page[AccessLogEntry],
    responses=error_responses(401, 403, 404, 422),
)
async def list_case_access_log(
    case: CaseForRead,
    request: Request,
    response: Response,
    session: Session,
    principal: CasesReader,
    pagination: Pagination,
) -> Page[AccessLogEntry]:
    items, next_cursor = await fetch_page(
        session,
        access_log(session, principal, case.id),
        pagination,
        NEWEST_EVENT_FIRST,
        request,
        response,
    )
    record(
        session,
        principal,
        "case.access_log_read",
        resource_type=RESOURCE,
        resource_id=case.id,
        case_id=case.id,
    )
    return Page(items=[AccessLogEntry.model_validate(e) for e in items], next_cursor=next_cursor)


@router.get(
    "/{case_id}/revisions",
    summary="Earlier values of a case's corrected fields, newest first",
    response_model=list[RevisionRead],
    responses=error_responses(401, 403, 404, 422),
)
async def list_case_revisions(
    case: CaseForRead, session: Session, principal: CasesReader
) -> list[RevisionRead]:
    record(
        session,
        principal,
        "case.revisions_read",
        resource_type=RESOURCE,
        resource_id=case.id,
        case_id=case.id,
    )
    return await revisions_of(session, Case.__tablename__, case)
