"""The aggregate queries behind every statistic: GROUP BY in the database, never rows in Python.

Each statistic is a *facts* subquery (one labelled column per group key, plus the ids its
counts need) under the caller's scope and filters, and an outer query that groups it. Several
tables of the same facts (the rows, the grand total, and for network statistics every
marginal table) come from one query with GROUPING SETS on PostgreSQL, one query per table on
SQLite. What comes back to Python is at most a few thousand aggregated numbers.

Network statistics are *keyed*: beside each count, the same query computes the cell's key
(the sum of the counted records' `record_key` modulo 256, each distinct child or family
once), from which ovc_api.stats.perturbation draws the cell's noise.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Date,
    Float,
    Integer,
    and_,
    case,
    cast,
    distinct,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    tuple_,
)
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api.ages import age_band_of_years_sql, age_band_sql
from ovc_api.cases.models import Case, CaseConcern, ClosureReason
from ovc_api.children.models import Child
from ovc_api.errors import Unprocessable
from ovc_api.families.models import Family
from ovc_api.identity.models import Organisation
from ovc_api.services.models import ServiceDelivery, ServiceType
from ovc_api.sharing.models import Referral, ReferralStatus
from ovc_api.stats.dimensions import PERIODS, CaseKey, Period, PeriodOf, period_label
from ovc_api.stats.facts import CaseFacts, facts_table, with_concerns
from ovc_api.stats.filters import CaseStatsFilters, DateRange, ServiceStatsFilters
from ovc_api.stats.network_space import NetworkCaseFilters, NetworkServiceFilters
from ovc_api.stats.perturbation import KEY_RANGE
from ovc_api.stats.rollups import (
    CLOSED,
    CLOSED_DAYS,
    CaseRollups,
    case_plan,
    months,
    quarters,
    rollups_table,
)
from ovc_api.stats.service_facts import (
    PERIOD_STARTS,
    SET_KEYS,
    SUMMARY_KEYS,
    ServiceFacts,
    ServiceSummary,
    service_facts_table,
    service_summary_table,
    set_of,
)
from ovc_api.stats.suppression import Cube, Key, Level

ScopeRule = Callable[[Any], ColumnElement[bool]]
Count = Callable[[Any], Any]
MAX_GROUPS = 10_000
CHILD_KEYS = frozenset({"province", "district", "sex", "age_band", "care_arrangement"})
KEY_SUFFIX = "_key"  # a cube's cell key of count "cases" is stored as "cases_key"
CASE_COUNTS = ("cases", "children")
SERVICE_COUNTS = ("services", "children", "families")


async def _rows(session: AsyncSession, statement: Any) -> Sequence[Any]:
    """Run an aggregate (SQLAlchemy Core: its column types vary with the group keys)."""
    rows: Sequence[Any] = (await session.exec(statement)).all()
    return rows


def _is_postgres(session: AsyncSession) -> bool:
    return bool(session.info.get("is_postgres"))


def _too_many() -> Unprocessable:
    return Unprocessable.field(
        ["query", "group_by"],
        f"more than {MAX_GROUPS} groups: group by fewer keys or narrow the filters",
    )


@dataclass(frozen=True)
class Rows:
    """A count of the facts' rows."""

    def __call__(self, _sub: Any) -> Any:
        return func.count()


@dataclass(frozen=True)
class Distinct:
    """A count of a column's distinct values (NULL not counted)."""

    column: str

    def __call__(self, sub: Any) -> Any:
        return func.count(distinct(sub.c[self.column]))


@dataclass(frozen=True)
class KeySum:
    """A cell's key: its records' keys summed (each distinct record once), modulo KEY_RANGE.

    Record keys are 31-bit random integers, so SUM(DISTINCT key) counts each child (or
    family) once however many rows of the cell name it."""

    column: str
    each_once: bool

    def __call__(self, sub: Any) -> Any:
        column_ = sub.c[self.column]
        summed = func.sum(distinct(column_)) if self.each_once else func.sum(column_)
        return func.coalesce(summed, 0) % KEY_RANGE


def _level_of(keys: Sequence[str], bits: int) -> Level:
    """The group keys a row of GROUPING SETS is grouped by (bit set: aggregated away)."""
    width = len(keys)
    return tuple(k for i, k in enumerate(keys) if not bits >> (width - 1 - i) & 1)


# The fast statements: case tables without the concern read without case_concerns (and
# count cases, not distinct case ids). False: the plain statements, which the tests
# compare them with.
FAST = True


def _ordered(cube: Cube) -> Cube:
    """Each table's cells in one order whatever the plan returned them in: the suppression
    breaks ties by the order of its equations, which must not depend on the plan."""

    def order(item: tuple[Key, Any]) -> tuple[tuple[bool, str], ...]:
        return tuple((value is None, str(value)) for value in item[0])

    return {level: dict(sorted(table.items(), key=order)) for level, table in cube.items()}


# PostgreSQL settings of a statistics transaction: hash tables and sorts of a few hundred
# thousand rows in memory rather than on disk, and no JIT compilation (its 100-300 ms of
# compiling cost more than it saves on queries of this size).
STATS_SETTINGS: dict[str, str] = {"work_mem": "128MB", "jit": "off"}


async def tune(session: AsyncSession) -> None:
    """Apply STATS_SETTINGS to the current transaction (SET LOCAL); PostgreSQL only."""
    if not _is_postgres(session) or not STATS_SETTINGS:
        return
    assignments = ", ".join(f"set_config('{name}', :{name}, true)" for name in STATS_SETTINGS)
    connection = await session.connection()
    await connection.execute(text(f"SELECT {assignments}"), STATS_SETTINGS)


async def aggregate(
    session: AsyncSession,
    facts: Any,
    keys: Sequence[str],
    counts: Mapping[str, Count],
    levels: Sequence[Level],
    cell_keys: Mapping[str, Count] | None = None,
    rolled: Any | None = None,
) -> Cube:
    """Group the facts by each level (a sub-tuple of `keys`): {level: {key: {count: n}}}.

    `cell_keys`: per count name, the measure of its cell key, stored as name + KEY_SUFFIX.
    `rolled`: the same facts of case_facts pre-grouped (rollup_facts()), to sum instead.
    """
    keys = [key for key in keys if any(key in level for level in levels)]  # grouped ones
    sub = facts.subquery("facts")
    measured = dict(counts)
    measured.update({name + KEY_SUFFIX: key for name, key in (cell_keys or {}).items()})
    counts = measured
    cube: Cube = {level: {} for level in levels}
    statement = None
    if _is_postgres(session):
        await tune(session)
        if FAST and all(name in sub.c for name in SOLE_FLAGS.values()):
            # case_facts (fast_case_facts and the like): its periods are numbers that only
            # _aggregate_split labels, so every count must have a split form.
            split = _split(sub, counts)
            if split is None:
                raise ValueError(f"counts without a split form over case_facts: {counts}")
            if rolled is not None and any(p.rolled is None for p in split.values()):
                raise ValueError(f"counts without a rolled-up form: {counts}")
            pre = None if rolled is None else rolled.subquery("rolled")
            return await _aggregate_split(session, sub, keys, levels, split, pre)
        if len(levels) > 1:
            columns = [sub.c[k] for k in keys]
            sets = [tuple_(*[sub.c[k] for k in level]) for level in levels]
            statement = (
                select(
                    *columns,
                    func.grouping(*columns).label("grouping_bits"),
                    *[count(sub).label(name) for name, count in counts.items()],
                )
                .select_from(sub)
                .group_by(func.grouping_sets(*sets))
                .limit(MAX_GROUPS * len(levels) + 1)
            )
    if statement is not None:
        for row in await _rows(session, statement):
            data = row._mapping
            level = _level_of(keys, int(data["grouping_bits"]))
            table = cube[level]
            table[tuple(data[k] for k in level)] = {n: int(data[n] or 0) for n in counts}
            if len(table) > MAX_GROUPS:
                raise _too_many()
        return _ordered(cube)
    measures = [count(sub).label(name) for name, count in counts.items()]
    for level in levels:
        grouped = [sub.c[k] for k in level]
        statement = select(*grouped, *measures).select_from(sub)
        if grouped:
            statement = statement.group_by(*grouped).limit(MAX_GROUPS + 1)
        rows = await _rows(session, statement)
        if len(rows) > MAX_GROUPS:
            raise _too_many()
        table = cube[level]
        for row in rows:
            data = row._mapping
            table[tuple(data[k] for k in level)] = {n: int(data[n] or 0) for n in counts}
    return _ordered(cube)


