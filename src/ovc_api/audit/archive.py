"""Archiving old audit events: export whole months to a file, then remove them, audited.

Run by an operator as the schema owner (OVC_MIGRATION_DATABASE_URL): the application role
may not delete audit rows. Events younger than the retention period
(OVC_AUDIT_RETENTION_YEARS) stay unless forced. One transaction exports, removes and records
the archive event; the file is complete on disk (and its digest known) before the commit.
On PostgreSQL whole monthly partitions are dropped (no row-by-row delete, no bloat).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.engine import Connection, make_url

from ovc_api.audit import partitions
from ovc_api.audit.models import AuditEvent
from ovc_api.db import utcnow
from ovc_api.identity.models import Organisation

ARCHIVE_ACTION = "audit.archive"
# The network secretariat's short name (users.bootstrap, which audit may not import; a test
# keeps the two equal).
NETWORK_SHORT_NAME = "NETWORK"
EXPORT_BATCH = 2000


class ArchiveRefused(ValueError):
    """The request would archive an incomplete month or events still to be kept."""


@dataclass(frozen=True)
class ArchiveResult:
    events: int
    sha256: str
    dropped_partitions: list[str]
    out: Path


def sync_engine(url: str) -> Engine:
    """A synchronous engine for operator commands (the app's drivers are async)."""
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        parsed = parsed.set(drivername="sqlite")
    else:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return create_engine(parsed)


@contextmanager
def owner_transaction(url: str) -> Iterator[Connection]:
    """The owner's transaction; on PostgreSQL it sees every organisation (forced RLS)."""
    engine = sync_engine(url)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
                connection.execute(text("SELECT set_config('ovc.system', 'on', true)"))
            yield connection
    finally:
        engine.dispose()


def retention_cutoff(today: date, retention_years: int) -> date:
    """The first day of this month, `retention_years` ago: older events may be archived."""
    return partitions.add_months(partitions.month_start(today), -12 * retention_years)


def check_request(before: date, today: date, retention_years: int, force: bool) -> None:
    if before.day != 1:
        raise ArchiveRefused(f"--before must be the first day of a month, not {before}")
    if before > partitions.month_start(today):
        raise ArchiveRefused(f"{before} is after the start of the current month: months not over")
    cutoff = retention_cutoff(today, retention_years)
    if before > cutoff and not force:
        raise ArchiveRefused(
            f"events before {before} include some within the retention period "
            f"({retention_years} years: only events before {cutoff} may be archived); "
            "pass --force to archive them anyway"
        )


def _jsonable(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _export(connection: Connection, before: datetime, temporary: Path) -> int:
    table = AuditEvent.__table__  # type: ignore[attr-defined]
    statement = select(table).where(table.c.at < before).order_by(table.c.at, table.c.id)
    count = 0
    with temporary.open("xb") as raw:
        gz = (
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0)
            if temporary.name.endswith(".gz.part")
            else None
        )
        sink: IO[bytes] = gz if gz is not None else raw  # type: ignore[assignment]
        # Per statement: Connection.execution_options would stream every later statement too.
        streamed = statement.execution_options(stream_results=True, yield_per=EXPORT_BATCH)
        for row in connection.execute(streamed):
            line = {key: _jsonable(value) for key, value in row._mapping.items()}
            sink.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode())
            sink.write(b"\n")
            count += 1
        if gz is not None:
            gz.close()
        raw.flush()
        os.fsync(raw.fileno())
    return count


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def _remove(connection: Connection, before: datetime, before_month: date) -> list[str]:
    """Drop the whole months before `before` (PostgreSQL) or delete the rows (SQLite)."""
    table = AuditEvent.__table__  # type: ignore[attr-defined]
    dropped = []
    if partitions.is_partitioned(connection):
        for month, name in sorted(partitions.month_partitions(connection).items()):
            if partitions.add_months(month, 1) <= before_month:
                connection.execute(text(f"DROP TABLE {partitions.SCHEMA}.{name}"))
                dropped.append(name)
        connection.execute(
            text(f"DELETE FROM {partitions.DEFAULT_PARTITION} WHERE at < :before"),  # noqa: S608 - constant names
            {"before": before},
        )
    else:
        connection.execute(table.delete().where(table.c.at < before))
    left = connection.execute(
        select(func.count()).select_from(table).where(table.c.at < before)
    ).scalar_one()
    if left:
        raise RuntimeError(f"{left} events before {before_month} remain; nothing was archived")
    return dropped


def _network_organisation(connection: Connection) -> uuid.UUID | None:
    """The archive event goes to the network secretariat's log, where its admin reads it."""
    table = Organisation.__table__  # type: ignore[attr-defined]
    found: uuid.UUID | None = connection.execute(
        select(table.c.id).where(table.c.short_name == NETWORK_SHORT_NAME)
    ).scalar()
    return found


def archive(
    url: str,
    *,
    before: date,
    out: Path,
    retention_years: int,
    operator: str,
    force: bool = False,
    today: date | None = None,
) -> ArchiveResult:
    """Export every event before `before` to `out` (NDJSON, gzip if it ends in .gz), remove
    them, and record who archived which range to which file digest, in one transaction."""
    today = today or datetime.now(UTC).date()
    check_request(before, today, retention_years, force)
    if out.exists():
        raise ArchiveRefused(f"{out} exists: choose a new file name")
    boundary = datetime(before.year, before.month, before.day, tzinfo=UTC)
    temporary = out.with_name(out.name + ".part")
    try:
        with owner_transaction(url) as connection:
            count = _export(connection, boundary, temporary)
            digest = _digest(temporary)
            dropped = _remove(connection, boundary, before)
            table = AuditEvent.__table__  # type: ignore[attr-defined]
            connection.execute(
                table.insert().values(
                    id=uuid.uuid4(),
                    organisation_id=_network_organisation(connection),
                    at=utcnow(),
                    action=ARCHIVE_ACTION,
                    resource_type="audit_events",
                    request_id="ovc-api audit archive",
                    detail=(
                        f"before={before.isoformat()} events={count} sha256={digest} "
                        f"by={operator[:60]}"
                    ),
                )
            )
            temporary.rename(out)
    finally:
        temporary.unlink(missing_ok=True)
    return ArchiveResult(events=count, sha256=digest, dropped_partitions=dropped, out=out)


def ensure_partitions(url: str, months_ahead: int, today: date | None = None) -> list[date]:
    """Create this month's and the next months' partitions (PostgreSQL; a no-op on SQLite)."""
    with owner_transaction(url) as connection:
        return partitions.ensure_ahead(connection, today or datetime.now(UTC).date(), months_ahead)
