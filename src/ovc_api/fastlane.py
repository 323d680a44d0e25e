"""The hottest read, `GET /api/v1/cases/{case_id}`, served ahead of FastAPI's router.

A request of the common kind (PostgreSQL, a person's bearer token, a case of the caller's
own organisation) costs here one round trip for its statements and one for the COMMIT:
libpq's pipeline mode (`ovc_api.wire`) sends BEGIN, the credential check that binds the
tenant (the very statement `ovc_api.auth.principal` runs) and the case's read with its
audit row (the shape of `service_kit.read_row`'s and `rows_page`'s statements, compiled
once per shape, its rows carrying each case's JSON as the database writes it:
`cases.queries.case_json_rows`) together, on the raw connection of the pool's, with no
dependency resolution and no route matching over every path. What the credential check
finds is then checked as `authenticate` and `current_principal` check it; the rate limit
is counted as there.

Anything else is *declined* before anything is answered: the transaction (read and audit
row with it) is rolled back and the request goes on to the documented FastAPI route as if
this one did not exist, which answers it exactly as before (the 401 of a revoked token, the
403 of a temporary password, the 404 of another organisation's case, a case read through a
referral, an API key, SQLite...). The route is not in the OpenAPI document: the FastAPI
route stays the documented one.
"""

from __future__ import annotations

import contextlib
import functools
import json
import operator
import re
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, overload
from urllib.parse import parse_qsl

import psycopg
from fastapi import FastAPI
from psycopg import pq
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.util import greenlet_spawn
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import Receive, Scope, Send

from ovc_api import API_V1, wire
from ovc_api.auth.principal import _JWT_PRINCIPAL_PG, Principal
from ovc_api.auth.scopes import ROLE_SCOPES
from ovc_api.auth.scopes import Scope as Needed
from ovc_api.auth.tokens import InvalidToken, api_key_prefix, decode_access_token
from ovc_api.concurrency import etag_of
from ovc_api.errors import ProblemError
from ovc_api.pagination import DEFAULT_LIMIT, MAX_LIMIT, PageParams, finish_page
from ovc_api.prepared import built, driver_values

# What each request's transaction starts with, in the statements' round trip. psycopg
# prepares a statement run often; PostgreSQL would still plan it again at each run (the
# policies' sub-plans make the generic plan look dear), 2.5-4 ms for a read that runs in
# 0.6 ms. These statements' plans do not depend on their values (a key, a tenant, a page).
_PREAMBLE = (b"BEGIN", b"SET LOCAL plan_cache_mode = force_generic_plan")
_PREPARED = "ovc.wire.prepared"  # the pool connection's info: what `wire` prepared on it
DECLINED = "ovc.fastlane.declined"  # scope key: this request goes to the FastAPI route
CASES_PATH = f"{API_V1}/cases"
CASE_PATH = f"{CASES_PATH}/{{case_id}}"
JSON = "application/json"
PAGE_QUERY = frozenset({"limit", "cursor", "sort"})
# A case id in its canonical form only (any other spelling is the route's to validate).
_CASE_PATH_RE = re.compile(
    rf"^{re.escape(API_V1)}/cases/([0-9a-fA-F]{{8}}-(?:[0-9a-fA-F]{{4}}-){{3}}[0-9a-fA-F]{{12}})$"
)
# A token's scopes are its role's when it was issued: the role the read is built for. The
# credential check reads the role the user has now; another role declines the request.
_ROLE_OF_SCOPES = {frozenset(s.value for s in scopes): role for role, scopes in ROLE_SCOPES.items()}


# A UUID's number (compared in C, not by `UUID.__eq__`, for every row of a page).
_UUID_INT = operator.attrgetter("int")


class Declined(Exception):
    """This request is not the fast path's: the FastAPI route answers it."""


