"""Login throttling per account and per client address, counted in the database.

Counters live in a table (not process memory) so they hold across worker processes; each
failure is one upsert, so concurrent failures are all counted.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, case, delete, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api.auth.models import LoginThrottle
from ovc_api.db import UTCDateTime
from ovc_api.settings import Settings


def account_key(email: str) -> str:
    return f"account:{email}"


def address_key(address: str | None) -> str:
    return f"address:{address or 'unknown'}"


async def seconds_locked(session: AsyncSession, keys: list[str], now: datetime) -> int | None:
    rows = await session.exec(select(LoginThrottle).where(col(LoginThrottle.key).in_(keys)))
    waits = [
        int((row.locked_until - now).total_seconds()) + 1
        for row in rows
        if row.locked_until is not None and row.locked_until > now
    ]
    return max(waits) if waits else None


async def register_failure(
    session: AsyncSession, settings: Settings, keys: dict[str, int], now: datetime
) -> None:
    """Count one failure against each key; lock a key that reaches its limit."""
    window_start = now - timedelta(seconds=settings.login_failure_window_seconds)
    lock_until = now + timedelta(seconds=settings.login_lockout_seconds)
    insert = pg_insert if session.info.get("is_postgres") else sqlite_insert
    table = LoginThrottle.__table__  # type: ignore[attr-defined]
    stale = table.c.window_started_at < bindparam("window_start", window_start, type_=UTCDateTime)
    for key, limit in keys.items():
        statement = insert(table).values(key=key, failures=1, window_started_at=now)
        statement = statement.on_conflict_do_update(
            index_elements=["key"],
            set_={
                "failures": case((stale, 1), else_=table.c.failures + 1),
                "window_started_at": case((stale, now), else_=table.c.window_started_at),
            },
        )
        await session.exec(statement)
        await session.exec(
            update(table)
            .where(table.c.key == key, table.c.failures >= limit)
            .values(locked_until=lock_until, failures=0, window_started_at=now)
        )


async def clear(session: AsyncSession, key: str) -> None:
    await session.exec(delete(LoginThrottle).where(col(LoginThrottle.key) == key))
