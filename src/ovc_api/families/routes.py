"""Households: their situation, their members (corrected, never deleted) and their children."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from sqlmodel import col, select

from ovc_api import API_V1
from ovc_api.audit.service import record, record_read
from ovc_api.auth.principal import CasesReader, CasesWriter
from ovc_api.concurrency import IfMatch, apply_changes, set_etag
from ovc_api.db import Session, utcnow
from ovc_api.errors import Conflict, Unprocessable, error_responses
from ovc_api.families.filters import FamilyListQuery
from ovc_api.families.models import Family, FamilyMember
from ovc_api.families.queries import family_detail, member_or_404, member_read
from ovc_api.families.schemas import (
    NOT_MIGRATED,
    FamilyCreate,
    FamilyDetail,
    FamilyRead,
    FamilyUpdate,
    MemberCreate,
    MemberRead,
    MemberUpdate,
)
from ovc_api.idempotency import IdempotencyDep
from ovc_api.pagination import Page, Pagination, fetch_page, parse_datetime, sort_options
from ovc_api.revisions import RevisionRead, revisions_of
from ovc_api.tenancy import get_visible_or_404, scoped, shared_read_source

router = APIRouter(prefix=f"{API_V1}/families", tags=["families"])
RESOURCE = "family"
MEMBER = "family_member"
SORTS = sort_options(
    col(Family.id),
    created_at=(col(Family.created_at), parse_datetime),
    updated_at=(col(Family.updated_at), parse_datetime),
)


async def family_for_read(family_id: uuid.UUID, session: Session, principal: CasesReader) -> Family:
    return await get_visible_or_404(session, principal, Family, family_id, shared=False)


async def shared_family_for_read(
    family_id: uuid.UUID, session: Session, principal: CasesReader
) -> Family:
    """The household record itself, which an accepted referral also shares (read-only)."""
    return await get_visible_or_404(session, principal, Family, family_id, shared=True)


async def family_for_write(
    family_id: uuid.UUID, session: Session, principal: CasesWriter
) -> Family:
    return await get_visible_or_404(session, principal, Family, family_id)


FamilyForRead = Annotated[Family, Depends(family_for_read)]
FamilyForWrite = Annotated[Family, Depends(family_for_write)]


def _not_archived(family: Family) -> None:
    """An archived household is read-only until restored: its record is closed, not editable."""
    if family.archived_at is not None:
        raise Conflict(
            "This family is archived: restore it (PATCH with archived=false) before changing it"
        )


def _member_location(member: FamilyMember) -> str:
    return f"{API_V1}/families/{member.family_id}/members/{member.id}"


@router.post(
    "",
    summary="Record a household, optionally with its members",
    status_code=201,
    response_model=FamilyDetail,
    responses=error_responses(401, 403, 409, 422),
)
async def create_family(
    body: FamilyCreate,
    response: Response,
    session: Session,
    principal: CasesWriter,
    idempotency: IdempotencyDep,
) -> Any:
    if (replayed := await idempotency.replay(principal, body)) is not None:
        return replayed
    family = Family(
        **body.model_dump(mode="json", exclude={"members"}),
        organisation_id=principal.organisation_id,
        created_by=principal.user_id,
    )
    session.add(family)
    members = [
        FamilyMember(
            **member.model_dump(mode="json"),
            organisation_id=principal.organisation_id,
            family_id=family.id,
        )
        for member in body.members
    ]
    session.add_all(members)
    await session.flush()
    record(session, principal, "family.create", resource_type=RESOURCE, resource_id=family.id)
    for member in members:
        record(
            session, principal, "family_member.create", resource_type=MEMBER, resource_id=member.id
        )
    response.headers["Location"] = f"{API_V1}/families/{family.id}"
    set_etag(response, family)
    result = await family_detail(session, principal, family)
    await idempotency.remember(201, result, response)
    return result


@router.get(
    "",
    summary="List households, filtered; `q` searches the household name",
    response_model=Page[FamilyRead],
    responses=error_responses(401, 403, 422),
)
async def list_families(
    request: Request,
    response: Response,
    session: Session,
    principal: CasesReader,
    query: Annotated[FamilyListQuery, Depends()],
    pagination: Pagination,
) -> Page[FamilyRead]:
    statement = query.apply(scoped(select(Family), principal, Family), principal)
    items, next_cursor = await fetch_page(
        session, statement, pagination, SORTS[query.sort], request, response
    )
    record_read(session, principal, RESOURCE, [f.id for f in items], single=False)
    return Page(items=[FamilyRead.model_validate(f) for f in items], next_cursor=next_cursor)


@router.get(
    "/{family_id}",
    summary="Read a household with its current members and the children the caller sees",
    response_model=FamilyDetail,
    responses=error_responses(401, 403, 404, 422),
)
async def get_family(
    family: Annotated[Family, Depends(shared_family_for_read)],
    response: Response,
    session: Session,
    principal: CasesReader,
) -> FamilyDetail:
    via = await shared_read_source(session, principal, family)
    record_read(session, principal, RESOURCE, [family.id], via_referral=via)
    set_etag(response, family)
    return await family_detail(session, principal, family)


@router.patch(
    "/{family_id}",
    summary="Correct, archive or restore a household (If-Match required; history is kept)",
    response_model=FamilyDetail,
    responses=error_responses(401, 403, 404, 409, 412, 422, 428),
)
async def update_family(
    family: FamilyForWrite,
    body: FamilyUpdate,
    response: Response,
    session: Session,
    principal: CasesWriter,
    if_match: IfMatch = None,
) -> FamilyDetail:
    if body.archived is not False:
        _not_archived(family)
    changes = body.model_dump(mode="json", exclude_unset=True, exclude={"archived"})
    if body.archived is not None and body.archived != (family.archived_at is not None):
        changes["archived_at"] = utcnow() if body.archived else None
    changed = await apply_changes(session, family, changes, if_match, principal)
    if changed:
        archiving = "archived_at" in changed and family.archived_at is not None
        record(
            session,
            principal,
            "family.archive" if archiving else "family.update",
            resource_type=RESOURCE,
            resource_id=family.id,
            changed_fields=changed,
        )
    set_etag(response, family)
    return await family_detail(session, principal, family)


@router.get(
    "/{family_id}/revisions",
    summary="Earlier values of a household's corrected fields, newest first",
    response_model=list[RevisionRead],
    responses=error_responses(401, 403, 404, 422),
)
async def list_family_revisions(
    family: FamilyForRead, session: Session, principal: CasesReader
) -> list[RevisionRead]:
    record(
        session, principal, "family.revisions_read", resource_type=RESOURCE, resource_id=family.id
    )
    return await revisions_of(session, Family.__tablename__, family)


@router.post(
    "/{family_id}/members",
    summary="Add a member to a household",
    status_code=201,
    response_model=MemberRead,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def create_family_member(
    family: FamilyForWrite,
    body: MemberCreate,
    response: Response,
    session: Session,
    principal: CasesWriter,
    idempotency: IdempotencyDep,
) -> Any:
    if (replayed := await idempotency.replay(principal, body)) is not None:
        return replayed
    _not_archived(family)
    member = FamilyMember(
        **body.model_dump(mode="json"),
        organisation_id=principal.organisation_id,
        family_id=family.id,
    )
    session.add(member)
    await session.flush()
    record(session, principal, "family_member.create", resource_type=MEMBER, resource_id=member.id)
    response.headers["Location"] = _member_location(member)
    set_etag(response, member)
    result = member_read(member)
    await idempotency.remember(201, result, response)
    return result


@router.get(
    "/{family_id}/members/{member_id}",
    summary="Read one member of a household (also those who left)",
    response_model=MemberRead,
    responses=error_responses(401, 403, 404, 422),
)
async def get_family_member(
    family: FamilyForRead,
    member_id: uuid.UUID,
    response: Response,
    session: Session,
    principal: CasesReader,
) -> MemberRead:
    member = await member_or_404(session, principal, family, member_id)
    record_read(session, principal, MEMBER, [member.id])
    set_etag(response, member)
    return member_read(member)


@router.patch(
    "/{family_id}/members/{member_id}",
    summary="Correct a member, or record that they left the household (archived=true)",
    response_model=MemberRead,
    responses=error_responses(401, 403, 404, 409, 412, 422, 428),
)
async def update_family_member(
    family: FamilyForWrite,
    member_id: uuid.UUID,
    body: MemberUpdate,
    response: Response,
    session: Session,
    principal: CasesWriter,
    if_match: IfMatch = None,
) -> MemberRead:
    member = await member_or_404(session, principal, family, member_id)
    _not_archived(family)
    changes = body.model_dump(mode="json", exclude_unset=True, exclude={"archived"})
    if not changes.get("migrated", member.migrated):
        if changes.get("migration_destination") is not None:
            raise Unprocessable.field(["body", "migration_destination"], NOT_MIGRATED)
        changes["migration_destination"] = None  # back home: no destination any more
    if body.archived is not None and body.archived != (member.archived_at is not None):
        changes["archived_at"] = utcnow() if body.archived else None
    changed = await apply_changes(session, member, changes, if_match, principal)
    if changed:
        leaving = "archived_at" in changed and member.archived_at is not None
        record(
            session,
            principal,
            "family_member.archive" if leaving else "family_member.update",
            resource_type=MEMBER,
            resource_id=member.id,
            changed_fields=changed,
        )
    set_etag(response, member)
    return member_read(member)
