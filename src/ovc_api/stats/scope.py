"""Whose rows a statistic counts: the caller's whole organisation, or the active network.

Statistics count every case of the organisation, whoever it is assigned to, and analysts hold
no `cases:read` at all: the caseworker narrowing of `ovc_api.tenancy.visible` (and the
sharing widenings meant for single reads) do not apply: the organisation scope is
`tenancy.organisation_wide`; PostgreSQL row-level security still binds every
query of an organisation's statistics to the caller's organisation.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api.auth.principal import Principal
from ovc_api.db import set_tenant_context
from ovc_api.organisations.models import Organisation
from ovc_api.tenancy import organisation_wide


def whole_organisation(principal: Principal) -> Any:
    """Rows of a tenant-owned model that belong to the caller's organisation (all of them)."""
    return partial(organisation_wide, principal)


def active_network() -> Any:
    """Rows of every active member organisation: network statistics' population."""
    active = select(col(Organisation.id)).where(col(Organisation.active).is_(True))

    def rule(model: type[Any]) -> ColumnElement[bool]:
        clause: ColumnElement[bool] = model.organisation_id.in_(active)
        return clause

    return rule


@asynccontextmanager
async def network_context(session: AsyncSession, principal: Principal) -> AsyncIterator[None]:
    """Open every organisation's rows to the network aggregate, then bind the caller back.

    Safe because only the aggregate queries of the network endpoints run inside: what leaves
    is counts per group, after small-count suppression, never a row or an identifier. On
    PostgreSQL row-level security would otherwise hide the other organisations' rows.
    """
    await set_tenant_context(session, None, system=True)
    try:
        yield
    finally:
        await set_tenant_context(
            session,
            principal.organisation_id,
            network=principal.is_network_admin,
            relaxed_commit=principal.read_only,
        )