# --- distinct counts without sorting every row (case_facts' flags) -----------------------

# The flag saying that no other row of the facts carries a row's value of a column: then
# the value is distinct in any table, and counting (or summing) it once is counting the row.
SOLE_FLAGS = {"child_id": "child_sole", "child_key": "child_sole", "case_key": "case_sole"}


# case_facts' months as numbers (year * 12 + month - 1): a period's code is the month's
# divided by this, labelled after grouping (integers group much faster than to_char's text).
PERIOD_MONTHS = {Period.month.value: 1, Period.quarter.value: 3, Period.year.value: 12}


def period_code(period: Period | str, month: Any) -> Any:
    """The period of a case_facts month column as a number (see period_label_of_code)."""
    months = PERIOD_MONTHS[Period(period).value]
    return month if months == 1 else month.op("/")(literal_column(str(months)))


def period_label_of_code(period: str, code: int) -> str:
    """period_label()'s text of a period_code(): "2026-03", "2026-Q1", "2026"."""
    if period == Period.month.value:
        return f"{code // 12:04d}-{code % 12 + 1:02d}"
    if period == Period.quarter.value:
        return f"{code // 4:04d}-Q{code % 4 + 1}"
    return f"{code:04d}"


def _labelled(level: Level, key: Key) -> Key:
    """A key with its period codes (integers) as period_label() writes them."""
    return tuple(
        period_label_of_code(name, value)
        if name in PERIOD_MONTHS and isinstance(value, int)
        else value
        for name, value in zip(level, key, strict=True)
    )


@dataclass(frozen=True)
class _Split:
    """A count as a sum of parts: `every` over all rows (hash aggregation), `others` over
    the rows of `flags` not set only (a sort, of few rows); `modulo` applied to the sum."""

    every: Any
    others: Any | None
    modulo: int | None
    flag: str | None = None
    rolled: str | None = None  # the case_rollups measure summing `every` (None: none does)


def _split(sub: Any, counts: Mapping[str, Count]) -> dict[str, _Split] | None:
    """Each count in parts (None if some count has no such form)."""
    parts: dict[str, _Split] = {}
    for name, count in counts.items():
        if isinstance(count, Rows):
            parts[name] = _Split(func.count(), None, None, rolled="cases")
        elif isinstance(count, Distinct) and count.column in SOLE_FLAGS:
            column, sole = sub.c[count.column], sub.c[SOLE_FLAGS[count.column]]
            parts[name] = _Split(
                func.count().filter(sole),
                func.count(distinct(column)).filter(~sole),
                None,
                sole.name,
                "sole_children" if count.column == "child_id" else None,
            )
        elif isinstance(count, KeySum) and not count.each_once:
            rolled = "case_keys" if count.column == "case_key" else None
            parts[name] = _Split(func.sum(sub.c[count.column]), None, KEY_RANGE, None, rolled)
        elif isinstance(count, KeySum) and count.column in SOLE_FLAGS:
            column, sole = sub.c[count.column], sub.c[SOLE_FLAGS[count.column]]
            parts[name] = _Split(
                func.sum(column).filter(sole),
                func.sum(distinct(column)).filter(~sole),
                KEY_RANGE,
                sole.name,
                {"case_key": "sole_case_keys", "child_key": "sole_child_keys"}[count.column],
            )
        else:
            return None
    return parts


async def _aggregate_split(
    session: AsyncSession,
    sub: Any,
    keys: Sequence[str],
    levels: Sequence[Level],
    parts: Mapping[str, _Split],
    rolled: Any | None = None,
) -> Cube:
    """aggregate() of facts with sole flags: one statement without DISTINCT over every row
    (hashed), one with it over the rows some flag excludes, their parts added here.

    rolled: the same facts pre-grouped (rollup_facts(): the group keys and case_rollups'
    measures), whose sums replace the statement over every row."""
    columns = [sub.c[k] for k in keys]
    sets = func.grouping_sets(*[tuple_(*[sub.c[k] for k in level]) for level in levels])
    grouping = func.grouping(*columns) if columns else literal_column("0")
    limit = MAX_GROUPS * len(levels) + 1

    def statement(measures: dict[str, Any]) -> Any:
        return (
            select(
                *columns,
                grouping.label("grouping_bits"),
                *[measure.label(name) for name, measure in measures.items()],
            )
            .select_from(sub)
            .group_by(sets)
            .limit(limit)
        )

    cube: Cube = {level: {} for level in levels}
    sums: dict[tuple[Level, Key], dict[str, int]] = {}
    every = {n: p.every for n, p in parts.items()}
    if rolled is not None:
        # Few rows: the finest groups summed in SQL (a group whose rows cancelled out, as
        # slots' sums may, is no group), every level added up here.
        sums.update(await _rolled_sums(session, rolled, keys, levels, parts))
    elif tuple(keys) in levels and len(levels) > 1:
        # The finest table alone in SQL, a plain GROUP BY (which PostgreSQL runs in parallel
        # workers, GROUPING SETS never); every coarser table is sums of its cells, as every
        # part here adds up. The grand total exists even without rows, as GROUPING SETS has it.
        fine = select(*columns, *[m.label(n) for n, m in every.items()]).select_from(sub)
        rows = await _rows(session, fine.group_by(*columns).limit(MAX_GROUPS + 1))
        if len(rows) > MAX_GROUPS:
            raise _too_many()
        if () in levels:
            sums[(), ()] = dict.fromkeys(parts, 0)
        for row in rows:
            data = row._mapping
            found = {n: int(data[n] or 0) for n in parts}
            for level in levels:
                key = tuple(data[k] for k in level)
                total = sums.setdefault((level, key), dict.fromkeys(parts, 0))
                for name, value in found.items():
                    total[name] += value
    else:
        for row in await _rows(session, statement(every)):
            data = row._mapping
            level = _level_of(keys, int(data["grouping_bits"]))
            sums[level, tuple(data[k] for k in level)] = {n: int(data[n] or 0) for n in parts}
    cells = Counter(level for level, _ in sums)
    if any(n > MAX_GROUPS for n in cells.values()):
        raise _too_many()
    others = {n: p.others for n, p in parts.items() if p.others is not None}
    if others:
        flags = sorted({str(p.flag) for p in parts.values() if p.others is not None})
        rest = statement(others).where(or_(*[~sub.c[flag] for flag in flags]))
        for row in await _rows(session, rest):
            data = row._mapping
            level = _level_of(keys, int(data["grouping_bits"]))
            # A subset of every row's cells (unless a write committed between the two
            # statements: then counted as it is now rather than failing).
            found = sums.setdefault((level, tuple(data[k] for k in level)), dict.fromkeys(parts, 0))
            for name in others:
                found[name] += int(data[name] or 0)
    for (level, key), found in sums.items():
        counts = {n: _modulo(found[n], parts[n].modulo) for n in parts}
        cube[level][_labelled(level, key)] = counts
    return _ordered(cube)


