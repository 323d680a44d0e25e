"""Case notes: dated free text; a correction keeps the earlier text in the revision history."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import Depends, Request, Response
from sqlmodel import col, select

from ovc_api.audit.service import record
from ovc_api.auth.principal import CasesReader, CasesWriter
from ovc_api.cases.deps import CaseForRead, CaseForWrite
from ovc_api.casework.common import (
    ensure_open,
    in_case,
    location,
    not_before_opening,
    plain_changes,
)
from ovc_api.casework.models import CaseNote
from ovc_api.casework.router import router
from ovc_api.casework.schemas import NoteCreate, NoteRead, NoteUpdate
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
from ovc_api.revisions import RevisionRead, revisions_of
from ovc_api.tenancy import scoped

RESOURCE = "case_note"
SORTS = sort_options(
    col(CaseNote.id),
    noted_on=(col(CaseNote.noted_on), parse_date),
    created_at=(col(CaseNote.created_at), parse_datetime),
)
NoteSort = Literal["noted_on", "-noted_on", "created_at", "-created_at"]


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


NOTES = Audited(RESOURCE, NoteRead)


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
    ensure_open(case)
    not_before_opening(case, noted_on=body.noted_on)
    note = CaseNote(
        organisation_id=principal.organisation_id,
        case_id=case.id,
        author_id=principal.user_id,
        noted_on=body.noted_on,
        text=body.text,
    )
    return await NOTES.created(
        session,
        principal,
        note,
        response,
        idempotency,
        location=location(case, "notes", note.id),
        case_id=case.id,
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
    statement = scoped(select(CaseNote), principal, CaseNote).where(
        col(CaseNote.case_id) == case.id
    )
    if noted_from is not None:
        statement = statement.where(col(CaseNote.noted_on) >= noted_from)
    if noted_to is not None:
        statement = statement.where(col(CaseNote.noted_on) <= noted_to)
    return await NOTES.page(
        session, principal, statement, pagination, SORTS[sort], request, response, case_id=case.id
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
    return NOTES.read(session, principal, note, response, case_id=case.id)


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
    ensure_open(case)
    check_if_match(if_match, note)
    changes = plain_changes(body)
    not_before_opening(case, noted_on=changes.get("noted_on"))
    return await NOTES.updated(
        session, principal, note, changes, if_match, response, case_id=case.id
    )


@router.get(
    "/cases/{case_id}/notes/{note_id}/revisions",
    summary="Earlier versions of a corrected note, newest first",
    response_model=list[RevisionRead],
    responses=error_responses(401, 403, 404, 422),
)
async def list_case_note_revisions(
    case: CaseForRead, note: NoteForRead, session: Session, principal: CasesReader
) -> list[RevisionRead]:
    record(
        session,
        principal,
        f"{RESOURCE}.revisions_read",
        resource_type=RESOURCE,
        resource_id=note.id,
        case_id=case.id,
    )
    return await revisions_of(session, CaseNote.__tablename__, note)
