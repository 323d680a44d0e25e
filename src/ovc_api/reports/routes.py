"""Reports: the organisation's figures for donors and the ministry, one document per period."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from ovc_api import API_V1
from ovc_api.auth.principal import StatsReader
from ovc_api.csv_writer import csv_text
from ovc_api.db import Session
from ovc_api.errors import NotFound, error_responses
from ovc_api.formats import Format, FormatParam
from ovc_api.identity.models import Organisation
from ovc_api.reports import quarterly
from ovc_api.reports.schemas import QuarterlyReport, ReportOrganisation
from ovc_api.stats.engine import tune
from ovc_api.stats.render import CSV_RESPONSE, chosen_format, csv_response
from ovc_api.stats.scope import whole_organisation
from ovc_api.xlsx_writer import Sheet, xlsx_response

router = APIRouter(prefix=API_V1, tags=["reports"])
FIGURE_COLUMNS = ["section", "item", "measure", "value"]

DESCRIPTION = """
The quarter's figures of the caller's organisation in one document, as JSON, or as CSV
(`Accept: text/csv` or `format=csv`: one line per figure, columns section, item, measure,
value), or as XLSX (`format=xlsx`: the same lines in a sheet "figures", and the highlights
in a sheet "highlights"). The organisation's own figures: nothing is withheld, and nothing
identifies a child.

- `cases`: new (opened in the quarter), active (open on at least one day of it), closed;
- `children_supported`: distinct children with an active case or a service delivered in the
  quarter; `families_supported`: distinct families of those cases or served directly;
- `services_by_type`: services delivered, distinct children and families reached;
- `outcomes`: as GET /api/v1/stats/outcomes for the quarter (reunifications, placements,
  birth certificates, school enrolments, closures by reason, median days to closure);
- `cases_by_concern`, `cases_by_district` (the child's province and district): active cases;
  a case with two concerns counts under both;
- `referrals`: made, accepted and completed in the quarter, of those the organisation sent;
- `highlights`: the main figures as sentences.
"""


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def highlights(report: dict[str, Any]) -> list[str]:
    outcomes, cases = report["outcomes"], report["cases"]
    children = report["children_supported"]
    lines = [
        f"{_plural(children, 'child', 'children')} intervened and supported",
        f"{_plural(cases['new'], 'new case', 'new cases')} opened, "
        f"{_plural(cases['active'], 'case', 'cases')} active, {cases['closed']} closed",
        _plural(
            outcomes["children_reunified"],
            "child reunited with their family",
            "children reunited with their families",
        ),
        _plural(
            report["alternative_care"]["moves_to_family_care"],
            "child moved from residential care to a family",
            "children moved from residential care to families",
        ),
        _plural(
            outcomes["children_placed_in_kinship_care"],
            "child placed in kinship care",
            "children placed in kinship care",
        ),
        _plural(
            outcomes["children_placed_in_foster_care"],
            "child placed in foster care",
            "children placed in foster care",
        ),
        _plural(
            outcomes["birth_certificates"],
            "child received birth-certificate support",
            "children received birth-certificate support",
        ),
        _plural(
            outcomes["school_enrolments"],
            "child supported to (re)enrol in school",
            "children supported to (re)enrol in school",
        ),
    ]
    for service in report["services_by_type"]:
        if service["service_type"] == "emergency_food_package":
            lines.append(
                "emergency food packages for "
                f"{_plural(service['families'], 'family', 'families')} with "
                f"{_plural(service['children'], 'child', 'children')}"
            )
    referrals = report["referrals"]
    lines.append(
        f"{_plural(referrals['made'], 'referral', 'referrals')} made, "
        f"{referrals['accepted']} accepted, {referrals['completed']} completed"
    )
    return lines


def csv_lines(report: dict[str, Any]) -> Iterator[list[Any]]:
    yield ["report", "", "organisation", report["organisation"]["name"]]
    yield ["report", "", "period", report["period"]]
    for name, value in report["cases"].items():
        yield ["cases", "", name, value]
    yield ["summary", "", "children_supported", report["children_supported"]]
    yield ["summary", "", "families_supported", report["families_supported"]]
    for service in report["services_by_type"]:
        for measure in ("services", "children", "families"):
            yield ["services_by_type", service["service_type"], measure, service[measure]]
    outcomes = dict(report["outcomes"])
    by_reason = outcomes.pop("cases_closed_by_reason")
    for name, value in outcomes.items():
        yield ["outcomes", "", name, value]
    for reason, value in by_reason.items():
        yield ["cases_closed_by_reason", reason, "cases", value]
    for row in report["cases_by_concern"]:
        for measure in ("cases", "children"):
            yield ["cases_by_concern", row["concern"], measure, row[measure]]
    for row in report["cases_by_district"]:
        place = f"{row['province']}/{row['district'] or ''}"
        for measure in ("cases", "children"):
            yield ["cases_by_district", place, measure, row[measure]]
    for name, value in report["alternative_care"].items():
        yield ["alternative_care", "", name, value]
    for name, value in report["referrals"].items():
        yield ["referrals", "", name, value]


@router.get(
    "/reports/quarterly",
    summary="The organisation's quarterly report for donors and the ministry",
    description=DESCRIPTION,
    response_model=QuarterlyReport,
    responses={**error_responses(401, 403, 406, 422), **CSV_RESPONSE},
)
async def get_quarterly_report(
    request: Request,
    session: Session,
    principal: StatsReader,
    year: Annotated[int, Query(ge=1990, le=2100, description="e.g. 2026")],
    quarter: Annotated[int, Query(ge=1, le=4, description="1 to 4")],
    requested_format: FormatParam = None,
) -> Response:
    fmt = chosen_format(request, requested_format)
    organisation = await session.get(Organisation, principal.organisation_id)
    if organisation is None:  # pragma: no cover - the credential's organisation exists
        raise NotFound()
    scope, period = whole_organisation(principal), quarterly.quarter_range(year, quarter)
    await tune(session)
    outcomes, referrals = await quarterly.outcomes_and_referrals(session, scope, period)
    report: dict[str, Any] = {
        "organisation": ReportOrganisation(id=organisation.id, name=organisation.name),
        "year": year,
        "quarter": quarter,
        "period": f"{year}-Q{quarter}",
        "period_start": period.start,
        "period_end": period.end,
        "cases": await quarterly.case_counts(session, scope, period),
        "children_supported": await quarterly.supported(session, scope, period, "child_id"),
        "families_supported": await quarterly.supported(session, scope, period, "family_id"),
        "services_by_type": await quarterly.services_by_type(session, scope, period),
        "outcomes": outcomes,
        "cases_by_concern": await quarterly.cases_by_concern(session, scope, period),
        "cases_by_district": await quarterly.cases_by_district(session, scope, period),
        "referrals": referrals,
        "alternative_care": await quarterly.alternative_care(session, scope, period),
        "highlights": [],
    }
    body = QuarterlyReport.model_validate(report).model_dump(mode="json")
    body["highlights"] = highlights(body)
    filename = f"quarterly-report-{year}-Q{quarter}"
    if fmt is Format.csv:
        text = csv_text(FIGURE_COLUMNS, csv_lines(body))
        return csv_response(text, filename)
    if fmt is Format.xlsx:
        sheets = [
            Sheet("figures", FIGURE_COLUMNS, csv_lines(body)),
            Sheet("highlights", ["highlight"], ([line] for line in body["highlights"])),
        ]
        return xlsx_response(sheets, filename)
    return JSONResponse(body)