async def _rolled_sums(
    session: AsyncSession,
    rolled: Any,
    keys: Sequence[str],
    levels: Sequence[Level],
    parts: Mapping[str, _Split],
) -> dict[tuple[Level, Key], dict[str, int]]:
    """Each level's cells' `every` parts, from the pre-grouped facts grouped by all keys."""
    columns = [rolled.c[k] for k in keys]
    measures = {n: func.sum(rolled.c[str(p.rolled)]) for n, p in parts.items()}
    fine = (
        select(*columns, *[m.label(n) for n, m in measures.items()])
        .select_from(rolled)
        .group_by(*columns)
        .having(func.sum(rolled.c.cases) != 0)
        .limit(MAX_GROUPS + 1)
    )
    rows = await _rows(session, fine)
    if len(rows) > MAX_GROUPS:
        raise _too_many()
    sums: dict[tuple[Level, Key], dict[str, int]] = {}
    if () in levels:
        sums[(), ()] = dict.fromkeys(parts, 0)
    for row in rows:
        data = row._mapping
        found = {n: int(data[n] or 0) for n in parts}
        for level in levels:
            total = sums.setdefault((level, tuple(data[k] for k in level)), dict.fromkeys(parts, 0))
            for name, value in found.items():
                total[name] += value
    return sums


def _modulo(value: int, modulo: int | None) -> int:
    return value if modulo is None else value % modulo


_count_rows: Count = Rows()


def _distinct(column: str) -> Count:
    return Distinct(column)


def _key_sum(column: str, *, each_once: bool) -> Count:
    return KeySum(column, each_once)


def _case_key() -> Any:
    """A case's key for its cell: its child's key in the low bits (the ones the cell key
    keeps), its own in the high bits (so that SUM(DISTINCT) still sees each case once).

    Where each child of a cell has one case, cases and children are the same number; with
    the same cell key they get the same noise, and publishing both says no more than one.
    (Two independent noises of one number would narrow it down.)"""
    own, child = col(Case.record_key), col(Child.record_key)
    return own - own % KEY_RANGE + child % KEY_RANGE


def _in(column: Any, values: Sequence[Any] | None) -> list[Any]:
    return [] if values is None else [column.in_(values)]


# --- cases ------------------------------------------------------------------------------


def case_facts(
    scope: ScopeRule,
    keys: Sequence[str],
    filters: CaseStatsFilters,
    *,
    is_postgres: bool,
    keyed: bool = False,
    with_concern: bool = False,
) -> Any:
    """One row per counted case (per case and concern when grouped by concern); keyed: with
    the case's and the child's record keys. with_concern: only cases with a concern (one of
    the filtered ones, if filtered), as grouping by concern counts."""
    if FAST and is_postgres:
        return fast_case_facts(scope, keys, filters, keyed=keyed, with_concern=with_concern)
    dated = col(Case.opened_on) if filters.period_of is PeriodOf.opened else col(Case.closed_on)
    child_fields = {
        "province": filters.province,
        "district": filters.district,
        "sex": filters.sex,
        "age_band": filters.age_band,
        "care_arrangement": filters.care_arrangement,
    }
    expressions: dict[str, Any] = {
        "status": col(Case.status),
        "risk_level": col(Case.risk_level),
        "referral_source": col(Case.referral_source),
        "assigned_to": col(Case.assigned_to),
        "concern": col(CaseConcern.concern),
        "province": col(Child.province),
        "district": col(Child.district),
        "sex": col(Child.sex),
        "care_arrangement": col(Child.care_arrangement),
        "closure_reason": col(Case.closure_reason),
        "organisation_kind": col(Organisation.kind),
        "age_band": age_band_sql(
            col(Child.date_of_birth), col(Case.opened_on), is_postgres=is_postgres
        ),
    }
    for period in PERIODS:
        expressions[period] = period_label(period, dated, is_postgres=is_postgres)
    network = filters if isinstance(filters, NetworkCaseFilters) else None
    record_keys: list[Any] = (
        [_case_key().label("case_key"), col(Child.record_key).label("child_key")] if keyed else []
    )
    statement = select(
        col(Case.id).label("case_id"),
        col(Case.child_id).label("child_id"),
        *record_keys,
        *[expressions[k].label(k) for k in keys],
    ).select_from(Case)
    if keyed or CHILD_KEYS.intersection(keys) or any(v is not None for v in child_fields.values()):
        statement = statement.join(Child, col(Child.id) == col(Case.child_id))
    clauses: list[Any] = [scope(Case)]
    if "organisation_kind" in keys or (network and network.organisation_kind is not None):
        statement = statement.join(Organisation, col(Organisation.id) == col(Case.organisation_id))
    if network is not None:
        clauses += _in(expressions["closure_reason"], network.closure_reason)
        clauses += _in(expressions["organisation_kind"], network.organisation_kind)
    if CaseKey.concern in keys:
        statement = statement.join(CaseConcern, col(CaseConcern.case_id) == col(Case.id))
        clauses += _in(col(CaseConcern.concern), filters.concern)
    elif filters.concern is not None or with_concern:
        clauses.append(
            exists(
                select(literal_column("1")).where(
                    col(CaseConcern.case_id) == col(Case.id),
                    *_in(col(CaseConcern.concern), filters.concern),
                )
            )
        )
    if filters.period_of is PeriodOf.closed:
        clauses.append(dated.is_not(None))
    clauses += filters.dates.on(dated)
    clauses += _in(col(Case.status), filters.status)
    clauses += _in(col(Case.risk_level), filters.risk_level)
    clauses += _in(col(Case.referral_source), filters.referral_source)
    clauses += _in(col(Case.assigned_to), filters.assigned_to)
    for name, values in child_fields.items():
        clauses += _in(expressions[name], values)
    return statement.where(*clauses)


