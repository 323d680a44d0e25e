"""The rules of households and their members: an archived household is read-only until
restored, members leave (archived) rather than being deleted, a member who did not migrate
has no destination; every read and change audited.
"""

from __future__ import annotations

import uuid

from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api import service_kit
from ovc_api.auth.principal import Principal
from ovc_api.db import utcnow
from ovc_api.errors import Conflict, Unprocessable
from ovc_api.families.models import Family, FamilyMember
from ovc_api.families.queries import member_or_404
from ovc_api.families.schemas import (
    NOT_MIGRATED,
    FamilyCreate,
    FamilyUpdate,
    MemberCreate,
    MemberUpdate,
)

RESOURCE = "family"
MEMBER = "family_member"


FAMILIES = service_kit.Records(Family, RESOURCE)
family_in_scope = FAMILIES.in_scope
read_family = FAMILIES.read_shared
revisions = FAMILIES.revisions


def _not_archived(family: Family) -> None:
    """An archived household is read-only until restored: its record is closed, not editable."""
    if family.archived_at is not None:
        raise Conflict(
            "This family is archived: restore it (PATCH with archived=false) before changing it"
        )


async def record_family(session: AsyncSession, principal: Principal, data: FamilyCreate) -> Family:
    """A new household, with the members given, each audited."""
    family = Family(
        **data.model_dump(mode="json", exclude={"members"}),
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
        for member in data.members
    ]
    session.add_all(members)
    await session.flush()
    service_kit.audit(session, principal, RESOURCE, "create", family.id)
    for member in members:
        service_kit.audit(session, principal, MEMBER, "create", member.id)
    return family


async def correct_family(
    session: AsyncSession,
    principal: Principal,
    family: Family,
    data: FamilyUpdate,
    *,
    if_match: str | None,
) -> Family:
    """Correct, archive or restore the household (an archived one may only be restored)."""
    if data.archived is not False:
        _not_archived(family)
    changes = data.model_dump(mode="json", exclude_unset=True, exclude={"archived"})
    if data.archived is not None and data.archived != (family.archived_at is not None):
        changes["archived_at"] = utcnow() if data.archived else None
    return await service_kit.correct(
        session, principal, family, changes, if_match=if_match, resource=RESOURCE, archivable=True
    )


async def add_member(
    session: AsyncSession, principal: Principal, family: Family, data: MemberCreate
) -> FamilyMember:
    _not_archived(family)
    member = FamilyMember(
        **data.model_dump(mode="json"),
        organisation_id=principal.organisation_id,
        family_id=family.id,
    )
    return await service_kit.insert(session, principal, member, resource=MEMBER)


async def read_member(
    session: AsyncSession, principal: Principal, family: Family, member_id: uuid.UUID
) -> FamilyMember:
    """A member of this household (also one who left), the read audited."""
    member = await member_or_404(session, principal, family, member_id)
    return service_kit.read(session, principal, member, resource=MEMBER)


async def correct_member(
    session: AsyncSession,
    principal: Principal,
    family: Family,
    member_id: uuid.UUID,
    data: MemberUpdate,
    *,
    if_match: str | None,
) -> FamilyMember:
    """Correct a member, or record that they left the household (archived)."""
    member = await member_or_404(session, principal, family, member_id)
    _not_archived(family)
    changes = data.model_dump(mode="json", exclude_unset=True, exclude={"archived"})
    if not changes.get("migrated", member.migrated):
        if changes.get("migration_destination") is not None:
            raise Unprocessable.field(["body", "migration_destination"], NOT_MIGRATED)
        changes["migration_destination"] = None  # back home: no destination any more
    if data.archived is not None and data.archived != (member.archived_at is not None):
        changes["archived_at"] = utcnow() if data.archived else None
    return await service_kit.correct(
        session, principal, member, changes, if_match=if_match, resource=MEMBER, archivable=True
    )
