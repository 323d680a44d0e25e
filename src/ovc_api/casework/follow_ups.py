"""Follow-ups: home visits, calls and other contacts, scheduled then done, missed or cancelled.

A done follow-up is the case's latest contact: it moves `cases.last_contact_on` forward, which
the work list's "no contact for N days" section reads.

HTTP only: the rules and the audit are in `casework/service.py`.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from sqlmodel import col

from ovc_api import API_V1
from ovc_api import http_epilogue as http
from ovc_api.auth.principal import CasesReader, CasesWriter
from ovc_api.cases.deps import CaseForRead, CaseForWrite
from ovc_api.casework import service
from ovc_api.casework.common import (
    in_case,
    location,
)
from ovc_api.casework.models import FollowUp, FollowUpKind, FollowUpStatus
from ovc_api.casework.schemas import FollowUpCreate, FollowUpRead, FollowUpUpdate
from ovc_api.concurrency import IfMatch
from ovc_api.db import Session
from ovc_api.errors import error_responses
from ovc_api.idempotency import IdempotencyDep
from ovc_api.pagination import (
    Page,
    Pagination,
    parse_date,
    parse_datetime,
    sort_options,
)

RESOURCE = service.FOLLOW_UP
SORTS = sort_options(
    col(FollowUp.id),
    scheduled_on=(col(FollowUp.scheduled_on), parse_date),
    created_at=(col(FollowUp.created_at), parse_datetime),
)
FollowUpSort = Literal["scheduled_on", "-scheduled_on", "created_at", "-created_at"]


router = APIRouter(prefix=API_V1, tags=["casework"])


async def follow_up_for_read(
    follow_up_id: uuid.UUID, case: CaseForRead, session: Session, principal: CasesReader
) -> FollowUp:
    return await in_case(session, principal, FollowUp, case, follow_up_id)


async def follow_up_for_write(
    follow_up_id: uuid.UUID, case: CaseForWrite, session: Session, principal: CasesWriter
) -> FollowUp:
    return await in_case(session, principal, FollowUp, case, follow_up_id)


FollowUpForRead = Annotated[FollowUp, Depends(follow_up_for_read)]
FollowUpForWrite = Annotated[FollowUp, Depends(follow_up_for_write)]


@router.post(
    "/cases/{case_id}/follow-ups",
    summary="Schedule a follow-up (visit or call), or record one already done",
    status_code=201,
    response_model=FollowUpRead,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def create_case_follow_up(
    case: CaseForWrite,
    body: FollowUpCreate,
    response: Response,
    session: Session,
    principal: CasesWriter,
    idempotency: IdempotencyDep,
) -> Any:
    if (replayed := await idempotency.replay(principal, body)) is not None:
        return replayed
    follow_up = await service.add_follow_up(session, principal, case, body)
    result = FollowUpRead.model_validate(follow_up)
    where = location(case, "follow-ups", follow_up.id)
    return await http.created(response, idempotency, follow_up, result, location=where)


@router.get(
    "/cases/{case_id}/follow-ups",
    summary="List a case's follow-ups, latest scheduled first by default",
    response_model=Page[FollowUpRead],
    responses=error_responses(401, 403, 404, 422),
)
async def list_case_follow_ups(
    case: CaseForRead,
    request: Request,
    response: Response,
    session: Session,
    principal: CasesReader,
    pagination: Pagination,
    status: FollowUpStatus | None = None,
    kind: FollowUpKind | None = None,
    sort: FollowUpSort = "-scheduled_on",
) -> Page[FollowUpRead]:
    statement = service.of_case(principal, FollowUp, case)
    if status is not None:
        statement = statement.where(col(FollowUp.status) == status.value)
    if kind is not None:
        statement = statement.where(col(FollowUp.kind) == kind.value)
    return await http.page(
        session,
        principal,
        statement,
        FollowUpRead,
        pagination,
        SORTS[sort],
        request,
        response,
        audit_as=RESOURCE,
        case_id=case.id,
    )


@router.get(
    "/cases/{case_id}/follow-ups/{follow_up_id}",
    summary="Read one follow-up of a case",
    response_model=FollowUpRead,
    responses=error_responses(401, 403, 404, 422),
)
async def get_case_follow_up(
    case: CaseForRead,
    follow_up: FollowUpForRead,
    response: Response,
    session: Session,
    principal: CasesReader,
) -> FollowUpRead:
    service.read(session, principal, follow_up, RESOURCE)
    return http.shown(response, follow_up, FollowUpRead.model_validate(follow_up))


@router.patch(
    "/cases/{case_id}/follow-ups/{follow_up_id}",
    summary="Record a follow-up done, missed or cancelled, or correct it (If-Match required)",
    response_model=FollowUpRead,
    responses=error_responses(401, 403, 404, 409, 412, 422, 428),
)
async def update_case_follow_up(
    case: CaseForWrite,
    follow_up: FollowUpForWrite,
    body: FollowUpUpdate,
    response: Response,
    session: Session,
    principal: CasesWriter,
    if_match: IfMatch = None,
) -> FollowUpRead:
    await service.correct_follow_up(session, principal, case, follow_up, body, if_match=if_match)
    return http.shown(response, follow_up, FollowUpRead.model_validate(follow_up))