def fast_case_facts(
    scope: ScopeRule,
    keys: Sequence[str],
    filters: CaseStatsFilters,
    *,
    keyed: bool = False,
    with_concern: bool = False,
) -> Any:
    """case_facts() read from `case_facts` (PostgreSQL): the same rows, no join of children
    or concerns (a case's concerns are an array, unnested when grouped by concern), and the
    sole flags with which aggregate() counts distinct children without sorting them all."""
    f = facts_table.c
    dated = f.opened_on if filters.period_of is PeriodOf.opened else f.closed_on
    month = f.opened_month if filters.period_of is PeriodOf.opened else f.closed_month
    joined, concern = with_concerns()
    expressions: dict[str, Any] = {
        "status": f.status,
        "risk_level": f.risk_level,
        "referral_source": f.referral_source,
        "assigned_to": f.assigned_to,
        "concern": concern,
        "province": f.province,
        "district": f.district,
        "sex": f.sex,
        "care_arrangement": f.care_arrangement,
        "closure_reason": f.closure_reason,
        "organisation_kind": col(Organisation.kind),
        "age_band": age_band_of_years_sql(f.age_years),
    }
    for period in PERIODS:
        expressions[period] = period_code(period, month)  # labelled by _aggregate_split
    network = filters if isinstance(filters, NetworkCaseFilters) else None
    record_keys: list[Any] = [f.case_key, f.child_key] if keyed else []
    statement = select(
        f.case_id,
        f.child_id,
        f.child_sole,
        f.case_sole,
        *record_keys,
        *[expressions[k].label(k) for k in keys],
    ).select_from(joined if CaseKey.concern in keys else facts_table)
    clauses: list[Any] = [scope(CaseFacts)]
    if "organisation_kind" in keys or (network and network.organisation_kind is not None):
        statement = statement.join(Organisation, col(Organisation.id) == f.organisation_id)
    if network is not None:
        clauses += _in(expressions["closure_reason"], network.closure_reason)
        clauses += _in(expressions["organisation_kind"], network.organisation_kind)
    if CaseKey.concern in keys:
        clauses += _in(concern, filters.concern)
    elif filters.concern is not None:
        clauses.append(f.concerns.overlap(list(filters.concern)))
    elif with_concern:
        clauses.append(func.cardinality(f.concerns) > 0)
    if filters.period_of is PeriodOf.closed:
        clauses.append(dated.is_not(None))
    clauses += filters.dates.on(dated)
    clauses += _in(f.status, filters.status)
    clauses += _in(f.risk_level, filters.risk_level)
    clauses += _in(f.referral_source, filters.referral_source)
    clauses += _in(f.assigned_to, filters.assigned_to)
    for name in ("province", "district", "sex", "age_band", "care_arrangement"):
        clauses += _in(expressions[name], getattr(filters, name))
    return statement.where(*clauses)


def rollup_facts(
    scope: ScopeRule,
    grain: int,
    keys: Sequence[str],
    dates: DateRange,
    filters: CaseStatsFilters | None = None,
) -> Any:
    """The rows of `case_rollups` of one grain (ovc_api.stats.rollups) that hold the facts
    fast_case_facts() (or outcome_data()'s closures) reads: the same group keys, labelled
    alike, and the measures to sum. `dates` must be whole months (rollups.months)."""
    r = rollups_table.c
    expressions: dict[str, Any] = {
        "province": r.province,
        "concern": r.concern,
        "age_band": r.age_band,
        "reason": r.closure_reason,
        "organisation_kind": col(Organisation.kind),
    }
    for period in PERIODS:
        expressions[period] = period_code(period, r.month)
    statement = select(
        *[expressions[k].label(k) for k in keys],
        r.cases,
        r.sole_children,
        r.case_keys,
        r.sole_case_keys,
        r.sole_child_keys,
    ).select_from(rollups_table)
    kinds = filters.organisation_kind if isinstance(filters, NetworkCaseFilters) else None
    if "organisation_kind" in keys or kinds is not None:
        statement = statement.join(Organisation, col(Organisation.id) == r.organisation_id)
    bounds = months(dates)
    if bounds is None:
        raise ValueError(f"not whole months: {dates}")
    first, last = bounds
    clauses: list[Any] = [scope(CaseRollups), r.grain == grain]
    clauses += [] if first is None else [r.month >= first]
    clauses += [] if last is None else [r.month <= last]
    clauses += _in(expressions["organisation_kind"], kinds)
    for name in ("province", "concern", "age_band"):
        clauses += _in(expressions[name], getattr(filters, name, None))
    return statement.where(*clauses)


async def case_cube(
    session: AsyncSession,
    scope: ScopeRule,
    keys: Sequence[str],
    filters: CaseStatsFilters,
    levels: Sequence[Level],
    *,
    keyed: bool = False,
) -> Cube:
    is_postgres = _is_postgres(session)
    # Grouped by concern, a case appears once per concern: count it once where concerns merge.
    by_concern = CaseKey.concern in keys
    counts = {
        "cases": _distinct("case_id") if by_concern and not FAST else _count_rows,
        "children": _distinct("child_id"),
    }
    cell_keys = {
        "cases": _key_sum("case_key", each_once=by_concern),
        "children": _key_sum("child_key", each_once=True),
    }
    plan = case_plan(keys, filters, levels) if FAST and is_postgres else None
    if plan is not None:
        # Whole months of groups case_rollups holds: its sums, and case_facts' rows without
        # a sole flag (as below, each part's levels from the facts case_facts() gives them).
        cube: Cube = {}
        for part in plan:
            rest = [key for key in keys if any(key in level for level in part.levels)]
            facts = case_facts(
                scope, rest, filters, is_postgres=True, keyed=keyed, with_concern=part.with_concern
            )
            rolled = rollup_facts(scope, part.grain, rest, filters.dates, filters)
            found = await aggregate(
                session, facts, rest, counts, part.levels, cell_keys if keyed else None, rolled
            )
            cube.update(found)
        return {level: cube[level] for level in levels}
    if not FAST or not by_concern:
        facts = case_facts(scope, keys, filters, is_postgres=is_postgres, keyed=keyed)
        return await aggregate(session, facts, keys, counts, levels, cell_keys if keyed else None)
    # Tables with the concern count (case, concern) rows: a case once per concern (the pair
    # is the key of case_concerns), so counting rows counts distinct cases. Tables without
    # it read the cases alone, those with a concern (a selected one, if filtered): the same
    # cases, each once, without joining concerns and counting distinct case ids.
    cube = {}
    with_concern = [level for level in levels if CaseKey.concern in level]
    if with_concern:
        facts = case_facts(scope, keys, filters, is_postgres=is_postgres, keyed=keyed)
        cube.update(
            await aggregate(
                session, facts, keys, counts, with_concern, cell_keys if keyed else None
            )
        )
    without = [level for level in levels if CaseKey.concern not in level]
    if without:
        rest = [key for key in keys if any(key in level for level in without)]
        facts = case_facts(
            scope, rest, filters, is_postgres=is_postgres, keyed=keyed, with_concern=True
        )
        cube.update(
            await aggregate(session, facts, rest, counts, without, cell_keys if keyed else None)
        )
    return {level: cube[level] for level in levels}


# --- services ---------------------------------------------------------------------------


