"""Cases: one child's episode of support, its status workflow, closure approvals and history.

HTTP only: each handler calls one operation of `cases/service.py` (where the rules and the
audit live) and answers through `http_epilogue`.
"""

from __future__ import annotations

import uuid
from operator import attrgetter, itemgetter
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response
from sqlmodel import col

from ovc_api import API_V1
from ovc_api import http_epilogue as http
from ovc_api import record_routes as kit
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
from ovc_api.cases.queries import CASE_ROWS, PLAIN_CASE_ROWS, case_read, case_reads
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
from ovc_api.concurrency import set_etag
from ovc_api.db import Session
from ovc_api.errors import error_responses
from ovc_api.pagination import Page, Pagination, parse_datetime, sort_options
from ovc_api.revisions import RevisionRead
from ovc_api.row_reads import list_rows, read_one

router = APIRouter(prefix=f"{API_V1}/cases", tags=["cases"])
SORTS = kit.sorts_of(Case, CaseListQuery)
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


async def _opened(session: Any, principal: Principal, opened: tuple[Case, Any]) -> CaseRead:
    (result,) = await case_reads(session, principal, [opened])
    return result


ON_CASE = [("case", CaseForWrite)]
CLOSURE_READ = kit.validated(ClosureRequestRead)
kit.add_create(
    router,
    "",
    "create_case",
    "Open a case for a child (assigned to the caller unless they may assign others)",
    CaseRead,
    error_responses(401, 403, 409, 422),
    CasesWriter,
    (),
    CaseCreate,
    service.open_case,
    _opened,
    lambda case: f"{API_V1}/cases/{case.id}",
    service.RESOURCE,
    row_of=itemgetter(0),
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
    # Without filters (they name the child's columns) the child is joined for the plan
    # along the organisation's index (`child_of_case`).
    return await list_rows(
        CASE_ROWS if query.filtered() else PLAIN_CASE_ROWS,
        session,
        principal,
        pagination,
        SORTS[query.sort],
        request,
        response,
        audit_as=service.RESOURCE,
        where=query.apply,
        # Filters put their values in the statement: such lists are built per request.
        key=None if query.filtered() else (),
    )


async def _case_json(
    session: Session, principal: Principal, case_id: uuid.UUID, response: Response
) -> Response:
    """The hot read: the case's Core row straight into JSON, with its ETag."""
    row = await read_one(CASE_ROWS, session, principal, case_id, resource=service.RESOURCE)
    set_etag(response, row)
    return http.json_response(CASE_ROWS.dump_one(row), response)


kit.add_call(
    router,
    "GET",
    "/{case_id}",
    "get_case",
    "Read a case, with its child and concerns",
    CaseRead,
    error_responses(401, 403, 404, 422),
    CasesReader,
    [("case_id", uuid.UUID), ("response", Response)],
    _case_json,
)
kit.add_correct(
    router,
    "/{case_id}",
    "update_case_record",
    "Correct a case (If-Match required; history is kept; status moves via /transitions)",
    CaseRead,
    error_responses(401, 403, 404, 412, 422, 428),
    CasesWriter,
    ON_CASE,
    CaseUpdate,
    service.correct_case,
    case_read,
)
kit.add_action(
    router,
    "/{case_id}/transitions",
    "transition_case",
    "Move a case to the next status of the workflow (409 names the allowed ones)",
    CaseRead,
    error_responses(401, 403, 404, 409, 412, 422),
    CasesWriter,
    ON_CASE,
    TransitionCreate,
    service.transition,
    case_read,
    resource=service.RESOURCE,
    if_match=OptionalIfMatch,
)
kit.add_create(
    router,
    "/{case_id}/closure-requests",
    "request_case_closure",
    "Ask a case manager to close the case (one pending request at a time)",
    ClosureRequestRead,
    error_responses(401, 403, 404, 409, 422),
    ClosureRequester,
    ON_CASE,
    ClosureRequestCreate,
    service.request_closure,
    CLOSURE_READ,
    lambda closure: f"{API_V1}/cases/{closure.case_id}/closure-requests/{closure.id}",
    service.CLOSURE,
)


CASE = [("case", CaseForRead)]
kit.add_page(
    router,
    "/{case_id}/closure-requests",
    "list_closure_requests",
    "The case's closure requests, newest first",
    ClosureRequestRead,
    error_responses(401, 403, 404, 422),
    CasesReader,
    CASE,
    None,
    service.closure_requests,
    NEWEST_REQUEST_FIRST,
    audit_as=service.CLOSURE,
    case_of=attrgetter("id"),
)
CLOSURE_REQUEST = [("case", CaseForRead), ("closure_request_id", uuid.UUID)]
kit.add_read(
    router,
    "/{case_id}/closure-requests/{closure_request_id}",
    "get_closure_request",
    "Read one closure request of the case",
    ClosureRequestRead,
    error_responses(401, 403, 404, 422),
    CasesReader,
    CLOSURE_REQUEST,
    CLOSURE_READ,
    service.read_closure_request,
)
# A case manager's decisions: (path, name, summary, body, the service's operation)
DECISIONS = (
    (
        "approve",
        "approve_case_closure",
        "Approve a pending closure request (not one's own): the case is closed",
        ClosureApproval,
        service.approve_closure,
    ),
    (
        "reject",
        "reject_case_closure",
        "Reject a pending closure request, saying why: the case stays open",
        ClosureRejection,
        service.reject_closure,
    ),
)
for verb, name, summary, body, decide in DECISIONS:
    kit.add_action(
        router,
        f"/{{case_id}}/closure-requests/{{closure_request_id}}/{verb}",
        name,
        summary,
        ClosureRequestRead,
        error_responses(401, 403, 404, 409, 412, 422),
        CaseApprover,
        [("case", CaseForApproval), ("closure_request_id", uuid.UUID)],
        body,
        decide,
        CLOSURE_READ,
        resource=service.CLOSURE,
        etag=False,
    )
CASE_TO_DECIDE = [("case", CaseForApproval)]
kit.add_action(
    router,
    "/{case_id}/reopen",
    "reopen_case",
    "Reopen a closed case (its history is kept)",
    CaseRead,
    error_responses(401, 403, 404, 409, 412, 422),
    CaseApprover,
    CASE_TO_DECIDE,
    Reopening,
    service.reopen,
    case_read,
    resource=service.RESOURCE,
)


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


kit.add_call(
    router,
    "GET",
    "/{case_id}/revisions",
    "list_case_revisions",
    "Earlier values of a case's corrected fields, newest first",
    list[RevisionRead],
    error_responses(401, 403, 404, 422),
    CasesReader,
    CASE,
    service.revisions,
)
