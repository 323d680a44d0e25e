"""Engine, the request's session (which owns the transaction) and schema checks.

Query code never commits: :func:`get_session` commits when the endpoint succeeds and rolls
back when it raises. On PostgreSQL the same transaction carries the caller's organisation
as a transaction-local setting that row-level security policies read.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from alembic.config import Config
from alembic.script import ScriptDirectory
from fastapi import Depends, Request
from sqlalchemy import DateTime, MetaData, event, text
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api.clock import recording_moment
from ovc_api.errors import Conflict, ProblemError
from ovc_api.settings import Settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION
metadata: MetaData = SQLModel.metadata


def utcnow() -> datetime:
    return recording_moment() or datetime.now(UTC)


def new_id() -> uuid.UUID:
    return uuid.uuid4()


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime stored; use ovc_api.db.utcnow()")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class Timeouts:
    """Bounds on waiting for the database; 0 turns one off. See the README's configuration."""

    connect_seconds: float = 5
    statement_seconds: float = 30
    idle_in_transaction_seconds: float = 60
    pool_checkout_seconds: float = 10

    @classmethod
    def from_settings(cls, settings: Settings) -> Timeouts:
        return cls(
            connect_seconds=settings.database_connect_timeout_seconds,
            statement_seconds=settings.database_statement_timeout_seconds,
            idle_in_transaction_seconds=settings.database_idle_in_transaction_timeout_seconds,
            pool_checkout_seconds=settings.database_pool_timeout_seconds,
        )


def _milliseconds(seconds: float) -> int:
    return max(0, round(seconds * 1000))


def create_engine(
    url: str, pool_size: int = 20, *, timeouts: Timeouts | None = None
) -> AsyncEngine:
    """An engine that never writes bound parameters (children's names) into exceptions or
    logs (`hide_parameters`), and never waits on the database without a bound.

    Without ``timeouts`` (migrations) only the connect timeout applies: a schema change may
    rightly take longer than any request.
    """
    limits = timeouts or Timeouts(statement_seconds=0, idle_in_transaction_seconds=0)
    if url.startswith("sqlite"):
        # SQLite's "connect timeout" is how long a writer waits for the lock.
        engine = create_async_engine(
            url,
            hide_parameters=True,
            connect_args={"timeout": max(limits.connect_seconds, 30)},
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    connect_args: dict[str, Any] = {}
    if limits.connect_seconds > 0:
        # libpq counts whole seconds and ignores values below 2.
        connect_args["connect_timeout"] = max(2, math.ceil(limits.connect_seconds))
    options = [
        f"-c statement_timeout={_milliseconds(limits.statement_seconds)}",
        f"-c idle_in_transaction_session_timeout="
        f"{_milliseconds(limits.idle_in_transaction_seconds)}",
        # No JIT compilation: row-level security's sub-plans inflate the planner's cost of
        # even a 50-row page read past `jit_above_cost`, and compiling it cost 40-150 ms a
        # request for a statement that runs in 0.3 ms (1M cases; bench/README.md).
        "-c jit=off",
    ]
    connect_args["options"] = " ".join(options)
    # No pre-ping: it costs a round trip on every request. A connection found dead raises
    # once, is invalidated by the pool, and the next request gets a fresh one.
    # No overflow: the pool closes an overflow connection as soon as it is handed back, so
    # under a steady load above `pool_size` a share of requests paid for a new backend (its
    # start, and the plans and catalog caches it had yet to build): 8% of GET one's
    # requests at 16 concurrent requests on a pool of 10 (bench/README.md). Every
    # connection the pool opens stays for the next request; beyond `pool_size` a request
    # waits for one (`pool_timeout`, then 503).
    return create_async_engine(
        url,
        hide_parameters=True,
        pool_size=pool_size,
        max_overflow=0,
        pool_recycle=1800,
        pool_timeout=limits.pool_checkout_seconds,
        connect_args=connect_args,
    )


@dataclass
class Database:
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    is_postgres: bool

    @classmethod
    def from_settings(cls, settings: Settings, *, owner: bool = False) -> Database:
        """The application role's database; ``owner``: the schema owner's (the migration
        URL), for command-line administration only (demo data, the first administrator):
        on PostgreSQL only the owner can open every organisation's rows (``system``).
        The owner's engine, like migrations', is not bound by the requests' timeouts."""
        url = settings.migration_database_url if owner else settings.database_url
        engine = create_engine(
            url,
            settings.database_pool_size,
            timeouts=None if owner else Timeouts.from_settings(settings),
        )
        return cls(
            engine=engine,
            sessionmaker=async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False),
            is_postgres=engine.dialect.name == "postgresql",
        )

    def session(self) -> AsyncSession:
        session = self.sessionmaker()
        session.info["is_postgres"] = self.is_postgres
        return session


