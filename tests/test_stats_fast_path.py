"""The statistics' fast statements give the raw aggregates' answers, to the last cell key.

One database of its own with a generated network (fixed seed): children with one to three
cases, cases opened and closed in different quarters, cases without a concern or with
several, services repeating children and families, referrals in every state, and record keys
that collide on purpose (two children, and two cases, sharing a key: SUM(DISTINCT key)
counts a key once). Each statistic is asked twice, with the fast statements
(`ovc_api.stats.engine.FAST`, the default) and with the plain ones (case_concerns joined for
every table of a grouping by concern, its cases counted as distinct case ids), and the two
answers must be identical, suppression and perturbation included. A few tables are also
worked out in Python from the generated records, so that both are checked against the raw
count itself.
"""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from ovc_api.app import create_app
from ovc_api.settings import Settings
from ovc_api.stats import engine
from ovc_api.stats.perturbation import KEY_RANGE
from ovc_api.stats.suppression import Cube
from ovc_api.stats.tables import cube_table

from .conftest import Actor, Factory, Rows, own_database_settings
from .helpers import recorded_statements

PROVINCES = ["battambang", "pursat", "kandal", "siem_reap"]
CONCERNS = ["lack_of_food", "neglect", "out_of_school", "violence", "abandonment"]
REASONS = ["reunified_with_family", "kinship_care", "foster_care", "transferred", None]
SERVICE_TYPES = [
    "birth_certificate_support",
    "school_enrolment_support",
    "counselling",
    "emergency_food_package",
]
START = date(2025, 1, 1)


@dataclass
class Generated:
    client: httpx.AsyncClient
    admin: Actor  # org_admin of organisation a
    analyst: Actor  # network analyst
    org: uuid.UUID
    rows: Rows
    active: set[uuid.UUID]
    app: FastAPI


def generate(rows: Rows, org: uuid.UUID, rnd: random.Random, children: int) -> None:
    from ovc_api.cases.models import Case
    from ovc_api.children.models import Child
    from ovc_api.services.models import ServiceDelivery

    families = [rows.family(org) for _ in range(6)]
    for i in range(children):
        born = None if i % 9 == 0 else START - timedelta(days=rnd.randrange(200, 6500))
        child_id = rows.child(
            org, rnd.choice(PROVINCES), sex=rnd.choice(["female", "male"]), date_of_birth=born
        )
        for _ in range(rnd.choices([1, 2, 3], [6, 3, 1])[0]):
            opened = START + timedelta(days=rnd.randrange(0, 640))
            closed = opened + timedelta(days=rnd.randrange(5, 300)) if rnd.random() < 0.45 else None
            concerns = tuple(rnd.sample(CONCERNS, rnd.choice([0, 1, 1, 2, 3])))
            (case_id,) = rows.cases(
                org,
                1,
                "",
                opened,
                closed,
                rnd.choice(REASONS) if closed else None,
                concerns=concerns,
                child_id=child_id,
            )
            case = next(r for r in rows.records if isinstance(r, Case) and r.id == case_id)
            case.risk_level = rnd.choice(["low", "medium", "high"])
            case.family_id = rnd.choice([*families, None])
            if closed is None:
                case.status = rnd.choice(["intake", "assessment", "implementation"])
        if rnd.random() < 0.5:
            for _ in range(rnd.randrange(1, 4)):
                rows.records.append(
                    ServiceDelivery(
                        organisation_id=org,
                        child_id=child_id,
                        family_id=rnd.choice(families),
                        service_type=rnd.choice(SERVICE_TYPES),
                        delivered_on=START + timedelta(days=rnd.randrange(0, 640)),
                        province=rnd.choice(PROVINCES),
                    )
                )
    # Colliding keys: two children of one key, two cases of one key (and their children's).
    kids = [r for r in rows.records if isinstance(r, Child) and r.organisation_id == org]
    kids[1].record_key = kids[0].record_key
    cases = [r for r in rows.records if isinstance(r, Case) and r.organisation_id == org]
    first, second = cases[2], cases[-1]
    second.record_key = first.record_key
    twin = next(k for k in kids if k.id == second.child_id)
    twin.record_key = next(k for k in kids if k.id == first.child_id).record_key


