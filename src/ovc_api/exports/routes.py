"""Exports: the organisation's cases, children or services as streaming CSV or NDJSON.

Rows are read through `COPY (...) TO STDOUT` on PostgreSQL (`exports.copying`), through a
server-side cursor (`yield_per`) on SQLite, and sent in batches of 1,000 as they come, so a
million-row export holds one batch in memory, never the file. The export is audited
(who, which variant, which filters) in the request's own transaction, which commits before the
first byte leaves: the streaming session commits only after the last one, and a client that
hangs up half-way must still leave its trace.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any, TypeVar, cast

import psycopg
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Select
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api import API_V1, service_kit, wire
from ovc_api.auth.principal import AnyPrincipal, Principal
from ovc_api.auth.scopes import Scope
from ovc_api.cases.filters import CaseFilters
from ovc_api.children.filters import ChildFilters
from ovc_api.clock import local_today
from ovc_api.db import Session, StreamingSession, set_tenant_context
from ovc_api.errors import Forbidden, Unprocessable, error_responses
from ovc_api.exports.copying import CopyPlan, copy_plan, csv_plan
from ovc_api.exports.queries import (
    DETAIL_LENGTH,
    Variant,
    case_export,
    child_export,
    service_export,
)
from ovc_api.exports.shapes import CsvLinesEncoder, Encoder, Row, Shape
from ovc_api.filtering import ListFilters
from ovc_api.formats import MEDIA_TYPES, Format, NotAcceptable, negotiate
from ovc_api.services.filters import ServiceFilters

router = APIRouter(prefix=API_V1, tags=["exports"])
Batches = AsyncGenerator[Sequence[Row], None]  # an export's rows, a batch at a time
BATCH_ROWS = 1000  # rows per batch of the COPY or the cursor, and per chunk sent
FORMATS = (Format.csv, Format.ndjson)
F = TypeVar("F", bound=ListFilters)
Build = Callable[[Principal, Variant, F, bool], tuple[Select[Any], Shape]]

ACCESS = """

