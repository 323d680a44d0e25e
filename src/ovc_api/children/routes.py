"""Children: recorded once (duplicates are flagged), read and corrected with an audit trail."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from sqlmodel import col, select

from ovc_api import API_V1
from ovc_api.audit.service import record, record_read
from ovc_api.auth.principal import CasesReader, CasesWriter
from ovc_api.children.filters import ChildListQuery
from ovc_api.children.models import (
    Child,
)
from ovc_api.children.queries import likely_duplicates
from ovc_api.children.schemas import ChildCreate, ChildRead, ChildUpdate, DuplicateCandidate
from ovc_api.concurrency import IfMatch, apply_changes, set_etag
from ovc_api.db import Session, utcnow
from ovc_api.errors import Conflict, Unprocessable, error_responses
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
from ovc_api.tenancy import (
    get_visible_or_404,
    resolve_foreign_key,
    scoped,
    shared_read_source,
)
from ovc_api.text import search_key

router = APIRouter(prefix=f"{API_V1}/children", tags=["children"])
RESOURCE = "child"
SORTS = sort_options(
    col(Child.id),
    created_at=(col(Child.created_at), parse_datetime),
    updated_at=(col(Child.updated_at), parse_datetime),
    date_of_birth=(col(Child.date_of_birth), parse_date),
)
NAME_FIELDS = ("given_name_latin", "family_name_latin", "given_name_khmer", "family_name_khmer")


async def child_for_read(child_id: uuid.UUID, session: Session, principal: CasesReader) -> Child:
    return await get_visible_or_404(session, principal, Child, child_id, shared=False)


async def shared_child_for_read(
    child_id: uuid.UUID, session: Session, principal: CasesReader
) -> Child:
    """The child's record itself, which an accepted referral also shares (read-only)."""
    return await get_visible_or_404(session, principal, Child, child_id, shared=True)


async def child_for_write(child_id: uuid.UUID, session: Session, principal: CasesWriter) -> Child:
    return await get_visible_or_404(session, principal, Child, child_id)


ChildForRead = Annotated[Child, Depends(child_for_read)]
SharedChildForRead = Annotated[Child, Depends(shared_child_for_read)]
ChildForWrite = Annotated[Child, Depends(child_for_write)]


def _read(child: Child, response: Response) -> ChildRead:
    set_etag(response, child)
    return ChildRead.model_validate(child)


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
    if body.family_id is not None:
        await resolve_foreign_key(session, principal, Child.family_id, body.family_id, "family_id")
    if not body.confirm_not_duplicate:
        duplicates = await likely_duplicates(session, principal, body)
        if duplicates:
            raise Conflict(
                "This child may already be recorded: check `duplicates`, then resend with "
                "confirm_not_duplicate=true to record a different child",
                extra={
                    "duplicates": [
                        DuplicateCandidate.model_validate(d).model_dump(mode="json")
                        for d in duplicates
                    ]
                },
            )
    values = body.model_dump(mode="json", exclude={"confirm_not_duplicate"})
    child = Child(
        **{**values, "date_of_birth": body.date_of_birth, "family_id": body.family_id},
        organisation_id=principal.organisation_id,
        created_by=principal.user_id,
        search_text=search_key(*(getattr(body, f) for f in NAME_FIELDS)),
    )
    session.add(child)
    await session.flush()
    record(session, principal, "child.create", resource_type=RESOURCE, resource_id=child.id)
    response.headers["Location"] = f"{API_V1}/children/{child.id}"
    result = _read(child, response)
    await idempotency.remember(201, result, response)
    return result


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
    items, next_cursor = await fetch_page(
        session, statement, pagination, SORTS[query.sort], request, response
    )
    record_read(session, principal, RESOURCE, [c.id for c in items], single=False)
    return Page(items=[ChildRead.model_validate(c) for c in items], next_cursor=next_cursor)


@router.get(
    "/{child_id}",
    summary="Read a child's record",
    response_model=ChildRead,
    responses=error_responses(401, 403, 404, 422),
)
async def get_child(
    child: SharedChildForRead, response: Response, session: Session, principal: CasesReader
) -> ChildRead:
    via = await shared_read_source(session, principal, child)
    record_read(session, principal, RESOURCE, [child.id], via_referral=via)
    return _read(child, response)


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
    changes = body.model_dump(exclude_unset=True, exclude={"archived"})
    for required in ("sex", "care_arrangement", "province", "birth_registration"):
        if required in changes and changes[required] is None:
            changes.pop(required)
    changes = {k: (v.value if hasattr(v, "value") else v) for k, v in changes.items()}
    if changes.get("family_id") is not None:
        await resolve_foreign_key(
            session, principal, Child.family_id, changes["family_id"], "family_id"
        )
    if body.archived is not None and body.archived != (child.archived_at is not None):
        changes["archived_at"] = utcnow() if body.archived else None
    if any(name in changes for name in NAME_FIELDS):
        merged = {name: changes.get(name, getattr(child, name)) for name in NAME_FIELDS}
        if not (merged["given_name_latin"] or merged["given_name_khmer"]):
            raise Unprocessable.field(["body", "given_name_latin"], "a given name is required")
        changes["search_text"] = search_key(*merged.values())
    changed = await apply_changes(session, child, changes, if_match, principal)
    if changed:
        action = (
            "child.archive" if "archived_at" in changed and child.archived_at else "child.update"
        )
        record(
            session,
            principal,
            action,
            resource_type=RESOURCE,
            resource_id=child.id,
            changed_fields=[f for f in changed if f != "search_text"],
        )
    return _read(child, response)


@router.get(
    "/{child_id}/revisions",
    summary="Earlier values of a child's corrected fields, newest first",
    response_model=list[RevisionRead],
    responses=error_responses(401, 403, 404, 422),
)
async def list_child_revisions(
    child: ChildForRead, session: Session, principal: CasesReader
) -> list[RevisionRead]:
    record(session, principal, "child.revisions_read", resource_type=RESOURCE, resource_id=child.id)
    return await revisions_of(session, Child.__tablename__, child)
