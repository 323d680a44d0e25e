"""Follow-ups: home visits, calls and other contacts, scheduled then done, missed or cancelled.

A done follow-up is the case's latest contact: it moves `cases.last_contact_on` forward, which
the work list's "no contact for N days" section reads.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import Depends, Request, Response
from sqlalchemy import or_, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api.auth.principal import CasesReader, CasesWriter
from ovc_api.cases.deps import CaseForRead, CaseForWrite
from ovc_api.cases.models import Case
from ovc_api.casework.common import (
    ensure_open,
    in_case,
    location,
    not_before_opening,
    plain_changes,
)
from ovc_api.casework.models import FollowUp, FollowUpKind, FollowUpStatus
from ovc_api.casework.router import router
from ovc_api.casework.schemas import FollowUpCreate, FollowUpRead, FollowUpUpdate
from ovc_api.concurrency import IfMatch, check_if_match
from ovc_api.crud import Audited
from ovc_api.db import Session
from ovc_api.errors import Unprocessable, error_responses
from ovc_api.idempotency import IdempotencyDep
from ovc_api.pagination import (
    Page,
    Pagination,
    parse_date,
    parse_datetime,
    sort_options,
)
from ovc_api.tenancy import scoped

RESOURCE = "follow_up"
DONE = FollowUpStatus.done.value
SORTS = sort_options(
    col(FollowUp.id),
    scheduled_on=(col(FollowUp.scheduled_on), parse_date),
    created_at=(col(FollowUp.created_at), parse_datetime),
)
FollowUpSort = Literal["scheduled_on", "-scheduled_on", "created_at", "-created_at"]


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


def _check(
    case: Case,
    status: str,
    final_done_on: date | None,
    *,
    scheduled_on: date | None,
    done_on: date | None,
) -> None:
    """Status and done_on agree once stored (after a PATCH, the merged values); the dates sent
    are not before the case opened."""
    if status == DONE and final_done_on is None:
        raise Unprocessable.field(["body", "done_on"], "required when status is done")
    if status != DONE and final_done_on is not None:
        raise Unprocessable.field(
            ["body", "done_on"], "only a done follow-up has a done_on: send null"
        )
    if scheduled_on is not None and scheduled_on < case.opened_on:
        raise Unprocessable.field(
            ["body", "scheduled_on"],
            f"a follow-up before the case opened ({case.opened_on.isoformat()})",
        )
    not_before_opening(case, done_on=done_on)


async def _record_contact(session: AsyncSession, case: Case, on: date) -> None:
    """Move the case's last contact forward. Derived data: the case's version/ETag stay."""
    await session.exec(
        update(Case)
        .where(
            col(Case.id) == case.id,
            or_(col(Case.last_contact_on).is_(None), col(Case.last_contact_on) < on),
        )
        .values(last_contact_on=on)
        .execution_options(synchronize_session=False)
    )
    if case.last_contact_on is None or case.last_contact_on < on:
        set_committed_value(case, "last_contact_on", on)


FOLLOW_UPS = Audited(RESOURCE, FollowUpRead)


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
    ensure_open(case)
    _check(
        case,
        body.status.value,
        body.done_on,
        scheduled_on=body.scheduled_on,
        done_on=body.done_on,
    )
    follow_up = FollowUp(
        organisation_id=principal.organisation_id,
        case_id=case.id,
        kind=body.kind.value,
        status=body.status.value,
        scheduled_on=body.scheduled_on,
        done_on=body.done_on,
        outcome=body.outcome,
        created_by=principal.user_id,
    )
    if follow_up.done_on is not None:
        await _record_contact(session, case, follow_up.done_on)
    return await FOLLOW_UPS.created(
        session,
        principal,
        follow_up,
        response,
        idempotency,
        location=location(case, "follow-ups", follow_up.id),
        case_id=case.id,
    )


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
    statement = scoped(select(FollowUp), principal, FollowUp).where(
        col(FollowUp.case_id) == case.id
    )
    if status is not None:
        statement = statement.where(col(FollowUp.status) == status.value)
    if kind is not None:
        statement = statement.where(col(FollowUp.kind) == kind.value)
    return await FOLLOW_UPS.page(
        session,
        principal,
        statement,
        pagination,
        SORTS[sort],
        request,
        response,
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
    return FOLLOW_UPS.read(session, principal, follow_up, response, case_id=case.id)


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
    ensure_open(case)
    check_if_match(if_match, follow_up)
    changes = plain_changes(body)
    _check(
        case,
        changes.get("status", follow_up.status),
        changes.get("done_on", follow_up.done_on),
        scheduled_on=changes.get("scheduled_on"),
        done_on=changes.get("done_on"),
    )
    result = await FOLLOW_UPS.updated(
        session, principal, follow_up, changes, if_match, response, case_id=case.id
    )
    if follow_up.status == DONE and follow_up.done_on is not None:
        await _record_contact(session, case, follow_up.done_on)  # keeps the latest contact
    return result
