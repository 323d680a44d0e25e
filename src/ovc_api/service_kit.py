"""Steps that many services repeat, written once: a body's fields as stored, the lookups of
one kind of record (`Records`), insert a row and audit it, apply a client's correction
(If-Match checked, history kept) and audit the changed field names, audit a single read, read
a record's correction history.

Services call these; they never commit (the session dependency owns the transaction) and
know nothing of HTTP.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Callable, Collection, Hashable, Mapping
from enum import Enum
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel
from pydantic_core import PydanticUndefined
from sqlalchemy import ColumnElement, bindparam, true
from sqlalchemy import insert as insert_into
from sqlalchemy import select as core_select
from sqlalchemy.engine import Row as CoreRow
from sqlalchemy.sql import Select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api.audit.service import (
    audit_binds,
    audited_read,
    logged_write,
    record,
    record_owner_reads,
    record_read,
    single_read_values,
    write_values,
)
from ovc_api.auth.principal import Principal
from ovc_api.concurrency import apply_changes
from ovc_api.errors import NotFound
from ovc_api.outbox import Event, own_event_values
from ovc_api.prepared import ORGANISATION, RECORD, built, caller_shape, caller_values, stand_in
from ovc_api.revisions import RevisionRead, revisions_of
from ovc_api.tenancy import get_visible_or_404, scoped, shared_read_source


class HasId(Protocol):
    """Every audited row: its id is what the audit names."""

    id: uuid.UUID


Row = TypeVar("Row", bound=HasId)


def stored(
    body: BaseModel,
    *,
    include: Collection[str] | None = None,
    exclude: Collection[str] | None = None,
    sent_only: bool = False,
    not_null: Collection[str] = (),
) -> dict[str, Any]:
    """A body's fields as a row stores them, enumerations as their codes. `sent_only`: the
    fields a PATCH sets; `not_null`: fields it cannot empty (a null sent leaves them as
    they are)."""
    values = body.model_dump(
        include=set(include) if include is not None else None,
        exclude=set(exclude) if exclude is not None else None,
        exclude_unset=sent_only,
    )
    return {
        k: (v.value if isinstance(v, Enum) else v)
        for k, v in values.items()
        if not (v is None and k in not_null)
    }


class Records(Generic[Row]):
    """One kind of audited record (its model, its audit name and, for a record kept under
    another, the parent's column): the lookups and reads each service would write again."""

    def __init__(
        self, model: type[Row], resource: str, *, parent: str = "", order: tuple[str, ...] = ()
    ) -> None:
        self.model, self.resource, self.parent, self.order = model, resource, parent, order

    async def in_scope(
        self,
        session: AsyncSession,
        principal: Principal,
        record_id: uuid.UUID,
        *,
        shared: bool = False,
    ) -> Row:
        """A record the caller may see (404 otherwise); `shared` admits a read through a
        referral."""
        return await get_visible_or_404(session, principal, self.model, record_id, shared=shared)

    async def under(
        self, session: AsyncSession, principal: Principal, parent: HasId, record_id: uuid.UUID
    ) -> Row:
        """A record of `parent` the caller may see: another parent's is a 404 as well."""
        row = await get_visible_or_404(session, principal, self.model, record_id)
        if getattr(row, self.parent) != parent.id:
            raise NotFound()
        return row

    async def of(
        self, session: AsyncSession, parent: HasId, principal: Principal | None = None
    ) -> list[Row]:
        """Every record of `parent` (those the `principal` may see, when given), in the
        kind's order."""
        model: Any = self.model
        statement = select(model)
        if principal is not None:
            statement = scoped(statement, principal, model)
        statement = statement.where(col(getattr(model, self.parent)) == parent.id).order_by(
            *(col(getattr(model, name)) for name in self.order)
        )
        return list((await session.exec(statement)).all())

    async def read_shared(self, session: AsyncSession, principal: Principal, row: Row) -> Row:
        """Audit a read of the record; a read through a referral lands in the owner's log."""
        return await read_shared(session, principal, row, resource=self.resource)

    async def revisions(
        self, session: AsyncSession, principal: Principal, row: Row
    ) -> list[RevisionRead]:
        """The record's correction history, its reading audited."""
        return await revisions(session, principal, row, resource=self.resource)


def audit(
    session: AsyncSession,
    principal: Principal,
    resource: str,
    verb: str,
    row_id: uuid.UUID | None = None,
    **details: Any,
) -> None:
    """Audit `<resource>.<verb>` of the row `row_id`. `details` are those of
    `audit.service.record`: case_id, changed_fields, detail, via_referral_id, record_ids,
    owner_organisation_id."""
    record(
        session,
        principal,
        f"{resource}.{verb}",
        resource_type=resource,
        resource_id=row_id,
        **details,
    )


async def insert(
    session: AsyncSession,
    principal: Principal,
    row: Row,
    *,
    resource: str,
    case_id: uuid.UUID | None = None,
) -> Row:
    """Insert `row` (its id is known afterwards) and audit `<resource>.create`."""
    session.add(row)
    await session.flush()
    audit(session, principal, resource, "create", row.id, case_id=case_id)
    return row


async def correct(
    session: AsyncSession,
    principal: Principal,
    row: Row,
    changes: dict[str, Any],
    *,
    if_match: str | None,
    resource: str,
    case_id: uuid.UUID | None = None,
    also_changed: Mapping[str, Any] | None = None,
    archivable: bool = False,
) -> Row:
    """Apply `changes` if `row` is still at the version the client saw; audit the fields.

    `also_changed` names values kept outside the row under the same version (see
    `concurrency.apply_changes`). With `archivable`, a change that archives the row (sets its
    `archived_at`) is audited as `<resource>.archive`."""
    changed = await apply_changes(
        session, row, changes, if_match, principal, also_changed=also_changed
    )
    if changed:
        archived = "archived_at" in changed and getattr(row, "archived_at", None) is not None
        verb = "archive" if archivable and archived else "update"
        audit(session, principal, resource, verb, row.id, changed_fields=changed, case_id=case_id)
    return row


def read(
    session: AsyncSession,
    principal: Principal,
    row: Row,
    *,
    resource: str,
    case_id: uuid.UUID | None = None,
    via_referral: tuple[uuid.UUID, uuid.UUID] | None = None,
) -> Row:
    """Audit a single read of `row` (already loaded in the caller's scope)."""
    record_read(
        session,
        principal,
        resource,
        [row.id],
        case_id=case_id,
        via_referral=via_referral,
    )
    return row


def read_both_sides(
    session: AsyncSession,
    principal: Principal,
    row: Row,
    *,
    resource: str,
    via: Callable[[Any], uuid.UUID | None] | None = None,
    **details: Any,
) -> Row:
    """Audit a read of a record two organisations share (a referral, a conference, a service
    under a referral): in the caller's log (`details` as `audit`'s) and, when the caller is not
    its owner, in the owner's too."""
    audit(session, principal, resource, "read", row.id, **details)
    record_owner_reads(session, principal, resource, [row], via=via)
    return row


async def read_shared(
    session: AsyncSession, principal: Principal, row: Row, *, resource: str
) -> Row:
    """Audit a single read of a record a referral may share: a read through the share lands
    in the owner's log."""
    via = await shared_read_source(session, principal, row)
    return read(session, principal, row, resource=resource, via_referral=via)


def read_statement(
    principal: Principal,
    build: Callable[[Principal], Select[Any]],
    model: Any,
    record_id: uuid.UUID,
    *,
    resource: str,
    shape_key: Hashable,
    from_record: Mapping[str, str] | None,
    postgres: bool,
) -> tuple[Hashable, Callable[[], Select[Any]], dict[str, Any]]:
    """`read_row`'s statement: its shape key (`ovc_api.prepared.built`), how to build it and
    this request's values (the caller's ids, the record's, the audit row's)."""
    values = single_read_values(principal, resource) if postgres else {}
    binds, params = audit_binds(values)
    params.update(caller_values(principal))
    params[RECORD.key] = record_id
    taken = dict(from_record or {})

    def build_statement() -> Select[Any]:
        statement = build(stand_in(principal)).where(model.id == RECORD)
        if postgres:
            statement = audited_read(statement, binds, ORGANISATION, from_record=taken)
        return statement

    return (shape_key, caller_shape(principal), postgres, *binds), build_statement, params


async def read_row(
    session: AsyncSession,
    principal: Principal,
    build: Callable[[Principal], Select[Any]],
    model: Any,
    record_id: uuid.UUID,
    *,
    resource: str,
    shape_key: Hashable,
    from_record: Mapping[str, str] | None = None,
    audit: Callable[[AsyncSession, Principal, Any], Any] | None = None,
) -> CoreRow[Any]:
    """One record as a Core row (404 unless `build`, the statement of what the caller may
    read, finds it), its read audited like `read`.

    The statement is built once per shape (`ovc_api.prepared`, `shape_key` naming it) with
    the caller's ids, the record's and the audit row's values as bind parameters. On
    PostgreSQL the read of the caller's own record and its audit row are one statement
    (`audited_read`; `from_record` names the audit columns taken from the record, e.g.
    `case_id`); a record of another organisation (shared through a referral,
    or reached through a widening: read-only, rare) and SQLite take the plain path: the row,
    then the audit row, in the same transaction either way. `audit` (session, caller, row),
    when given, is the kind's own audit of a read on that path (it may be a coroutine);
    otherwise the read is audited like `read_shared`.
    """
    postgres = bool(session.info.get("is_postgres"))
    key, build_statement, params = read_statement(
        principal,
        build,
        model,
        record_id,
        resource=resource,
        shape_key=shape_key,
        from_record=from_record,
        postgres=postgres,
    )
    taken = dict(from_record or {})
    statement = built(key, build_statement)
    connection = await session.connection()
    row: CoreRow[Any] | None = (await connection.execute(statement, params)).first()
    if row is None:
        raise NotFound()
    if postgres and row._mapping["organisation_id"] == principal.organisation_id:
        return row
    if audit is not None:
        audited = audit(session, principal, row)
        if inspect.isawaitable(audited):
            await audited
        return row
    via = await shared_read_source(session, principal, row, model=model)
    record_read(
        session,
        principal,
        resource,
        [row._mapping["id"]],
        case_id=row._mapping[taken["case_id"]] if "case_id" in taken else None,
        via_referral=via,
    )
    return row


def with_defaults(model: Any, values: Mapping[str, Any]) -> dict[str, Any]:
    """`values` and, for the other columns of `model`'s table, the defaults the model gives
    a new row (its id, timestamps, version...), as constructing it would."""
    row = dict(values)
    for column in model.__table__.columns:
        name = column.name
        if name in row:
            continue
        field = model.model_fields[name]
        if field.default_factory is not None:
            row[name] = field.default_factory()
        elif field.default is not PydanticUndefined:
            row[name] = field.default
    return row


PARENT = "parent_"  # the prefix of the parent's columns in `insert_row`'s result


def insert_statement(
    principal: Principal,
    model: Any,
    values: Mapping[str, Any],
    *,
    parent: Callable[[Principal], Select[Any]],
    parent_model: Any,
    parent_id: uuid.UUID,
    parent_column: str,
    allowed: Callable[[Any, Mapping[str, Any]], ColumnElement[bool]],
    returning: Collection[str],
    resource: str,
    shape_key: Hashable,
    from_record: Mapping[str, str] | None = None,
    also: Callable[[Any, Mapping[str, Any]], list[Any]] | None = None,
) -> tuple[Hashable, Callable[[], Select[Any]], dict[str, Any]]:
    """PostgreSQL: the statement that inserts a row under a parent record, audits it
    (`<resource>.create`) and announces it (the outbox) as `insert` does, in one
    statement; no row when the caller may not write under that parent (404). Returned as
    its shape key (`ovc_api.prepared.built`), how to build it and this
    request's values, for whatever runs it: the session (`insert_row`) or the fast lane's
    pipeline (`ovc_api.fastlane_writes`).

    `parent` gives the statement of the parent records the caller may write (labelled
    columns, `id` among them, and whatever the rules read); the row is inserted with
    `values` (and the model's defaults for the columns they leave out, `with_defaults`),
    its `parent_column` set to the parent's id, only when `allowed` (the parent's columns,
    the bind parameters of the row's values) holds: the same rules the caller then checks
    in Python on the result, which carries the parent's columns (prefixed `parent_`) and
    the inserted row's `returning` columns (`id` and `version` among them; NULL when
    nothing was inserted). `from_record` names the audit columns taken from the row
    (audit column -> row column, e.g. `case_id`), the event's `case_id` too. Built once
    per shape (`shape_key` names the kind's statement, its `parent` and `allowed` with
    it), the caller's ids, the parent's id and every value being bind parameters. `also`
    (the written row's CTE, the values' bind parameters) gives further data-modifying
    CTEs of the same write (derived data, e.g. a case's last contact).
    """
    table = model.__table__
    row = with_defaults(model, values)
    names = sorted(row)
    taken = dict(from_record or {})
    audited = write_values(principal, resource, "create")
    event = own_event_values(principal.organisation_id, f"{resource}.create", resource) or {}
    params = {f"audit_{name}": value for name, value in audited.items()}
    params.update({f"event_{name}": value for name, value in event.items()})
    params.update({f"new_{name}": value for name, value in row.items()})
    params.update(caller_values(principal))
    params[RECORD.key] = parent_id

    def build_statement() -> Select[Any]:
        binds, _ = audit_binds(audited)
        events = Event.__table__  # type: ignore[attr-defined]
        announced = {name: bindparam(f"event_{name}", type_=events.c[name].type) for name in event}
        new = {name: bindparam(f"new_{name}", type_=table.c[name].type) for name in names}
        found = parent(stand_in(principal)).where(parent_model.id == RECORD).cte("parent")
        source = core_select(*(new[name] for name in names), found.c.id).where(
            allowed(found.c, new)
        )
        columns = [column for column in table.columns if column.name in returned]
        written = (
            insert_into(table)
            .from_select([*names, parent_column], source)
            .returning(*columns)
            .cte("written")
        )
        ctes = logged_write(written, binds, announced or None, from_record=taken)
        if also is not None:
            ctes += also(written, new)
        shown = [column.label(f"{PARENT}{column.name}") for column in found.c]
        statement = core_select(*shown, *written.c).select_from(found.outerjoin(written, true()))
        return statement.add_cte(*ctes)

    returned = tuple(sorted(returning))
    key = (shape_key, caller_shape(principal), tuple(names), returned, *audited, *event)
    return key, build_statement, params


async def insert_row(
    session: AsyncSession,
    statement: tuple[Hashable, Callable[[], Select[Any]], dict[str, Any]],
) -> CoreRow[Any] | None:
    """Run `insert_statement`'s statement (its shape key, builder and values) through the
    session: its one row (see `insert_statement`)."""
    key, build_statement, params = statement
    connection = await session.connection()
    found = await connection.execute(built(key, build_statement), params)
    result: CoreRow[Any] | None = found.first()
    return result


async def revisions(
    session: AsyncSession,
    principal: Principal,
    row: Any,
    *,
    resource: str,
    case_id: uuid.UUID | None = None,
) -> list[RevisionRead]:
    """The correction history of `row`, its reading audited as `<resource>.revisions_read`."""
    audit(session, principal, resource, "revisions_read", row.id, case_id=case_id)
    return await revisions_of(session, type(row).__tablename__, row)
