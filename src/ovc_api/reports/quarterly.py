"""The quarterly report's figures: a handful of aggregate queries over one quarter.

Definitions (also in the endpoint's description):
- new cases: opened in the quarter; active cases: open on at least one day of it (opened
  on or before its last day, not closed before its first); closed: closed in it;
- children supported: distinct children with an active case or a service delivered in the
  quarter; families supported: the same for families (of the cases, or served directly);
- cases by concern and by district (the child's): the active cases;
- services by type, outcomes and referrals: as GET /stats/services and /stats/outcomes
  restricted to the quarter;
- alternative care: as GET /stats/care for the quarter (children in residential care on its
  last day; stability over every move up to its end).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import distinct, exists, func, literal_column, or_, select, union
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api.cases.models import Case, CaseConcern
from ovc_api.children.models import Child
from ovc_api.reports.schemas import (
    ReportCare,
    ReportCases,
    ReportConcern,
    ReportDistrict,
    ReportOutcomes,
    ReportReferrals,
    ReportServiceType,
)
from ovc_api.services.models import ServiceDelivery
from ovc_api.stats import engine
from ovc_api.stats.care import care_figures
from ovc_api.stats.dimensions import Period
from ovc_api.stats.engine import (
    Count,
    Distinct,
    Rows,
    ScopeRule,
    aggregate,
    outcome_data,
    service_cube,
)
from ovc_api.stats.facts import CaseFacts, facts_table, with_concerns
from ovc_api.stats.filters import DateRange, ServiceStatsFilters
from ovc_api.stats.rollups import (
    SPANS,
    SPANS_BY_CONCERN,
    SPANS_BY_DISTRICT,
    CaseRollups,
    month_of,
    rollups_table,
)
from ovc_api.stats.service_facts import (
    CASELESS,
    COVERED,
    ServiceFacts,
    service_facts_table,
)
from ovc_api.stats.tables import CLOSED_BY_REASON, outcome_table, sorted_keys


def quarter_range(year: int, quarter: int) -> DateRange:
    first = date(year, 3 * quarter - 2, 1)
    after = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
    return DateRange(first, date.fromordinal(after.toordinal() - 1))


def _active(scope: ScopeRule, quarter: DateRange) -> list[Any]:
    closed_on = col(Case.closed_on)
    return [
        scope(Case),
        col(Case.opened_on) <= quarter.end,
        or_(closed_on.is_(None), closed_on >= quarter.start),
    ]


async def _one(session: AsyncSession, statement: Any) -> Any:
    return (await session.exec(statement)).one()


def _spans(scope: ScopeRule, quarter: DateRange, grain: int) -> list[Any]:
    """The case_rollups rows of a grain of spans (month opened x month closed) whose cases
    are active in the quarter: as _active(), in whole months (a quarter is three)."""
    assert quarter.start is not None and quarter.end is not None
    r = rollups_table.c
    return [
        scope(CaseRollups),
        r.grain == grain,
        r.month <= month_of(quarter.end),
        or_(r.until.is_(None), r.until >= month_of(quarter.start)),
    ]


async def case_counts(session: AsyncSession, scope: ScopeRule, quarter: DateRange) -> ReportCases:
    if engine.FAST and session.info.get("is_postgres"):
        assert quarter.start is not None and quarter.end is not None
        r = rollups_table.c
        row = await _one(
            session,
            select(
                func.coalesce(func.sum(r.cases), 0).label("active"),
                func.coalesce(
                    func.sum(r.cases).filter(r.month >= month_of(quarter.start)), 0
                ).label("new"),
                func.coalesce(func.sum(r.cases).filter(r.until <= month_of(quarter.end)), 0).label(
                    "closed"
                ),
            ).where(*_spans(scope, quarter, SPANS)),
        )
        return ReportCases(new=row.new, active=row.active, closed=row.closed)
    opened_on, closed_on = col(Case.opened_on), col(Case.closed_on)
    row = await _one(
        session,
        select(
            func.count().label("active"),
            func.count().filter(opened_on >= quarter.start).label("new"),
            func.count().filter(closed_on <= quarter.end).label("closed"),
        ).where(*_active(scope, quarter)),
    )
    return ReportCases(new=row.new, active=row.active, closed=row.closed)


async def supported(
    session: AsyncSession, scope: ScopeRule, quarter: DateRange, column: str
) -> int:
    """Distinct children (or families) with an active case or a service in the quarter."""
    if engine.FAST and session.info.get("is_postgres"):
        return await _supported_fast(session, scope, quarter, column)
    of_cases = select(getattr(Case, column).label("id")).where(*_active(scope, quarter))
    served = getattr(ServiceDelivery, column)
    of_services = select(served.label("id")).where(
        scope(ServiceDelivery), *quarter.on(col(ServiceDelivery.delivered_on))
    )
    both = union(of_cases, of_services).subquery()
    # UNION keeps each id once already: counting the non-null ones is counting distinct ids.
    row = await _one(session, select(func.count(both.c.id)))
    return int(row[0])


async def _supported_fast(
    session: AsyncSession, scope: ScopeRule, quarter: DateRange, column: str
) -> int:
    """supported() as the active cases' distinct ids plus the served ids without an active
    case (each set counted once, without sorting the union of both).

    The active cases' children: case_rollups' sole children of the spans active in the
    quarter, plus the distinct children of case_facts' few active rows without the flag;
    their families: the active cases' family ids hashed. The quarter's services from
    service_facts: a row whose child (family) had a case open on its day (COVERED) is one
    of the active cases', a row of a child with no case at all (CASELESS) is not, and only
    the other rows are looked up among the active cases (one look-up per row, never a scan
    of the active cases)."""
    await engine.tune(session)
    assert quarter.start is not None and quarter.end is not None
    if column == "child_id":
        r, f = rollups_table.c, facts_table.c
        sole = await _one(
            session,
            select(func.coalesce(func.sum(r.sole_children), 0)).where(
                *_spans(scope, quarter, SPANS)
            ),
        )
        others = await _one(
            session,
            select(func.count(distinct(f.child_id))).where(
                scope(CaseFacts),
                ~f.child_sole,
                f.opened_on <= quarter.end,
                or_(f.closed_on.is_(None), f.closed_on >= quarter.start),
            ),
        )
        of_cases = int(sole[0] or 0) + int(others[0] or 0)
    else:
        ids: Any = select(col(Case.family_id).label("id")).where(
            *_active(scope, quarter), col(Case.family_id).is_not(None)
        )
        grouped = ids.group_by(col(Case.family_id)).subquery()
        of_cases = int((await _one(session, select(func.count()).select_from(grouped)))[0])
    s = service_facts_table.c
    served = s[column]
    cover = s["child_cover" if column == "child_id" else "family_cover"]
    # OFFSET 0: a look-up per row that needs one (PostgreSQL would otherwise hash every
    # active case's id, the cost this avoids).
    in_case = exists(
        select(literal_column("1"))
        .where(getattr(Case, column) == served, *_active(scope, quarter))
        .offset(0)
    )
    # Each child's (family's) first delivery of the quarter by the organisation stands for
    # it (its previous one is before the quarter, or none): counted, not hashed. Whether
    # the child has an active case is the same for all its rows; a covered row (1) later
    # in the quarter means the first row's look-up finds the case too.
    previous = s["child_prev__" if column == "child_id" else "family_prev__"]
    row = await _one(
        session,
        select(func.count()).where(
            scope(ServiceFacts),
            *quarter.on(s.delivered_on),
            served.is_not(None),
            or_(previous.is_(None), previous < quarter.start),
            cover != COVERED,
            or_(cover == CASELESS, ~in_case),
        ),
    )
    return of_cases + int(row[0] or 0)


async def services_by_type(
    session: AsyncSession, scope: ScopeRule, quarter: DateRange
) -> list[ReportServiceType]:
    keys = ["service_type"]
    cube = await service_cube(
        session, scope, keys, ServiceStatsFilters(quarter), [("service_type",)]
    )
    table = cube[("service_type",)]
    return [
        ReportServiceType(service_type=key[0], **table[key])
        for key in sorted_keys(keys, list(table))
    ]


async def _active_by(
    session: AsyncSession, scope: ScopeRule, quarter: DateRange, keys: dict[str, Any]
) -> dict[tuple[Any, ...], dict[str, int]]:
    if engine.FAST and session.info.get("is_postgres"):
        # The same cases from case_facts: no join, and the flags of cheap distinct children.
        f = facts_table.c
        joined, concern = with_concerns()
        of_fact = {k: concern if k == "concern" else f[k] for k in keys}
        closed_on = f.closed_on
        facts = (
            select(f.child_id, f.child_sole, f.case_sole, *[e.label(k) for k, e in of_fact.items()])
            .select_from(joined if "concern" in keys else facts_table)
            .where(
                scope(CaseFacts),
                f.opened_on <= quarter.end,
                or_(closed_on.is_(None), closed_on >= quarter.start),
            )
        )
    else:
        facts = select(
            col(Case.child_id).label("child_id"), *[e.label(k) for k, e in keys.items()]
        ).where(*_active(scope, quarter))
        if "concern" in keys:
            facts = facts.join(CaseConcern, col(CaseConcern.case_id) == col(Case.id))
        else:
            facts = facts.join(Child, col(Child.id) == col(Case.child_id))
    counts: dict[str, Count] = {"cases": Rows(), "children": Distinct("child_id")}
    level = tuple(keys)
    rolled = None
    if engine.FAST and session.info.get("is_postgres"):
        # Their sums from case_rollups (the spans by concern, or by province and district).
        r = rollups_table.c
        grain = SPANS_BY_CONCERN if "concern" in keys else SPANS_BY_DISTRICT
        rolled = select(
            *[r[k].label(k) for k in keys],
            r.cases,
            r.sole_children,
            r.case_keys,
            r.sole_case_keys,
            r.sole_child_keys,
        ).where(*_spans(scope, quarter, grain))
    return (await aggregate(session, facts, level, counts, [level], rolled=rolled))[level]


async def cases_by_concern(
    session: AsyncSession, scope: ScopeRule, quarter: DateRange
) -> list[ReportConcern]:
    table = await _active_by(session, scope, quarter, {"concern": col(CaseConcern.concern)})
    return [
        ReportConcern(concern=key[0], **table[key]) for key in sorted_keys(["concern"], list(table))
    ]


async def cases_by_district(
    session: AsyncSession, scope: ScopeRule, quarter: DateRange
) -> list[ReportDistrict]:
    keys = {"province": col(Child.province), "district": col(Child.district)}
    table = await _active_by(session, scope, quarter, keys)
    return [
        ReportDistrict(province=key[0], district=key[1], **table[key])
        for key in sorted_keys(list(keys), list(table))
    ]


async def outcomes_and_referrals(
    session: AsyncSession, scope: ScopeRule, quarter: DateRange
) -> tuple[ReportOutcomes, ReportReferrals]:
    data = await outcome_data(session, scope, Period.quarter, quarter)
    totals = outcome_table(data, Period.quarter.value).totals
    outcomes = ReportOutcomes(
        children_reunified=totals["children_reunified"],
        children_placed_in_kinship_care=totals["children_placed_in_kinship_care"],
        children_placed_in_foster_care=totals["children_placed_in_foster_care"],
        birth_certificates=totals["birth_certificates"],
        school_enrolments=totals["school_enrolments"],
        cases_closed_by_reason={
            reason: totals[name] for reason, name in CLOSED_BY_REASON.items() if totals[name]
        },
        median_days_to_closure=totals["median_days_to_closure"],
    )
    referrals = ReportReferrals(
        made=totals["referrals_made"],
        accepted=totals["referrals_accepted"],
        completed=totals["referrals_completed"],
    )
    return outcomes, referrals


async def alternative_care(
    session: AsyncSession, scope: ScopeRule, quarter: DateRange
) -> ReportCare:
    """The quarter's moves and tracing; stability over every move up to its end."""
    assert quarter.end is not None
    end = quarter.end
    in_quarter = await care_figures(session, scope, Period.quarter, quarter, end)
    figures = in_quarter.totals
    so_far = (await care_figures(session, scope, Period.quarter, DateRange(None, end), end)).totals
    return ReportCare(
        children_in_residential_care=in_quarter.children_in_residential_care,
        moves_to_family_care=figures["moves_to_family_care"],
        mean_days_in_care_before_move=figures["mean_days_in_care_before_move"],
        followed_6_months=so_far["followed_6_months"],
        stable_6_months=so_far["stable_6_months"],
        followed_12_months=so_far["followed_12_months"],
        stable_12_months=so_far["stable_12_months"],
        tracing_concluded=figures["tracing_concluded"],
        tracing_found=figures["tracing_found"],
    )