def service_facts(
    scope: ScopeRule,
    keys: Sequence[str],
    filters: ServiceStatsFilters,
    *,
    is_postgres: bool,
    keyed: bool = False,
) -> Any:
    """One row per service delivered; keyed: with the service's, child's and family's keys."""
    delivered = col(ServiceDelivery.delivered_on)
    expressions: dict[str, Any] = {
        "service_type": col(ServiceDelivery.service_type),
        "province": col(ServiceDelivery.province),
        "district": col(ServiceDelivery.district),
        "organisation_kind": col(Organisation.kind),
    }
    for period in PERIODS:
        expressions[period] = period_label(period, delivered, is_postgres=is_postgres)
    clauses: list[Any] = [scope(ServiceDelivery), *filters.dates.on(delivered)]
    clauses += _in(expressions["service_type"], filters.service_type)
    clauses += _in(expressions["province"], filters.province)
    clauses += _in(expressions["district"], filters.district)
    kinds = filters.organisation_kind if isinstance(filters, NetworkServiceFilters) else None
    clauses += _in(expressions["organisation_kind"], kinds)
    record_keys: list[Any] = (
        [
            col(ServiceDelivery.record_key).label("service_key"),
            col(Child.record_key).label("child_key"),
            col(Family.record_key).label("family_key"),
        ]
        if keyed
        else []
    )
    statement = select(
        col(ServiceDelivery.child_id).label("child_id"),
        col(ServiceDelivery.family_id).label("family_id"),
        *record_keys,
        *[expressions[k].label(k) for k in keys],
    ).select_from(ServiceDelivery)
    if keyed:
        statement = statement.outerjoin(
            Child, col(Child.id) == col(ServiceDelivery.child_id)
        ).outerjoin(Family, col(Family.id) == col(ServiceDelivery.family_id))
    if "organisation_kind" in keys or kinds is not None:
        statement = statement.join(
            Organisation, col(Organisation.id) == col(ServiceDelivery.organisation_id)
        )
    return statement.where(*clauses)


async def service_cube(
    session: AsyncSession,
    scope: ScopeRule,
    keys: Sequence[str],
    filters: ServiceStatsFilters,
    levels: Sequence[Level],
    *,
    keyed: bool = False,
) -> Cube:
    if FAST and _is_postgres(session):
        kinds = filters.organisation_kind if isinstance(filters, NetworkServiceFilters) else None
        values = {name: getattr(filters, name) for name in SET_KEYS}
        fast = await fast_service_cube(
            session,
            scope,
            keys,
            levels,
            ServiceQuery(filters.dates, values, kinds, SERVICE_COUNTS, keyed),
        )
        if fast is not None:
            return fast
    facts = service_facts(scope, keys, filters, is_postgres=_is_postgres(session), keyed=keyed)
    counts = {
        "services": _count_rows,
        "children": _distinct("child_id"),
        "families": _distinct("family_id"),
    }
    cell_keys = {
        "services": _key_sum("service_key", each_once=False),
        "children": _key_sum("child_key", each_once=True),
        "families": _key_sum("family_key", each_once=True),
    }
    return await aggregate(session, facts, keys, counts, levels, cell_keys if keyed else None)


@dataclass(frozen=True)
class ServiceQuery:
    """What fast_service_cube() counts: the date range, the values each of type, province
    and district must have (None: any), the organisation kinds, the counts (of
    SERVICE_COUNTS) and whether with their cell keys."""

    dates: DateRange
    values: Mapping[str, Sequence[str] | None]
    kinds: Sequence[str] | None
    counts: Sequence[str]
    keyed: bool


def _service_label(key: str, value: Any) -> Any:
    """period_label()'s text of a period's first day ("2026-03", "2026-Q1", "2026")."""
    if key not in PERIOD_STARTS or value is None:
        return value
    if key == Period.month.value:
        return f"{value.year:04d}-{value.month:02d}"
    if key == Period.quarter.value:
        return f"{value.year:04d}-Q{(value.month - 1) // 3 + 1}"
    return f"{value.year:04d}"


def _summary_mode(level: Level, dates: DateRange) -> str | None:
    """Which of service_summary's first-row conditions a level's cells count under `dates`
    (None: none of them): the previous delivery before the row's quarter (q), its year
    (y), or none (a), i.e. before the later of `from` and the start of the row's period."""
    start, end = dates.start, dates.end
    if start is not None and (start.day != 1 or start.month % 3 != 1):
        return None  # not a quarter's first day
    after = None if end is None else end + timedelta(days=1)
    if after is not None and (after.day != 1 or after.month % 3 != 1):
        return None  # not a quarter's last day
    one_quarter = start is not None and end is not None and end < start + timedelta(days=93)
    one_year = start is not None and end is not None and start.month == 1
    one_year = one_year and end is not None and start is not None and end.year == start.year
    if Period.month.value in level:
        return None
    if Period.quarter.value in level:
        return "q"  # every row's quarter starts on or after `from`
    if Period.year.value in level:
        if start is None or start.month == 1:
            return "y"  # every row's year starts on or after `from`
        return "q" if one_quarter else None
    if start is None:
        return "a"
    return "q" if one_quarter else "y" if one_year else None


async def _add_shared(
    session: AsyncSession,
    sums: dict[tuple[Level, Key], dict[str, int]],
    keys: Sequence[str],
    levels: Sequence[Level],
    query: ServiceQuery,
    facts: tuple[Any, dict[str, Any], list[Any]],
) -> None:
    """fast_service_cube()'s shared rows (a child or family served by several
    organisations, or sharing a record key) counted into `sums` the sorting way: few rows,
    found through their partial index. Their keys as the plain statements read them,
    through the network's views of children and families (none for an inactive member's
    child served by another), one look-up per row."""
    source, expressions, clauses = facts
    f = service_facts_table.c
    who = {"children": "child", "families": "family"}
    records: dict[str, Any] = {"child": Child, "family": Family}
    counted = [name for name in query.counts if name in who]
    seen: list[Any] = []
    if query.keyed:
        for name in counted:
            model = records[who[name]]
            look_up = select(col(model.record_key)).where(col(model.id) == f[f"{who[name]}_id"])
            seen.append(look_up.scalar_subquery().label(f"{who[name]}_seen_key"))
    flags = or_(*[f[f"{who[name]}_shared"] for name in counted])
    rows = (
        select(
            *[expressions[k].label(k) for k in keys],
            *[f[f"{who[name]}_{part}"] for name in counted for part in ("id", "shared")],
            *seen,
        )
        .select_from(source)
        .where(*clauses, flags)
        .subquery("shared")
    )
    measures: dict[str, Any] = {}
    for name in counted:
        flag = rows.c[f"{who[name]}_shared"]
        measures[name] = func.count(distinct(rows.c[f"{who[name]}_id"])).filter(flag)
        if query.keyed:
            key = rows.c[f"{who[name]}_seen_key"]
            measures[name + KEY_SUFFIX] = func.sum(distinct(key)).filter(flag)
    columns = [rows.c[k] for k in keys]
    statement = select(*columns, *[m.label(n) for n, m in measures.items()])
    if columns:
        grouping = func.grouping(*columns).label("grouping_bits")
        sets = [tuple_(*[rows.c[k] for k in level]) for level in levels]
        statement = statement.add_columns(grouping).group_by(func.grouping_sets(*sets))
    for row in await _rows(session, statement):
        data = row._mapping
        level = _level_of(keys, int(data["grouping_bits"])) if columns else ()
        found = sums.get((level, tuple(data[k] for k in level)))
        if found is None:  # a table without rows (the shared statement's empty total)
            continue
        for name in measures:
            found[name] += int(data[name] or 0)


