"""Statistics: aggregates of the caller's organisation, and of the whole network with small
counts withheld. Nothing here identifies a child: only counts per group leave, computed in
SQL, as JSON or CSV."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from ovc_api import API_V1
from ovc_api.auth.principal import NetworkStatsReader, StatsReader
from ovc_api.db import Session
from ovc_api.errors import error_responses
from ovc_api.formats import FormatParam
from ovc_api.settings import Settings
from ovc_api.stats.dimensions import MAX_GROUP_KEYS, CaseKey, Period, ServiceKey, parse_group_by
from ovc_api.stats.engine import (
    CASE_COUNTS,
    MAX_GROUPS,
    SERVICE_COUNTS,
    ScopeRule,
    case_cube,
    outcome_data,
    service_cube,
)
from ovc_api.stats.filters import Dates, OrganisationCaseStatsFilters, ServiceStatsFiltersDep
from ovc_api.stats.network_space import (
    NETWORK_CASE_KEYS,
    NETWORK_SERVICE_KEYS,
    NetworkCaseFiltersDep,
    NetworkDates,
    NetworkPeriod,
    NetworkServiceFiltersDep,
)
from ovc_api.stats.perturbation import MAX_PERTURBATION
from ovc_api.stats.render import CSV_RESPONSE, chosen_format, table_response
from ovc_api.stats.schemas import (
    CaseStatistic,
    NetworkCaseStatistic,
    NetworkOutcomeStatistic,
    NetworkServiceStatistic,
    OutcomeStatistic,
    ServiceStatistic,
)
from ovc_api.stats.scope import active_network, network_context, whole_organisation
from ovc_api.stats.suppression import subsets
from ovc_api.stats.tables import cube_table, outcome_table

router = APIRouter(prefix=API_V1, tags=["stats"])
RESPONSES = {**error_responses(401, 403, 406, 422), **CSV_RESPONSE}

COMMON = """
Group with `group_by`, a comma-separated list of at most {max_keys} keys (at most one
period: month, quarter or year; labels "2026-03", "2026-Q1", "2026"). Only groups with at
least one case appear; `totals` counts everything the filters select, each child once, so it
can be less than the sum of the rows. At most {max_groups} groups (more is a 422). JSON, or CSV
with `Accept: text/csv` or `format=csv` (a header row with the group keys then the counts).
"""
CASES = """
Counts of cases and of distinct children, grouped by any combination of `status`,
`risk_level`, `concern`, `province`, `district`, `sex`, `age_band`, `care_arrangement`,
`referral_source`{assigned} and a period of opening (or of closing with `period_of=closed`,
which counts closed cases only). `concern`: a case with two concerns counts in both groups.
`province`, `district`, `sex` and `care_arrangement` are the child's (as recorded now);
`age_band` is the child's age on the day the case was opened (`unknown`: no date of birth, or
one after that day).
`from`/`to` (inclusive) apply to the `period_of` date.
"""
SERVICES = """
Services delivered, and distinct children and distinct families they reached, grouped by
`service_type`, `province`, `district` (where the service was delivered) and a period of the
delivery date; `from`/`to` apply to the delivery date. Counted: the services recorded by the
organisation, including those it delivers to children referred to it (services another
organisation delivers under a referral count for that organisation).
"""
OUTCOMES = """
Per period (`group_by`: month, quarter or year; default quarter), by the date of each event:

- `cases_closed`, and `cases_closed_<reason>` for each closure reason (a closed case without
  a recorded reason counts as `other`);
- `children_reunified`, `children_placed_in_kinship_care`, `children_placed_in_foster_care`:
  distinct children whose case was closed with reason reunified_with_family, kinship_care,
  foster_care in the period;
- `birth_certificates`: distinct children who received a birth_certificate_support service
  in the period (the dated record of the work; a change of a child's birth_registration is
  not used: a correction of a wrong entry would look the same);
- `school_enrolments`: distinct children who received a school_enrolment_support service
  in the period (enrolled or re-enrolled);
- `referrals_made` (created), `referrals_accepted` (accepted by the receiver, whatever
  happened later), `referrals_completed` (closed as completed), of the referrals the
  organisation sent; by the UTC date of the event;
- `median_days_to_closure`: of the cases closed in the period (null when none).

Only periods with at least one event appear. `from`/`to` (inclusive) apply to each event's
date. `totals` covers the whole range (each child once).
"""
NETWORK = """
Across every active member organisation. No sequence of requests may give away a count small
enough to identify a child, so network figures differ from an organisation's own in three
ways:

