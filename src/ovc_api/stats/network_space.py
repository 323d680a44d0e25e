"""The closed query space of network statistics (why: ovc_api.stats.perturbation).

Network figures group and filter by closed code lists only, one value per filter, over whole
quarters or whole years: no free-text district, no multi-valued filter (whose complement
would give a withheld cell as a difference), no day-by-day range. Anything else, including
a query parameter the endpoint does not know or one given twice, is a 422 naming it.
Organisation statistics keep their richer query space (ovc_api.stats.filters).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Depends, Query, Request

from ovc_api.ages import AgeBand
from ovc_api.cases.models import ClosureReason, ProtectionConcern
from ovc_api.children.models import Sex
from ovc_api.errors import Unprocessable
from ovc_api.geography import Province
from ovc_api.identity.models import OrganisationKind
from ovc_api.services.models import ServiceType
from ovc_api.stats.dimensions import Period, PeriodOf
from ovc_api.stats.filters import CaseStatsFilters, DateRange, Dates, ServiceStatsFilters


class NetworkCaseKey(StrEnum):
    province = "province"
    sex = "sex"
    age_band = "age_band"
    concern = "concern"
    closure_reason = "closure_reason"
    organisation_kind = "organisation_kind"
    quarter = "quarter"
    year = "year"


class NetworkServiceKey(StrEnum):
    service_type = "service_type"
    province = "province"
    organisation_kind = "organisation_kind"
    quarter = "quarter"
    year = "year"


class NetworkPeriod(StrEnum):
    quarter = Period.quarter.value
    year = Period.year.value


NETWORK_CASE_KEYS = [key.value for key in NetworkCaseKey]
NETWORK_SERVICE_KEYS = [key.value for key in NetworkServiceKey]
COMMON_PARAMETERS = frozenset({"group_by", "from", "to", "format"})
CASE_FILTERS = ("province", "sex", "age_band", "concern", "closure_reason", "organisation_kind")
SERVICE_FILTERS = ("service_type", "province", "organisation_kind")
PERIODS_RULE = (
    "network figures cover whole quarters or whole years: give both `from` and `to`, from "
    "the first day of a quarter (YYYY-01-01, -04-01, -07-01, -10-01) to the last day of the "
    "same quarter, or from YYYY-01-01 to YYYY-12-31 (or neither: all time)"
)


def _quarter_end(start: date) -> date:
    after = (
        date(start.year + 1, 1, 1) if start.month == 10 else start.replace(month=start.month + 3)
    )
    return after - timedelta(days=1)


def whole_period(dates: DateRange) -> DateRange:
    """Both bounds or neither; a whole calendar quarter or year, or a 422 naming the bound."""
    start, end = dates.start, dates.end
    if start is None and end is None:
        return dates
    if start is None or start.day != 1 or start.month not in (1, 4, 7, 10):
        raise Unprocessable.field(["query", "from"], PERIODS_RULE)
    year_end = date(start.year, 12, 31)
    if end is None or end not in (_quarter_end(start), year_end if start.month == 1 else None):
        raise Unprocessable.field(["query", "to"], PERIODS_RULE)
    return dates


def closed_parameters(request: Request, allowed: frozenset[str]) -> None:
    """A parameter outside the endpoint's closed space, or one given twice, is a 422."""
    names = list(request.query_params.keys())
    for name in sorted(set(names)):
        if name not in allowed:
            raise Unprocessable.field(
                ["query", name[:40]],
                f"not available in network statistics: the parameters are "
                f"{', '.join(sorted(allowed))}",
            )
        if len(request.query_params.getlist(name)) > 1:
            raise Unprocessable.field(
                ["query", name], "network statistics take one value per parameter"
            )


def _one(value: StrEnum | None) -> list[str] | None:
    return None if value is None else [value.value]


@dataclass(frozen=True)
class NetworkCaseFilters(CaseStatsFilters):
    """The single-valued filters of network case statistics (lists of one, for the engine)."""

    closure_reason: list[str] | None = None
    organisation_kind: list[str] | None = None

    def echo(self) -> dict[str, Any]:
        found = super().echo()
        for name in ("closure_reason", "organisation_kind"):
            if getattr(self, name) is not None:
                found[name] = getattr(self, name)
        return found


