"""Children: recorded once (duplicates are flagged), read and corrected with an audit trail.

HTTP only: the rules and the audit are in `children/service.py`; answers go through
`http_epilogue`.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from sqlmodel import col, select

from ovc_api import API_V1
from ovc_api import http_epilogue as http
from ovc_api.auth.principal import CasesReader, CasesWriter
from ovc_api.children import service
from ovc_api.children.filters import ChildListQuery
from ovc_api.children.models import (
    Child,
)
from ovc_api.children.schemas import ChildCreate, ChildRead, ChildUpdate
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
from ovc_api.revisions import RevisionRead
from ovc_api.tenancy import scoped

router = APIRouter(prefix=f"{API_V1}/children", tags=["children"])
RESOURCE = service.RESOURCE
SORTS = sort_options(
    col(Child.id),
    created_at=(col(Child.created_at), parse_datetime),
    updated_at=(col(Child.updated_at), parse_datetime),
    date_of_birth=(col(Child.date_of_birth), parse_date),
)
ChildSort = Literal[
    "created_at", "-created_at", "updated_at", "-updated_at", "date_of_birth", "-date_of_birth"
]


async def child_for_read(child_id: uuid.UUID, session: Session, principal: CasesReader) -> Child:
    return await service.child_in_scope(session, principal, child_id)


async def shared_child_for_read(
    child_id: uuid.UUID, session: Session, principal: CasesReader
) -> Child:
    """The child's record itself, which an accepted referral also shares (read-only)."""
    return await service.child_in_scope(session, principal, child_id, shared=True)


async def child_for_write(child_id: uuid.UUID, session: Session, principal: CasesWriter) -> Child:
    return await service.child_in_scope(session, principal, child_id)


ChildForRead = Annotated[Child, Depends(child_for_read)]
SharedChildForRead = Annotated[Child, Depends(shared_child_for_read)]
ChildForWrite = Annotated[Child, Depends(child_for_write)]


@router.post(
    "",
    summary="Record a child (likely duplicates answer 409 unless confirmed)",
    status_code=201,
    response_model=ChildRead,
    responses=error_responses(401, 403, 409, 422),
)
async def create_child(
    body: ChildCreate,
    response: Response,
    session: Session,
    principal: CasesWriter,
    idempotency: IdempotencyDep,
) -> Any:
    if (replayed := await idempotency.replay(principal, body)) is not None:
        return replayed
    child = await service.record_child(session, principal, body)
    result = ChildRead.model_validate(child)
    location = f"{API_V1}/children/{child.id}"
    return await http.created(response, idempotency, child, result, location=location)


@router.get(
    "",
    summary="List children, filtered; `q` searches any name part in either script",
    response_model=Page[ChildRead],
    responses=error_responses(401, 403, 422),
)
async def list_children(
    request: Request,
    response: Response,
    session: Session,
    principal: CasesReader,
    query: Annotated[ChildListQuery, Depends()],
    pagination: Pagination,
) -> Page[ChildRead]:
    statement = query.apply(scoped(select(Child), principal, Child), principal)
    return await http.page(
        session,
        principal,
        statement,
        ChildRead,
        pagination,
        SORTS[query.sort],
        request,
        response,
        audit_as=RESOURCE,
    )


@router.get(
    "/{child_id}",
    summary="Read a child's record",
    response_model=ChildRead,
    responses=error_responses(401, 403, 404, 422),
)
async def get_child(
    child: SharedChildForRead, response: Response, session: Session, principal: CasesReader
) -> ChildRead:
    await service.read_child(session, principal, child)
    return http.shown(response, child, ChildRead.model_validate(child))


@router.patch(
    "/{child_id}",
    summary="Correct or archive a child's record (If-Match required; history is kept)",
    response_model=ChildRead,
    responses=error_responses(401, 403, 404, 412, 422, 428),
)
async def update_child(
    child: ChildForWrite,
    body: ChildUpdate,
    response: Response,
    session: Session,
    principal: CasesWriter,
    if_match: IfMatch = None,
) -> ChildRead:
    await service.correct_child(session, principal, child, body, if_match=if_match)
    return http.shown(response, child, ChildRead.model_validate(child))


@router.get(
    "/{child_id}/revisions",
    summary="Earlier values of a child's corrected fields, newest first",
    response_model=list[RevisionRead],
    responses=error_responses(401, 403, 404, 422),
)
async def list_child_revisions(
    child: ChildForRead, session: Session, principal: CasesReader
) -> list[RevisionRead]:
    return await service.revisions(session, principal, child)
