"""What the caller may see: the one place tenant-owned queries are scoped.

Every query of tenant-owned data goes through :func:`visible` (or the helpers built on it).
The base rule is "rows of the caller's organisation". A domain may narrow it within the
organisation (:func:`narrow_visibility`: caseworkers see their own cases) or widen it beyond
(:func:`widen_visibility`): the network administrator sees organisations' administrators,
the receiver of a referral sees the referral and, while it is accepted, reads the referred
child, family and case. Widenings that only share records for reading apply to single-record
reads (GET of one record) and never to writes or lists. PostgreSQL row-level security
repeats the same rules as a second wall.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, and_, or_
from sqlalchemy.sql import Select
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api.auth.principal import Principal
from ovc_api.errors import NotFound, Unprocessable

M = TypeVar("M")
S = TypeVar("S", bound="Select[*tuple[Any, ...]]")
Rule = Callable[[Principal], ColumnElement[bool] | None]
_widenings: dict[type, list[Rule]] = {}
_read_widenings: dict[type, list[Rule]] = {}
_narrowings: dict[type, list[Rule]] = {}


def widen_visibility(model: type, rule: Rule, *, single_reads_only: bool = False) -> None:
    """Let a domain add rows a caller may see beyond its own organisation's.

    `single_reads_only` rules share records for reading one at a time (GET of one record);
    lists and every write keep to the caller's own organisation.
    """
    (_read_widenings if single_reads_only else _widenings).setdefault(model, []).append(rule)


def narrow_visibility(model: type, rule: Rule) -> None:
    """Restrict what some callers see within their organisation (caseworkers: their cases)."""
    _narrowings.setdefault(model, []).append(rule)


def _clauses(rules: dict[type, list[Rule]], model: type, principal: Principal) -> list[Any]:
    return [clause for rule in rules.get(model, []) if (clause := rule(principal)) is not None]


def visible(
    principal: Principal, model: type[Any], *, single_read: bool = False
) -> ColumnElement[bool]:
    own: ColumnElement[bool] = model.organisation_id == principal.organisation_id
    narrowed = and_(own, *_clauses(_narrowings, model, principal))
    extra = _clauses(_widenings, model, principal)
    if single_read:
        extra += _clauses(_read_widenings, model, principal)
    return or_(narrowed, *extra) if extra else narrowed


def organisation_wide(principal: Principal, model: type[Any]) -> ColumnElement[bool]:
    """Every row of the caller's organisation, without narrowings or widenings: for
    aggregates (statistics, reports), which count all of the organisation's cases."""
    clause: ColumnElement[bool] = model.organisation_id == principal.organisation_id
    return clause


def scoped(statement: S, principal: Principal, model: type[Any], *, single_read: bool = False) -> S:
    return statement.where(visible(principal, model, single_read=single_read))


async def get_visible(
    session: AsyncSession,
    principal: Principal,
    model: type[M],
    record_id: uuid.UUID,
    *,
    shared: bool = False,
) -> M | None:
    """One record in scope. `shared` also admits a record shared with the caller for reading
    (through an accepted referral): only a GET of that one record asks for it."""
    from sqlmodel import select

    statement = select(model).where(model.id == record_id)  # type: ignore[attr-defined]
    return (await session.exec(scoped(statement, principal, model, single_read=shared))).first()


async def get_visible_or_404(
    session: AsyncSession,
    principal: Principal,
    model: type[M],
    record_id: uuid.UUID,
    *,
    shared: bool = False,
) -> M:
    """A record of another organisation answers exactly like a missing one."""
    record = await get_visible(session, principal, model, record_id, shared=shared)
    if record is None:
        raise NotFound()
    return record


async def resolve_reference(
    session: AsyncSession,
    principal: Principal,
    model: type[M],
    record_id: uuid.UUID,
    field: str,
) -> M:
    """An id in a request body: another organisation's record is as unknown as a missing one."""
    record = await get_visible(session, principal, model, record_id, shared=False)
    if record is None:
        raise Unprocessable.field(["body", field], f"no such {field.removesuffix('_id')}")
    return record