@dataclass(frozen=True)
class Compiled:
    """A statement compiled once for psycopg: its SQL, how values become parameters and
    how a row's values become what SQLAlchemy would have returned."""

    sql: str
    params: Callable[[dict[str, Any]], dict[str, Any]]
    names: tuple[str, ...]
    results: tuple[Callable[[Any], Any] | None, ...]
    prepared: wire.Prepared

    @classmethod
    def of(cls, statement: Any, engine: AsyncEngine, *, text_as_bytes: bool = False) -> Compiled:
        """`text_as_bytes`: its text columns as the database's UTF-8 bytes (`wire.Prepared`)."""
        dialect = engine.dialect
        compiled = statement.compile(dialect=dialect)
        if compiled.literal_execute_params or compiled.post_compile_params:
            raise TypeError("a statement with expanding parameters cannot be compiled once")
        columns = compiled._result_columns
        return cls(
            sql=compiled.string,
            params=driver_values(compiled),
            names=tuple(column[0] for column in columns),
            results=tuple(column[3]._cached_result_processor(dialect, None) for column in columns),
            prepared=wire.Prepared(compiled.string, text_as_bytes),
        )

    def row(self, values: tuple[Any, ...], columns: tuple[str, ...]) -> FastRow:
        if not self.names:  # a textual statement: its columns as the database names them
            return FastRow(values, {name: i for i, name in enumerate(columns)}, None)
        return FastRow(values, self.index, self.results)

    @functools.cached_property
    def index(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.names)}


class FastRow:
    """A result row as `service_kit.read_row`'s callers use one: `_mapping` and attributes,
    a value converted as SQLAlchemy would (its result processor) when it is read (a list
    page reads two of a row's columns)."""

    __slots__ = ("_index", "_results", "_values")

    def __init__(
        self,
        values: tuple[Any, ...],
        index: Mapping[str, int],
        results: tuple[Callable[[Any], Any] | None, ...] | None,
    ) -> None:
        self._values = values
        self._index = index
        self._results = results

    def __getattr__(self, name: str) -> Any:
        try:
            position = self._index[name]
        except KeyError:
            raise AttributeError(name) from None
        value = self._values[position]
        process = None if self._results is None else self._results[position]
        return value if process is None else process(value)

    @property
    def _mapping(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._index}


class FastRows(Sequence[FastRow]):
    """A statement's rows as `FastRow`s, each made when it is first taken; `column` reads
    one column of every row without making any (a page's JSON items, its organisations)."""

    __slots__ = ("_columns", "_compiled", "_made", "_values")

    def __init__(
        self, compiled: Compiled, values: list[tuple[Any, ...]], columns: tuple[str, ...]
    ) -> None:
        self._compiled = compiled
        self._values = values
        self._columns = columns
        self._made: dict[int, FastRow] = {}

    def __len__(self) -> int:
        return len(self._values)

    @overload
    def __getitem__(self, index: int) -> FastRow: ...

    @overload
    def __getitem__(self, index: slice) -> FastRows: ...

    def __getitem__(self, index: int | slice) -> FastRow | FastRows:
        if isinstance(index, slice):  # the rows in the slice, none made yet
            return FastRows(self._compiled, self._values[index], self._columns)
        if index < 0:
            index += len(self._values)
        row = self._made.get(index)
        if row is None:
            row = self._made[index] = self._compiled.row(self._values[index], self._columns)
        return row

    def column(self, name: str) -> list[Any]:
        """Column `name` of every row, converted as SQLAlchemy would."""
        compiled = self._compiled
        if compiled.names:
            position = compiled.index[name]
            process = compiled.results[position]
        else:  # a textual statement: its columns as the database names them
            position, process = self._columns.index(name), None
        values = [row[position] for row in self._values]
        return values if process is None else [process(value) for value in values]


@dataclass(frozen=True)
class Lease:
    """A pool connection lent for one request: the pool's proxy of it (to hand it back or
    invalidate it), the psycopg connection under it (`ovc_api.wire` drives its libpq
    connection), what `wire` has prepared on it (kept in the pool record's `info`, cleared
    with the connection) and the engine it came from (its events and dialect)."""

    fairy: PoolProxiedConnection
    raw: psycopg.AsyncConnection[Any]
    prepared: dict[Any, bytes]
    engine: Engine

    async def invalidate(self) -> None:
        await greenlet_spawn(self.fairy.invalidate)


