"""`case_rollups` (migration 0016, PostgreSQL only): `case_facts` pre-grouped, kept by triggers.

Per organisation, month and group of a *grain*, the additive parts of the case counts: the
rows (`cases`), the rows whose child is sole (`sole_children`), and the record-key sums
(every row's case key; the sole rows' case and child keys). A statistic whose groups and
filters one grain holds, over whole months, reads these few rows for the sums and
`case_facts` for its rows without a sole flag only (a partial index finds them): the same
numbers as the statements over `case_facts`, from thousands of rows instead of a million.
This module says which grain answers which request (None: read `case_facts` as before).
It is not a model: only the database's triggers write it.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import BigInteger, Column, Integer, MetaData, SmallInteger, String, Table, Uuid

from ovc_api.stats.dimensions import PERIODS, PeriodOf
from ovc_api.stats.filters import CaseStatsFilters, DateRange
from ovc_api.stats.network_space import NetworkCaseFilters
from ovc_api.stats.suppression import Level

rollups_table = Table(
    "case_rollups",
    MetaData(),
    Column("grain", SmallInteger, nullable=False),
    Column("organisation_id", Uuid, nullable=False),
    Column("month", Integer, nullable=False),
    Column("until", Integer),
    Column("days", Integer),
    Column("slot", SmallInteger, nullable=False),
    Column("cases", BigInteger, nullable=False),
    Column("sole_children", BigInteger, nullable=False),
    Column("case_keys", BigInteger, nullable=False),
    Column("sole_case_keys", BigInteger, nullable=False),
    Column("sole_child_keys", BigInteger, nullable=False),
    Column("province", String(32)),
    Column("district", String(100)),
    Column("concern", String(40)),
    Column("age_band", String(16)),
    Column("closure_reason", String(40)),
)


class CaseRollups:
    """The table's organisation column as an attribute, for scope rules written against
    models (`model.organisation_id`)."""

    organisation_id = rollups_table.c.organisation_id


# The grains (migration 0016) and the group keys each holds besides the periods.
OPENED, CONCERN, WITH_CONCERN, CLOSED = 1, 2, 3, 4
# Month opened x month closed (`until`): alone, by concern, by province and district.
SPANS, SPANS_BY_CONCERN, SPANS_BY_DISTRICT = 5, 6, 7
# Quarter closed (its first month) x days from opening to closure.
CLOSED_DAYS = 8
GRAIN_KEYS = {
    OPENED: frozenset({"province"}),
    CONCERN: frozenset({"concern", "age_band"}),
    WITH_CONCERN: frozenset({"age_band"}),
    CLOSED: frozenset({"reason"}),
}
# Keys any grain can answer: the periods (of the grain's month) and the organisation's kind
# (its organisation joined).
EVERY_GRAIN = PERIODS | {"organisation_kind"}
# The case filters a grain of opened cases cannot apply (columns it does not hold).
UNHELD_FILTERS = (
    "status",
    "risk_level",
    "referral_source",
    "assigned_to",
    "district",
    "sex",
    "care_arrangement",
)


def month_of(day: date) -> int:
    """A day's month as case_facts numbers it (year * 12 + month - 1)."""
    return day.year * 12 + day.month - 1


def months(dates: DateRange) -> tuple[int | None, int | None] | None:
    """The range as whole months (first, last), or None if a bound cuts a month."""
    start, end = dates.start, dates.end
    if start is not None and start.day != 1:
        return None
    if end is not None and end.day != calendar.monthrange(end.year, end.month)[1]:
        return None
    return (
        None if start is None else month_of(start),
        None if end is None else month_of(end),
    )


def quarters(dates: DateRange) -> tuple[int | None, int | None] | None:
    """The range as whole quarters (their first and last months), or None."""
    bounds = months(dates)
    if bounds is None:
        return None
    first, last = bounds
    if (first is not None and first % 3) or (last is not None and last % 3 != 2):
        return None
    return bounds


@dataclass(frozen=True)
class Part:
    """Levels of a case statistic answered by one grain (with_concern: the facts of cases
    with a concern, as ovc_api.stats.engine.case_cube reads for those levels)."""

    grain: int
    levels: list[Level]
    with_concern: bool = False


def case_plan(
    keys: Sequence[str], filters: CaseStatsFilters, levels: Sequence[Level]
) -> list[Part] | None:
    """The grains answering a case statistic's levels, or None if some level or filter is
    beyond them (then the statistic reads case_facts)."""
    if filters.period_of is not PeriodOf.opened or months(filters.dates) is None:
        return None
    if any(getattr(filters, name) is not None for name in UNHELD_FILTERS):
        return None
    if isinstance(filters, NetworkCaseFilters) and filters.closure_reason is not None:
        return None
    given = {name for name in ("province", "age_band", "concern") if getattr(filters, name)}
    if "concern" not in keys:
        if given <= {"province"} and set(keys) <= EVERY_GRAIN | GRAIN_KEYS[OPENED]:
            return [Part(OPENED, list(levels))]
        return None
    with_concern = [level for level in levels if "concern" in level]
    without = [level for level in levels if "concern" not in level]
    if not given <= GRAIN_KEYS[CONCERN] or (without and "concern" in given):
        return None
    if not set(keys) <= EVERY_GRAIN | GRAIN_KEYS[CONCERN]:
        return None
    parts = [Part(CONCERN, with_concern)]
    if without:
        parts.append(Part(WITH_CONCERN, without, with_concern=True))
    return parts
