"""The query parameters that narrow statistics: explicit, typed, validated before any SQL.

Each filter takes one or more values (repeat the parameter: `status=intake&status=review`);
an unknown enum value is a 422 naming the parameter. `from`/`to` are inclusive dates;
an inverted range or one longer than ten years is a 422 naming `to`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import Depends, Query
from pydantic import StringConstraints

from ovc_api.ages import AgeBand
from ovc_api.cases.models import CaseStatus, ProtectionConcern, ReferralSource, RiskLevel
from ovc_api.children.models import CareArrangement, Sex
from ovc_api.errors import Unprocessable
from ovc_api.geography import Province
from ovc_api.services.models import ServiceType
from ovc_api.stats.dimensions import PeriodOf

MAX_RANGE_DAYS = 3653  # ten years, leap days included


@dataclass(frozen=True)
class DateRange:
    start: date | None = None
    end: date | None = None

    def echo(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        if self.start is not None:
            found["from"] = self.start.isoformat()
        if self.end is not None:
            found["to"] = self.end.isoformat()
        return found

    def on(self, column: Any) -> list[Any]:
        """Clauses keeping a date column inside the range (index-friendly comparisons)."""
        clauses = []
        if self.start is not None:
            clauses.append(column >= self.start)
        if self.end is not None:
            clauses.append(column <= self.end)
        return clauses

    def on_timestamp(self, column: Any) -> list[Any]:
        """The same for a UTC timestamp column: from midnight of `from` to the end of `to`."""
        clauses = []
        if self.start is not None:
            clauses.append(column >= datetime.combine(self.start, time(), UTC))
        if self.end is not None:
            clauses.append(column < datetime.combine(self.end + timedelta(days=1), time(), UTC))
        return clauses


def checked_range(start: date | None, end: date | None) -> DateRange:
    if start is not None and end is not None:
        if end < start:
            raise Unprocessable.field(["query", "to"], "must not be before `from`")
        if (end - start).days + 1 > MAX_RANGE_DAYS:
            raise Unprocessable.field(["query", "to"], "the range may span at most ten years")
    return DateRange(start, end)


def date_range(
    start: Annotated[
        date | None, Query(alias="from", description="First day included (YYYY-MM-DD)")
    ] = None,
    end: Annotated[
        date | None, Query(alias="to", description="Last day included (YYYY-MM-DD)")
    ] = None,
) -> DateRange:
    return checked_range(start, end)


Dates = Annotated[DateRange, Depends(date_range)]


def _values(values: list[Any] | None) -> list[str] | None:
    if not values:
        return None
    return sorted({v.value if hasattr(v, "value") else str(v) for v in values})


# The filters of case statistics besides the dates (one query parameter each).
CASE_FILTER_NAMES = (
    "status",
    "risk_level",
    "concern",
    "province",
    "district",
    "sex",
    "age_band",
    "care_arrangement",
    "referral_source",
)


@dataclass(frozen=True)
class CaseStatsFilters:
    """What case statistics count: several values per filter and a period, unlike the case
    list's `cases.filters.CaseFilters` (one value each), hence a name of its own."""

    dates: DateRange
    period_of: PeriodOf = PeriodOf.opened
    status: list[str] | None = None
    risk_level: list[str] | None = None
    concern: list[str] | None = None
    province: list[str] | None = None
    district: list[str] | None = None
    sex: list[str] | None = None
    age_band: list[str] | None = None
    care_arrangement: list[str] | None = None
    referral_source: list[str] | None = None
    assigned_to: list[uuid.UUID] | None = None

    def echo(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            name: getattr(self, name)
            for name in CASE_FILTER_NAMES
            if getattr(self, name) is not None
        }
        if self.assigned_to is not None:
            found["assigned_to"] = [str(user) for user in self.assigned_to]
        return {**found, **self.dates.echo(), "period_of": self.period_of.value}


Many = Query(description="Repeat to match any of several values")
Districts = Annotated[
    list[Annotated[str, StringConstraints(min_length=1, max_length=100)]] | None,
    Query(description="District name (exact); repeat for several"),
]


def case_filters(
    dates: Dates,
    period_of: Annotated[
        PeriodOf,
        Query(description="The case date that periods and from/to apply to (closed: closed cases)"),
    ] = PeriodOf.opened,
    status: Annotated[list[CaseStatus] | None, Many] = None,
    risk_level: Annotated[list[RiskLevel] | None, Many] = None,
    concern: Annotated[list[ProtectionConcern] | None, Many] = None,
    province: Annotated[list[Province] | None, Many] = None,
    district: Districts = None,
    sex: Annotated[list[Sex] | None, Many] = None,
    age_band: Annotated[list[AgeBand] | None, Many] = None,
    care_arrangement: Annotated[list[CareArrangement] | None, Many] = None,
    referral_source: Annotated[list[ReferralSource] | None, Many] = None,
) -> CaseStatsFilters:
    given = locals()
    chosen: dict[str, Any] = {name: _values(given[name]) for name in CASE_FILTER_NAMES}
    return replace(CaseStatsFilters(dates, period_of), **chosen)


def organisation_case_filters(
    filters: Annotated[CaseStatsFilters, Depends(case_filters)],
    assigned_to: Annotated[
        list[uuid.UUID] | None, Query(description="User id of the assignee; repeat for several")
    ] = None,
) -> CaseStatsFilters:
    return replace(filters, assigned_to=sorted(set(assigned_to)) if assigned_to else None)


OrganisationCaseStatsFilters = Annotated[CaseStatsFilters, Depends(organisation_case_filters)]


@dataclass(frozen=True)
class ServiceStatsFilters:
    """What service statistics count (not the list's `services.filters.ServiceFilters`)."""

    dates: DateRange
    service_type: list[str] | None = None
    province: list[str] | None = None
    district: list[str] | None = None

    def echo(self) -> dict[str, Any]:
        found = {
            name: getattr(self, name)
            for name in ("service_type", "province", "district")
            if getattr(self, name) is not None
        }
        return {**found, **self.dates.echo()}


def service_filters(
    dates: Dates,
    service_type: Annotated[list[ServiceType] | None, Many] = None,
    province: Annotated[list[Province] | None, Many] = None,
    district: Districts = None,
) -> ServiceStatsFilters:
    return ServiceStatsFilters(
        dates=dates,
        service_type=_values(service_type),
        province=_values(province),
        district=_values(district),
    )


ServiceStatsFiltersDep = Annotated[ServiceStatsFilters, Depends(service_filters)]
