"""Network statistics: counts across every active organisation, with small counts and
their complements withheld, and the suppression algorithm on hand-made tables.

The API tests need the counts of ALL organisations, so they run against a database and app
of their own (built once for this module, dropped at the end). Expected numbers and withheld
cells are worked out by hand in the comments (threshold 5: counts 1 to 4 are withheld).
Every record of this module's network has the record key 0, so every cell's key is 0 and a
published count n is `p(n)`, the perturbation table's entry at (0, n); the perturbation with
random keys, and the attacks it stops, are in test_network_disclosure.py.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from ovc_api.app import create_app
from ovc_api.settings import Settings
from ovc_api.stats.perturbation import perturbed
from ovc_api.stats.suppression import Equation, additive_cube, suppress, suppress_cube

from .conftest import Actor, Factory, Rows, own_database_settings
from .helpers import assert_problem, error_locs

NETWORK = "/api/v1/stats/network"
YEAR_2026 = {"from": "2026-01-01", "to": "2026-12-31"}


# --- the algorithm on hand-made tables ----------------------------------------------------


def withheld(keys: list[str], cells: dict[tuple[str, ...], int]) -> dict[tuple[str, ...], set[Any]]:
    return suppress_cube(additive_cube(keys, cells), ["n"], 5)


def test_one_small_cell_takes_the_smallest_other_with_it() -> None:
    found = withheld(["p"], {("a",): 12, ("b",): 3, ("c",): 7, ("d",): 20})
    # b (3) is small; with the total (42) published, b = 42 - 12 - 7 - 20: c (7) goes too.
    assert found == {(): set(), ("p",): {("b",), ("c",)}}


def test_two_small_cells_protect_each_other() -> None:
    found = withheld(["p"], {("a",): 2, ("b",): 3, ("c",): 50})
    assert found == {(): set(), ("p",): {("a",), ("b",)}}


def test_a_small_total_is_withheld_with_its_cells() -> None:
    found = withheld(["p"], {("a",): 1, ("b",): 2})
    assert found == {(): {()}, ("p",): {("a",), ("b",)}}


def test_zero_is_published_and_never_a_complement() -> None:
    # A cell of zero does not appear at all: c (3) can only be protected by a (30) here.
    found = withheld(["p"], {("a",): 30, ("c",): 3})
    assert found == {(): set(), ("p",): {("a",), ("c",)}}


def test_two_dimensions_withhold_a_rectangle() -> None:
    cells = {
        ("r1", "c1"): 20, ("r1", "c2"): 3, ("r1", "c3"): 10,
        ("r2", "c1"): 15, ("r2", "c2"): 12, ("r2", "c3"): 25,
        ("r3", "c1"): 30, ("r3", "c2"): 40, ("r3", "c3"): 35,
    }  # fmt: skip
    found = withheld(["r", "c"], cells)
    # r1c2 (3) is small. Column c2 then needs a second cell: r2c2 (12, smaller than 40);
    # row r1 one: r1c3 (10); column c3 one: r2c3 (25), which also completes row r2.
    assert found[("r", "c")] == {("r1", "c2"), ("r2", "c2"), ("r1", "c3"), ("r2", "c3")}
    assert found[("r",)] == found[("c",)] == found[()] == set()


def test_two_dimensions_agree_with_their_marginal_tables() -> None:
    cells = {
        ("battambang", "Q1"): 7, ("battambang", "Q2"): 6,
        ("pursat", "Q1"): 2,
        ("kampot", "Q2"): 6,
        ("siem_reap", "Q1"): 5, ("siem_reap", "Q2"): 3,
    }  # fmt: skip
    found = withheld(["province", "quarter"], cells)
    # The province table (13, 2, 6, 8) alone withholds pursat (2) and its complement kampot
    # (6): the same as the table grouped by province only.
    assert found[("province",)] == {("pursat",), ("kampot",)}
    assert found[("province",)] == withheld(["province"], {("battambang",): 13,
        ("pursat",): 2, ("kampot",): 6, ("siem_reap",): 8})[("province",)]  # fmt: skip
    # Kampot's only cell would reveal the withheld kampot total: withheld. Siem Reap Q2 (3)
    # is small and its row total (8) is published: Siem Reap Q1 (5) goes too. Each quarter
    # column then has two withheld cells; Battambang's row keeps both.
    assert found[("province", "quarter")] == {
        ("pursat", "Q1"),
        ("kampot", "Q2"),
        ("siem_reap", "Q1"),
        ("siem_reap", "Q2"),
    }
    assert found[("quarter",)] == found[()] == set()


def test_linked_cells_are_withheld_together() -> None:
    values = {"a.cases": 9, "a.children": 4, "b.cases": 20, "b.children": 18, "c.cases": 7,
              "c.children": 6, "all.cases": 36, "all.children": 28}  # fmt: skip
    equations = [
        Equation("all.cases", ("a.cases", "b.cases", "c.cases")),
        Equation("all.children", ("a.children", "b.children", "c.children")),
    ]
    links = [["a.cases", "a.children"], ["b.cases", "b.children"], ["c.cases", "c.children"]]
    # a.children (4) is small, so row a goes; each count then needs a second row: c (smaller).
    assert suppress(values, equations, 5, links) == {
        "a.cases", "a.children", "c.cases", "c.children"
    }  # fmt: skip


def test_a_withheld_total_needs_a_withheld_part() -> None:
    values = {"g": 26, "t": 10, "x": 12, "y": 4, "u": 5, "v": 5}
    equations = [Equation("g", ("t", "x", "y"), rank=1), Equation("t", ("u", "v"), rank=2)]
    # y (4) is small: t (10, smaller than x) is its complement. Published, u and v would add
    # up to t and reveal y = 26 - 10 - 12: one of them (the first of equals) goes too.
    assert suppress(values, equations, 5) == {"y", "t", "u"}


# --- a network of organisations ----------------------------------------------------------


@dataclass
class Network:
    client: httpx.AsyncClient
    admin: Actor
    analyst: Actor
    members: dict[str, dict[str, Actor]]


@pytest.fixture(scope="module")
def network_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    yield from own_database_settings(tmp_path_factory, "network")


Q1, Q2 = date(2026, 2, 15), date(2026, 5, 15)
OPENED = date(2025, 10, 1)  # the closed cases: 122, 211 and 303 days to their closures
CLOSED = {"Q1": date(2026, 1, 31), "Q2": date(2026, 4, 30), "Q3": date(2026, 7, 31)}


async def build(app: FastAPI, factory: Factory) -> Network:
    """Cases opened in 2026 (all open), by province and quarter, as (A) + (B):

                Q1      Q2     | province
    battambang  6+1     4+2    | 13
    pursat      2              | 2
    kampot              6      | 6
    siem_reap   5       3      | 8
    quarter     14      15     | 29

    Cases opened 2025-10-01 in kandal, closed in 2026 (A + B), by closing quarter:

                reunified  kinship  transferred  other | closed
    Q1          4+3        2        6                  | 15
    Q2          8          5                     1     | 14
    Q3                                           2     | 2
    reason      15         7        6            3     | 31

    Services (2026-02-01): A food 6 services / 6 children / 3 families and school enrolment
    5 / 5 / 5; B counselling 12 / 7 / 6. Referrals made: A 6 in Q1, B 2 in Q2.
    C (inactive) has cases, closures and services that must count nowhere.
    """
    a, b = await factory.organisation(), await factory.organisation()
    c = await factory.organisation(active=False)
    rows = Rows(record_key=0)  # every cell key 0: each cell's noise is PERTURBATION[0]
    rows.cases(a, 6, "battambang", Q1)
    rows.cases(a, 4, "battambang", Q2)
    rows.cases(a, 2, "pursat", Q1)
    rows.cases(b, 1, "battambang", Q1)
    rows.cases(b, 2, "battambang", Q2)
    rows.cases(b, 6, "kampot", Q2)
    rows.cases(b, 5, "siem_reap", Q1)
    rows.cases(b, 3, "siem_reap", Q2)
    rows.cases(c, 4, "phnom_penh", Q1)
    closures = [  # org, n, quarter, reason
        (a, 4, "Q1", "reunified_with_family"),
        (b, 3, "Q1", "reunified_with_family"),
        (a, 2, "Q1", "kinship_care"),
        (b, 6, "Q1", "transferred"),
        (a, 8, "Q2", "reunified_with_family"),
        (b, 5, "Q2", "kinship_care"),
        (a, 1, "Q2", "other"),
        (a, 2, "Q3", "other"),
        (c, 3, "Q1", "reunified_with_family"),
    ]
    sent = {}
    for org, n, quarter, reason in closures:
        sent[org] = rows.cases(org, n, "kandal", OPENED, CLOSED[quarter], reason)[0]
    rows.services(a, "emergency_food_package", 6, 6, 3)
    rows.services(a, "school_enrolment_support", 5, 5, 5)
    rows.services(b, "counselling", 12, 7, 6)
    rows.services(c, "counselling", 10, 10, 10)
    rows.referrals(a, b, sent[a], 6, date(2026, 2, 2))
    rows.referrals(b, a, sent[b], 2, date(2026, 5, 2))
    rows.referrals(c, a, sent[c], 3, date(2026, 2, 2))
    await rows.save(app)
    admin = await factory.network_admin()
    analyst = await factory.user(admin.organisation_id, "network_analyst")
    members = {
        "a": {role: await factory.user(a, role) for role in ("org_admin", "analyst")},
        "b": {"caseworker": await factory.user(b, "caseworker")},
    }
    return Network(factory.client, admin, analyst, members)


@pytest_asyncio.fixture(scope="module")
async def net(network_settings: Settings) -> AsyncIterator[Network]:
    app = create_app(network_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield await build(app, Factory(app, http))


async def get(net: Network, path: str, actor: Actor | None = None, **params: Any) -> dict[str, Any]:
    response = await net.client.get(
        f"{NETWORK}/{path}", params=params, headers=(actor or net.admin).headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def p(count: int) -> int:
    """The published value of a true count in this module's network (cell key 0)."""
    return perturbed(count, 0)