def referrals(rows: Rows, org: uuid.UUID, receiver: uuid.UUID, rnd: random.Random) -> None:
    from ovc_api.cases.models import Case
    from ovc_api.sharing.models import Referral

    cases = [r for r in rows.records if isinstance(r, Case) and r.organisation_id == org]
    for case in rnd.sample(cases, 12):
        rows.referrals(org, receiver, case.id, 1, case.opened_on)
        referral = rows.records[-1]
        assert isinstance(referral, Referral)
        status = rnd.choice(["pending", "accepted", "declined", "completed"])
        referral.status = status
        made = datetime.combine(case.opened_on, datetime.min.time(), UTC)
        if status != "pending":
            referral.decided_at = made + timedelta(days=rnd.randrange(1, 60), hours=23)
        if status in ("declined", "completed"):
            referral.closed_at = made + timedelta(days=rnd.randrange(60, 120))
    # Events on either side of a quarter's and a year's end, to the microsecond (UTC).
    end = datetime(2026, 1, 1, tzinfo=UTC)
    for case, (made, decided, closed) in zip(
        cases,
        [
            (end - timedelta(microseconds=1), end, end + timedelta(days=1)),
            (end, end - timedelta(microseconds=1), end - timedelta(microseconds=1)),
            (end - timedelta(days=92), end - timedelta(days=91, seconds=1), end),
        ],
        strict=False,
    ):
        rows.referrals(org, receiver, case.id, 1, case.opened_on)
        referral = rows.records[-1]
        assert isinstance(referral, Referral)
        referral.status = "completed"
        referral.created_at, referral.decided_at, referral.closed_at = made, decided, closed


@pytest.fixture(scope="module")
def fast_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    yield from own_database_settings(tmp_path_factory, "statsfast")


