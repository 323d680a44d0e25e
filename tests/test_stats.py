"""Organisation statistics: exact counts on a hand-built organisation, filters, formats,
bad input and who may ask.

Every expected number below is worked out by hand from the table in `dataset` (not by the
same SQL): one organisation with eight cases of seven children, eight services and five
referrals, chosen to hit the edges (a child with two cases, a case with two concerns,
birthdays on and around the opening day, a leap-day birthday, closures in two quarters).
"""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from .conftest import Factory, Tenant, system_session
from .helpers import assert_problem, error_locs

STATS = "/api/v1/stats"


@dataclass
class Dataset:
    tenant: Tenant
    worker: uuid.UUID
    manager: uuid.UUID
    children: dict[str, uuid.UUID]
    families: dict[str, uuid.UUID]
    cases: dict[str, uuid.UUID]


def at(day: str, hour: int = 10) -> datetime:
    return datetime.combine(date.fromisoformat(day), datetime.min.time(), UTC).replace(hour=hour)


async def insert(app: FastAPI, *records: Any) -> None:

    async with system_session(app) as session:
        session.add_all(records)


async def build(app: FastAPI, factory: Factory) -> Dataset:
    """The organisation's records (the child's age on the opening day in brackets):

    case child sex prov/district        care     opened     closed (reason)      status
    k1   c1    F   battambang/Bavel     kinship  2026-01-15 -                    intake [10]
    k2   c1    F   battambang/Bavel     kinship  2025-11-03 2026-02-10 reunified closed [10]
    k3   c2    M   battambang/Bavel     parents  2026-02-20 -                    assessment [15]
    k4   c3    F   phnom_penh/Daun Penh resident 2026-03-31 -                    implementation [?]
    k5   c4    M   battambang/Thma Koul kinship  2025-12-01 2026-01-20 kinship   closed [17]
    k6   c5    F   pursat/-             foster   2026-04-01 2026-05-15 foster    closed [5]
    k7   c6    M   pursat/-             foster   2026-04-01 -                    intake [4]
    k8   c7    F   battambang/Bavel     parents  2026-02-28 -                    intake [9]
    """
    from ovc_api.services.models import ServiceDelivery
    from ovc_api.sharing.models import Referral

    tenant = await factory.tenant()
    org = tenant.organisation_id
    worker, manager = tenant["caseworker"].user_id, tenant["case_manager"].user_id
    families = {name: await factory.family(org) for name in ("f1", "f2", "f3")}
    people = {
        "c1": ("female", date(2015, 3, 1), "battambang", "Bavel", "kinship_care"),
        "c2": ("male", date(2010, 6, 15), "battambang", "Bavel", "parents"),
        "c3": ("female", None, "phnom_penh", "Daun Penh", "residential_care"),
        "c4": ("male", date(2008, 1, 10), "battambang", "Thma Koul", "kinship_care"),
        "c5": ("female", date(2021, 4, 1), "pursat", None, "foster_care"),  # 5 on the day
        "c6": ("male", date(2021, 4, 2), "pursat", None, "foster_care"),  # 5 the day after
        "c7": ("female", date(2016, 2, 29), "battambang", "Bavel", "parents"),  # leap day
    }
    children = {
        name: await factory.child(
            org,
            sex=sex,
            date_of_birth=born,
            province=province,
            district=district,
            care_arrangement=care,
        )
        for name, (sex, born, province, district, care) in people.items()
    }
    specs: dict[str, dict[str, Any]] = {
        "k1": dict(child="c1", family="f1", opened="2026-01-15", status="intake", risk="medium",
                   source="provincial_social_affairs", assigned=worker,
                   concerns=("left_behind_by_migration", "lack_of_food")),
        "k2": dict(child="c1", family="f1", opened="2025-11-03", closed="2026-02-10",
                   reason="reunified_with_family", status="closed", risk="high",
                   source="provincial_social_affairs", assigned=worker, concerns=("neglect",)),
        "k3": dict(child="c2", family="f1", opened="2026-02-20", status="assessment",
                   risk="high", source="commune_committee", assigned=manager,
                   concerns=("out_of_school",)),
        "k4": dict(child="c3", family=None, opened="2026-03-31", status="implementation",
                   risk="emergency", source="ngo", assigned=None,
                   concerns=("violence", "lack_of_food")),
        "k5": dict(child="c4", family="f2", opened="2025-12-01", closed="2026-01-20",
                   reason="kinship_care", status="closed", risk="low", source="local_authority",
                   assigned=worker, concerns=("no_birth_certificate",)),
        "k6": dict(child="c5", family="f3", opened="2026-04-01", closed="2026-05-15",
                   reason="foster_care", status="closed", risk="medium", source="community",
                   assigned=None, concerns=("abandonment",)),
        "k7": dict(child="c6", family="f3", opened="2026-04-01", status="intake",
                   risk="medium", source="community", assigned=None, concerns=("abandonment",)),
        "k8": dict(child="c7", family=None, opened="2026-02-28", status="intake", risk="low",
                   source="self", assigned=worker, concerns=("no_birth_certificate",)),
    }  # fmt: skip
    cases = {}
    for name, spec in specs.items():
        cases[name] = await factory.case(
            org,
            child_id=children[spec["child"]],
            family_id=families[spec["family"]] if spec["family"] else None,
            opened_on=date.fromisoformat(spec["opened"]),
            closed_on=date.fromisoformat(spec["closed"]) if "closed" in spec else None,
            closure_reason=spec.get("reason"),
            status=spec["status"],
            risk_level=spec["risk"],
            referral_source=spec["source"],
            assigned_to=spec["assigned"],
            concerns=spec["concerns"],
        )
    services = [  # type, delivered, child, family, province, district
        ("emergency_food_package", "2026-01-22", "c1", "f1", "battambang", "Bavel"),
        ("emergency_food_package", "2026-01-22", "c2", "f1", "battambang", "Bavel"),
        ("emergency_food_package", "2026-02-05", None, "f2", "battambang", "Thma Koul"),
        ("birth_certificate_support", "2026-02-10", "c4", "f2", "battambang", "Thma Koul"),
        ("birth_certificate_support", "2026-03-01", "c4", "f2", "battambang", "Thma Koul"),
        ("school_enrolment_support", "2026-03-15", "c3", None, "phnom_penh", "Daun Penh"),
        ("school_enrolment_support", "2026-04-10", "c5", "f3", "pursat", None),
        ("counselling", "2025-12-20", "c1", "f1", "battambang", "Bavel"),
    ]
    await insert(
        app,
        *[
            ServiceDelivery(
                organisation_id=org,
                child_id=children[child] if child else None,
                family_id=families[family] if family else None,
                service_type=kind,
                delivered_on=date.fromisoformat(day),
                province=province,
                district=district,
            )
            for kind, day, child, family, province, district in services
        ],
    )
    receiver = await factory.organisation()
    referrals = [  # created, status, decided, closed
        ("2026-01-05", "pending", None, None),
        ("2026-01-10", "accepted", "2026-01-12", None),
        ("2026-02-01", "completed", "2026-02-03", "2026-04-02"),
        ("2026-03-01", "declined", "2026-03-02", "2026-03-02"),
        ("2026-03-30", "withdrawn", "2026-04-01", "2026-04-05"),
    ]
    await insert(
        app,
        *[
            Referral(
                organisation_id=org,
                receiving_organisation_id=receiver,
                case_id=cases["k1"],
                child_id=children["c1"],
                services_requested=["counselling"],
                reason="Needs counselling",
                urgency="routine",
                consent_given_by="Yeay Phan",
                consent_relation="grandmother",
                consent_given_on=date(2026, 1, 2),
                consent_method="verbal",
                status=status,
                created_at=at(created),
                decided_at=at(decided) if decided else None,
                closed_at=at(closed) if closed else None,
            )
            for created, status, decided, closed in referrals
        ],
    )
    return Dataset(tenant, worker, manager, children, families, cases)