def published(cases: int) -> dict[str, Any]:
    return {"cases": p(cases), "children": p(cases), "suppressed": []}


WITHHELD = {"cases": None, "children": None, "suppressed": ["cases", "children"]}


# --- cases --------------------------------------------------------------------------------


async def test_network_cases_by_province(net: Network) -> None:
    body = await get(net, "cases", group_by="province", **YEAR_2026)
    assert body["suppression_threshold"] == 5
    assert body["filters"] == {**YEAR_2026, "period_of": "opened"}
    # pursat (2) is small; with the total published, kampot (6, the smallest other) goes too.
    assert body["rows"] == [
        {"province": "battambang", **published(13)},
        {"province": "kampot", **WITHHELD},
        {"province": "pursat", **WITHHELD},
        {"province": "siem_reap", **published(8)},
    ]
    assert body["totals"] == published(29)  # phnom_penh's 4 cases: inactive organisation


async def test_network_cases_by_province_and_quarter(net: Network) -> None:
    body = await get(net, "cases", group_by="province,quarter", **YEAR_2026)
    # See test_two_dimensions_agree_with_their_marginal_tables: the same table.
    assert body["rows"] == [
        {"province": "battambang", "quarter": "2026-Q1", **published(7)},
        {"province": "battambang", "quarter": "2026-Q2", **published(6)},
        {"province": "kampot", "quarter": "2026-Q2", **WITHHELD},
        {"province": "pursat", "quarter": "2026-Q1", **WITHHELD},
        {"province": "siem_reap", "quarter": "2026-Q1", **WITHHELD},
        {"province": "siem_reap", "quarter": "2026-Q2", **WITHHELD},
    ]
    assert body["totals"] == published(29)
    quarters = await get(net, "cases", group_by="quarter", **YEAR_2026)
    assert quarters["rows"] == [
        {"quarter": "2026-Q1", **published(14)},
        {"quarter": "2026-Q2", **published(15)},
    ]