@pytest_asyncio.fixture(scope="module")
async def gen(fast_settings: Settings) -> AsyncIterator[Generated]:
    app: FastAPI = create_app(fast_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            factory = Factory(app, http)
            rnd = random.Random(12)
            a, b = await factory.organisation(), await factory.organisation(kind="government")
            c = await factory.organisation(active=False)
            rows = Rows()
            for org, children in ((a, 70), (b, 40), (c, 15)):
                generate(rows, org, rnd, children)
            referrals(rows, a, b, rnd)
            referrals(rows, b, a, rnd)
            await rows.save(app)
            admin = await factory.user(a, "org_admin")
            network = await factory.network_admin()
            analyst = await factory.user(network.organisation_id, "network_analyst")
            active = {a, b, network.organisation_id}
            yield Generated(http, admin, analyst, a, rows, active, app)


async def both(
    gen: Generated, monkeypatch: pytest.MonkeyPatch, path: str, actor: Actor, params: Any
) -> dict[str, Any]:
    """The answer with the fast statements, after checking the plain ones give the same."""
    answers = []
    for fast in (True, False):
        monkeypatch.setattr(engine, "FAST", fast)
        response = await gen.client.get(path, params=params, headers=actor.headers)
        assert response.status_code == 200, response.text
        answers.append(response.json())
    assert answers[0] == answers[1]
    body: dict[str, Any] = answers[0]
    return body


ORGANISATION = [
    ("/api/v1/stats/cases", {}),
    ("/api/v1/stats/cases", {"group_by": "province,quarter"}),
    ("/api/v1/stats/cases", {"group_by": "concern"}),
    ("/api/v1/stats/cases", {"group_by": "concern,age_band"}),
    ("/api/v1/stats/cases", {"group_by": "status,risk_level"}),
    ("/api/v1/stats/cases", {"group_by": "province,concern,year"}),
    ("/api/v1/stats/cases", {"group_by": "quarter", "concern": ["neglect", "violence"]}),
    ("/api/v1/stats/cases", {"group_by": "concern", "province": "pursat"}),
    (
        "/api/v1/stats/cases",
        {
            "group_by": "status,month",
            "period_of": "closed",
            "from": "2025-07-01",
            "to": "2026-06-30",
        },
    ),
    ("/api/v1/stats/services", {}),
    ("/api/v1/stats/services", {"group_by": "service_type,quarter"}),
    ("/api/v1/stats/services", {"group_by": "province,month"}),
    ("/api/v1/stats/outcomes", {}),
    ("/api/v1/stats/outcomes", {"group_by": "month", "from": "2025-04-01", "to": "2026-03-31"}),
    ("/api/v1/reports/quarterly", {"year": 2026, "quarter": 2}),
    ("/api/v1/reports/quarterly", {"year": 2025, "quarter": 4}),
    # Whole months of groups case_rollups holds (ROLLED): its sums.
    ("/api/v1/stats/cases", {"group_by": "province,month", "from": "2025-03-01"}),
    ("/api/v1/stats/cases", {"group_by": "year", "province": ["pursat", "kandal"]}),
    ("/api/v1/stats/cases", {"group_by": "concern,age_band", "age_band": ["5-9", "10-14"]}),
    ("/api/v1/stats/cases", {"group_by": "concern,quarter", "concern": ["neglect"]}),
    ("/api/v1/stats/outcomes", {"from": "2025-01-01", "to": "2026-06-30"}),
    ("/api/v1/stats/outcomes", {"group_by": "year", "from": "2025-02-01", "to": "2026-03-31"}),
]
# Requests answered from case_rollups (the rest of ORGANISATION and NETWORK are not, or
# not only: a filter or a bound it cannot apply).
ROLLED = [
    ("/api/v1/stats/cases", {}),
    ("/api/v1/stats/cases", {"group_by": "province,quarter"}),
    ("/api/v1/stats/cases", {"group_by": "concern,age_band"}),
    ("/api/v1/stats/cases", {"group_by": "province,month", "from": "2025-03-01"}),
    ("/api/v1/stats/outcomes", {}),
    ("/api/v1/stats/network/cases", {"group_by": "province,quarter"}),
    ("/api/v1/stats/network/cases", {"group_by": "concern,age_band,organisation_kind"}),
    ("/api/v1/stats/network/outcomes", {"group_by": "year"}),
]
NOT_ROLLED = [
    ("/api/v1/stats/cases", {"group_by": "status,risk_level"}),
    ("/api/v1/stats/cases", {"group_by": "province", "from": "2025-03-02"}),
    ("/api/v1/stats/cases", {"group_by": "concern", "province": "pursat"}),
    ("/api/v1/stats/network/cases", {"group_by": "province,closure_reason", "period_of": "closed"}),
]
NETWORK = [
    ("/api/v1/stats/network/cases", {}),
    ("/api/v1/stats/network/cases", {"group_by": "province,quarter"}),
    ("/api/v1/stats/network/cases", {"group_by": "concern"}),
    ("/api/v1/stats/network/cases", {"group_by": "concern,age_band,organisation_kind"}),
    ("/api/v1/stats/network/cases", {"group_by": "province,closure_reason", "period_of": "closed"}),
    (
        "/api/v1/stats/network/cases",
        {"group_by": "sex,concern", "from": "2025-01-01", "to": "2025-12-31"},
    ),
    ("/api/v1/stats/network/cases", {"group_by": "quarter", "concern": "neglect"}),
    ("/api/v1/stats/network/services", {"group_by": "service_type"}),
    ("/api/v1/stats/network/services", {"group_by": "service_type,province,quarter"}),
    ("/api/v1/stats/network/outcomes", {}),
    ("/api/v1/stats/network/outcomes", {"group_by": "year"}),
    (
        "/api/v1/stats/network/cases",
        {"group_by": "concern,age_band", "from": "2025-01-01", "to": "2025-12-31"},
    ),
    ("/api/v1/stats/network/cases", {"group_by": "province,year", "province": "kandal"}),
    ("/api/v1/stats/network/cases", {"group_by": "age_band,concern", "age_band": "5-9"}),
    (
        "/api/v1/stats/network/outcomes",
        {"group_by": "quarter", "from": "2025-04-01", "to": "2025-06-30"},
    ),
]


@pytest.mark.parametrize(("path", "params"), ORGANISATION)
async def test_organisation_statistics_fast_and_plain_agree(
    gen: Generated, monkeypatch: pytest.MonkeyPatch, path: str, params: dict[str, Any]
) -> None:
    body = await both(gen, monkeypatch, path, gen.admin, params)
    assert body.get("rows", True) or body.get("cases")  # something was counted


@pytest.mark.parametrize(("path", "params"), NETWORK)
async def test_network_statistics_fast_and_plain_agree(
    gen: Generated, monkeypatch: pytest.MonkeyPatch, path: str, params: dict[str, Any]
) -> None:
    body = await both(gen, monkeypatch, path, gen.analyst, params)
    assert body["rows"]


@pytest.mark.parametrize(("rolled", "requests"), [(True, ROLLED), (False, NOT_ROLLED)])
async def test_whole_months_of_held_groups_read_the_rollups(
    gen: Generated, rolled: bool, requests: list[tuple[str, dict[str, Any]]]
) -> None:
    """The rollups answer what they hold (the answers equal the plain ones: above), and
    only that: a cut month or a filter they lack reads case_facts instead."""
    if "postgresql" not in os.environ.get("OVC_TEST_DATABASE_URL", ""):
        pytest.skip("case_rollups is PostgreSQL's (SQLite reads the tables)")
    for path, params in requests:
        actor = gen.analyst if "/network/" in path else gen.admin
        with recorded_statements(gen.app) as statements:
            response = await gen.client.get(path, params=params, headers=actor.headers)
        assert response.status_code == 200, response.text
        assert any("case_rollups" in sql for sql in statements) is rolled, (path, params)


# --- the raw count, in Python -------------------------------------------------------------


def quarter(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def facts(gen: Generated, orgs: set[uuid.UUID], by_concern: bool) -> list[dict[str, Any]]:
    """One row per case (per case and concern), as the raw statistics count them."""
    from ovc_api.cases.models import Case, CaseConcern
    from ovc_api.children.models import Child

    children = {r.id: r for r in gen.rows.records if isinstance(r, Child)}
    concerns: dict[uuid.UUID, list[str]] = {}
    for r in gen.rows.records:
        if isinstance(r, CaseConcern):
            concerns.setdefault(r.case_id, []).append(r.concern)
    found = []
    for case in gen.rows.records:
        if not isinstance(case, Case) or case.organisation_id not in orgs:
            continue
        child = children[case.child_id]
        row = {
            "case_id": case.id,
            "child_id": case.child_id,
            "province": child.province,
            "quarter": quarter(case.opened_on),
            "case_key": case.record_key
            - case.record_key % KEY_RANGE
            + child.record_key % KEY_RANGE,
            "child_key": child.record_key,
        }
        for concern in concerns.get(case.id, []) if by_concern else [None]:
            found.append({**row, "concern": concern})
    return found


def python_cube(
    rows: list[dict[str, Any]], levels: list[tuple[str, ...]], by_concern: bool
) -> Cube:
    cube: Cube = {}
    for level in levels:
        groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        for row in rows:
            groups.setdefault(tuple(row[k] for k in level), []).append(row)
        cube[level] = {
            key: {
                "cases": len({r["case_id"] for r in cell}),
                "children": len({r["child_id"] for r in cell}),
                # SUM(DISTINCT key): a key once, however many records carry it
                "cases_key": (
                    sum({r["case_key"] for r in cell})
                    if by_concern
                    else sum(r["case_key"] for r in cell)
                )
                % KEY_RANGE,
                "children_key": sum({r["child_key"] for r in cell}) % KEY_RANGE,
            }
            # in the engine's order of cells (the suppression's tie-breaks follow it)
            for key, cell in sorted(
                groups.items(), key=lambda item: [(v is None, str(v)) for v in item[0]]
            )
        }
    return cube


async def test_organisation_cases_are_the_raw_count(
    gen: Generated, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = ["province", "quarter"]
    body = await both(
        gen, monkeypatch, "/api/v1/stats/cases", gen.admin, {"group_by": ",".join(keys)}
    )
    cube = python_cube(facts(gen, {gen.org}, False), [tuple(keys), ()], False)
    table = cube_table(cube, keys, ["cases", "children"])
    assert body["rows"] == table.rows
    assert body["totals"] == table.totals
    # Children with several cases: fewer children than cases, in the totals and some rows.
    assert body["totals"]["children"] < body["totals"]["cases"]


@pytest.mark.parametrize("keys", [["province", "quarter"], ["concern"], ["concern", "province"]])
async def test_network_cases_are_the_raw_count(
    gen: Generated, monkeypatch: pytest.MonkeyPatch, keys: list[str]
) -> None:
    from ovc_api.stats.suppression import subsets

    body = await both(
        gen, monkeypatch, "/api/v1/stats/network/cases", gen.analyst, {"group_by": ",".join(keys)}
    )
    by_concern = "concern" in keys
    cube = python_cube(facts(gen, gen.active, by_concern), subsets(keys), by_concern)
    table = cube_table(cube, keys, ["cases", "children"], threshold=5)
    assert body["rows"] == table.rows
    assert body["totals"] == table.totals
    assert any(row["suppressed"] for row in body["rows"]) or keys == ["concern"]
