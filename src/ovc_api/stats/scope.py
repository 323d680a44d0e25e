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

from sqlalchemy import ColumnElement, select, text
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api.auth.principal import Principal
from ovc_api.identity.models import Organisation
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


NETWORK_SCHEMA = "ovc_network"


@asynccontextmanager
async def network_context(session: AsyncSession, principal: Principal) -> AsyncIterator[None]:
    """Read the network's de-identified case facts instead of the caller's tables.

    On PostgreSQL the application role cannot read other organisations' rows at all; the
    schema `ovc_network` (migration 0005) holds views, owned by the schema owner, of the
    active members' case facts with only the columns network figures group, filter and
    count by (no names, notes or contacts). Putting it first on the search path makes the
    same aggregate statements read those views; what leaves is counts per group, after
    small-count suppression. SQLite has no second wall: the statements read the tables.
    """
    if not session.info.get("is_postgres"):
        yield
        return
    connection = await session.connection()
    previous = (
        await connection.execute(
            text(
                "SELECT current_setting('search_path'), set_config('search_path', "
                ":schema || ', ' || current_setting('search_path'), true)"
            ),
            {"schema": NETWORK_SCHEMA},
        )
    ).scalar_one()
    try:
        yield
    finally:
        await connection.execute(
            text("SELECT set_config('search_path', :path, true)"), {"path": previous}
        )
