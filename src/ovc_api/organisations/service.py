"""Member organisations: the directory's rules (who sees an inactive one, what may not be
deactivated) and its audited changes. Routes call these; they never commit."""

from __future__ import annotations

import uuid

from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api import service_kit
from ovc_api.auth.principal import Principal
from ovc_api.concurrency import apply_changes
from ovc_api.db import unique_or_conflict
from ovc_api.errors import Conflict, NotFound
from ovc_api.identity.models import Organisation
from ovc_api.organisations.schemas import OrganisationCreate, OrganisationUpdate

RESOURCE = "organisation"
DUPLICATE = "An organisation with this name or short name already exists"


async def get_organisation_or_404(
    session: AsyncSession, principal: Principal, organisation_id: uuid.UUID
) -> Organisation:
    """An active organisation; an inactive one only for the network administrator."""
    organisation = await session.get(Organisation, organisation_id)
    if organisation is None or (not organisation.active and not principal.is_network_admin):
        raise NotFound()
    return organisation


async def add_organisation(
    session: AsyncSession, principal: Principal, data: OrganisationCreate
) -> Organisation:
    organisation = Organisation(**data.model_dump(mode="json"))
    async with unique_or_conflict(session, DUPLICATE):
        session.add(organisation)
    service_kit.audit(session, principal, RESOURCE, "create", organisation.id)
    return organisation


async def update_organisation(
    session: AsyncSession,
    principal: Principal,
    organisation_id: uuid.UUID,
    data: OrganisationUpdate,
    *,
    if_match: str | None,
) -> Organisation:
    """Names and kind, or deactivation (never the network administrator's own)."""
    organisation = await get_organisation_or_404(session, principal, organisation_id)
    changes = data.model_dump(mode="json", exclude_unset=True)
    if "active" in changes and changes["active"] is None:
        changes.pop("active")
    if organisation.id == principal.organisation_id and changes.get("active") is False:
        raise Conflict("The network administrator's own organisation cannot be deactivated")
    async with unique_or_conflict(session, DUPLICATE):
        changed = await apply_changes(session, organisation, changes, if_match)
    if changed:
        verb = "deactivate" if changes.get("active") is False else "update"
        service_kit.audit(
            session, principal, RESOURCE, verb, organisation.id, changed_fields=changed
        )
    return organisation
