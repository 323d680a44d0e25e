"""Login throttling per account and per client address, counted in the database.

An attempt is counted *before* its password is checked, in one atomic upsert per key that
returns the new count, committed in its own short transaction: however many requests race,
at most the limit of them reach the (slow) password check in a window; the others are
refused with 429. Counters live in a table, not process memory, so they hold across worker
processes. A successful login clears its account's counter and gives its address its
attempt back, so only failures count against an office behind one address.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, case, delete, or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api.auth.models import LoginThrottle
from ovc_api.db import Database, UTCDateTime
from ovc_api.settings import Settings


def account_key(email: str) -> str:
    return f"account:{email}"


def address_key(address: str | None) -> str:
    return f"address:{address or 'unknown'}"


async def claim_attempt(
    database: Database, settings: Settings, keys: dict[str, int], now: datetime
) -> int | None:
    """Count one attempt against each key (key -> limit). Seconds to wait if any key is over
    its limit (the attempt must not be checked), None if the password may be checked.

    Its own transaction, committed at once: the count is visible to every racing request
    before this one spends time on the hash, and no lock is held while it does.
    """
    window_start = now - timedelta(seconds=settings.login_failure_window_seconds)
    lock_until = now + timedelta(seconds=settings.login_lockout_seconds)
    table = LoginThrottle.__table__  # type: ignore[attr-defined]
    at = bindparam("now", now, type_=UTCDateTime)
    locked = table.c.locked_until > at
    restart = or_(
        table.c.window_started_at < bindparam("window_start", window_start, type_=UTCDateTime),
        and_(table.c.locked_until.is_not(None), table.c.locked_until <= at),
    )
    waits: list[int] = []
    async with database.session() as session, session.begin():
        insert = pg_insert if session.info.get("is_postgres") else sqlite_insert
        for key, limit in keys.items():
            statement = insert(table).values(
                key=key, failures=1, window_started_at=now, locked_until=None
            )
            upsert = statement.on_conflict_do_update(
                index_elements=["key"],
                set_={
                    "failures": case(
                        (locked, table.c.failures),
                        (restart, 1),
                        else_=table.c.failures + 1,
                    ),
                    "window_started_at": case(
                        (locked, table.c.window_started_at),
                        (restart, at),
                        else_=table.c.window_started_at,
                    ),
                    "locked_until": case(
                        (locked, table.c.locked_until),
                        (restart, None),
                        (
                            table.c.failures + 1 > limit,
                            bindparam("lock_until", lock_until, type_=UTCDateTime),
                        ),
                        else_=None,
                    ),
                },
            ).returning(table.c.locked_until)
            locked_until = (await session.exec(upsert)).scalar_one()
            if locked_until is not None and locked_until > now:
                waits.append(int((locked_until - now).total_seconds()) + 1)
    return max(waits) if waits else None


async def forget_success(session: AsyncSession, email_key: str, address: str) -> None:
    """A successful login: its account starts afresh, its address gets its attempt back."""
    await session.exec(delete(LoginThrottle).where(col(LoginThrottle.key) == email_key))
    await session.exec(
        update(LoginThrottle)
        .where(col(LoginThrottle.key) == address, col(LoginThrottle.failures) > 0)
        .values(failures=LoginThrottle.failures - 1)
    )
