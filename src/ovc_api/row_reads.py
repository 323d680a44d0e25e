"""How a kind of record is read on the hot path: Core rows, validated and serialized once.

The case list and one case were the first reads served this way (`http_epilogue.rows_page`,
`service_kit.read_row`); children, households, services delivered and referrals take the
same path through a `RowReads`: the statement of labelled columns a caller may read (built
once per shape for a stand-in caller, `ovc_api.prepared`), how a row becomes the response
item's fields, and the `TypeAdapter`s that validate and serialize the page or the record
once. No ORM objects, no second validation of what the database returned; on PostgreSQL
the page or record and its read-audit row are one statement.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from fastapi import Request, Response
from pydantic import BaseModel, TypeAdapter
from sqlalchemy import select
from sqlalchemy.engine import Row
from sqlalchemy.sql import Select
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api import http_epilogue as http
from ovc_api.auth.principal import Principal
from ovc_api.pagination import Page, PageParams, Sort
from ovc_api.service_kit import read_row
from ovc_api.tenancy import visible

# (caller, single_read, is_postgres) -> labelled columns
Build = Callable[[Principal, bool, bool], Select[Any]]
Where = Callable[[Any, Principal], Any]  # (statement, caller) -> with the list's filters


def row_fields(row: Any) -> dict[str, Any]:
    """A row whose columns are named like the response model's fields, as those fields."""
    return dict(row._mapping)


@dataclass(frozen=True)
class RowReads:
    """One kind read as Core rows.

    `build` selects what the caller may read, the columns labelled: the response fields,
    `id`, `organisation_id`, `version` (the ETag) and the list's sort keys by their names;
    `single_read` (a GET of one record) also admits what a referral shares when `shared`.
    `item` turns a row into the response item (fields, or a model built per caller).
    `from_record` names the audit columns a single read takes from the record (audit column
    -> record column, e.g. `case_id`). `audits_rows`: the kind's own read audit takes a Core
    row, and audits the reads the combined statement does not (SQLite; a row of another
    organisation, reached through a widening); otherwise those are audited as reads through
    a share (`service_kit.read_shared`)."""

    name: str  # prefix of the statements' shape keys: "<name>.list", "<name>.read"
    model: Any
    read: type[BaseModel]
    listed: type[BaseModel]
    build: Build
    item: Callable[[Any], Any] = row_fields
    shared: bool = False
    from_record: Mapping[str, str] = field(default_factory=dict)
    audits_rows: bool = False

    def __post_init__(self) -> None:
        # TypeAdapters are built once per kind (building one costs milliseconds).
        object.__setattr__(self, "page", TypeAdapter(cast(Any, Page)[self.listed]))
        object.__setattr__(self, "one", TypeAdapter(self.read))

    page: TypeAdapter[Any] = field(init=False, repr=False, compare=False)
    one: TypeAdapter[Any] = field(init=False, repr=False, compare=False)

    def dump_one(self, row: Any) -> bytes:
        """One record's JSON, validated once."""
        return self.one.dump_json(self.one.validate_python(self.item(row)))


def table_reads(
    name: str,
    model: Any,
    read: type[BaseModel],
    *,
    listed: type[BaseModel] | None = None,
    extra: Iterable[str] = (),
    item: Callable[[Any], Any] = row_fields,
    shared: bool = False,
    from_record: Mapping[str, str] | None = None,
    audits_rows: bool = False,
) -> RowReads:
    """`RowReads` of one table: the columns named like the response models' fields, plus
    `id`, `organisation_id`, `version` and `extra`, where the visibility rules admit."""
    table = model.__table__
    wanted = {"id", "organisation_id", "version", *extra}
    for schema in (read, listed or read):
        wanted.update(schema.model_fields)
    columns = [column for column in table.columns if column.name in wanted]

    def build(caller: Principal, single_read: bool, is_postgres: bool) -> Select[Any]:
        return select(*columns).where(visible(caller, model, single_read=single_read))

    return RowReads(
        name=name,
        model=model,
        read=read,
        listed=listed or read,
        build=build,
        item=item,
        shared=shared,
        from_record=dict(from_record or {}),
        audits_rows=audits_rows,
    )


def is_postgres(session: AsyncSession) -> bool:
    return bool(session.info.get("is_postgres"))


async def list_rows(
    rows: RowReads,
    session: AsyncSession,
    principal: Principal,
    pagination: PageParams,
    sort: Sort,
    request: Request,
    response: Response,
    *,
    audit_as: str,
    where: Where | None = None,
    key: Hashable | None = (),
    item: Callable[[Any], Any] | None = None,
    via: Callable[[Any], uuid.UUID | None] | None = None,
) -> Response:
    """A keyset page of the kind (`http_epilogue.rows_page`): `where` adds the list's filters
    for a caller; `key` names what else of them changes the SQL (None: they carry values,
    the statement is built for this request); `item` shapes a row for this caller (default
    the kind's); `via` names the referral a row of another organisation was reached
    through (its owner's log)."""
    postgres = is_postgres(session)

    def build(caller: Principal) -> Any:
        statement = rows.build(caller, False, postgres)
        return statement if where is None else where(statement, caller)

    return await http.rows_page(
        session,
        principal,
        build,
        item or rows.item,
        rows.page,
        pagination,
        sort,
        request,
        response,
        audit_as=audit_as,
        shape_key=None if key is None else (f"{rows.name}.list", key),
        via=via,
    )


async def read_one(
    rows: RowReads,
    session: AsyncSession,
    principal: Principal,
    record_id: uuid.UUID,
    *,
    resource: str,
    audit: Callable[[AsyncSession, Principal, Any], Any] | None = None,
) -> Row[Any]:
    """One record of the kind as a Core row (404 outside the caller's scope; a GET of one
    record also admits what a referral shares when the kind is `shared`), its read audited
    in the same statement on PostgreSQL (`service_kit.read_row`; `audit`: the kind's own
    audit of the reads that statement does not cover)."""
    postgres = is_postgres(session)

    def build(caller: Principal) -> Any:
        return rows.build(caller, rows.shared, postgres)

    return await read_row(
        session,
        principal,
        build,
        rows.model,
        record_id,
        resource=resource,
        shape_key=f"{rows.name}.read",
        from_record=rows.from_record,
        audit=audit,
    )