async def fast_service_cube(
    session: AsyncSession,
    scope: ScopeRule,
    keys: Sequence[str],
    levels: Sequence[Level],
    query: ServiceQuery,
) -> Cube | None:
    """service_cube() from `service_facts` (PostgreSQL), or None where it cannot be exact
    (a filter of several values on a key some table is not grouped by).

    A cell's distinct children are the cell's rows that are their child's first in it: a
    row whose previous delivery to the child with the same values of the level's keys (and
    of the single-valued filters' keys; the organisation is in every partition, so the
    organisation kind needs none) is missing or before the later of `from` and the start of
    the row's period, counted with count(*) FILTER in one plain GROUP BY of the finest
    table (each level its own filter; every coarser table is sums of the finest cells); the
    shared rows (a child of several organisations, a shared key) apart, with DISTINCT, in a
    second statement over those few rows. Families the same; cell keys the same sums.

    Where every table is one of `service_summary`'s (keys type, province, organisation
    kind, quarter or year; whole quarters; see _summary_mode), the finest table is summed
    from its few rows per organisation, type, province and quarter instead."""
    f = service_facts_table.c
    single: set[str] = set()
    clauses: list[Any] = [scope(ServiceFacts), *query.dates.on(f.delivered_on)]
    for name, values in query.values.items():
        if values is None:
            continue
        clauses.append(f[name].in_(list(values)))
        if len(set(values)) == 1:
            single.add(name)
        elif not all(name in level for level in levels):
            return None
    expressions: dict[str, Any] = {name: f[name] for name in SET_KEYS}
    expressions.update({period: f[start] for period, start in PERIOD_STARTS.items()})
    expressions["organisation_kind"] = col(Organisation.kind)
    source: Any = service_facts_table
    kind_clauses: list[Any] = []
    if "organisation_kind" in keys or query.kinds is not None:
        source = source.join(Organisation, col(Organisation.id) == f.organisation_id)
        kind_clauses = _in(col(Organisation.kind), query.kinds)
    clauses += kind_clauses
    keys = [key for key in keys if any(key in level for level in levels)]
    who = {"children": "child", "families": "family"}
    distinct_counts = [name for name in query.counts if name in who]
    modes = {level: _summary_mode(level, query.dates) for level in levels}
    summary = set(keys) <= set(SUMMARY_KEYS) and query.values.get("district") is None
    summary = summary and all(mode is not None for mode in modes.values())

    def first(person: str, level: Level) -> Any:
        prev = f[f"{person}_prev_{set_of(single.union(level))}"]
        bounds: list[Any] = []
        if query.dates.start is not None:
            bounds.append(literal(query.dates.start, Date))
        bounds += [f[PERIOD_STARTS[k]] for k in level if k in PERIOD_STARTS]
        if not bounds:
            return and_(~f[f"{person}_shared"], prev.is_(None))
        bound = bounds[0] if len(bounds) == 1 else func.greatest(*bounds)
        return and_(~f[f"{person}_shared"], or_(prev.is_(None), prev < bound))

    measures: dict[str, Any] = {}  # label -> measure of the finest table
    labels: dict[tuple[Level, str], str] = {}  # (level, count) -> its level's measure
    if summary:
        s = service_summary_table.c
        fine_source: Any = service_summary_table
        if kind_clauses or "organisation_kind" in keys:
            fine_source = fine_source.join(Organisation, col(Organisation.id) == s.organisation_id)
        fine_expressions = {
            "service_type": s.service_type,
            "province": s.province,
            "quarter": s.quarter_start,
            "year": s.year_start,
            "organisation_kind": col(Organisation.kind),
        }
        fine_clauses = [scope(ServiceSummary), *kind_clauses]
        fine_clauses += [s[k].in_(list(v)) for k, v in query.values.items() if v is not None]
        if query.dates.start is not None:
            fine_clauses.append(s.quarter_start >= query.dates.start)
        if query.dates.end is not None:
            fine_clauses.append(s.quarter_start <= query.dates.end)
        measures["_rows"] = func.sum(s.services)
        measures["services" + KEY_SUFFIX] = func.sum(s.service_key)
        for i, level in enumerate(levels):
            for name in distinct_counts:
                column = f"{who[name]}_{set_of(single.union(level))}_{modes[level]}"
                label = f"{name}_{i}"
                measures[label] = func.sum(s[column])
                measures[label + KEY_SUFFIX] = func.sum(s[column + KEY_SUFFIX])
                labels[level, name] = label
                labels[level, name + KEY_SUFFIX] = label + KEY_SUFFIX
    else:
        fine_source, fine_expressions, fine_clauses = source, expressions, clauses
        measures["_rows"] = func.count()
        measures["services" + KEY_SUFFIX] = func.sum(f.service_key)
        for i, level in enumerate(levels):
            for name in distinct_counts:
                person = who[name]
                condition = first(person, level)
                label = f"{name}_{i}"
                measures[label] = func.count().filter(condition)
                measures[label + KEY_SUFFIX] = func.sum(f[f"{person}_key"]).filter(condition)
                labels[level, name] = label
                labels[level, name + KEY_SUFFIX] = label + KEY_SUFFIX
    labels.update({(level, "services"): "_rows" for level in levels})
    names = list(query.counts) + (
        [name + KEY_SUFFIX for name in query.counts] if query.keyed else []
    )
    if not query.keyed:
        measures = {n: m for n, m in measures.items() if not n.endswith(KEY_SUFFIX)}
    await tune(session)
    fine_columns: list[Any] = [fine_expressions[k].label(k) for k in keys]
    fine = select(*fine_columns, *[m.label(n) for n, m in measures.items()])
    fine = fine.select_from(fine_source).where(*fine_clauses)
    if fine_columns:
        fine = fine.group_by(*[fine_expressions[k] for k in keys])
        if summary:  # cells whose rows of changes add up to no delivery are none
            fine = fine.having(func.sum(service_summary_table.c.services) != 0)
        fine = fine.limit(MAX_GROUPS + 1)
    rows = await _rows(session, fine)
    if len(rows) > MAX_GROUPS:
        raise _too_many()
    sums: dict[tuple[Level, Key], dict[str, int]] = {}
    if () in levels:
        sums[(), ()] = dict.fromkeys(names, 0)
    for row in rows:
        data = row._mapping
        for level in levels:
            total = sums.setdefault((level, tuple(data[k] for k in level)), dict.fromkeys(names, 0))
            for name in names:
                total[name] += int(data[labels.get((level, name), name)] or 0)
    if distinct_counts:
        await _add_shared(session, sums, keys, levels, query, (source, expressions, clauses))
    cube: Cube = {level: {} for level in levels}
    for (level, key), found in sums.items():
        if len(cube[level]) >= MAX_GROUPS:
            raise _too_many()
        labelled = tuple(_service_label(k, v) for k, v in zip(level, key, strict=True))
        cube[level][labelled] = {
            n: v % KEY_RANGE if n.endswith(KEY_SUFFIX) else v for n, v in found.items()
        }
    return _ordered(cube)


# --- outcomes ---------------------------------------------------------------------------

