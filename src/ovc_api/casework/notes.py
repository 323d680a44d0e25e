"""Case notes: dated free text; a correction keeps the earlier text in the revision history.

HTTP only: the rules and the audit are in `casework/service.py`."""

from __future__ import annotations

import uuid
from datetime import date
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
from ovc_api.casework.models import CaseNote
from ovc_api.casework.schemas import NoteCreate, NoteRead, NoteUpdate
from ovc_api.concurrency import IfMatch
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
from ovc_api.revisions import RevisionRead

RESOURCE = service.NOTE
SORTS = sort_options(
    col(CaseNote.id),
    noted_on=(col(CaseNote.noted_on), parse_date),
    created_at=(col(CaseNote.created_at), parse_datetime),
)
NoteSort = Literal["noted_on", "-noted_on", "created_at", "-created_at"]


router = APIRouter(prefix=API_V1, tags=["casework"])


async def note_for_read(
    note_id: uuid.UUID, case: CaseForRead, session: Session, principal: CasesReader
) -> CaseNote:
    return await in_case(session, principal, CaseNote, case, note_id)


async def note_for_write(
    note_id: uuid.UUID, case: CaseForWrite, session: Session, principal: CasesWriter
) -> CaseNote:
    return await in_case(session, principal, CaseNote, case, note_id)


NoteForRead = Annotated[CaseNote, Depends(note_for_read)]
NoteForWrite = Annotated[CaseNote, Depends(note_for_write)]


@router.post(
    "/cases/{case_id}/notes",
    summary="Write a dated note on a case",
    status_code=201,
    response_model=NoteRead,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def create_case_note(
    case: CaseForWrite,
    body: NoteCreate,
    response: Response,
    session: Session,
    principal: CasesWriter,
    idempotency: IdempotencyDep,
) -> Any:
    if (replayed := await idempotency.replay(principal, body)) is not None:
        return replayed
    note = await service.write_note(session, principal, case, body)
    where = location(case, "notes", note.id)
    return await http.created(
        response, idempotency, note, NoteRead.model_validate(note), location=where
    )


@router.get(
    "/cases/{case_id}/notes",
    summary="List a case's notes, newest first by default",
    response_model=Page[NoteRead],
    responses=error_responses(401, 403, 404, 422),
)
async def list_case_notes(
    case: CaseForRead,
    request: Request,
    response: Response,
    session: Session,
    principal: CasesReader,
    pagination: Pagination,
    noted_from: date | None = None,
    noted_to: date | None = None,
    sort: NoteSort = "-noted_on",
) -> Page[NoteRead]:
    if noted_from is not None and noted_to is not None and noted_from > noted_to:
        raise Unprocessable.field(["query", "noted_from"], "must not be after noted_to")
    statement = service.of_case(principal, CaseNote, case)
    if noted_from is not None:
        statement = statement.where(col(CaseNote.noted_on) >= noted_from)
    if noted_to is not None:
        statement = statement.where(col(CaseNote.noted_on) <= noted_to)
    return await http.page(
        session,
        principal,
        statement,
        NoteRead,
        pagination,
        SORTS[sort],
        request,
        response,
        audit_as=RESOURCE,
        case_id=case.id,
    )


@router.get(
    "/cases/{case_id}/notes/{note_id}",
    summary="Read one note of a case",
    response_model=NoteRead,
    responses=error_responses(401, 403, 404, 422),
)
async def get_case_note(
    case: CaseForRead,
    note: NoteForRead,
    response: Response,
    session: Session,
    principal: CasesReader,
) -> NoteRead:
    service.read(session, principal, note, RESOURCE)
    return http.shown(response, note, NoteRead.model_validate(note))


@router.patch(
    "/cases/{case_id}/notes/{note_id}",
    summary="Correct a note (If-Match required; the earlier text stays in its history)",
    response_model=NoteRead,
    responses=error_responses(401, 403, 404, 409, 412, 422, 428),
)
async def update_case_note(
    case: CaseForWrite,
    note: NoteForWrite,
    body: NoteUpdate,
    response: Response,
    session: Session,
    principal: CasesWriter,
    if_match: IfMatch = None,
) -> NoteRead:
    await service.correct_note(session, principal, case, note, body, if_match=if_match)
    return http.shown(response, note, NoteRead.model_validate(note))


@router.get(
    "/cases/{case_id}/notes/{note_id}/revisions",
    summary="Earlier versions of a corrected note, newest first",
    response_model=list[RevisionRead],
    responses=error_responses(401, 403, 404, 422),
)
async def list_case_note_revisions(
    case: CaseForRead, note: NoteForRead, session: Session, principal: CasesReader
) -> list[RevisionRead]:
    return await service.note_revisions(session, principal, note)