@asynccontextmanager
async def unit_of_work(database: Database) -> AsyncIterator[AsyncSession]:
    """A transaction: commit on success, roll back on any error.

    A serialization failure or deadlock rolls back here like any error; the request is then
    run again, its unit of work with it, by RequestContextMiddleware (a block cannot be
    re-entered from inside a context manager), up to TRANSACTION_ATTEMPTS times.
    """
    async with database.session() as session:
        try:
            yield session
        except ProblemError as exc:
            await (session.commit() if exc.keep_changes else session.rollback())
            raise
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's unit of work, committed before the response is sent."""
    async with unit_of_work(request.app.state.database) as session:
        yield session


async def get_streaming_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A second unit of work that lives until a streamed body's last byte.

    A distinct dependency on purpose: FastAPI caches dependencies by function, so reusing
    get_session here would hand the principal's (and the audit's) writes to this session
    and hold them, and SQLite's write lock, for the whole stream.
    """
    async with unit_of_work(request.app.state.database) as session:
        yield session


Session = Annotated[AsyncSession, Depends(get_session, scope="function")]
# For streaming responses: the session lives until the last byte is sent.
StreamingSession = Annotated[AsyncSession, Depends(get_streaming_session, scope="request")]


async def set_tenant_context(
    session: AsyncSession,
    organisation_id: uuid.UUID | None,
    *,
    system: bool = False,
    network: bool = False,
    relaxed_commit: bool = False,
) -> None:
    """Tell PostgreSQL's row-level security whose transaction this is (no-op on SQLite).

    ``system`` opens every organisation's rows, and only for the schema owner (on
    PostgreSQL the application role setting it changes nothing): command-line
    administration and tests' fixtures use it, never a request (credential look-ups go
    through ovc_api.auth.lookups).
    ``network`` lets the network administrator see organisations' administrators.
    ``relaxed_commit`` (reads) commits without waiting for the WAL flush: a read's only
    write is its audit row, and this keeps auditing every read cheap.
    """
    if not session.info.get("is_postgres"):
        return
    connection = await session.connection()
    await connection.execute(
        text(
            "SELECT set_config('ovc.org_id', :org, true), set_config('ovc.system', :sys, true),"
            " set_config('ovc.network', :net, true),"
            " set_config('synchronous_commit', :sync, true)"
        ),
        {
            "org": str(organisation_id) if organisation_id else "",
            "sys": "on" if system else "off",
            "net": "on" if network else "off",
            "sync": "off" if relaxed_commit else "on",
        },
    )


@asynccontextmanager
async def unique_or_conflict(session: AsyncSession, message: str) -> AsyncIterator[None]:
    """Turn a unique-constraint violation in the block (or its flush) into a 409."""
    try:
        yield
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(message) from exc


# --- migrations -------------------------------------------------------------------------


def alembic_dir() -> Path:
    """The migrations live at the project root (source checkout or the Docker image's /app)."""
    candidates = [Path(__file__).resolve().parents[2] / "alembic", Path.cwd() / "alembic"]
    for candidate in candidates:
        if (candidate / "env.py").exists():
            return candidate
    raise RuntimeError("cannot find the alembic/ migrations directory; run from the project root")


def alembic_config(database_url: str, app_database_url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(alembic_dir()))
    config.attributes["database_url"] = database_url
    config.attributes["app_database_url"] = app_database_url
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("")).get_current_head()
    if head is None:
        raise RuntimeError("no migrations found")
    return head


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        has_table = await conn.run_sync(
            lambda sync_conn: sync_conn.dialect.has_table(sync_conn, "alembic_version")
        )
        if not has_table:
            return None
        row = (await conn.execute(text("SELECT version_num FROM alembic_version"))).first()
        return row[0] if row else None


class SchemaNotAtHead(RuntimeError):
    pass