**Who:** `variant=identified` (the default: names, birth dates, locations, ids) needs the
scopes cases:read **and** cases:all (organisation administrators, case managers).
Caseworkers cannot export (403): they see their assigned cases through the lists.
`variant=deidentified` needs stats:read or cases:all, so analysts may: no names, no free
text, location as province and district only, the birth date as an age band ("0-4", "5-9",
"10-14", "15-17", "18+", "unknown"; the age at the case's opening for cases, on the day of
the export for children), dates as months (`opened_month`, `closed_month`,
`last_contact_month`, `delivered_month`: YYYY-MM, never the day: beside the district, an
exact date can point at one child), no record ids (the child, where a row names one, as
`child_pseudonym`: a keyed hash under a random key thrown away after the export, so it
groups one export's rows of the same child and links to nothing else). Filters that single
children out (names, ids, commune) answer 422 in de-identified exports.

**Format:** `format=csv|ndjson` or `Accept: text/csv` / `application/x-ndjson` (anything
else: 406). CSV is RFC 4180 (header row, CRLF, UTF-8 without a byte-order mark; in CSV,
booleans are `true`/`false`, empty cells are nulls, concerns are joined with `;`).
NDJSON has one JSON object per line with the same columns. Always a download
(`Content-Disposition: attachment`), streamed as it is read, whatever its size.

**End:** the last line of every export says it is complete and how many data rows it has:
CSV `# end rows=N` (after the last record, a line of its own: skip it when reading, e.g.
pandas `skipfooter=1`), NDJSON `{"_end":true,"rows":N}`. An export without it was cut off
(server restart, database failure, network) and must not be used; the Python client and
`ovc-api export` check it, remove it from the file and raise on a truncated stream.

**Scope:** the caller's organisation's own records only, never records shared with it
through a referral. Every export is audited (variant and filters, not the rows).
"""

STREAMED = {
    200: {
        "description": "The export, streamed (CSV or NDJSON)",
        "content": {
            MEDIA_TYPES[Format.csv]: {"schema": {"type": "string"}},
            MEDIA_TYPES[Format.ndjson]: {"schema": {"type": "string"}},
        },
    },
    **error_responses(401, 403, 406, 422),
}


@dataclass(frozen=True)
class Exporter:
    """An authorised caller and the variant they may export."""

    principal: Principal
    variant: Variant
    # The request's own session (the one that authenticated the caller): it commits as soon
    # as the endpoint returns, before the first byte is streamed.
    session: AsyncSession


async def export_caller(
    principal: AnyPrincipal,
    session: Session,
    variant: Annotated[
        Variant,
        Query(description="identified (needs cases:read and cases:all) or deidentified"),
    ] = Variant.identified,
) -> Exporter:
    """403 before anything is read: identified rows are for those who see every case."""
    if variant is Variant.identified:
        if principal.has(Scope.cases_read) and principal.has(Scope.cases_all):
            return Exporter(principal, variant, session)
        if principal.has(Scope.stats_read):
            raise Forbidden(
                "Exports with names need the scopes cases:read and cases:all: "
                "ask for variant=deidentified (no names, ages as bands)"
            )
        raise Forbidden(
            "Exports need the scopes cases:read and cases:all (organisation administrators "
            "and case managers); caseworkers read their assigned cases through the lists"
        )
    if principal.has(Scope.stats_read) or principal.has(Scope.cases_all):
        return Exporter(principal, variant, session)
    raise Forbidden("De-identified exports need the scope stats:read or cases:all")


ExportCaller = Annotated[Exporter, Depends(export_caller)]
FormatChoice = Annotated[
    str | None,
    Query(
        alias="format",
        max_length=20,
        description="csv or ndjson; overrides the Accept header (anything else: 406)",
    ),
]


def _format(request: Request, requested: str | None) -> Format:
    chosen: Format | None = None
    if requested is not None:
        try:
            chosen = Format(requested)
        except ValueError:
            raise NotAcceptable(f"format must be one of: {', '.join(FORMATS)}") from None
    return negotiate(request, chosen, FORMATS)


def _check_variant(filters: ListFilters, variant: Variant) -> None:
    """Filters that single children out are for identified exports only."""
    if variant is not Variant.deidentified:
        return
    for name in filters.identifying_in_use():
        raise Unprocessable.field(
            ["query", name],
            f"`{name}` would single out children: not available in de-identified exports",
        )


def _audit(caller: Exporter, resource: str, fmt: Format, filters: ListFilters) -> None:
    """One event per export, in the request's own transaction, which commits before the
    first byte is streamed (and holds the only write lock SQLite allows)."""
    detail = " ".join(
        part for part in (f"variant={caller.variant} format={fmt}", filters.describe()) if part
    )
    if len(detail) > DETAIL_LENGTH:
        detail = detail[: DETAIL_LENGTH - 1] + "…"
    service_kit.audit(caller.session, caller.principal, resource, "export", detail=detail)


async def _chunks(batches: Callable[[], Batches], encoder: Encoder) -> AsyncIterator[bytes]:
    """The header, then one chunk per batch of rows.

    The last line carries the row count (see **End:** in ACCESS): only a stream that
    reached it is whole.

    The query runs here, on the first chunk, not before the response starts: a client that
    hangs up before reading leaves no half-read query behind; one that hangs up later gets
    it ended, so the connection goes back to the pool with its transaction ended (or is
    closed).
    """
    if header := encoder.header():
        yield header
    count = 0
    async with contextlib.aclosing(batches()) as rows_of:
        async for rows in rows_of:
            count += len(rows)
            yield encoder.encode(rows)
    yield encoder.trailer(count)


async def _fetched(connection: AsyncConnection, statement: Any) -> Batches:
    """The rows in batches of a server-side cursor (`yield_per`): SQLite's way."""
    result = await connection.stream(statement.execution_options(yield_per=BATCH_ROWS))
    try:
        async for rows in result.partitions():
            yield rows
    finally:
        await result.close()


async def _copied(connection: AsyncConnection, plan: CopyPlan, *, parsed: bool = True) -> Batches:
    """The rows in batches of `COPY (statement) TO STDOUT` (`exports.copying`,
    `ovc_api.wire.copy_out`): PostgreSQL's way, read back into values (`parsed`) or, for a
    CSV PostgreSQL wrote, its lines as they are. Each value is written as text by the
    database as its row leaves, after the sort (bench/README.md: the first row of a 1M-case
    export 10 s after the start, as COPY's own, against 14-17 s through a cursor of text
    rendered in the statement)."""
    if plan.settings:  # the COPY's values, as bind parameters (`CopyPlan`)
        names = [f"set_config(:name_{i}, :value_{i}, true)" for i in range(len(plan.settings))]
        values: dict[str, str] = {}
        for i, (name, value) in enumerate(plan.settings.items()):
            values |= {f"name_{i}": name, f"value_{i}": value}
        await connection.execute(text(f"SELECT {', '.join(names)}"), values)
    raw = cast(
        psycopg.AsyncConnection[Any], (await connection.get_raw_connection()).driver_connection
    )
    # Statement counters (tests, benchmarks) see it as any other.
    listeners = connection.sync_engine.dispatch.before_cursor_execute
    if listeners:
        listeners(None, None, plan.sql, {}, None, False)
    parse = plan.parser(raw.info.encoding) if parsed else None
    async with contextlib.aclosing(wire.copy_out(raw, plan.sql, BATCH_ROWS)) as lines:
        async for batch in lines:
            yield batch if parse is None else [parse(line) for line in batch]


async def _export(
    request: Request,
    session: StreamingSession,
    caller: Exporter,
    requested_format: str | None,
    resource: str,
    collection: str,
    filters: F,
    build: Build[F],
) -> StreamingResponse:
    _check_variant(filters, caller.variant)
    fmt = _format(request, requested_format)
    postgres = bool(session.info.get("is_postgres"))
    statement, shape = build(caller.principal, caller.variant, filters, postgres)
    _audit(caller, resource, fmt, filters)
    # The principal dependency bound its own session to the organisation, not this one.
    await set_tenant_context(session, caller.principal.organisation_id)
    # Plain columns need no ORM: the session's own connection (its transaction, its tenant
    # context) streams them (COPY on PostgreSQL, a server-side cursor on SQLite), minus the
    # ORM's work per row.
    connection = await session.connection()
    chunks: AsyncIterator[bytes]
    if postgres:
        # COPY writes dates and timestamps in the ISO style, in UTC (the shape reshapes
        # them). The export's own timeouts replace the requests' short ones: the COPY, and
        # each pause while the client reads, is bounded by the export setting instead.
        timeout = str(round(request.app.state.settings.export_statement_timeout_seconds * 1000))
        await connection.execute(
            text(
                "SELECT set_config('DateStyle', 'ISO', true),"
                " set_config('TimeZone', 'UTC', true),"
                " set_config('statement_timeout', :timeout, true),"
                " set_config('idle_in_transaction_session_timeout', :timeout, true)"
            ),
            {"timeout": timeout},
        )
        if fmt is Format.csv and (lines := csv_plan(statement, shape, connection.dialect)):
            copied = partial(_copied, connection, lines, parsed=False)
            chunks = _chunks(copied, CsvLinesEncoder(shape))
        else:
            plan = copy_plan(statement, shape.typed, connection.dialect)
            chunks = _chunks(partial(_copied, connection, plan), shape.encoder(fmt))
    else:
        chunks = _chunks(partial(_fetched, connection, statement), shape.encoder(fmt))
    variant = "" if caller.variant is Variant.identified else f"-{caller.variant}"
    filename = f"{collection}{variant}-{local_today():%Y%m%d}.{fmt}"
    return StreamingResponse(
        chunks,
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _add_export(
    collection: str, resource: str, filters: type[F], build: Build[F], summary: str, says: str
) -> None:
    """GET /exports/<collection>: the list's filters (`filters`), rows built by `build`."""

    async def export(
        request: Request,
        session: StreamingSession,
        caller: ExportCaller,
        filters: Any,
        requested_format: FormatChoice = None,
    ) -> StreamingResponse:
        return await _export(
            request, session, caller, requested_format, resource, collection, filters, build
        )

    parameters = dict(inspect.signature(export).parameters)
    parameters["filters"] = parameters["filters"].replace(annotation=Annotated[filters, Depends()])
    export.__signature__ = inspect.Signature(list(parameters.values()))  # type: ignore[attr-defined]
    router.add_api_route(
        f"/exports/{collection}",
        export,
        methods=["GET"],
        name=f"export_{collection}",
        summary=summary,
        description=says + ACCESS,
        response_model=None,
        response_class=StreamingResponse,
        responses=STREAMED,
    )


_add_export(
    "cases",
    "case",
    CaseFilters,
    case_export,
    "Export the organisation's cases with their child (CSV or NDJSON, streamed)",
    "The filters of GET /api/v1/cases (`child_id` and `q` in identified exports only); rows "
    "in order of opening.",
)
_add_export(
    "children",
    "child",
    ChildFilters,
    child_export,
    "Export the organisation's children (CSV or NDJSON, streamed)",
    "The filters of GET /api/v1/children (`q`, `commune` and `family_id` in identified "
    "exports only; `archived=true` exports archived children instead); oldest records first.",
)
_add_export(
    "services",
    "service",
    ServiceFilters,
    service_export,
    "Export the services the organisation delivered (CSV or NDJSON, streamed)",
    "The filters of GET /api/v1/services (`case_id`, `family_id` and `referral_id` in "
    "identified exports only); in order of delivery.",
)