@contextlib.asynccontextmanager
async def lent(engine: AsyncEngine) -> AsyncIterator[Lease]:
    """A pool connection for the request's statements, sent by `ovc_api.wire` with their
    BEGIN in one round trip (psycopg's own state is not used: it stays out of a
    transaction as far as psycopg knows). One handed back still in a transaction (a
    request cancelled mid-statement) or broken is not reused.

    Taken from the pool itself (`Engine.raw_connection`), not through an `AsyncConnection`:
    the same checkout, reset and return, in two greenlet switches instead of five (a third
    of the cost of a GET one's whole exchange with PostgreSQL; bench/README.md)."""
    sync_engine = engine.sync_engine
    fairy = await greenlet_spawn(sync_engine.raw_connection)
    try:
        raw = fairy.driver_connection
        assert raw is not None
        lease = Lease(fairy, raw, fairy.info.setdefault(_PREPARED, {}), sync_engine)
        try:
            yield lease
        finally:
            if fairy.is_valid and (
                raw.closed
                or raw.broken
                or raw.pgconn.transaction_status != pq.TransactionStatus.IDLE
            ):
                await lease.invalidate()
    finally:
        await greenlet_spawn(fairy.close)


def _plain_page_query(scope: Scope) -> dict[str, str]:
    """A list's query string of nothing but `limit`, `cursor` and `sort`, each at most once
    (anything else, filters included, is the route's)."""
    raw = scope.get("query_string", b"")
    if not raw:
        return {}
    try:
        pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise Declined from None
    query = dict(pairs)
    if len(query) != len(pairs) or not query.keys() <= PAGE_QUERY:
        raise Declined
    return query


def page_params(query: Mapping[str, str]) -> PageParams:
    """`limit` and `cursor` as `ovc_api.pagination.page_params` takes them, when valid."""
    limit = query.get("limit", str(DEFAULT_LIMIT))
    cursor = query.get("cursor")
    if not (limit.isascii() and limit.isdigit()) or int(limit) < 1:
        raise Declined
    if cursor is not None and len(cursor) > 1000:
        raise Declined
    return PageParams(limit=min(int(limit), MAX_LIMIT), cursor=cursor)