async def test_network_totals_and_filters(net: Network) -> None:
    everything = await get(net, "cases", group_by="province")
    assert everything["rows"][2] == {"province": "kandal", **published(31)}
    assert everything["totals"] == published(60)
    closed = await get(net, "cases", period_of="closed", group_by="quarter")
    # by closing quarter: 15, 14 and 2: Q3 is small, Q2 (the smaller other) goes too.
    assert closed["rows"] == [
        {"quarter": "2026-Q1", **published(15)},
        {"quarter": "2026-Q2", **WITHHELD},
        {"quarter": "2026-Q3", **WITHHELD},
    ]
    small = await get(net, "cases", province="pursat")
    assert small["rows"] == [WITHHELD] and small["totals"] == WITHHELD


async def test_network_csv_marks_withheld_cells(net: Network) -> None:
    response = await net.client.get(
        f"{NETWORK}/cases",
        params={"group_by": "province", **YEAR_2026},
        headers={**net.analyst.headers, "Accept": "text/csv"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert list(csv.reader(io.StringIO(response.text))) == [
        ["province", "cases", "children", "suppressed"],
        ["battambang", str(p(13)), str(p(13)), ""],
        ["kampot", "", "", "cases children"],
        ["pursat", "", "", "cases children"],
        ["siem_reap", str(p(8)), str(p(8)), ""],
    ]


# --- services and outcomes -----------------------------------------------------------------


async def test_network_services(net: Network) -> None:
    body = await get(net, "services", group_by="service_type")
    hidden = {
        "services": None,
        "children": None,
        "families": None,
        "suppressed": ["services", "children", "families"],
    }
    # food reaches 3 families (small): its row goes, and school enrolment (the smaller other
    # row) with it. Organisation C's counselling does not count.
    assert body["rows"] == [
        {"service_type": "emergency_food_package", **hidden},
        {"service_type": "counselling", "services": p(12), "children": p(7),
         "families": p(6), "suppressed": []},
        {"service_type": "school_enrolment_support", **hidden},
    ]  # fmt: skip
    assert body["totals"] == {
        "services": p(23), "children": p(18), "families": p(14), "suppressed": []
    }  # fmt: skip


NO_OUTCOMES = {
    "cases_closed": 0,
    "cases_closed_reunified_with_family": 0,
    "cases_closed_kinship_care": 0,
    "cases_closed_foster_care": 0,
    "cases_closed_long_term_residential_care": 0,
    "cases_closed_transferred": 0,
    "cases_closed_aged_out": 0,
    "cases_closed_other": 0,
    "children_reunified": 0,
    "children_placed_in_kinship_care": 0,
    "children_placed_in_foster_care": 0,
    "birth_certificates": 0,
    "school_enrolments": 0,
    "referrals_made": 0,
    "referrals_accepted": 0,
    "referrals_completed": 0,
}


def hide(row: dict[str, Any], *names: str) -> dict[str, Any]:
    return {**row, **dict.fromkeys(names), "suppressed": list(names)}


async def test_network_outcomes(net: Network) -> None:
    body = await get(net, "outcomes")
    # Closures by quarter (15, 14, 2): Q3 is small, and Q2 its complement. By reason (15, 7,
    # 6, 3): other is small, transferred its complement. In the quarter x reason table:
    # kinship Q1 (2) is small and kinship's total (7) published: kinship Q2 (5) goes too;
    # other Q2 (1) and Q3 (2) are small; transferred's only cell (Q1) would reveal the
    # withheld transferred total. Children placed follow the cases closed for the same reason.
    # Referrals made: 6 in Q1, 2 in Q2 (small): Q1 goes too. The medians of withheld
    # closure counts are withheld.
    assert body["rows"] == [
        hide(
            {
                **NO_OUTCOMES,
                "quarter": "2026-Q1",
                "cases_closed": p(15),
                "cases_closed_reunified_with_family": p(7),
                "children_reunified": p(7),
                "school_enrolments": p(5),
                "median_days_to_closure": 122.0,
            },
            "cases_closed_kinship_care",
            "cases_closed_transferred",
            "children_placed_in_kinship_care",
            "referrals_made",
        ),
        hide(
            {
                **NO_OUTCOMES,
                "quarter": "2026-Q2",
                "cases_closed_reunified_with_family": p(8),
                "children_reunified": p(8),
            },
            "cases_closed",
            "cases_closed_kinship_care",
            "cases_closed_other",
            "children_placed_in_kinship_care",
            "referrals_made",
            "median_days_to_closure",
        ),
        hide(
            {**NO_OUTCOMES, "quarter": "2026-Q3"},
            "cases_closed",
            "cases_closed_other",
            "median_days_to_closure",
        ),
    ]
    assert body["totals"] == hide(
        {
            **NO_OUTCOMES,
            "cases_closed": p(31),
            "cases_closed_reunified_with_family": p(15),
            "cases_closed_kinship_care": p(7),
            "children_reunified": p(15),
            "children_placed_in_kinship_care": p(7),
            "school_enrolments": p(5),
            "referrals_made": p(8),
            "median_days_to_closure": 211.0,  # 15 x 122, 14 x 211, 2 x 303
        },
        "cases_closed_transferred",
        "cases_closed_other",
    )


async def test_the_organisation_sees_its_own_small_counts(net: Network) -> None:
    response = await net.client.get(
        "/api/v1/stats/cases",
        params={"group_by": "province", **YEAR_2026},
        headers=net.members["a"]["analyst"].headers,
    )
    assert response.json()["rows"] == [
        {"province": "battambang", "cases": 10, "children": 10},
        {"province": "pursat", "cases": 2, "children": 2},
    ]


# --- who may ask -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["cases", "services", "outcomes"])
async def test_network_roles(net: Network, path: str) -> None:
    assert await get(net, path, net.analyst) == await get(net, path, net.admin)
    for actor in (
        net.members["a"]["org_admin"],
        net.members["a"]["analyst"],
        net.members["b"]["caseworker"],
    ):
        response = await net.client.get(f"{NETWORK}/{path}", headers=actor.headers)
        assert_problem(response, 403)
    own = await net.client.get(f"/api/v1/stats/{path}", headers=net.analyst.headers)
    assert_problem(own, 403)  # no organisation statistics without stats:read


@pytest.mark.parametrize(
    ("path", "params", "loc"),
    [
        ("cases", {"group_by": "assigned_to"}, ["query", "group_by"]),
        ("cases", {"group_by": "sex,sex"}, ["query", "group_by"]),
        ("services", {"from": "2026-02-01", "to": "2026-01-01"}, ["query", "to"]),
        ("outcomes", {"group_by": "day"}, ["query", "group_by"]),
    ],
)
async def test_network_bad_input(
    net: Network, path: str, params: dict[str, str], loc: list[str]
) -> None:
    response = await net.client.get(f"{NETWORK}/{path}", params=params, headers=net.admin.headers)
    assert error_locs(assert_problem(response, 422)) == [loc]