@dataclass(frozen=True)
class NetworkServiceFilters(ServiceStatsFilters):
    organisation_kind: list[str] | None = None

    def echo(self) -> dict[str, Any]:
        found = super().echo()
        if self.organisation_kind is not None:
            found["organisation_kind"] = self.organisation_kind
        return found


One = Query(description="One value (network statistics take no lists)")


def network_case_filters(
    request: Request,
    dates: Dates,
    period_of: Annotated[
        PeriodOf,
        Query(description="The case date that periods and from/to apply to (closed: closed cases)"),
    ] = PeriodOf.opened,
    province: Annotated[Province | None, One] = None,
    sex: Annotated[Sex | None, One] = None,
    age_band: Annotated[AgeBand | None, One] = None,
    concern: Annotated[ProtectionConcern | None, One] = None,
    closure_reason: Annotated[ClosureReason | None, One] = None,
    organisation_kind: Annotated[OrganisationKind | None, One] = None,
) -> NetworkCaseFilters:
    given = locals()
    closed_parameters(request, COMMON_PARAMETERS | {"period_of", *CASE_FILTERS})
    chosen: dict[str, Any] = {name: _one(given[name]) for name in CASE_FILTERS}
    return replace(NetworkCaseFilters(whole_period(dates), period_of), **chosen)


def network_service_filters(
    request: Request,
    dates: Dates,
    service_type: Annotated[ServiceType | None, One] = None,
    province: Annotated[Province | None, One] = None,
    organisation_kind: Annotated[OrganisationKind | None, One] = None,
) -> NetworkServiceFilters:
    closed_parameters(request, COMMON_PARAMETERS | set(SERVICE_FILTERS))
    return NetworkServiceFilters(
        dates=whole_period(dates),
        service_type=_one(service_type),
        province=_one(province),
        organisation_kind=_one(organisation_kind),
    )


def network_outcome_dates(request: Request, dates: Dates) -> DateRange:
    closed_parameters(request, COMMON_PARAMETERS)
    return whole_period(dates)


AS_OF_RULE = (
    "network figures are counted on the last day of a quarter (YYYY-03-31, -06-30, -09-30 "
    "or -12-31; default: the last one before today)"
)


def last_quarter_end(today: date) -> date:
    """The last day of the last quarter that ended before `today`."""
    start = date(today.year, (today.month - 1) // 3 * 3 + 1, 1)
    return start - timedelta(days=1)


def quarter_end(as_of: date | None, today: date) -> date:
    """A network count's day: the last day of a quarter (one value per quarter, so no two
    answers differ by a day's changes), or a 422 naming `as_of`."""
    if as_of is None:
        return last_quarter_end(today)
    if as_of != _quarter_end(date(as_of.year, (as_of.month - 1) // 3 * 3 + 1, 1)):
        raise Unprocessable.field(["query", "as_of"], AS_OF_RULE)
    return as_of


@dataclass(frozen=True)
class NetworkCareQuery:
    dates: DateRange
    period: Period
    as_of: date | None


def network_care_query(
    request: Request,
    dates: Dates,
    group_by: Annotated[
        NetworkPeriod, Query(description="The period of each row")
    ] = NetworkPeriod.quarter,
    as_of: Annotated[date | None, Query(description=AS_OF_RULE)] = None,
) -> NetworkCareQuery:
    """Network care figures: whole quarters or years, counted on a quarter's last day."""
    closed_parameters(request, frozenset({"group_by", "from", "to", "as_of"}))
    if as_of is not None:
        quarter_end(as_of, as_of)
    return NetworkCareQuery(whole_period(dates), Period(group_by.value), as_of)


NetworkCaseFiltersDep = Annotated[NetworkCaseFilters, Depends(network_case_filters)]
NetworkServiceFiltersDep = Annotated[NetworkServiceFilters, Depends(network_service_filters)]
NetworkDates = Annotated[DateRange, Depends(network_outcome_dates)]
NetworkCareQueryDep = Annotated[NetworkCareQuery, Depends(network_care_query)]
