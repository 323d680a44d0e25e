"""What the caller may see: the one place tenant-owned queries are scoped.

Every query of tenant-owned data goes through :func:`visible` (or the helpers built on it).
The base rule is "rows of the caller's organisation"; a domain may widen it for a model with
:func:`widen_visibility` (the network administrator seeing organisations' administrators;
later, records referred to the caller's organisation). PostgreSQL row-level security repeats
the same rules as a second wall.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from sqlalchemy import ColumnElement, and_, or_
from sqlalchemy.sql import Select
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api.auth.principal import Principal
from ovc_api.errors import NotFound, Unprocessable


class TenantOwned(Protocol):
    id: Any
    organisation_id: Any


M = TypeVar("M")
S = TypeVar("S", bound=Select[Any])
Rule = Callable[[Principal], ColumnElement[bool] | None]
_widenings: dict[type, list[Rule]] = {}
_narrowings: dict[type, list[Rule]] = {}


def widen_visibility(model: type, rule: Rule) -> None:
    """Let a domain add rows a caller may see beyond its own organisation's."""
    _widenings.setdefault(model, []).append(rule)


def narrow_visibility(model: type, rule: Rule) -> None:
    """Restrict what some callers see within their organisation (caseworkers: their cases)."""
    _narrowings.setdefault(model, []).append(rule)


def _clauses(rules: dict[type, list[Rule]], model: type, principal: Principal) -> list[Any]:
    return [clause for rule in rules.get(model, []) if (clause := rule(principal)) is not None]


def visible(principal: Principal, model: type[Any]) -> ColumnElement[bool]:
    own: ColumnElement[bool] = model.organisation_id == principal.organisation_id
    narrowed = and_(own, *_clauses(_narrowings, model, principal))
    extra = _clauses(_widenings, model, principal)
    return or_(narrowed, *extra) if extra else narrowed


def scoped(statement: S, principal: Principal, model: type[Any]) -> S:
    return statement.where(visible(principal, model))


async def get_visible(
    session: AsyncSession, principal: Principal, model: type[M], record_id: uuid.UUID
) -> M | None:
    from sqlmodel import select

    statement = select(model).where(model.id == record_id)  # type: ignore[attr-defined]
    return (await session.exec(scoped(statement, principal, model))).first()


async def get_visible_or_404(
    session: AsyncSession, principal: Principal, model: type[M], record_id: uuid.UUID
) -> M:
    """A record of another organisation answers exactly like a missing one."""
    record = await get_visible(session, principal, model, record_id)
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
    record = await get_visible(session, principal, model, record_id)
    if record is None:
        raise Unprocessable.field(["body", field], f"no such {field.removesuffix('_id')}")
    return record
