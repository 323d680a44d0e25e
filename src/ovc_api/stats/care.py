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
They ask only in the closed query space of network statistics (whole quarters or years,
`as_of` the last day of a quarter: ovc_api.stats.network_space) and every published count is
perturbed by its cell key (ovc_api.stats.perturbation): a move, a tracing attempt and a child
in residential care count with their child's record key, so counts of the same children draw
the same noise. Means are not perturbed: they are withheld with the count they describe, and
the success rate is computed from the published counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Float, Integer, case, cast, distinct, func, literal, select
from sqlalchemy.orm import aliased
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api.care.models import FAMILY_BASED, RESIDENTIAL, Placement, TracingAttempt, TracingOutcome
from ovc_api.children.models import Child
from ovc_api.stats.dimensions import Period, period_label
from ovc_api.stats.engine import KEY_SUFFIX, ScopeRule, _rows, aggregate
from ovc_api.stats.filters import DateRange
from ovc_api.stats.perturbation import KEY_RANGE, perturbed
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


async def in_residential_care(
    session: AsyncSession, scope: ScopeRule, on: date, *, keyed: bool = False
) -> tuple[int, int]:
    """Distinct children whose placement on `on` is residential, and (keyed) their cell key:
    the sum of those children's record keys, each child once."""
    ended = col(Placement.ended_on)
    child_key = func.coalesce(func.sum(distinct(col(Child.record_key))), 0) % KEY_RANGE
    statement = select(
        func.count(func.distinct(col(Placement.child_id))), child_key if keyed else literal(0)
    ).where(
        scope(Placement),
        col(Placement.placement_type).in_(_values(RESIDENTIAL)),
        col(Placement.started_on) <= on,
        ended.is_(None) | (ended > on),
    )
    if keyed:
        statement = statement.join(Child, col(Child.id) == col(Placement.child_id))
    row = (await _rows(session, statement))[0]
    return int(row[0]), int(row[1])


def _sum(column: str) -> Any:
    return lambda sub: func.coalesce(func.sum(sub.c[column]), 0)


def _key(column: str) -> Any:
    """A cell key: the keys of the cell's rows summed, modulo KEY_RANGE."""
    return lambda sub: func.coalesce(func.sum(sub.c[column]), 0) % KEY_RANGE


async def move_cube(
    session: AsyncSession,
    scope: ScopeRule,
    period: Period,
    dates: DateRange,
    as_of: date,
    *,
    keyed: bool = False,
) -> tuple[Cube, dict[Any, float | None]]:
    """Moves from residential to family care per period (and in all), with mean days;
    keyed: with each count's cell key (the moved children's record keys)."""
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
    child_key = col(Child.record_key)
    keys: list[Any] = []
    if keyed:
        keys = [child_key.label("moves_to_family_care" + KEY_SUFFIX)]
        keys += [
            case((flag == 1, child_key), else_=0).label(name + KEY_SUFFIX)
            for name, flag in flags.items()
        ]
    facts = (
        select(
            period_label(period, started, is_postgres=is_postgres).label(key),
            _days(started, col(before.started_on), is_postgres=is_postgres).label("days_in_care"),
            *[value.label(name) for name, value in flags.items()],
            *keys,
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
    if keyed:
        facts = facts.join(Child, col(Child.id) == col(Placement.child_id))
    counts: dict[str, Any] = {"moves_to_family_care": lambda _sub: func.count()}
    counts.update({name: _sum(name) for name in flags})
    cell_keys = {name: _key(name + KEY_SUFFIX) for name in counts} if keyed else None
    cube = await aggregate(session, facts, (key,), counts, [(key,), ()], cell_keys)
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
    session: AsyncSession,
    scope: ScopeRule,
    period: Period,
    dates: DateRange,
    *,
    keyed: bool = False,
) -> Cube:
    """Tracing attempts concluded per period (and in all), and those that found a relative;
    keyed: with each count's cell key (the traced children's record keys, per attempt)."""
    is_postgres = bool(session.info.get("is_postgres"))
    attempted, outcome = col(TracingAttempt.attempted_on), col(TracingAttempt.outcome)
    found = outcome.in_([TracingOutcome.found_willing.value, TracingOutcome.found_unable.value])
    key = period.value
    child_key = col(Child.record_key)
    keys: list[Any] = []
    if keyed:
        keys = [
            child_key.label("tracing_concluded" + KEY_SUFFIX),
            case((found, child_key), else_=0).label("tracing_found" + KEY_SUFFIX),
            case((found, 0), else_=child_key).label("tracing_not_found" + KEY_SUFFIX),
        ]
    facts = select(
        period_label(period, attempted, is_postgres=is_postgres).label(key),
        case((found, 1), else_=0).label("tracing_found"),
        case((found, 0), else_=1).label("tracing_not_found"),
        *keys,
    ).where(
        scope(TracingAttempt),
        outcome != TracingOutcome.in_progress.value,
        *dates.on(attempted),
    )
    if keyed:
        facts = facts.join(Child, col(Child.id) == col(TracingAttempt.child_id))
    counts = {
        "tracing_concluded": lambda _sub: func.count(),
        "tracing_found": _sum("tracing_found"),
        "tracing_not_found": _sum("tracing_not_found"),
    }
    cell_keys = {name: _key(name + KEY_SUFFIX) for name in counts} if keyed else None
    return await aggregate(session, facts, (key,), counts, [(key,), ()], cell_keys)


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
    """Every figure, per period and in all; with a threshold (network figures), small counts
    withheld (decided on the true counts) and the others perturbed by their cell keys."""
    keyed = threshold is not None
    count, residential_key = await in_residential_care(session, scope, as_of, keyed=keyed)
    residential: int | None = count
    moves, means = await move_cube(session, scope, period, dates, as_of, keyed=keyed)
    tracing = await tracing_cube(session, scope, period, dates, keyed=keyed)
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
        residential = None if 0 < count < threshold else perturbed(count, residential_key)
    key = period.value
    labels = sorted({k[0] for k in moves[(key,)]} | {k[0] for k in tracing[(key,)]})

    def published(measured: dict[str, int], name: str) -> int:
        value = measured.get(name, 0)
        return value if not keyed else perturbed(value, measured.get(name + KEY_SUFFIX, 0))

    def row(label: Any) -> dict[str, Any]:
        at = (label,) if label is not None else ()
        level = (key,) if label is not None else ()
        found: dict[str, Any] = {}
        move = moves[level].get(at, {})
        hidden = label in withheld["moves"]
        for name in MOVE_COUNTS:
            if name in PUBLISHED:
                found[name] = None if hidden else published(move, name)
        found["mean_days_in_care_before_move"] = None if hidden else means.get(label)
        traced = tracing[level].get(at, {})
        hidden = label in withheld["tracing"]
        for name in ("tracing_concluded", "tracing_found"):
            found[name] = None if hidden else published(traced, name)
        concluded, success = found["tracing_concluded"], found["tracing_found"]
        found["tracing_success_rate"] = (
            round(min(success / concluded, 1.0), 3) if concluded and success is not None else None
        )
        return found

    rows = [{key: label, **row(label)} for label in labels]
    suppressed = bool(withheld["moves"] or withheld["tracing"]) or residential is None
    return CareFigures(as_of, residential, rows, row(None), suppressed)
