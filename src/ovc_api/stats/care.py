"""Alternative-care figures through the statistics engine: children in residential care on
a date; moves from residential to family-based care per period, with the time spent in care
before and whether the family placement held 6 and 12 months on; family-tracing success.

Definitions:
- a *move to family care* is a family-based placement (parents, single parent, kinship,
  foster, guardianship) starting the day a residential placement (residential care, group
  home) of the same child ends; it counts in the period it starts;
- *followed* 6 (12) months: the move is at least 182 (365) days before `as_of`; *stable*:
  of those, the family placement lasted at least that long (still open, or ended later);
- *days in care*: from the start of the residential placement to the move (mean);
- tracing: attempts concluded (outcome other than in progress) in the period, and of them
  those that found a relative (willing or unable to care).
Network figures withhold small counts like every network statistic; a row's derived
numbers (re-separations, relatives not found) take part, so no small count is a difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Float, Integer, case, cast, func, select
from sqlalchemy.orm import aliased
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api.care.models import FAMILY_BASED, RESIDENTIAL, Placement, TracingAttempt, TracingOutcome
from ovc_api.stats.dimensions import Period, period_label
from ovc_api.stats.engine import ScopeRule, _rows, aggregate
from ovc_api.stats.filters import DateRange
from ovc_api.stats.suppression import Cube, suppress_cube

FOLLOW_UP_DAYS = {6: 182, 12: 365}
MOVE_COUNTS = (
    "moves_to_family_care",
    "followed_6_months",
    "stable_6_months",
    "re_separated_6_months",
    "followed_12_months",
    "stable_12_months",
    "re_separated_12_months",
)
TRACING_COUNTS = ("tracing_concluded", "tracing_found", "tracing_not_found")
PUBLISHED = (
    "moves_to_family_care",
    "followed_6_months",
    "stable_6_months",
    "followed_12_months",
    "stable_12_months",
    "tracing_concluded",
    "tracing_found",
)


def _values(members: frozenset[Any]) -> list[str]:
    return sorted(member.value for member in members)


def _days(later: Any, earlier: Any, *, is_postgres: bool) -> Any:
    if is_postgres:
        return later - earlier
    return cast(func.julianday(later) - func.julianday(earlier), Integer)


async def in_residential_care(session: AsyncSession, scope: ScopeRule, on: date) -> int:
    """Distinct children whose placement on `on` is residential."""
    ended = col(Placement.ended_on)
    statement = select(func.count(func.distinct(col(Placement.child_id)))).where(
        scope(Placement),
        col(Placement.placement_type).in_(_values(RESIDENTIAL)),
        col(Placement.started_on) <= on,
        ended.is_(None) | (ended > on),
    )
    return int((await _rows(session, statement))[0][0])


def _sum(column: str) -> Any:
    return lambda sub: func.coalesce(func.sum(sub.c[column]), 0)


async def move_cube(
    session: AsyncSession, scope: ScopeRule, period: Period, dates: DateRange, as_of: date
) -> tuple[Cube, dict[Any, float | None]]:
    """Moves from residential to family care per period (and in all), with mean days."""
    is_postgres = bool(session.info.get("is_postgres"))
    before = aliased(Placement)
    started, ended = col(Placement.started_on), col(Placement.ended_on)
    lasted = _days(ended, started, is_postgres=is_postgres)
    flags: dict[str, Any] = {}
    for months, days in FOLLOW_UP_DAYS.items():
        followed = started <= as_of - timedelta(days=days)
        held = ended.is_(None) | (lasted >= days)
        flags[f"followed_{months}_months"] = case((followed, 1), else_=0)
        flags[f"stable_{months}_months"] = case((followed & held, 1), else_=0)
        flags[f"re_separated_{months}_months"] = case((followed & ~held, 1), else_=0)
    key = period.value
    facts = (
        select(
            period_label(period, started, is_postgres=is_postgres).label(key),
            _days(started, col(before.started_on), is_postgres=is_postgres).label("days_in_care"),
            *[value.label(name) for name, value in flags.items()],
        )
        .select_from(Placement)
        .join(
            before,
            (col(before.child_id) == col(Placement.child_id)) & (col(before.ended_on) == started),
        )
        .where(
            scope(Placement),
            col(Placement.placement_type).in_(_values(FAMILY_BASED)),
            col(before.placement_type).in_(_values(RESIDENTIAL)),
            *dates.on(started),
        )
    )
    counts: dict[str, Any] = {"moves_to_family_care": lambda _sub: func.count()}
    counts.update({name: _sum(name) for name in flags})
    cube = await aggregate(session, facts, (key,), counts, [(key,), ()])
    sub = facts.subquery()
    means: dict[Any, float | None] = {}
    for grouped in (True, False):
        mean = cast(func.avg(sub.c.days_in_care), Float)
        statement = select(sub.c[key], mean) if grouped else select(mean)
        if grouped:
            statement = statement.group_by(sub.c[key])
        for row in await _rows(session, statement):
            label, value = (row[0], row[1]) if grouped else (None, row[0])
            means[label] = None if value is None else round(float(value), 1)
    return cube, means


async def tracing_cube(
    session: AsyncSession, scope: ScopeRule, period: Period, dates: DateRange
) -> Cube:
    is_postgres = bool(session.info.get("is_postgres"))
    attempted, outcome = col(TracingAttempt.attempted_on), col(TracingAttempt.outcome)
    found = outcome.in_([TracingOutcome.found_willing.value, TracingOutcome.found_unable.value])
    key = period.value
    facts = select(
        period_label(period, attempted, is_postgres=is_postgres).label(key),
        case((found, 1), else_=0).label("tracing_found"),
        case((found, 0), else_=1).label("tracing_not_found"),
    ).where(
        scope(TracingAttempt),
        outcome != TracingOutcome.in_progress.value,
        *dates.on(attempted),
    )
    counts = {
        "tracing_concluded": lambda _sub: func.count(),
        "tracing_found": _sum("tracing_found"),
        "tracing_not_found": _sum("tracing_not_found"),
    }
    return await aggregate(session, facts, (key,), counts, [(key,), ()])


@dataclass
class CareFigures:
    as_of: date
    children_in_residential_care: int | None
    rows: list[dict[str, Any]]
    totals: dict[str, Any]
    suppressed: bool


async def care_figures(
    session: AsyncSession,
    scope: ScopeRule,
    period: Period,
    dates: DateRange,
    as_of: date,
    *,
    threshold: int | None = None,
) -> CareFigures:
    """Every figure, per period and in all; with a threshold, small counts withheld."""
    residential: int | None = await in_residential_care(session, scope, as_of)
    moves, means = await move_cube(session, scope, period, dates, as_of)
    tracing = await tracing_cube(session, scope, period, dates)
    withheld: dict[str, set[Any]] = {"moves": set(), "tracing": set()}
    if threshold is not None:
        withheld["moves"] = {
            k[0] if k else None
            for level, keys in suppress_cube(moves, MOVE_COUNTS, threshold).items()
            for k in keys
        }
        withheld["tracing"] = {
            k[0] if k else None
            for level, keys in suppress_cube(tracing, TRACING_COUNTS, threshold).items()
            for k in keys
        }
        if residential is not None and 0 < residential < threshold:
            residential = None
    key = period.value
    labels = sorted({k[0] for k in moves[(key,)]} | {k[0] for k in tracing[(key,)]})

    def row(label: Any) -> dict[str, Any]:
        at = (label,) if label is not None else ()
        level = (key,) if label is not None else ()
        found: dict[str, Any] = {}
        move = moves[level].get(at, {})
        hidden = label in withheld["moves"]
        for name in MOVE_COUNTS:
            if name in PUBLISHED:
                found[name] = None if hidden else move.get(name, 0)
        found["mean_days_in_care_before_move"] = None if hidden else means.get(label)
        traced = tracing[level].get(at, {})
        hidden = label in withheld["tracing"]
        for name in ("tracing_concluded", "tracing_found"):
            found[name] = None if hidden else traced.get(name, 0)
        concluded, success = found["tracing_concluded"], found["tracing_found"]
        found["tracing_success_rate"] = (
            round(success / concluded, 3) if concluded and success is not None else None
        )
        return found

    rows = [{key: label, **row(label)} for label in labels]
    suppressed = bool(withheld["moves"] or withheld["tracing"]) or residential is None
    return CareFigures(as_of, residential, rows, row(None), suppressed)
