"""Cases: one child's episode of support, its status workflow, closure approvals and history.

HTTP only: each handler calls one operation of `cases/service.py` (where the rules and the
audit live) and answers through `http_epilogue`.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Request, Response
from sqlmodel import col

from ovc_api import API_V1
from ovc_api import http_epilogue as http
from ovc_api.audit.models import AuditEvent
from ovc_api.auth.principal import (
    CaseApprover,
    CasesReader,
    CasesWriter,
    ClosureRequester,
    Principal,
)
from ovc_api.cases import service
from ovc_api.cases.deps import CaseForApproval, CaseForRead, CaseForWrite
from ovc_api.cases.filters import CaseListQuery
from ovc_api.cases.models import (
    Case,
    ClosureRequest,
)
from ovc_api.cases.queries import CASE_ROWS, case_read, case_reads
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
    TransitionCreate,
)
from ovc_api.concurrency import IfMatch, set_etag
from ovc_api.db import Session
from ovc_api.errors import error_responses
from ovc_api.idempotency import IdempotencyDep
from ovc_api.pagination import Page, Pagination, parse_date, parse_datetime, sort_options
from ovc_api.revisions import RevisionRead
from ovc_api.row_reads import list_rows, read_one

router = APIRouter(prefix=f"{API_V1}/cases", tags=["cases"])
RESOURCE = service.RESOURCE
CLOSURE = service.CLOSURE
SORTS = sort_options(
    col(Case.id),
    opened_on=(col(Case.opened_on), parse_date),
    created_at=(col(Case.created_at), parse_datetime),
    updated_at=(col(Case.updated_at), parse_datetime),
)
CaseSort = Literal[
    "opened_on", "-opened_on", "created_at", "-created_at", "updated_at", "-updated_at"
]
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


async def _shown(
    session: Session, principal: Principal, case: Case, response: Response
) -> CaseRead:
    return http.shown(response, case, await case_read(session, principal, case))


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
    case, child = await service.open_case(session, principal, body)
    (result,) = await case_reads(session, principal, [(case, child)])
    return await http.created(
        response, idempotency, case, result, location=f"{API_V1}/cases/{case.id}", resource=RESOURCE
    )


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
) -> Response:
    return await list_rows(
        CASE_ROWS,
        session,
        principal,
        pagination,
        SORTS[query.sort],
        request,
        response,
        audit_as=RESOURCE,
        where=query.apply,
        # Filters put their values in the statement: such lists are built per request.
        key=None if query.filtered() else (),
    )


@router.get(
    "/{case_id}",
    summary="Read a case, with its child and concerns",
    response_model=CaseRead,
    responses=error_responses(401, 403, 404, 422),
)
async def get_case(
    case_id: uuid.UUID, response: Response, session: Session, principal: CasesReader
) -> Response:
    row = await read_one(CASE_ROWS, session, principal, case_id, resource=RESOURCE)
    set_etag(response, row)
    return http.json_response(CASE_ROWS.dump_one(row), response)


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
    await service.correct_case(session, principal, case, body, if_match=if_match)
    return await _shown(session, principal, case, response)


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
    await service.transition(session, principal, case, body, if_match=if_match)
    result = await _shown(session, principal, case, response)
    return await http.done(idempotency, result, row=case, resource=RESOURCE, response=response)


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
    closure = await service.request_closure(session, principal, case, body)
    location = f"{API_V1}/cases/{case.id}/closure-requests/{closure.id}"
    result = ClosureRequestRead.model_validate(closure)
    return await http.created(
        response, idempotency, closure, result, location=location, resource=CLOSURE
    )


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
    return await http.page(
        session,
        principal,
        service.closure_requests(principal, case),
        ClosureRequestRead,
        pagination,
        NEWEST_REQUEST_FIRST,
        request,
        response,
        audit_as=CLOSURE,
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
    closure = await service.read_closure_request(session, principal, case, closure_request_id)
    return http.shown(response, closure, ClosureRequestRead.model_validate(closure))


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
    closure = await service.approve_closure(session, principal, case, closure_request_id, body)
    return await http.done(
        idempotency, ClosureRequestRead.model_validate(closure), row=closure, resource=CLOSURE
    )


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
    closure = await service.reject_closure(session, principal, case, closure_request_id, body)
    return await http.done(
        idempotency, ClosureRequestRead.model_validate(closure), row=closure, resource=CLOSURE
    )


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
    await service.reopen(session, principal, case, body)
    result = await _shown(session, principal, case, response)
    return await http.done(idempotency, result, row=case, resource=RESOURCE, response=response)


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
    statement = service.access_log_of(session, principal, case)
    page = await http.page(
        session,
        principal,
        statement,
        AccessLogEntry,
        pagination,
        NEWEST_EVENT_FIRST,
        request,
        response,
    )
    service.access_log_read(session, principal, case)
    return page


@router.get(
    "/{case_id}/revisions",
    summary="Earlier values of a case's corrected fields, newest first",
    response_model=list[RevisionRead],
    responses=error_responses(401, 403, 404, 422),
)
async def list_case_revisions(
    case: CaseForRead, session: Session, principal: CasesReader
) -> list[RevisionRead]:
    return await service.revisions(session, principal, case)