PLACEMENTS = {  # closure reason -> the outcome counting the children placed so
    ClosureReason.reunified_with_family.value: "children_reunified",
    ClosureReason.kinship_care.value: "children_placed_in_kinship_care",
    ClosureReason.foster_care.value: "children_placed_in_foster_care",
}
SERVICE_OUTCOMES = {
    ServiceType.birth_certificate_support.value: "birth_certificates",
    ServiceType.school_enrolment_support.value: "school_enrolments",
}
REFERRAL_OUTCOMES = ("referrals_made", "referrals_accepted", "referrals_completed")


@dataclass
class OutcomeData:
    """The aggregates of the outcomes statistic, each with its totals over the whole range."""

    closures: Cube  # levels (period, reason), (period,), (reason,), (): cases and children
    services: Cube  # levels (period, service_type), (service_type,): children
    referrals: dict[str, Cube] = field(default_factory=dict)  # levels (period,), (): count
    medians: dict[Any, float | None] = field(default_factory=dict)  # period (None: all)


def _closed(scope: ScopeRule, dates: DateRange) -> list[Any]:
    closed_on = col(Case.closed_on)
    return [scope(Case), closed_on.is_not(None), *dates.on(closed_on)]


async def _medians(
    session: AsyncSession, scope: ScopeRule, period: Period, dates: DateRange
) -> dict[Any, float | None]:
    """Median days from opening to closure of the cases closed in each period, and overall."""
    closed_on, opened_on = col(Case.closed_on), col(Case.opened_on)
    label = period_label(period, closed_on, is_postgres=_is_postgres(session)).label("period")
    if _is_postgres(session):
        days = (closed_on - opened_on).label("days")
        closed = select(label, days).where(*_closed(scope, dates))
        bounds = quarters(dates)
        if FAST and period is not Period.month and bounds is not None:
            # Whole quarters: how many cases took each number of days, from case_rollups.
            r = rollups_table.c
            first, last = bounds
            counted = select(
                period_code(period, r.month).label("period"),
                r.days.label("days"),
                r.cases.label("n"),
            ).where(
                scope(CaseRollups),
                r.grain == CLOSED_DAYS,
                *([] if first is None else [r.month >= first]),
                *([] if last is None else [r.month <= last]),
            )
            return await _medians_of_counts(session, counted.subquery(), period)
        if FAST:  # the same cases' dates, from the narrower case_facts, counted per day
            f = facts_table.c
            closed = select(
                period_code(period, f.closed_month).label("period"),
                (f.closed_on - f.opened_on).label("days"),
            ).where(scope(CaseFacts), f.closed_on.is_not(None), *dates.on(f.closed_on))
            return await _medians_of_counts(session, closed.subquery(), period)
        sub = closed.subquery()
        median = func.percentile_cont(0.5).within_group(sub.c.days).label("median")
        grouping = func.grouping(sub.c.period).label("grouping_bits")
        statement = select(sub.c.period, grouping, median).group_by(
            func.grouping_sets(tuple_(sub.c.period), tuple_())
        )
        return {
            (None if row.grouping_bits else row.period): _float(row.median)
            for row in await _rows(session, statement)
        }
    days = (func.julianday(closed_on) - func.julianday(opened_on)).label("days")
    sub = select(label, days).where(*_closed(scope, dates)).subquery()
    found: dict[Any, float | None] = {}
    for partition in (sub.c.period, None):
        ranked = select(
            sub.c.period,
            sub.c.days,
            func.row_number().over(partition_by=partition, order_by=sub.c.days).label("rn"),
            func.count().over(partition_by=partition).label("n"),
        ).subquery()
        # The middle row (n odd) or two rows (n even): n <= 2 rn <= n + 2, in integers.
        twice = ranked.c.rn * 2
        middle = and_(twice >= ranked.c.n, twice <= ranked.c.n + 2)
        average = cast(func.avg(ranked.c.days), Float).label("median")
        if partition is None:
            statement = select(average).where(middle)
            found[None] = _float((await _rows(session, statement))[0][0])
        else:
            statement = select(ranked.c.period, average).where(middle).group_by(ranked.c.period)
            for row in await _rows(session, statement):
                found[row.period] = _float(row.median)
    return found


async def _medians_of_counts(
    session: AsyncSession, sub: Any, period: Period
) -> dict[Any, float | None]:
    """_medians() from how many cases took each number of days in each period (a hash
    aggregate of a few thousand groups instead of sorting every closed case): the median as
    PostgreSQL's percentile_cont(0.5) computes it, in the same double-precision steps.
    `sub` has a row per case, or a column `n` of how many cases each row stands for."""
    # A sum as a bigint, not numeric: thousands of rows read as ints, not Decimals.
    n = cast(func.sum(sub.c.n), BigInteger) if "n" in sub.c else func.count()
    statement = select(sub.c.period, sub.c.days, n.label("n")).group_by(sub.c.period, sub.c.days)
    periods: dict[Any, dict[int, int]] = {}
    overall: dict[int, int] = {}
    labels: dict[int, str] = {}
    for code, days, count in await _rows(session, statement):
        if not count:  # rollup slots whose cases cancelled out
            continue
        label = labels.get(code)
        if label is None:
            label = labels[code] = period_label_of_code(period.value, int(code))
        periods.setdefault(label, {})[days] = count
        overall[days] = overall.get(days, 0) + count
    found = {period: _median_of_counts(counts) for period, counts in periods.items()}
    found[None] = _median_of_counts(overall)
    return found


def _median_of_counts(counts: Mapping[int, int]) -> float | None:
    """percentile_cont(0.5) of a multiset given as {value: how many} (None if empty)."""
    rows = sum(counts.values())
    if not rows:
        return None
    position = 0.5 * (rows - 1)
    first, second = math.floor(position), math.ceil(position)
    values: dict[int, float] = {}
    seen = 0
    for value in sorted(counts):
        later = seen + counts[value]
        for index in (first, second):
            if seen <= index < later:
                values[index] = float(value)
        seen = later
    low, high = values[first], values[second]
    median = low if first == second else low + (high - low) * (position - first)
    return _float(median)


def _float(value: Any) -> float | None:
    return None if value is None else round(float(value), 1)


async def _outcome_services(
    session: AsyncSession, scope: ScopeRule, period: Period, dates: DateRange, *, keyed: bool
) -> Cube:
    """The children given a birth certificate or school enrolment service, per period and
    type and per type (from service_facts on PostgreSQL)."""
    is_postgres = _is_postgres(session)
    key = period.value
    levels: list[Level] = [(key, "service_type"), ("service_type",)]
    if FAST and is_postgres:
        values = {"service_type": list(SERVICE_OUTCOMES), "province": None, "district": None}
        query = ServiceQuery(dates, values, None, ("children",), keyed)
        fast = await fast_service_cube(session, scope, (key, "service_type"), levels, query)
        if fast is not None:
            return fast
    delivered = col(ServiceDelivery.delivered_on)
    served: Any = select(
        period_label(period, delivered, is_postgres=is_postgres).label(key),
        col(ServiceDelivery.service_type).label("service_type"),
        col(ServiceDelivery.child_id).label("child_id"),
    )
    if keyed:
        served = served.add_columns(col(Child.record_key).label("child_key")).outerjoin(
            Child, col(Child.id) == col(ServiceDelivery.child_id)
        )
    return await aggregate(
        session,
        served.where(
            scope(ServiceDelivery),
            col(ServiceDelivery.service_type).in_(list(SERVICE_OUTCOMES)),
            *dates.on(delivered),
        ),
        (key, "service_type"),
        {"children": _distinct("child_id")},
        levels,
        {"children": _key_sum("child_key", each_once=True)} if keyed else None,
    )


