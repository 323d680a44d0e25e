"""The calendar date where the network works, for every "not in the future" and "overdue".

Dates (births, visits, services) are recorded as local dates in Cambodia; comparing them with
the UTC date would refuse a visit recorded between midnight and 07:00 as being in the future.
One zone per deployment (`OVC_TIMEZONE`), set once at start-up.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

DEFAULT_TIMEZONE = "Asia/Phnom_Penh"
_zone = ZoneInfo(DEFAULT_TIMEZONE)


def configure(name: str) -> None:
    global _zone
    _zone = ZoneInfo(name)


def local_today() -> date:
    return datetime.now(_zone).date()
