"""The quarterly report: every figure of a hand-built organisation's quarter, JSON and CSV.

The organisation is the one of tests/test_stats.py (its docstring has the table of cases);
the expected figures are worked out by hand from that table.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from .conftest import Factory
from .helpers import assert_problem, error_locs
from .test_stats import Dataset, build

REPORT = "/api/v1/reports/quarterly"


@pytest_asyncio.fixture(scope="module")
async def data(app: FastAPI) -> Dataset:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        return await build(app, Factory(app, http))


async def report(
    client: httpx.AsyncClient, data: Dataset, role: str = "analyst", **params: Any
) -> dict[str, Any]:
    response = await client.get(REPORT, params=params, headers=data.tenant[role].headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_first_quarter_report(client: httpx.AsyncClient, data: Dataset) -> None:
    body = await report(client, data, year=2026, quarter=1)
    organisation = body.pop("organisation")
    assert organisation["id"] == str(data.tenant.organisation_id)
    assert organisation["name"].startswith("Test NGO ")
    assert body == {
        "year": 2026,
        "quarter": 1,
        "period": "2026-Q1",
        "period_start": "2026-01-01",
        "period_end": "2026-03-31",
        # new: k1 k3 k4 k8; active: those and k2 k5 (closed in the quarter)
        "cases": {"new": 4, "active": 6, "closed": 2},
        "children_supported": 5,  # c1 c2 c3 c4 c7
        "families_supported": 2,  # f1 f2
        "services_by_type": [
            {"service_type": "emergency_food_package", "services": 3, "children": 2, "families": 2},
            {
                "service_type": "birth_certificate_support",
                "services": 2,
                "children": 1,
                "families": 1,
            },
            {
                "service_type": "school_enrolment_support",
                "services": 1,
                "children": 1,
                "families": 0,
            },
        ],
        "outcomes": {
            "children_reunified": 1,
            "children_placed_in_kinship_care": 1,
            "children_placed_in_foster_care": 0,
            "birth_certificates": 1,
            "school_enrolments": 1,
            "cases_closed_by_reason": {"reunified_with_family": 1, "kinship_care": 1},
            "median_days_to_closure": 74.5,
        },
        "cases_by_concern": [
            {"concern": "left_behind_by_migration", "cases": 1, "children": 1},
            {"concern": "neglect", "cases": 1, "children": 1},
            {"concern": "lack_of_food", "cases": 2, "children": 2},
            {"concern": "violence", "cases": 1, "children": 1},
            {"concern": "no_birth_certificate", "cases": 2, "children": 2},
            {"concern": "out_of_school", "cases": 1, "children": 1},
        ],
        "cases_by_district": [
            {"province": "battambang", "district": "Bavel", "cases": 4, "children": 3},
            {"province": "battambang", "district": "Thma Koul", "cases": 1, "children": 1},
            {"province": "phnom_penh", "district": "Daun Penh", "cases": 1, "children": 1},
        ],
        "referrals": {"made": 5, "accepted": 2, "completed": 0},
        "alternative_care": {
            "children_in_residential_care": 1,  # the dataset's child in an RCI
            "moves_to_family_care": 0,
            "mean_days_in_care_before_move": None,
            "followed_6_months": 0,
            "stable_6_months": 0,
            "followed_12_months": 0,
            "stable_12_months": 0,
            "tracing_concluded": 0,
            "tracing_found": 0,
        },
        "highlights": [
            "5 children intervened and supported",
            "4 new cases opened, 6 cases active, 2 closed",
            "1 child reunited with their family",
            "0 children moved from residential care to families",
            "1 child placed in kinship care",
            "0 children placed in foster care",
            "1 child received birth-certificate support",
            "1 child supported to (re)enrol in school",
            "emergency food packages for 2 families with 2 children",
            "5 referrals made, 2 accepted, 0 completed",
        ],
    }


async def test_fourth_quarter_ends_with_the_year(client: httpx.AsyncClient, data: Dataset) -> None:
    body = await report(client, data, year=2025, quarter=4)
    assert (body["period_start"], body["period_end"]) == ("2025-10-01", "2025-12-31")
    assert body["cases"] == {"new": 2, "active": 2, "closed": 0}  # k2 k5
    assert body["children_supported"] == 2  # c1 c4 (and c1's counselling)
    assert body["families_supported"] == 2  # f1 f2
    assert body["services_by_type"] == [
        {"service_type": "counselling", "services": 1, "children": 1, "families": 1}
    ]
    assert body["outcomes"]["cases_closed_by_reason"] == {}
    assert body["outcomes"]["median_days_to_closure"] is None


async def test_second_quarter(client: httpx.AsyncClient, data: Dataset) -> None:
    body = await report(client, data, year=2026, quarter=2)
    # new: k6 k7; active: k1 k3 k4 k8 (open) and k6 k7
    assert body["cases"] == {"new": 2, "active": 6, "closed": 1}
    assert body["outcomes"]["children_placed_in_foster_care"] == 1
    assert body["outcomes"]["median_days_to_closure"] == 44.0
    assert body["referrals"] == {"made": 0, "accepted": 1, "completed": 1}


async def test_report_as_csv(client: httpx.AsyncClient, data: Dataset) -> None:
    headers = {**data.tenant["case_manager"].headers, "Accept": "text/csv"}
    response = await client.get(REPORT, params={"year": 2026, "quarter": 1}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="quarterly-report-2026-Q1.csv"' in response.headers["content-disposition"]
    lines = list(csv.reader(io.StringIO(response.text)))
    assert lines[0] == ["section", "item", "measure", "value"]
    assert lines[2] == ["report", "", "period", "2026-Q1"]
    assert lines[3:8] == [
        ["cases", "", "new", "4"],
        ["cases", "", "active", "6"],
        ["cases", "", "closed", "2"],
        ["summary", "", "children_supported", "5"],
        ["summary", "", "families_supported", "2"],
    ]
    assert ["services_by_type", "emergency_food_package", "families", "2"] in lines
    assert ["outcomes", "", "median_days_to_closure", "74.5"] in lines
    assert ["cases_closed_by_reason", "kinship_care", "cases", "1"] in lines
    assert ["cases_by_concern", "lack_of_food", "cases", "2"] in lines
    assert ["cases_by_district", "battambang/Thma Koul", "children", "1"] in lines
    assert lines[-3:] == [
        ["referrals", "", "made", "5"],
        ["referrals", "", "accepted", "2"],
        ["referrals", "", "completed", "0"],
    ]
    by_param = await client.get(
        REPORT,
        params={"year": 2026, "quarter": 1, "format": "csv"},
        headers=data.tenant["case_manager"].headers,
    )
    assert by_param.text == response.text


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"year": 2026, "quarter": 5}, ["query", "quarter"]),
        ({"year": 2026, "quarter": 0}, ["query", "quarter"]),
        ({"year": 2026, "quarter": "Q1"}, ["query", "quarter"]),
        ({"year": 1200, "quarter": 1}, ["query", "year"]),
        ({"quarter": 1}, ["query", "year"]),
        ({"year": 2026}, ["query", "quarter"]),
    ],
)
async def test_bad_periods_are_422(
    client: httpx.AsyncClient, data: Dataset, params: dict[str, Any], loc: list[str]
) -> None:
    response = await client.get(REPORT, params=params, headers=data.tenant["analyst"].headers)
    assert error_locs(assert_problem(response, 422)) == [loc]


async def test_who_may_read_the_report(
    client: httpx.AsyncClient, data: Dataset, network_admin: Any
) -> None:
    expected = await report(client, data, year=2026, quarter=1)
    for role in ("org_admin", "case_manager"):
        assert await report(client, data, role, year=2026, quarter=1) == expected
    params = {"year": 2026, "quarter": 1}
    caseworker = await client.get(REPORT, params=params, headers=data.tenant["caseworker"].headers)
    assert_problem(caseworker, 403)
    network = await client.get(REPORT, params=params, headers=network_admin.headers)
    assert_problem(network, 403)
    ndjson = await client.get(
        REPORT, params={**params, "format": "ndjson"}, headers=data.tenant["analyst"].headers
    )
    assert_problem(ndjson, 406)


async def test_report_as_xlsx(client: httpx.AsyncClient, data: Dataset) -> None:
    import openpyxl

    headers = {
        **data.tenant["case_manager"].headers,
        "Accept": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    }
    response = await client.get(REPORT, params={"year": 2026, "quarter": 1}, headers=headers)
    assert response.status_code == 200, response.text
    assert 'filename="quarterly-report-2026-Q1.xlsx"' in response.headers["content-disposition"]
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    figures = [list(row) for row in workbook["figures"].iter_rows(values_only=True)]
    assert figures[0] == ["section", "item", "measure", "value"]
    assert ["cases", None, "new", 4] in figures
    assert ["referrals", None, "made", 5] in figures
    highlights = [row[0] for row in workbook["highlights"].iter_rows(values_only=True)]
    assert highlights[0] == "highlight"
    assert "5 children intervened and supported" in highlights
