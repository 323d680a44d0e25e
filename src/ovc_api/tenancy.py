"""What the caller may see: the one place tenant-owned queries are scoped.

Every query of tenant-owned data goes through :func:`visible` (or the helpers built on it).
The base rule is "rows of the caller's organisation". Domains add rules to a
:class:`VisibilityRules`: narrowings within the organisation (caseworkers see their own
cases), widenings beyond it (the network administrator sees organisations' administrators,
the receiver of a referral sees the referral), and read shares (while a referral is accepted,
its receiver reads the referred child, family and case), which apply to single-record reads
(GET of one record) only, never to writes or lists, and say which grant allowed the read.
The rules are installed explicitly (`ovc_api.visibility.install_rules()`, called by
`create_app` and by every other entry point); until then every scoped query raises
:class:`VisibilityRulesMissing` rather than answer with looser rules. PostgreSQL row-level
security repeats the same rules as a second wall.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import lru_cache
from typing import Any, Protocol, TypeVar

from sqlalchemy import ColumnElement, and_, or_
from sqlalchemy.sql import Select
from sqlmodel import SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api.auth.principal import Principal
from ovc_api.errors import NotFound, Unprocessable

M = TypeVar("M")
S = TypeVar("S", bound="Select[*tuple[Any, ...]]")
Rule = Callable[[Principal], ColumnElement[bool] | None]
# Who shared a record read by another organisation: (grant id, e.g. a referral's; owner).
ReadSource = tuple[uuid.UUID, uuid.UUID]


class ReadShare(Protocol):
    """Records of another organisation shared with the caller for reading, one at a time."""

    def clause(self, principal: Principal) -> ColumnElement[bool] | None:
        """The rows shared with the caller (None: none)."""

    async def source(
        self, session: AsyncSession, principal: Principal, record: Any
    ) -> ReadSource | None:
        """The grant through which the caller reads `record` (None: not through this one)."""


class VisibilityRulesMissing(RuntimeError):
    """Tenant data was queried before the visibility rules were installed."""


class VisibilityRules:
    """Every domain's narrowings, widenings and read shares, by model."""

    def __init__(self) -> None:
        self._narrowings: dict[type, list[Rule]] = {}
        self._widenings: dict[type, list[Rule]] = {}
        self._read_shares: dict[type, list[ReadShare]] = {}

    def narrow(self, model: type, rule: Rule) -> None:
        """Restrict what some callers see within their organisation."""
        self._narrowings.setdefault(model, []).append(rule)

    def widen(self, model: type, rule: Rule) -> None:
        """Add rows a caller may see (and write) beyond its own organisation's."""
        self._widenings.setdefault(model, []).append(rule)

    def share_for_reading(self, model: type, share: ReadShare) -> None:
        """Add rows of other organisations the caller may read one at a time."""
        self._read_shares.setdefault(model, []).append(share)

    def count(self) -> int:
        rules = (self._narrowings, self._widenings, self._read_shares)
        return sum(len(found) for table in rules for found in table.values())

    def visible(self, principal: Principal, model: type[Any], single_read: bool) -> Any:
        own: ColumnElement[bool] = model.organisation_id == principal.organisation_id
        narrowed = and_(own, *_clauses(self._narrowings.get(model, []), principal))
        extra = _clauses(self._widenings.get(model, []), principal)
        if single_read:
            shares = self._read_shares.get(model, [])
            extra += [clause for share in shares if (clause := share.clause(principal)) is not None]
        return or_(narrowed, *extra) if extra else narrowed

    def read_shares(self, model: type) -> list[ReadShare]:
        return list(self._read_shares.get(model, []))


def _clauses(rules: list[Rule], principal: Principal) -> list[Any]:
    return [clause for rule in rules if (clause := rule(principal)) is not None]


_installed: VisibilityRules | None = None
_generation = 0


def install(rules: VisibilityRules) -> None:
    """Put `rules` in force for every scoped query of this process."""
    global _installed, _generation
    _installed = rules
    _generation += 1


def rules_in_force() -> tuple[int, VisibilityRules]:
    """The rules in force and how many times rules were installed: statements built once
    (`ovc_api.prepared`) are built again when the rules change."""
    return _generation, installed_rules()


def installed_rules() -> VisibilityRules:
    """The rules in force; refusing, never defaulting to the organisation-only base rule."""
    if _installed is None:
        raise VisibilityRulesMissing(
            "the visibility rules are not installed: call ovc_api.visibility.install_rules() "
            "at start-up"
        )
    return _installed


def visible(
    principal: Principal, model: type[Any], *, single_read: bool = False
) -> ColumnElement[bool]:
    clause: ColumnElement[bool] = installed_rules().visible(principal, model, single_read)
    return clause


async def shared_read_source(
    session: AsyncSession, principal: Principal, record: Any, *, model: type | None = None
) -> ReadSource | None:
    """For a record of another organisation read through a share (an accepted referral): the
    grant and the owner, so the read is audited as such (None for the caller's own records).
    `model`: the record's table model when `record` is a Core row (its `id` and
    `organisation_id` columns)."""
    owner = getattr(record, "organisation_id", None)
    if owner is None or owner == principal.organisation_id:
        return None
    for share in installed_rules().read_shares(model or type(record)):
        if (found := await share.source(session, principal, record)) is not None:
            return found
    return None


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


def referenced_model(column: Any) -> type[Any]:
    """The table model a foreign-key column points at (`Child.family_id` -> `Family`), so a
    domain can check a reference without importing the referenced domain."""
    (foreign_key,) = column.property.columns[0].foreign_keys
    return model_of_table(foreign_key.column.table.name)


@lru_cache
def model_of_table(table_name: str) -> type[Any]:
    """The table model mapped to `table_name` (a stored table name back to its model)."""
    for mapper in SQLModel._sa_registry.mappers:
        if getattr(mapper.local_table, "name", None) == table_name:
            found: type[Any] = mapper.class_
            return found
    raise LookupError(f"no model for the table {table_name}")  # pragma: no cover


async def resolve_foreign_key(
    session: AsyncSession, principal: Principal, column: Any, record_id: uuid.UUID, field: str
) -> Any:
    """:func:`resolve_reference` for the model that `column` references."""
    return await resolve_reference(session, principal, referenced_model(column), record_id, field)
