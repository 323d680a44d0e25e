"""Case conferences: partners meet about a case; participants see the record, not the case.

HTTP only: the rules and the audit are in `conferences/service.py`; answers go through
`http_epilogue`.
"""

from __future__ import annotations

import uuid
from datetime import date
from functools import partial
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from sqlmodel import col, select

from ovc_api import API_V1
from ovc_api import http_epilogue as http
from ovc_api.auth.principal import CasesReader, CasesWriter
from ovc_api.concurrency import IfMatch
from ovc_api.conferences import service
from ovc_api.conferences.models import CaseConference
from ovc_api.conferences.schemas import (
    ActionItemCreate,
    ActionItemRead,
    ActionItemUpdate,
    ConferenceCreate,
    ConferenceRead,
    ConferenceUpdate,
)
from ovc_api.db import Session
from ovc_api.errors import Unprocessable, error_responses
from ovc_api.idempotency import IdempotencyDep
from ovc_api.pagination import Page, Pagination, parse_date, sort_options
from ovc_api.tenancy import scoped

router = APIRouter(prefix=f"{API_V1}/case-conferences", tags=["case-conferences"])
RESOURCE = service.RESOURCE
SORTS = sort_options(col(CaseConference.id), held_on=(col(CaseConference.held_on), parse_date))
ConferenceSort = Literal["held_on", "-held_on"]


async def conference_for_read(
    conference_id: uuid.UUID, session: Session, principal: CasesReader
) -> CaseConference:
    return await service.conference_in_scope(session, principal, conference_id)


async def conference_for_write(
    conference_id: uuid.UUID, session: Session, principal: CasesWriter
) -> CaseConference:
    return await service.conference_in_scope(session, principal, conference_id)


ConferenceForRead = Annotated[CaseConference, Depends(conference_for_read)]
ConferenceForWrite = Annotated[CaseConference, Depends(conference_for_write)]


@router.post(
    "",
    summary="Record a case conference with participants, decisions and action items",
    status_code=201,
    response_model=ConferenceRead,
    responses=error_responses(401, 403, 409, 422),
)
async def create_case_conference(
    body: ConferenceCreate,
    response: Response,
    session: Session,
    principal: CasesWriter,
    idempotency: IdempotencyDep,
) -> Any:
    if (replayed := await idempotency.replay(principal, body)) is not None:
        return replayed
    conference = await service.record_conference(session, principal, body)
    result = await service.conference_read(session, principal, conference)
    location = f"{API_V1}/case-conferences/{conference.id}"
    return await http.created(
        response, idempotency, conference, result, location=location, resource=RESOURCE
    )


@router.get(
    "",
    summary="Case conferences you organised or take part in",
    response_model=Page[ConferenceRead],
    responses=error_responses(401, 403, 422),
)
async def list_case_conferences(
    request: Request,
    response: Response,
    session: Session,
    principal: CasesReader,
    pagination: Pagination,
    case_id: uuid.UUID | None = None,
    held_from: date | None = None,
    held_to: date | None = None,
    role: Literal["organiser", "participant"] | None = None,
    sort: ConferenceSort = "-held_on",
) -> Page[ConferenceRead]:
    if held_from and held_to and held_from > held_to:
        raise Unprocessable.field(["query", "held_from"], "must not be after held_to")
    statement = scoped(select(CaseConference), principal, CaseConference)
    own = col(CaseConference.organisation_id) == principal.organisation_id
    if case_id is not None:
        statement = statement.where(own, col(CaseConference.case_id) == case_id)
    if role == "organiser":
        statement = statement.where(own)
    elif role == "participant":
        statement = statement.where(~own)
    if held_from is not None:
        statement = statement.where(col(CaseConference.held_on) >= held_from)
    if held_to is not None:
        statement = statement.where(col(CaseConference.held_on) <= held_to)
    return await http.page(
        session,
        principal,
        statement,
        partial(service.conference_reads, session, principal),
        pagination,
        SORTS[sort],
        request,
        response,
        audit_as=RESOURCE,
    )


@router.get(
    "/{conference_id}",
    summary="Read a case conference (participants see their own action items)",
    response_model=ConferenceRead,
    responses=error_responses(401, 403, 404, 422),
)
async def get_case_conference(
    conference: ConferenceForRead, response: Response, session: Session, principal: CasesReader
) -> ConferenceRead:
    service.read_conference(session, principal, conference)
    result = await service.conference_read(session, principal, conference)
    return http.shown(response, conference, result)


@router.patch(
    "/{conference_id}",
    summary="Correct a conference record (organiser only; If-Match required)",
    response_model=ConferenceRead,
    responses=error_responses(401, 403, 404, 412, 422, 428),
)
async def update_case_conference(
    conference: ConferenceForWrite,
    body: ConferenceUpdate,
    response: Response,
    session: Session,
    principal: CasesWriter,
    if_match: IfMatch = None,
) -> ConferenceRead:
    await service.correct_conference(session, principal, conference, body, if_match=if_match)
    result = await service.conference_read(session, principal, conference)
    return http.shown(response, conference, result)


@router.post(
    "/{conference_id}/actions",
    summary="Add an action item to a conference (organiser only)",
    status_code=201,
    response_model=ActionItemRead,
    responses=error_responses(401, 403, 404, 422),
)
async def create_conference_action(
    conference: ConferenceForWrite,
    body: ActionItemCreate,
    response: Response,
    session: Session,
    principal: CasesWriter,
) -> ActionItemRead:
    action = await service.add_action_item(session, principal, conference, body)
    return http.shown(response, action, ActionItemRead.model_validate(action))


@router.patch(
    "/{conference_id}/actions/{conference_action_id}",
    summary="Update an action item: its organisation marks it done; the organiser edits it",
    response_model=ActionItemRead,
    responses=error_responses(401, 403, 404, 412, 422, 428),
)
async def update_conference_action(
    conference: ConferenceForWrite,
    conference_action_id: uuid.UUID,
    body: ActionItemUpdate,
    response: Response,
    session: Session,
    principal: CasesWriter,
    if_match: IfMatch = None,
) -> ActionItemRead:
    action = await service.update_action_item(
        session, principal, conference, conference_action_id, body, if_match=if_match
    )
    return http.shown(response, action, ActionItemRead.model_validate(action))