async def outcome_data(
    session: AsyncSession,
    scope: ScopeRule,
    period: Period,
    dates: DateRange,
    *,
    keyed: bool = False,
) -> OutcomeData:
    """keyed: every count with its cell key (cases, children and referrals' record keys)."""
    is_postgres = _is_postgres(session)
    key = period.value
    if FAST and is_postgres:
        # From case_facts: no join of children for the keys, and the sole flags.
        f = facts_table.c
        closed_facts: Any = select(
            period_code(period, f.closed_month).label(key),  # labelled by _aggregate_split
            func.coalesce(f.closure_reason, ClosureReason.other.value).label("reason"),
            f.child_id,
            f.child_sole,
            f.case_sole,
            *([f.case_key, f.child_key] if keyed else []),
        ).where(scope(CaseFacts), f.closed_on.is_not(None), *dates.on(f.closed_on))
    else:
        closed_on = col(Case.closed_on)
        reason = func.coalesce(col(Case.closure_reason), ClosureReason.other.value)
        closed_facts = select(
            period_label(period, closed_on, is_postgres=is_postgres).label(key),
            reason.label("reason"),
            col(Case.child_id).label("child_id"),
        )
        if keyed:
            closed_facts = closed_facts.add_columns(
                _case_key().label("case_key"), col(Child.record_key).label("child_key")
            ).join(Child, col(Child.id) == col(Case.child_id))
        closed_facts = closed_facts.where(*_closed(scope, dates))
    rolled = None
    if FAST and is_postgres and months(dates) is not None:
        # Whole months: the closed cases' sums from case_rollups (grain CLOSED).
        rolled = rollup_facts(scope, CLOSED, (key, "reason"), dates)
    closures = await aggregate(
        session,
        closed_facts,
        (key, "reason"),
        {"cases": _count_rows, "children": _distinct("child_id")},
        [(key, "reason"), (key,), ("reason",), ()],
        {
            "cases": _key_sum("case_key", each_once=False),
            "children": _key_sum("child_key", each_once=True),
        }
        if keyed
        else None,
        rolled,
    )
    services = await _outcome_services(session, scope, period, dates, keyed=keyed)
    data = OutcomeData(closures=closures, services=services)
    status = col(Referral.status)
    events: dict[str, tuple[Any, list[Any]]] = {
        "referrals_made": (col(Referral.created_at), []),
        "referrals_accepted": (
            col(Referral.decided_at),
            [col(Referral.decided_at).is_not(None), status != ReferralStatus.declined.value],
        ),
        "referrals_completed": (
            col(Referral.closed_at),
            [col(Referral.closed_at).is_not(None), status == ReferralStatus.completed.value],
        ),
    }
    if FAST and is_postgres:
        data.referrals = await _fast_referrals(session, scope, period, dates, events, keyed=keyed)
    for name, (when, conditions) in events.items():
        if name in data.referrals:
            continue
        data.referrals[name] = await aggregate(
            session,
            select(
                period_label(period, when, is_postgres=is_postgres, timestamp=True).label(key),
                col(Referral.record_key).label("referral_key"),
            ).where(scope(Referral), *conditions, *dates.on_timestamp(when)),
            (key,),
            {"n": _count_rows},
            [(key,), ()],
            {"n": _key_sum("referral_key", each_once=False)} if keyed else None,
        )
    data.medians = await _medians(session, scope, period, dates)
    return data


async def _fast_referrals(
    session: AsyncSession,
    scope: ScopeRule,
    period: Period,
    dates: DateRange,
    events: Mapping[str, tuple[Any, list[Any]]],
    *,
    keyed: bool,
) -> dict[str, Cube]:
    """The referrals' events (made, accepted, completed) per period and in all, as the
    statements over each event's timestamp count them, in one pass over the referrals: per
    referral, each event's UTC day as a number (days since 1970-01-01 from the epoch: no
    time zone looked up, no text; NULL if the event did not happen in the range), grouped
    by each event's day in one GROUPING SETS (hashed together), then the few thousand days
    grouped by their period as a number (period_code()'s), the NULL groups dropped, and
    labelled here. to_char of every timestamp cost more than the rest of the statement.
    The totals are the periods' sums (counts and key sums add up)."""
    await tune(session)
    periods = []
    for i, (when, conditions) in enumerate(events.values()):
        epoch = func.date_part(literal_column("'epoch'"), when)
        day = cast(func.floor(epoch / literal_column("86400")), Integer)
        happened = [*conditions, *dates.on_timestamp(when)]
        periods.append((case((and_(*happened), day)) if happened else day).label(f"p{i}"))
    facts = (
        select(*periods, col(Referral.record_key).label("referral_key"))
        .where(scope(Referral))
        .subquery("facts")
    )
    columns = [facts.c[f"p{i}"] for i in range(len(periods))]
    measures = [func.count().label("n")]
    if keyed:
        measures.append(func.coalesce(func.sum(facts.c.referral_key), 0).label("n_key"))
    days = (
        select(*columns, func.grouping(*columns).label("bits"), *measures)
        .group_by(func.grouping_sets(*[tuple_(c) for c in columns]))
        .subquery("days")
    )
    # The few thousand days' periods (a day is one event's, the others' columns NULL).
    on: Any = literal_column("DATE '1970-01-01'") + func.coalesce(
        *[days.c[c.name] for c in columns]
    )
    year = cast(func.date_part(literal_column("'year'"), on), Integer)
    month = cast(func.date_part(literal_column("'month'"), on), Integer)
    code = period_code(period, (year * 12 + month - 1).self_group()).label("code")
    sums_of = [cast(func.sum(days.c.n), BigInteger).label("n")]
    if keyed:
        sums_of.append(cast(func.sum(days.c.n_key), BigInteger).label("n_key"))
    statement = select(days.c.bits, code, *sums_of).group_by(days.c.bits, code)
    key = period.value
    cubes: dict[str, Cube] = {}
    width = len(columns)
    found: dict[int, dict[str, tuple[int, int]]] = {i: {} for i in range(width)}
    which = {bits: i for i in range(width) for bits in [(1 << width) - 1 - (1 << (width - 1 - i))]}
    for row in await _rows(session, statement):
        if row[1] is None:  # the referrals whose event did not happen (in the range)
            continue
        label = period_label_of_code(key, row[1])
        found[which[row[0]]][label] = (row[2], row[3] if keyed else 0)
    for i, name in enumerate(events):
        sums = found[i]
        cells = {(label,): n for label, n in sums.items()}
        total = (sum(n for n, _ in cells.values()), sum(k for _, k in cells.values()))

        def counts(n: tuple[int, int]) -> dict[str, int]:
            return {"n": n[0], "n_key": n[1] % KEY_RANGE} if keyed else {"n": n[0]}

        cubes[name] = _ordered(
            {
                (key,): {cell: counts(n) for cell, n in cells.items()},
                (): {(): counts(total)},
            }
        )
    return cubes
