"""Reading a household's members and children, always through the caller's scope."""

from __future__ import annotations

import uuid

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api.auth.principal import Principal
from ovc_api.children.models import Child
from ovc_api.concurrency import etag_of
from ovc_api.errors import NotFound
from ovc_api.families.models import Family, FamilyMember
from ovc_api.families.schemas import FamilyDetail, FamilyRead, MemberRead
from ovc_api.tenancy import scoped

MAX_CHILDREN = 200


def member_read(member: FamilyMember) -> MemberRead:
    """A member with its own ETag: members are corrected one at a time, with If-Match."""
    return MemberRead.model_validate({**member.model_dump(), "etag": etag_of(member)})


async def current_members(
    session: AsyncSession, principal: Principal, family: Family
) -> list[FamilyMember]:
    statement = (
        scoped(select(FamilyMember), principal, FamilyMember)
        .where(
            col(FamilyMember.family_id) == family.id,
            col(FamilyMember.archived_at).is_(None),
        )
        .order_by(col(FamilyMember.created_at), col(FamilyMember.id))
    )
    return list((await session.exec(statement)).all())


async def visible_child_ids(
    session: AsyncSession, principal: Principal, family: Family
) -> list[uuid.UUID]:
    """Only the children the caller may see: a caseworker may see a household, not all of it."""
    statement = (
        scoped(select(col(Child.id)), principal, Child)
        .where(col(Child.family_id) == family.id, col(Child.archived_at).is_(None))
        .order_by(col(Child.created_at), col(Child.id))
        .limit(MAX_CHILDREN)
    )
    return list((await session.exec(statement)).all())


async def member_or_404(
    session: AsyncSession, principal: Principal, family: Family, member_id: uuid.UUID
) -> FamilyMember:
    """A member of another household (or organisation) answers like a missing one."""
    statement = scoped(select(FamilyMember), principal, FamilyMember).where(
        col(FamilyMember.id) == member_id, col(FamilyMember.family_id) == family.id
    )
    member = (await session.exec(statement)).first()
    if member is None:
        raise NotFound()
    return member


async def family_detail(
    session: AsyncSession, principal: Principal, family: Family
) -> FamilyDetail:
    members = await current_members(session, principal, family)
    return FamilyDetail(
        **FamilyRead.model_validate(family).model_dump(),
        members=[member_read(m) for m in members],
        child_ids=await visible_child_ids(session, principal, family),
    )