def _bearer(scope: Scope) -> str | None:
    """The bearer token as `OAuth2PasswordBearer` reads it (the first Authorization header)."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token if scheme.lower() == "bearer" and token else None
    return None


def person(
    app: FastAPI, scope: Scope, needed: Needed, *, read_only: bool
) -> tuple[Principal, dict[str, Any]]:
    """The caller as its bearer token says (a person whose role, as the token's scopes
    name it, holds `needed`), and the values of the credential check (`_JWT_PRINCIPAL_PG`),
    which commits a read without waiting for the WAL flush as `authenticate` does."""
    token = _bearer(scope)
    if token is None or api_key_prefix(token) is not None:
        raise Declined
    try:
        claims = decode_access_token(app.state.settings, token)
    except InvalidToken:
        raise Declined from None
    role = _ROLE_OF_SCOPES.get(frozenset(claims.scopes))
    if role is None or needed not in ROLE_SCOPES[role]:
        raise Declined
    client = scope.get("client")
    principal = Principal.of_person(
        role,
        claims.organisation_id,
        claims.user_id,
        session_id=claims.session_id,
        client_ip=client[0] if client else None,
        request_id=scope.get("state", {}).get("request_id"),
        read_only=read_only,
    )
    credential = {
        "org": str(claims.organisation_id),
        "sync": "off" if read_only else "on",
        "user_id": claims.user_id,
        "session_id": claims.session_id,
    }
    return principal, credential


def check_credential(found: Sequence[FastRow], principal: Principal) -> None:
    """What the credential check found, checked as `authenticate` and `current_principal`
    check it: Declined when the login is revoked, the role has changed since the token
    was issued, or the password is a temporary one."""
    credential = found[0] if found else None
    if (
        credential is None
        or not credential.live
        or principal.role is None
        or credential.role != principal.role.value
        or credential.must_change_password
    ):
        raise Declined


@dataclass(frozen=True)
class _Template:
    """What logs and metrics name a request by (`scope["route"].path`): the FastAPI route's
    path template."""

    path: str


class FastCaseRead(BaseRoute):
    """`GET /api/v1/cases/{case_id}` and the plain case list `GET /api/v1/cases` (`limit`,
    `cursor` and `sort` only) for the common request, ahead of the router."""

    path = path_format = CASE_PATH

    def __init__(self, app: FastAPI) -> None:
        self.fastapi = app
        self.credential: Compiled | None = None

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and scope["method"] == "GET" and DECLINED not in scope:
            path = scope["path"]
            if path == CASES_PATH:
                return Match.FULL, {"route": _Template(CASES_PATH)}
            if _CASE_PATH_RE.match(path):
                return Match.FULL, {"route": _Template(CASE_PATH)}
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            response = await self._answer(scope)
        except Declined:
            scope[DECLINED] = True
            await scope["router"].app(scope, receive, send)
            return
        await response(scope, receive, send)

    def _caller(self, scope: Scope) -> tuple[Principal, dict[str, Any]]:
        """The caller as its token says, and the credential check's values."""
        return person(self.fastapi, scope, Needed.cases_read, read_only=True)

    async def _answer(self, scope: Scope) -> Response:
        database = self.fastapi.state.database
        if not database.is_postgres:
            raise Declined
        principal, credential_values = self._caller(scope)
        engine = database.engine
        if scope["path"] == CASES_PATH:
            read, values, finish = self._page(scope, principal, engine)
        else:
            read, values, finish = self._one(scope, principal, engine)
        if self.credential is None:
            self.credential = Compiled.of(_JWT_PRINCIPAL_PG, engine)
        async with lent(engine) as lease:
            found, rows = await self._run(
                lease, [(self.credential, credential_values), (read, values)]
            )
            try:
                check_credential(found, principal)
                organisations = set(map(_UUID_INT, rows.column("organisation_id")))
                if organisations - {principal.organisation_id.int}:
                    raise Declined  # read through a share or a widening: audited otherwise
                await self.fastapi.state.rate_limiter.check(Request(scope), principal)
                response = finish(rows)
            except BaseException:
                await self._rollback(lease)
                raise
            await self._commit(lease)
        return response

    def _one(
        self, scope: Scope, principal: Principal, engine: AsyncEngine
    ) -> tuple[Compiled, dict[str, Any], Callable[[FastRows], Response]]:
        from ovc_api.cases.queries import CASE_ROWS, case_json_rows
        from ovc_api.cases.service import RESOURCE
        from ovc_api.service_kit import read_statement

        match = _CASE_PATH_RE.match(scope["path"])
        try:
            case_id = uuid.UUID(match.group(1)) if match else None
        except ValueError:
            raise Declined from None
        if case_id is None:
            raise Declined
        key, build, values = read_statement(
            principal,
            lambda caller: case_json_rows(caller, single_read=CASE_ROWS.shared),
            CASE_ROWS.model,
            case_id,
            resource=RESOURCE,
            shape_key=f"{CASE_ROWS.name}.read.json",
            from_record=CASE_ROWS.from_record,
            postgres=True,
        )

        def finish(rows: FastRows) -> Response:
            if not rows:
                raise Declined  # missing, or not the caller's to see: the route's 404
            (row,) = rows
            # The case's JSON as the database wrote it (`case_json_rows`), as its bytes.
            return Response(row.item, headers={"ETag": etag_of(row)}, media_type=JSON)

        return (
            built(("fastlane", key), lambda: Compiled.of(build(), engine, text_as_bytes=True)),
            values,
            finish,
        )

    def _page(
        self, scope: Scope, principal: Principal, engine: AsyncEngine
    ) -> tuple[Compiled, dict[str, Any], Callable[[FastRows], Response]]:
        from ovc_api.cases.filters import CaseListQuery
        from ovc_api.cases.queries import CASE_ROWS, case_json_rows
        from ovc_api.cases.routes import SORTS
        from ovc_api.cases.service import RESOURCE
        from ovc_api.http_epilogue import json_response, page_statement

        query = _plain_page_query(scope)
        sort_name = query.get("sort", CaseListQuery.sort)
        if sort_name not in SORTS:
            raise Declined
        sort = SORTS[sort_name]
        pagination = page_params(query)
        try:
            key, build, values = page_statement(
                principal,
                # No filter: the route's `CaseListQuery` with its defaults.
                lambda caller: case_json_rows(caller, keys=[key.name for key in sort.keys]),
                pagination,
                sort,
                audit_as=RESOURCE,
                shape_key=(f"{CASE_ROWS.name}.list.json", ()),
                case_id=None,
                postgres=True,
            )
        except ProblemError:
            raise Declined from None  # a malformed cursor: the route's 422
        if key is None:
            raise Declined

        def finish(rows: FastRows) -> Response:
            headers = Response()
            shown, next_cursor = finish_page(
                rows,
                pagination,
                sort.keys,
                sort_name=sort.name,
                key_values=sort.labelled_values,
                request=Request(scope),
                response=headers,
            )
            # The items' JSON as the database wrote it (`case_json_rows`), in the envelope
            # `Page` gives them: `{"items":[...],"next_cursor":...}`.
            items = b",".join(shown.column("item"))
            cursor = "null" if next_cursor is None else json.dumps(next_cursor)
            body = b'{"items":[%b],"next_cursor":%b}' % (items, cursor.encode())
            return json_response(body, headers)

        return (
            built(("fastlane", key), lambda: Compiled.of(build(), engine, text_as_bytes=True)),
            values,
            finish,
        )

    async def _run(
        self, lease: Lease, statements: list[tuple[Compiled, dict[str, Any]]]
    ) -> list[FastRows]:
        """Run BEGIN and the statements in one round trip (`ovc_api.wire`): the rows of
        each, the transaction left open until `_commit` or `_rollback`."""
        # Statement counters (tests, benchmarks) see these statements as any other, and
        # not the BEGIN, as they see SQLAlchemy's.
        listeners = lease.engine.dispatch.before_cursor_execute
        sent = []
        for compiled, values in statements:
            params = compiled.params(values)
            if listeners:
                listeners(None, None, compiled.sql, params, None, False)
            sent.append((compiled.prepared, params))
        try:
            results = await wire.run(lease.raw, lease.prepared, _PREAMBLE, sent)
        except psycopg.Error as exc:
            await self._fail(lease, exc)
            raise AssertionError("unreachable") from exc
        return [
            FastRows(compiled, result.rows, result.columns)
            for (compiled, _values), result in zip(statements, results, strict=True)
        ]

    async def _commit(self, lease: Lease) -> None:
        await self._finish(lease, b"COMMIT")

    async def _rollback(self, lease: Lease) -> None:
        await self._finish(lease, b"ROLLBACK")

    async def _finish(self, lease: Lease, command: bytes) -> None:
        try:
            await wire.finish(lease.raw, command)
        except psycopg.Error as exc:
            await self._fail(lease, exc)

    async def _fail(self, lease: Lease, exc: psycopg.Error) -> None:
        """Raise a driver error as SQLAlchemy would (what `ovc_api.db.database_fault`
        classifies: 503, or a read run again), the pool's connection invalidated when
        it is broken."""
        invalidated = bool(lease.raw.broken or lease.raw.closed)
        if invalidated:
            await lease.invalidate()
        raise DBAPIError.instance(
            None,
            None,
            exc,
            psycopg.Error,
            hide_parameters=True,
            connection_invalidated=invalidated,
            dialect=lease.engine.dialect,
        ) from exc


def install(app: FastAPI) -> None:
    """Put the fast path ahead of every route (it declines to them what it does not serve)."""
    app.router.routes.insert(0, FastCaseRead(app))
    app.router._mark_routes_changed()