- **A closed query space.** Group and filter by {keys} only; each filter takes one value;
  `from` and `to` together cover one whole quarter (2026-04-01 to 2026-06-30) or one whole
  year (2026-01-01 to 2026-12-31), or are both left out (all time). No district, no month,
  no list of values: any other parameter, a parameter given twice or another range is a 422
  naming it.
- **Perturbation.** Every published count is the true count plus a small noise of **at
  most {max_noise}** either way (cell-key perturbation, as in the ABS TableBuilder and the UK
  2021 census): the noise comes from a fixed table, indexed by a key derived from the
  permanent random keys of the records the cell counts and by the count. The same cell gets
  the same value however and whenever it is asked for, so repeating requests does not
  average the noise away. Totals are perturbed as cells of their own: rows need not add up
  to the totals, and a difference of published counts is never certain to be a true count.
- **Suppression.** A count whose true value is from 1 to the suppression threshold minus one
  (setting `stats_suppression_threshold`, in `suppression_threshold`) is null, and so are
  complementary counts chosen so that no withheld count can be worked out from the totals,
  from the other rows, or from the same statistic grouped by fewer keys. A row's counts are
  withheld together and named in its `suppressed` list; in CSV they are empty cells and a
  last `suppressed` column names them.
"""
NETWORK_CASES = """
Counts of cases and of distinct children, grouped by any combination of `province`, `sex`,
`age_band`, `concern`, `closure_reason` (null: open), `organisation_kind` (of the owning
member) and a period of opening (`quarter` or `year`; of closing with `period_of=closed`,
which counts closed cases only). `concern`: a case with two concerns counts in both groups.
`province` and `sex` are the child's (as recorded now); `age_band` is the child's age on the
day the case was opened (`unknown`: no date of birth). Filters: the same keys, one value
each, and `from`/`to` (a whole quarter or year of the `period_of` date).
"""
NETWORK_SERVICES = """
Services delivered, and distinct children and distinct families they reached, grouped by
`service_type`, `province` (where the service was delivered), `organisation_kind` (of the
delivering member) and a period of the delivery date (`quarter` or `year`); filters: the
same keys, one value each, and `from`/`to` (a whole quarter or year of the delivery date).
"""
NETWORK_COMMON = """
Group with `group_by`, a comma-separated list of at most {max_keys} keys (at most one
period; labels "2026-Q1", "2026"). Only groups with at least one record appear; `totals`
counts everything the filters select, each child once. At most {max_groups} groups (more is
a 422). JSON, or CSV with `Accept: text/csv` or `format=csv` (a header row with the group
keys then the counts).
"""


def _network(keys: list[str]) -> str:
    listed = ", ".join(f"`{key}`" for key in keys)
    return NETWORK.format(keys=listed, max_noise=MAX_PERTURBATION)


def _network_common() -> str:
    return NETWORK_COMMON.format(max_keys=MAX_GROUP_KEYS, max_groups=MAX_GROUPS)


def _common(unit: str) -> str:
    return COMMON.format(unit=unit, max_keys=MAX_GROUP_KEYS, max_groups=MAX_GROUPS)


GroupBy = Annotated[
    str | None,
    Query(max_length=200, description="Comma-separated group keys, e.g. province,quarter"),
]
OutcomePeriod = Annotated[Period, Query(description="The period of each row")]


def _threshold(request: Request) -> int:
    settings: Settings = request.app.state.settings
    return settings.stats_suppression_threshold


def _levels(keys: list[str], network: bool) -> list[tuple[str, ...]]:
    """The rows and the grand total; for network statistics every marginal table too."""
    if network:
        return subsets(keys)
    return [tuple(keys), ()] if keys else [()]


@router.get(
    "/stats/cases",
    summary="Counts of the organisation's cases and children, grouped and filtered",
    description=CASES.format(assigned=", `assigned_to` (user id)") + _common("case"),
    response_model=CaseStatistic,
    responses=RESPONSES,
)
async def get_case_statistics(
    request: Request,
    session: Session,
    principal: StatsReader,
    filters: OrganisationCaseStatsFilters,
    group_by: GroupBy = None,
    requested_format: FormatParam = None,
) -> Response:
    fmt = chosen_format(request, requested_format)
    keys = parse_group_by(group_by, list(CaseKey))
    scope: ScopeRule = whole_organisation(principal)
    cube = await case_cube(session, scope, keys, filters, _levels(keys, network=False))
    table = cube_table(cube, keys, CASE_COUNTS)
    return table_response(fmt, table, filters.echo(), filename="case-statistics")


@router.get(
    "/stats/services",
    summary="Services delivered by the organisation, and children and families reached",
    description=SERVICES + _common("service"),
    response_model=ServiceStatistic,
    responses=RESPONSES,
)
async def get_service_statistics(
    request: Request,
    session: Session,
    principal: StatsReader,
    filters: ServiceStatsFiltersDep,
    group_by: GroupBy = None,
    requested_format: FormatParam = None,
) -> Response:
    fmt = chosen_format(request, requested_format)
    keys = parse_group_by(group_by, list(ServiceKey))
    scope: ScopeRule = whole_organisation(principal)
    cube = await service_cube(session, scope, keys, filters, _levels(keys, network=False))
    table = cube_table(cube, keys, SERVICE_COUNTS)
    return table_response(fmt, table, filters.echo(), filename="service-statistics")


@router.get(
    "/stats/outcomes",
    summary="Outcomes per period: reunifications, placements, certificates, closures",
    description=OUTCOMES,
    response_model=OutcomeStatistic,
    responses=RESPONSES,
)
async def get_outcome_statistics(
    request: Request,
    session: Session,
    principal: StatsReader,
    dates: Dates,
    group_by: OutcomePeriod = Period.quarter,
    requested_format: FormatParam = None,
) -> Response:
    fmt = chosen_format(request, requested_format)
    data = await outcome_data(session, whole_organisation(principal), group_by, dates)
    table = outcome_table(data, group_by.value)
    return table_response(fmt, table, dates.echo(), filename="outcome-statistics")


@router.get(
    "/stats/network/cases",
    summary="Network-wide counts of cases and children, small counts withheld",
    description=_network(NETWORK_CASE_KEYS) + NETWORK_CASES + _network_common(),
    response_model=NetworkCaseStatistic,
    responses=RESPONSES,
)
async def get_network_case_statistics(
    request: Request,
    session: Session,
    principal: NetworkStatsReader,
    filters: NetworkCaseFiltersDep,
    group_by: GroupBy = None,
    requested_format: FormatParam = None,
) -> Response:
    fmt = chosen_format(request, requested_format)
    keys = parse_group_by(group_by, NETWORK_CASE_KEYS, network=True)
    threshold = _threshold(request)
    async with network_context(session, principal):
        cube = await case_cube(
            session, active_network(), keys, filters, _levels(keys, True), keyed=True
        )
    table = cube_table(cube, keys, CASE_COUNTS, threshold=threshold)
    return table_response(
        fmt, table, filters.echo(), filename="network-case-statistics", threshold=threshold
    )


@router.get(
    "/stats/network/services",
    summary="Network-wide services, children and families reached, small counts withheld",
    description=_network(NETWORK_SERVICE_KEYS) + NETWORK_SERVICES + _network_common(),
    response_model=NetworkServiceStatistic,
    responses=RESPONSES,
)
async def get_network_service_statistics(
    request: Request,
    session: Session,
    principal: NetworkStatsReader,
    filters: NetworkServiceFiltersDep,
    group_by: GroupBy = None,
    requested_format: FormatParam = None,
) -> Response:
    fmt = chosen_format(request, requested_format)
    keys = parse_group_by(group_by, NETWORK_SERVICE_KEYS, network=True)
    threshold = _threshold(request)
    async with network_context(session, principal):
        cube = await service_cube(
            session, active_network(), keys, filters, _levels(keys, True), keyed=True
        )
    table = cube_table(cube, keys, SERVICE_COUNTS, threshold=threshold)
    return table_response(
        fmt, table, filters.echo(), filename="network-service-statistics", threshold=threshold
    )


@router.get(
    "/stats/network/outcomes",
    summary="Network-wide outcomes per period, small counts withheld",
    description=_network(["group_by", "from", "to"])
    .replace("Group and filter by", "Ask with")
    .replace("each filter takes one value;", "`group_by` is quarter or year;")
    .replace("A row's counts are withheld together and named", "Named")
    + OUTCOMES.replace("the organisation sent", "member organisations sent").replace(
        "month, quarter or year", "quarter or year"
    )
    + "\nA median is withheld with the count of cases closed it describes.",
    response_model=NetworkOutcomeStatistic,
    responses=RESPONSES,
)
async def get_network_outcome_statistics(
    request: Request,
    session: Session,
    principal: NetworkStatsReader,
    dates: NetworkDates,
    group_by: Annotated[
        NetworkPeriod, Query(description="The period of each row")
    ] = NetworkPeriod.quarter,
    requested_format: FormatParam = None,
) -> Response:
    fmt = chosen_format(request, requested_format)
    threshold = _threshold(request)
    period = Period(group_by.value)
    async with network_context(session, principal):
        data = await outcome_data(session, active_network(), period, dates, keyed=True)
    table = outcome_table(data, period.value, threshold=threshold)
    return table_response(
        fmt, table, dates.echo(), filename="network-outcome-statistics", threshold=threshold
    )
