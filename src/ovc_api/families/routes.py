"""Households: their situation, their members (corrected, never deleted) and their children.

HTTP only: the rules and the audit are in `families/service.py`; answers go through
`http_epilogue`.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from sqlmodel import col

from ovc_api import API_V1
from ovc_api import http_epilogue as http
from ovc_api import record_routes as kit
from ovc_api.auth.principal import CasesReader, CasesWriter
from ovc_api.db import Session
from ovc_api.errors import error_responses
from ovc_api.families import service
from ovc_api.families.filters import FamilyListQuery
from ovc_api.families.models import Family, FamilyMember
from ovc_api.families.queries import family_detail, member_read
from ovc_api.families.schemas import (
    FamilyCreate,
    FamilyDetail,
    FamilyRead,
    FamilyUpdate,
    MemberCreate,
    MemberRead,
    MemberUpdate,
)
from ovc_api.pagination import parse_datetime, sort_options
from ovc_api.record_routes import RecordKind, add_revisions_route, add_routes
from ovc_api.row_reads import table_reads

router = APIRouter(prefix=f"{API_V1}/families", tags=["families"])
RESOURCE = service.RESOURCE
SORTS = sort_options(
    col(Family.id),
    created_at=(col(Family.created_at), parse_datetime),
    updated_at=(col(Family.updated_at), parse_datetime),
)


async def family_for_read(family_id: uuid.UUID, session: Session, principal: CasesReader) -> Family:
    return await service.family_in_scope(session, principal, family_id)


async def shared_family_for_read(
    family_id: uuid.UUID, session: Session, principal: CasesReader
) -> Family:
    """The household record itself, which an accepted referral also shares (read-only)."""
    return await service.family_in_scope(session, principal, family_id, shared=True)


async def family_for_write(
    family_id: uuid.UUID, session: Session, principal: CasesWriter
) -> Family:
    return await service.family_in_scope(session, principal, family_id)


FamilyForRead = Annotated[Family, Depends(family_for_read)]
FamilyForWrite = Annotated[Family, Depends(family_for_write)]


def _member_read(_session: Any, _principal: Any, member: FamilyMember) -> MemberRead:
    return member_read(member)


FAMILIES = RecordKind(
    name="family",
    plural="families",
    path="",
    model=Family,
    read=FamilyDetail,
    listed=FamilyRead,
    create=FamilyCreate,
    update=FamilyUpdate,
    query=FamilyListQuery,
    sorts=SORTS,
    resource=RESOURCE,
    for_read=FamilyForRead,
    for_write=FamilyForWrite,
    shared_read=Annotated[Family, Depends(shared_family_for_read)],
    add=service.record_family,
    audit_read=service.read_family,
    correct=service.correct_family,
    present=family_detail,
    location=lambda family: f"{API_V1}/families/{family.id}",
    rows=table_reads("family", Family, FamilyDetail, listed=FamilyRead, shared=True),
    summaries=(
        "Record a household, optionally with its members",
        "List households, filtered; `q` searches the household name",
        "Read a household with its current members and the children the caller sees",
        "Correct, archive or restore a household (If-Match required; history is kept)",
    ),
    conflicts=True,
)
add_routes(router, FAMILIES)
add_revisions_route(
    router,
    FAMILIES,
    service.revisions,
    "Earlier values of a household's corrected fields, newest first",
)


FAMILY = [("family", FamilyForWrite)]
kit.add_create(
    router,
    "/{family_id}/members",
    "create_family_member",
    "Add a member to a household",
    MemberRead,
    error_responses(401, 403, 404, 409, 422),
    CasesWriter,
    FAMILY,
    MemberCreate,
    service.add_member,
    _member_read,
    lambda member: f"{API_V1}/families/{member.family_id}/members/{member.id}",
    service.MEMBER,
)


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
    member = await service.read_member(session, principal, family, member_id)
    return http.shown(response, member, member_read(member))


MEMBER = [("family", FamilyForWrite), ("member_id", uuid.UUID)]
kit.add_correct(
    router,
    "/{family_id}/members/{member_id}",
    "update_family_member",
    "Correct a member, or record that they left the household (archived=true)",
    MemberRead,
    error_responses(401, 403, 404, 409, 412, 422, 428),
    CasesWriter,
    MEMBER,
    MemberUpdate,
    service.correct_member,
    _member_read,
)
