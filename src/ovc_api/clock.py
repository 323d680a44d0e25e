"""The calendar date where the network works, for every "not in the future" and "overdue".

Dates (births, visits, services) are recorded as local dates in Cambodia; comparing them with
the UTC date would refuse a visit recorded between midnight and 07:00 as being in the future.
One zone per deployment (`OVC_TIMEZONE`), set once at start-up.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from zoneinfo import ZoneInfo

DEFAULT_TIMEZONE = "Asia/Phnom_Penh"
_zone = ZoneInfo(DEFAULT_TIMEZONE)


def configure(name: str) -> None:
    global _zone
    _zone = ZoneInfo(name)


def local_today() -> date:
    return datetime.now(_zone).date()


_recording_at: ContextVar[datetime | None] = ContextVar("recording_at", default=None)


@contextmanager
def recording_at(moment: datetime) -> Iterator[None]:
    """Stamp what is written meanwhile (created, changed, audited) as of `moment`.

    Only for replaying history that happened earlier, as the demo does when it records its
    cases through the services; a request never sets it.
    """
    token = _recording_at.set(moment)
    try:
        yield
    finally:
        _recording_at.reset(token)


def recording_moment() -> datetime | None:
    """The moment set by `recording_at`, if any (`db.utcnow` answers it)."""
    return _recording_at.get()