@pytest_asyncio.fixture(scope="module")
async def data(app: FastAPI) -> Dataset:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        return await build(app, Factory(app, http))


async def get(
    client: httpx.AsyncClient, data: Dataset, path: str, role: str = "analyst", **params: Any
) -> dict[str, Any]:
    response = await client.get(f"{STATS}/{path}", params=params, headers=data.tenant[role].headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    return body


# --- cases ------------------------------------------------------------------------------


async def test_without_group_by_one_row_of_totals(client: httpx.AsyncClient, data: Dataset) -> None:
    body = await get(client, data, "cases")
    assert body == {
        "group_by": [],
        "filters": {"period_of": "opened"},
        "rows": [{"cases": 8, "children": 7}],  # c1 has two cases
        "totals": {"cases": 8, "children": 7},
    }


async def test_cases_by_province_and_quarter_of_opening(
    client: httpx.AsyncClient, data: Dataset
) -> None:
    body = await get(client, data, "cases", group_by="province,quarter")
    assert body["group_by"] == ["province", "quarter"]
    assert body["rows"] == [
        {"province": "battambang", "quarter": "2025-Q4", "cases": 2, "children": 2},  # k2 k5
        {"province": "battambang", "quarter": "2026-Q1", "cases": 3, "children": 3},  # k1 k3 k8
        {"province": "phnom_penh", "quarter": "2026-Q1", "cases": 1, "children": 1},  # k4
        {"province": "pursat", "quarter": "2026-Q2", "cases": 2, "children": 2},  # k6 k7
    ]
    assert body["totals"] == {"cases": 8, "children": 7}


async def test_a_case_with_two_concerns_counts_in_both(
    client: httpx.AsyncClient, data: Dataset
) -> None:
    body = await get(client, data, "cases", group_by="concern")
    assert body["rows"] == [  # in the enumeration's order
        {"concern": "abandonment", "cases": 2, "children": 2},  # k6 k7
        {"concern": "left_behind_by_migration", "cases": 1, "children": 1},  # k1
        {"concern": "neglect", "cases": 1, "children": 1},  # k2
        {"concern": "lack_of_food", "cases": 2, "children": 2},  # k1 k4
        {"concern": "violence", "cases": 1, "children": 1},  # k4
        {"concern": "no_birth_certificate", "cases": 2, "children": 2},  # k5 k8
        {"concern": "out_of_school", "cases": 1, "children": 1},  # k3
    ]
    assert body["totals"] == {"cases": 8, "children": 7}  # 10 in the rows, 8 cases


async def test_age_band_is_the_age_on_the_opening_day(
    client: httpx.AsyncClient, data: Dataset
) -> None:
    body = await get(client, data, "cases", group_by="age_band,sex")
    assert body["rows"] == [
        {"age_band": "0-4", "sex": "male", "cases": 1, "children": 1},  # k7: 5 tomorrow
        {"age_band": "5-9", "sex": "female", "cases": 2, "children": 2},  # k6 (5 today), k8
        {"age_band": "10-14", "sex": "female", "cases": 2, "children": 1},  # k1 k2: c1
        {"age_band": "15-17", "sex": "male", "cases": 2, "children": 2},  # k3 k5
        {"age_band": "unknown", "sex": "female", "cases": 1, "children": 1},  # k4
    ]


async def test_periods_of_closing_count_closed_cases(
    client: httpx.AsyncClient, data: Dataset
) -> None:
    body = await get(client, data, "cases", group_by="month", period_of="closed")
    assert body["rows"] == [
        {"month": "2026-01", "cases": 1, "children": 1},  # k5
        {"month": "2026-02", "cases": 1, "children": 1},  # k2
        {"month": "2026-05", "cases": 1, "children": 1},  # k6
    ]
    assert body["totals"] == {"cases": 3, "children": 3}
    first_quarter = {"period_of": "closed", "from": "2026-01-01", "to": "2026-03-31"}
    body = await get(client, data, "cases", group_by="year", **first_quarter)
    assert body["rows"] == [{"year": "2026", "cases": 2, "children": 2}]
    assert body["filters"] == first_quarter


async def test_assignee_groups_every_case_of_the_organisation(
    client: httpx.AsyncClient, data: Dataset
) -> None:
    body = await get(client, data, "cases", group_by="assigned_to,status")
    rows = {(r["assigned_to"], r["status"]): (r["cases"], r["children"]) for r in body["rows"]}
    worker, manager = str(data.worker), str(data.manager)
    assert rows == {
        (worker, "intake"): (2, 2),  # k1 k8
        (worker, "closed"): (2, 2),  # k2 k5
        (manager, "assessment"): (1, 1),  # k3
        (None, "implementation"): (1, 1),  # k4
        (None, "intake"): (1, 1),  # k7
        (None, "closed"): (1, 1),  # k6
    }
    assert [r["assigned_to"] for r in body["rows"]][-3:] == [None, None, None]  # unassigned last


@pytest.mark.parametrize(
    ("params", "cases", "children"),
    [
        ({"status": ["intake", "assessment"]}, 4, 4),  # k1 k3 k7 k8
        ({"risk_level": "high"}, 2, 2),  # k2 k3
        ({"concern": "lack_of_food"}, 2, 2),  # k1 k4
        ({"concern": ["lack_of_food", "violence"]}, 2, 2),  # k1 k4 (k4 once)
        ({"age_band": "15-17"}, 2, 2),  # k3 k5
        ({"district": "Bavel"}, 4, 3),  # k1 k2 k3 k8
        ({"province": "pursat", "sex": "male"}, 1, 1),  # k7
        ({"care_arrangement": "kinship_care"}, 3, 2),  # k1 k2 k5
        ({"referral_source": "community"}, 2, 2),  # k6 k7
        ({"from": "2026-01-01", "to": "2026-03-31"}, 4, 4),  # k1 k3 k4 k8
        ({"from": "2026-04-01"}, 2, 2),  # k6 k7
        ({"to": "2025-12-31"}, 2, 2),  # k2 k5
        ({"status": "closed", "province": "battambang"}, 2, 2),  # k2 k5
    ],
)
async def test_filters(
    client: httpx.AsyncClient, data: Dataset, params: dict[str, Any], cases: int, children: int
) -> None:
    body = await get(client, data, "cases", **params)
    assert body["totals"] == {"cases": cases, "children": children}


async def test_filter_by_assignee(client: httpx.AsyncClient, data: Dataset) -> None:
    body = await get(client, data, "cases", assigned_to=str(data.worker))
    assert body["totals"] == {"cases": 4, "children": 3}  # k1 k2 k5 k8
    assert body["filters"] == {"assigned_to": [str(data.worker)], "period_of": "opened"}


async def test_grouped_and_filtered_concern_keeps_the_filtered_groups(
    client: httpx.AsyncClient, data: Dataset
) -> None:
    body = await get(client, data, "cases", group_by="concern", concern="lack_of_food")
    assert body["rows"] == [{"concern": "lack_of_food", "cases": 2, "children": 2}]


# --- services ---------------------------------------------------------------------------


async def test_services_by_type(client: httpx.AsyncClient, data: Dataset) -> None:
    body = await get(client, data, "services", group_by="service_type")
    assert body["rows"] == [
        {"service_type": "emergency_food_package", "services": 3, "children": 2, "families": 2},
        {"service_type": "counselling", "services": 1, "children": 1, "families": 1},
        {"service_type": "birth_certificate_support", "services": 2, "children": 1, "families": 1},
        {"service_type": "school_enrolment_support", "services": 2, "children": 2, "families": 1},
    ]
    assert body["totals"] == {"services": 8, "children": 5, "families": 3}


async def test_services_by_province_and_quarter_in_a_range(
    client: httpx.AsyncClient, data: Dataset
) -> None:
    body = await get(client, data, "services", group_by="province,quarter")
    assert body["rows"] == [
        {"province": "battambang", "quarter": "2025-Q4", "services": 1, "children": 1,
         "families": 1},
        {"province": "battambang", "quarter": "2026-Q1", "services": 5, "children": 3,
         "families": 2},
        {"province": "phnom_penh", "quarter": "2026-Q1", "services": 1, "children": 1,
         "families": 0},
        {"province": "pursat", "quarter": "2026-Q2", "services": 1, "children": 1,
         "families": 1},
    ]  # fmt: skip
    ranged = await get(client, data, "services", **{"from": "2026-01-01", "to": "2026-03-31"})
    assert ranged["totals"] == {"services": 6, "children": 4, "families": 2}
    typed = await get(
        client, data, "services", service_type="emergency_food_package", district="Thma Koul"
    )
    assert typed["totals"] == {"services": 1, "children": 0, "families": 1}


# --- outcomes ---------------------------------------------------------------------------

ZERO_CLOSURES = {
    "cases_closed_reunified_with_family": 0,
    "cases_closed_kinship_care": 0,
    "cases_closed_foster_care": 0,
    "cases_closed_long_term_residential_care": 0,
    "cases_closed_transferred": 0,
    "cases_closed_aged_out": 0,
    "cases_closed_other": 0,
}


async def test_outcomes_per_quarter(client: httpx.AsyncClient, data: Dataset) -> None:
    body = await get(client, data, "outcomes")
    assert body["group_by"] == ["quarter"]
    assert body["rows"] == [
        {
            "quarter": "2026-Q1",
            "cases_closed": 2,  # k2 k5
            **ZERO_CLOSURES,
            "cases_closed_reunified_with_family": 1,
            "cases_closed_kinship_care": 1,
            "children_reunified": 1,
            "children_placed_in_kinship_care": 1,
            "children_placed_in_foster_care": 0,
            "birth_certificates": 1,  # c4, twice
            "school_enrolments": 1,  # c3
            "referrals_made": 5,
            "referrals_accepted": 2,  # decided 01-12 and 02-03 (not the declined one)
            "referrals_completed": 0,
            "median_days_to_closure": 74.5,  # k5: 50 days, k2: 99 days
        },
        {
            "quarter": "2026-Q2",
            "cases_closed": 1,  # k6
            **ZERO_CLOSURES,
            "cases_closed_foster_care": 1,
            "children_reunified": 0,
            "children_placed_in_kinship_care": 0,
            "children_placed_in_foster_care": 1,
            "birth_certificates": 0,
            "school_enrolments": 1,  # c5
            "referrals_made": 0,
            "referrals_accepted": 1,  # accepted 04-01, withdrawn later
            "referrals_completed": 1,
            "median_days_to_closure": 44.0,
        },
    ]
    assert body["totals"] == {
        "cases_closed": 3,
        **ZERO_CLOSURES,
        "cases_closed_reunified_with_family": 1,
        "cases_closed_kinship_care": 1,
        "cases_closed_foster_care": 1,
        "children_reunified": 1,
        "children_placed_in_kinship_care": 1,
        "children_placed_in_foster_care": 1,
        "birth_certificates": 1,
        "school_enrolments": 2,
        "referrals_made": 5,
        "referrals_accepted": 3,
        "referrals_completed": 1,
        "median_days_to_closure": 50.0,  # 44, 50, 99
    }


async def test_outcomes_per_month_in_a_range(client: httpx.AsyncClient, data: Dataset) -> None:
    body = await get(client, data, "outcomes", group_by="month", to="2026-02-28")
    months = {r["month"]: r for r in body["rows"]}
    assert sorted(months) == ["2026-01", "2026-02"]
    assert months["2026-01"]["cases_closed_kinship_care"] == 1
    assert months["2026-01"]["referrals_made"] == 2
    assert months["2026-01"]["median_days_to_closure"] == 50.0
    assert months["2026-02"]["birth_certificates"] == 1
    assert months["2026-02"]["median_days_to_closure"] == 99.0
    assert body["totals"]["referrals_made"] == 3
    assert body["totals"]["birth_certificates"] == 1
    assert body["totals"]["school_enrolments"] == 0
    assert body["totals"]["median_days_to_closure"] == 74.5


async def test_empty_outcomes(client: httpx.AsyncClient, data: Dataset) -> None:
    body = await get(client, data, "outcomes", **{"from": "2020-01-01", "to": "2020-12-31"})
    assert body["rows"] == []
    assert body["totals"]["cases_closed"] == 0
    assert body["totals"]["median_days_to_closure"] is None


# --- formats ----------------------------------------------------------------------------


def read_csv(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    return list(csv.reader(io.StringIO(response.text)))


async def test_csv_by_accept_header_or_format(client: httpx.AsyncClient, data: Dataset) -> None:
    headers = {**data.tenant["analyst"].headers, "Accept": "text/csv"}
    params = {"group_by": "province,quarter"}
    by_header = await client.get(f"{STATS}/cases", params=params, headers=headers)
    assert read_csv(by_header) == [
        ["province", "quarter", "cases", "children"],
        ["battambang", "2025-Q4", "2", "2"],
        ["battambang", "2026-Q1", "3", "3"],
        ["phnom_penh", "2026-Q1", "1", "1"],
        ["pursat", "2026-Q2", "2", "2"],
    ]
    by_param = await client.get(
        f"{STATS}/cases",
        params={**params, "format": "csv"},
        headers=data.tenant["analyst"].headers,
    )
    assert by_param.text == by_header.text
    services = await client.get(
        f"{STATS}/services", params={"group_by": "district", "format": "csv"}, headers=headers
    )
    assert read_csv(services) == [
        ["district", "services", "children", "families"],
        ["Bavel", "3", "2", "1"],
        ["Daun Penh", "1", "1", "0"],
        ["Thma Koul", "3", "1", "1"],
        ["", "1", "1", "1"],  # no district: empty cell, last
    ]
    outcomes = read_csv(await client.get(f"{STATS}/outcomes", headers=headers))
    assert outcomes[0][:3] == ["quarter", "cases_closed", "cases_closed_reunified_with_family"]
    assert outcomes[0][-1] == "median_days_to_closure"
    assert [line[0] for line in outcomes[1:]] == ["2026-Q1", "2026-Q2"]
    assert outcomes[1][-1] == "74.5"


async def test_other_formats_are_not_acceptable(client: httpx.AsyncClient, data: Dataset) -> None:
    headers = data.tenant["analyst"].headers
    ndjson = await client.get(f"{STATS}/cases", params={"format": "ndjson"}, headers=headers)
    assert_problem(ndjson, 406)
    xml = await client.get(f"{STATS}/cases", headers={**headers, "Accept": "application/xml"})
    assert_problem(xml, 406)
    unknown = await client.get(f"{STATS}/cases", params={"format": "xml"}, headers=headers)
    assert error_locs(assert_problem(unknown, 422)) == [["query", "format"]]


# --- bad input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params", "loc"),
    [
        ("cases", {"group_by": "province,colour"}, ["query", "group_by"]),
        ("cases", {"group_by": "province,province"}, ["query", "group_by"]),
        ("cases", {"group_by": "month,year"}, ["query", "group_by"]),
        ("cases", {"group_by": "status,sex,province,month,concern"}, ["query", "group_by"]),
        ("cases", {"group_by": "service_type"}, ["query", "group_by"]),
        ("services", {"group_by": "status"}, ["query", "group_by"]),
        ("outcomes", {"group_by": "week"}, ["query", "group_by"]),
        ("outcomes", {"group_by": "quarter,province"}, ["query", "group_by"]),
        ("cases", {"from": "2026-03-01", "to": "2026-02-28"}, ["query", "to"]),
        ("services", {"from": "2010-01-01", "to": "2026-01-01"}, ["query", "to"]),
        ("outcomes", {"from": "0001-01-01", "to": "9999-12-31"}, ["query", "to"]),
        ("cases", {"from": "2026-02-30"}, ["query", "from"]),
        ("cases", {"to": "2026-Q1"}, ["query", "to"]),
        ("outcomes", {"from": "March 2026"}, ["query", "from"]),
        ("cases", {"period_of": "updated"}, ["query", "period_of"]),
        ("cases", {"status": "open"}, ["query", "status", 0]),
        ("cases", {"age_band": "5-10"}, ["query", "age_band", 0]),
        ("cases", {"assigned_to": "nobody"}, ["query", "assigned_to", 0]),
        ("cases", {"district": "x" * 101}, ["query", "district", 0]),
        ("services", {"service_type": "haircut"}, ["query", "service_type", 0]),
        ("services", {"province": "bangkok"}, ["query", "province", 0]),
    ],
)
async def test_bad_input_is_a_422_naming_the_parameter(
    client: httpx.AsyncClient,
    data: Dataset,
    path: str,
    params: dict[str, str],
    loc: list[Any],
) -> None:
    response = await client.get(
        f"{STATS}/{path}", params=params, headers=data.tenant["analyst"].headers
    )
    assert error_locs(assert_problem(response, 422)) == [loc]


async def test_a_ten_year_range_is_allowed(client: httpx.AsyncClient, data: Dataset) -> None:
    body = await get(client, data, "cases", **{"from": "2016-01-01", "to": "2025-12-31"})
    assert body["totals"] == {"cases": 2, "children": 2}  # k2 k5


async def test_too_many_groups_is_a_422(
    client: httpx.AsyncClient, data: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ovc_api.stats import engine

    monkeypatch.setattr(engine, "MAX_GROUPS", 3)
    response = await client.get(
        f"{STATS}/cases",
        params={"group_by": "province,quarter"},
        headers=data.tenant["analyst"].headers,
    )
    assert error_locs(assert_problem(response, 422)) == [["query", "group_by"]]


# --- who may ask ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["cases", "services", "outcomes"])
async def test_statistics_roles(client: httpx.AsyncClient, data: Dataset, path: str) -> None:
    for role in ("analyst", "case_manager", "org_admin"):
        body = await get(client, data, path, role=role)
        assert body["totals"] == (await get(client, data, path))["totals"]
    caseworker = await client.get(f"{STATS}/{path}", headers=data.tenant["caseworker"].headers)
    assert_problem(caseworker, 403)


async def test_only_the_callers_organisation_is_counted(
    client: httpx.AsyncClient, data: Dataset, factory: Factory
) -> None:
    other = await factory.tenant()
    await factory.case(other.organisation_id, opened_on=date(2026, 1, 10))
    mine = await get(client, data, "cases")
    assert mine["totals"] == {"cases": 8, "children": 7}
    theirs = await client.get(f"{STATS}/cases", headers=other["analyst"].headers)
    assert theirs.json()["totals"] == {"cases": 1, "children": 1}


async def test_an_analyst_sees_no_child(client: httpx.AsyncClient, data: Dataset) -> None:
    headers = data.tenant["analyst"].headers
    child = await client.get(f"/api/v1/children/{data.children['c1']}", headers=headers)
    assert_problem(child, 403)
    body = await get(client, data, "cases", group_by="district,age_band,sex")
    identifiers = {str(v) for v in data.children.values()} | {str(v) for v in data.cases.values()}
    assert not identifiers & {str(v) for row in body["rows"] for v in row.values()}


async def test_a_birth_date_after_the_opening_day_is_an_unknown_age_everywhere(
    client: httpx.AsyncClient, factory: Factory, tenant_a: Tenant
) -> None:
    """Statistics and the de-identified export band a child the same way (one age band
    function): a birth date recorded after the case's opening day is no age at all."""
    organisation = tenant_a.organisation_id
    child = await factory.child(organisation, date_of_birth=date(2026, 2, 1), sex="male")
    await factory.case(organisation, child_id=child, opened_on=date(2026, 1, 15))
    response = await client.get(
        f"{STATS}/cases", params={"group_by": "age_band"}, headers=tenant_a["analyst"].headers
    )
    assert response.status_code == 200, response.text
    assert [(row["age_band"], row["cases"]) for row in response.json()["rows"]] == [("unknown", 1)]
    export = await client.get(
        "/api/v1/exports/cases",
        params={"variant": "deidentified", "format": "ndjson"},
        headers=tenant_a["analyst"].headers,
    )
    assert export.status_code == 200, export.text
    *rows, end = export.text.splitlines()  # the export's last line is its end line
    assert [line.count('"age_band":"unknown"') for line in rows] == [1]
    assert end == '{"_end":true,"rows":1}'


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def read_xlsx(response: httpx.Response) -> list[list[object]]:
    """The first sheet's rows as values, and no cell of the workbook is a formula."""
    import openpyxl

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX
    assert response.headers["content-disposition"].endswith('.xlsx"')
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    for sheet in workbook.worksheets:
        assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    return [list(row) for row in workbook.worksheets[0].iter_rows(values_only=True)]


async def test_xlsx_by_format_or_accept_header(client: httpx.AsyncClient, data: Dataset) -> None:
    headers = data.tenant["analyst"].headers
    params = {"group_by": "province,quarter"}
    by_param = await client.get(
        f"{STATS}/cases", params={**params, "format": "xlsx"}, headers=headers
    )
    assert read_xlsx(by_param) == [
        ["province", "quarter", "cases", "children"],
        ["battambang", "2025-Q4", 2, 2],
        ["battambang", "2026-Q1", 3, 3],
        ["phnom_penh", "2026-Q1", 1, 1],
        ["pursat", "2026-Q2", 2, 2],
    ]
    by_header = await client.get(
        f"{STATS}/cases", params=params, headers={**headers, "Accept": XLSX}
    )
    assert read_xlsx(by_header) == read_xlsx(by_param)


async def test_xlsx_text_that_looks_like_a_formula_stays_text(
    client: httpx.AsyncClient, factory: Factory, tenant_a: Tenant
) -> None:
    """A district typed as a formula reaches the sheet as a string cell, never a formula,
    defused exactly as in the CSV download (the one defusing of csv_writer)."""
    child_id = await factory.child(tenant_a.organisation_id, district='=HYPERLINK("http://x")')
    await factory.case(tenant_a.organisation_id, child_id=child_id)
    response = await client.get(
        f"{STATS}/cases",
        params={"group_by": "district", "format": "xlsx"},
        headers=tenant_a["analyst"].headers,
    )
    rows = read_xlsx(response)
    assert ['\'=HYPERLINK("http://x")', 1, 1] in rows
    as_csv = await client.get(
        f"{STATS}/cases",
        params={"group_by": "district", "format": "csv"},
        headers=tenant_a["analyst"].headers,
    )
    assert list(csv.reader(io.StringIO(as_csv.text)))[1:] == [
        [str(cell) for cell in row] for row in rows[1:]
    ]
