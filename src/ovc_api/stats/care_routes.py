"""Alternative-care statistics over HTTP: the organisation's, and the network's with small
counts withheld. Definitions in `stats/care.py` (and each operation's description)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from ovc_api import API_V1
from ovc_api.auth.principal import NetworkStatsReader, StatsReader
from ovc_api.clock import local_today
from ovc_api.db import Session
from ovc_api.errors import error_responses
from ovc_api.settings import Settings
from ovc_api.stats import care
from ovc_api.stats.dimensions import Period
from ovc_api.stats.filters import Dates
from ovc_api.stats.network_space import NetworkCareQueryDep, quarter_end
from ovc_api.stats.scope import active_network, network_context, whole_organisation

router = APIRouter(prefix=API_V1, tags=["statistics"])
AsOf = Annotated[
    date | None,
    Query(
        description="The day children in residential care are counted on, and from which "
        "6 and 12 months of follow-up are reckoned (default: today)"
    ),
]
CarePeriod = Annotated[Period, Query(description="The period of each row")]


class CareFigures(BaseModel):
    moves_to_family_care: int | None = Field(
        description="Moves from residential to family-based care"
    )
    followed_6_months: int | None = Field(description="Of those, moved 182+ days before as_of")
    stable_6_months: int | None = Field(description="Of those, still placed 182 days on")
    followed_12_months: int | None
    stable_12_months: int | None
    mean_days_in_care_before_move: float | None
    tracing_concluded: int | None = Field(description="Tracing attempts concluded")
    tracing_found: int | None = Field(description="Of those, a relative was found")
    tracing_success_rate: float | None


class CareRow(CareFigures):
    period: str = Field(examples=["2026-Q1"])


class CareStatistic(BaseModel):
    as_of: date
    group_by: Period
    children_in_residential_care: int | None = Field(
        description="Distinct children whose placement on as_of is residential"
    )
    rows: list[CareRow]
    totals: CareFigures
    suppressed: bool = Field(description="Whether any figure was withheld (network only)")
    suppression_threshold: int | None = None


def _shown(figures: care.CareFigures, period: Period, threshold: int | None) -> CareStatistic:
    key = period.value
    rows = [
        CareRow(period=r[key], **{k: v for k, v in r.items() if k != key}) for r in figures.rows
    ]
    return CareStatistic(
        as_of=figures.as_of,
        group_by=period,
        children_in_residential_care=figures.children_in_residential_care,
        rows=rows,
        totals=CareFigures(**figures.totals),
        suppressed=figures.suppressed if threshold is not None else False,
        suppression_threshold=threshold,
    )


DESCRIPTION = (care.__doc__ or "").split("\n\n", 1)[1]


@router.get(
    "/stats/care",
    summary="Alternative care: residential care, moves to families, stability, tracing",
    description=DESCRIPTION,
    response_model=CareStatistic,
    responses=error_responses(401, 403, 422),
)
async def get_care_statistics(
    session: Session,
    principal: StatsReader,
    dates: Dates,
    group_by: CarePeriod = Period.quarter,
    as_of: AsOf = None,
) -> Any:
    figures = await care.care_figures(
        session, whole_organisation(principal), group_by, dates, as_of or local_today()
    )
    return _shown(figures, group_by, None)


@router.get(
    "/stats/network/care",
    summary="Network-wide alternative-care figures, small counts withheld",
    description=DESCRIPTION
    + "\n\nNetwork figures: `group_by` is quarter or year, `from`/`to` whole quarters or "
    "years, `as_of` the last day of a quarter (default: the last one before today); no "
    "other parameter. Every count is perturbed by at most 2 (the same question always "
    "gets the same answer); counts below the threshold are withheld with their complements.",
    response_model=CareStatistic,
    responses=error_responses(401, 403, 422),
)
async def get_network_care_statistics(
    request: Request,
    session: Session,
    principal: NetworkStatsReader,
    query: NetworkCareQueryDep,
) -> Any:
    settings: Settings = request.app.state.settings
    threshold = settings.stats_suppression_threshold
    as_of = quarter_end(query.as_of, local_today())
    async with network_context(session, principal):
        figures = await care.care_figures(
            session, active_network(), query.period, query.dates, as_of, threshold=threshold
        )
    return _shown(figures, query.period, threshold)