async def require_schema_at_head(engine: AsyncEngine) -> None:
    current, head = await current_revision(engine), head_revision()
    if current != head:
        raise SchemaNotAtHead(
            f"database schema is at revision {current or 'none (empty database)'} but this "
            f"version of ovc-api needs {head}: run `ovc-api migrate` first"
        )


def run_migrations(settings: Settings, revision: str = "head") -> None:
    """Upgrade as the schema owner, then grant the application role what it needs."""
    from alembic import command

    command.upgrade(
        alembic_config(settings.migration_database_url, settings.database_url), revision
    )


# --- database faults: what a request can do about a failing database ----------------------

# Serialization failure and deadlock: the transaction was rolled back, running it again is
# safe and usually succeeds.
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})
# The database is down, restarting, overloaded or cancelled the statement for taking too
# long: the client should come back later (503 with Retry-After), not see a server fault.
UNAVAILABLE_SQLSTATE_PREFIXES = ("08", "53", "57P")
UNAVAILABLE_SQLSTATES = frozenset({"57014", "55P03", "25P03", "58030"})
SQLITE_UNAVAILABLE = frozenset(
    {"SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_CANTOPEN", "SQLITE_FULL", "SQLITE_NOMEM"}
)
_SQLITE_UNAVAILABLE_MESSAGES = ("database is locked", "unable to open database", "disk i/o")


@dataclass(frozen=True)
class DatabaseFault:
    """A database error classified without reading its message into any output."""

    kind: str  # "retry" (serialization, deadlock), "disconnected" or "unavailable"
    sqlstate: str | None
    error_class: str

    def repeatable(self, method: str) -> bool:
        """Whether the request may run again as if it had not: its transaction certainly
        rolled back (serialization failure, deadlock), or its connection dropped and it is
        a read (a write's commit may have landed before the connection went)."""
        return self.kind == "retry" or (
            self.kind == "disconnected" and method in {"GET", "HEAD", "OPTIONS"}
        )


def sqlstate_of(exc: BaseException) -> str | None:
    """The SQLSTATE of a DBAPI error (psycopg's `sqlstate`), or SQLite's error name."""
    orig = getattr(exc, "orig", None) or exc
    for attribute in ("sqlstate", "pgcode", "sqlite_errorname"):
        value = getattr(orig, attribute, None)
        if isinstance(value, str) and value:
            return value
    return None


def error_class(exc: BaseException) -> str:
    """`module.Class` of the driver's exception (or of `exc` when it wraps none)."""
    orig = getattr(exc, "orig", None) or exc
    kind = type(orig)
    return f"{kind.__module__}.{kind.__qualname__}"


def database_fault(exc: BaseException) -> DatabaseFault | None:
    """Classify an exception that reached the top of a request; None for anything that is
    not the database being unavailable (a bug in a statement stays a 500)."""
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    if isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        return database_fault(exc.exceptions[0])
    if isinstance(exc, PoolTimeout):
        return DatabaseFault("unavailable", None, error_class(exc))
    if isinstance(exc, ConnectionError | TimeoutError):
        return DatabaseFault("unavailable", None, error_class(exc))
    if not isinstance(exc, DBAPIError):
        return None
    state = sqlstate_of(exc)
    name = error_class(exc)
    if state in RETRYABLE_SQLSTATES:
        return DatabaseFault("retry", state, name)
    if exc.connection_invalidated:
        return DatabaseFault("disconnected", state, name)
    if name.startswith("sqlite3."):
        message = str(getattr(exc, "orig", exc)).lower()
        if (
            state in SQLITE_UNAVAILABLE
            or (state or "").startswith("SQLITE_IOERR")
            or any(m in message for m in _SQLITE_UNAVAILABLE_MESSAGES)
        ):
            return DatabaseFault("unavailable", state, name)
        return None
    if state is None:
        # No SQLSTATE at all: the driver failed before or outside the server (connection
        # refused, server closed the connection unexpectedly, network timeout).
        from sqlalchemy.exc import InterfaceError, OperationalError

        if isinstance(exc, OperationalError | InterfaceError):
            return DatabaseFault("disconnected", None, name)
        return None
    if state in UNAVAILABLE_SQLSTATES or state.startswith(UNAVAILABLE_SQLSTATE_PREFIXES):
        return DatabaseFault("unavailable", state, name)
    return None
