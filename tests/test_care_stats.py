"""Alternative-care statistics, compared with counts computed here from generated data."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio

from ovc_api.app import create_app
from ovc_api.settings import Settings
from ovc_api.stats.perturbation import perturbed

from .conftest import Actor, Factory, Tenant, own_database_settings
from .helpers import assert_problem, error_locs

AS_OF = date(2026, 6, 30)


def _quarter(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


async def _generate(factory: Factory, organisation_id: Any, **fields: Any) -> dict[str, Any]:
    """Children leaving residential care for families on known dates, some re-separated,
    some still in care, a foster-to-kinship move (not counted), and tracing attempts.
    `fields`: of every child (a fixed `record_key`, for network figures)."""
    org = organisation_id
    moves: list[tuple[date, date, date | None]] = []  # (entered care, moved, family ended)
    in_care_on_as_of = 0
    for i in range(14):
        child = await factory.child(org, intake_placement=False, **fields)
        entered = date(2024, 1, 1) + timedelta(days=10 * i)
        moved = date(2025, 1, 15) + timedelta(days=37 * i)
        ended = None if i % 3 else moved + timedelta(days=90 + 40 * i)
        await factory.placement(org, child, "residential_care", started_on=entered, ended_on=moved)
        await factory.placement(
            org, child, "kinship_care" if i % 2 else "parents", started_on=moved, ended_on=ended
        )
        if ended is not None:
            await factory.placement(org, child, "group_home", started_on=ended)
            in_care_on_as_of += ended <= AS_OF
        moves.append((entered, moved, ended))
    for _ in range(3):
        child = await factory.child(org, intake_placement=False, **fields)
        await factory.placement(org, child, "residential_care", started_on=date(2025, 5, 1))
        in_care_on_as_of += 1
    child = await factory.child(org, intake_placement=False, **fields)
    await factory.placement(
        org, child, "foster_care", started_on=date(2025, 1, 1), ended_on=date(2025, 3, 1)
    )
    await factory.placement(org, child, "kinship_care", started_on=date(2025, 3, 1))
    outcomes = ["found_willing", "not_found", "found_unable", "not_found", "in_progress"]
    tracing: list[tuple[date, str]] = []
    for i in range(15):
        attempted = date(2025, 1, 5) + timedelta(days=23 * i)
        outcome = outcomes[i % len(outcomes)]
        await factory.tracing(org, child, attempted_on=attempted, outcome=outcome)
        tracing.append((attempted, outcome))
    return {"moves": moves, "tracing": tracing, "in_care": in_care_on_as_of}


def _expected(data: dict[str, Any]) -> dict[str | None, dict[str, Any]]:
    figures: dict[str | None, dict[str, Any]] = {}

    def at(label: str | None) -> dict[str, Any]:
        return figures.setdefault(
            label,
            {
                "moves_to_family_care": 0,
                "followed_6_months": 0,
                "stable_6_months": 0,
                "followed_12_months": 0,
                "stable_12_months": 0,
                "days": [],
                "tracing_concluded": 0,
                "tracing_found": 0,
            },
        )

    for entered, moved, ended in data["moves"]:
        for row in (at(_quarter(moved)), at(None)):
            row["moves_to_family_care"] += 1
            row["days"].append((moved - entered).days)
            for months, days in ((6, 182), (12, 365)):
                if moved <= AS_OF - timedelta(days=days):
                    row[f"followed_{months}_months"] += 1
                    if ended is None or (ended - moved).days >= days:
                        row[f"stable_{months}_months"] += 1
    for attempted, outcome in data["tracing"]:
        if outcome == "in_progress":
            continue
        for row in (at(_quarter(attempted)), at(None)):
            row["tracing_concluded"] += 1
            row["tracing_found"] += outcome.startswith("found")
    for row in figures.values():
        days = row.pop("days")
        row["mean_days_in_care_before_move"] = round(sum(days) / len(days), 1) if days else None
    return figures


def _published(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in {"period", "tracing_success_rate"}}


async def test_care_statistics_match_the_generated_data(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    data = await _generate(factory, tenant_a.organisation_id)
    expected = _expected(data)
    response = await client.get(
        "/api/v1/stats/care",
        params={"as_of": AS_OF.isoformat()},
        headers=tenant_a["analyst"].headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["children_in_residential_care"] == data["in_care"]
    assert _published(body["totals"]) == expected[None]
    by_period = {row["period"]: _published(row) for row in body["rows"]}
    for label, figures in expected.items():
        if label is None:
            continue
        zero_moves = {
            "moves_to_family_care": 0,
            "followed_6_months": 0,
            "stable_6_months": 0,
            "followed_12_months": 0,
            "stable_12_months": 0,
            "mean_days_in_care_before_move": None,
        }
        assert by_period[label] == {**zero_moves, **figures}, label
    concluded, found = expected[None]["tracing_concluded"], expected[None]["tracing_found"]
    assert body["totals"]["tracing_success_rate"] == round(found / concluded, 3)


# --- network figures: a database of its own (the counts of every organisation) -------------


@pytest.fixture(scope="module")
def care_network_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    yield from own_database_settings(tmp_path_factory, "carenet")


@pytest_asyncio.fixture(scope="module")
async def care_network(
    care_network_settings: Settings,
) -> AsyncIterator[tuple[httpx.AsyncClient, Actor, dict[str, Any]]]:
    """An active member with the generated data (every child's record key 0, so every
    cell's key is 0 and a published count n is perturbed(n, 0)); an inactive member with
    the same data, which must count nowhere."""
    app = create_app(care_network_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            factory = Factory(app, http)
            data = await _generate(factory, await factory.organisation(), record_key=0)
            await _generate(factory, await factory.organisation(active=False), record_key=0)
            yield http, await factory.network_admin(), data


def _check_published(published: dict[str, Any], true: dict[str, Any], threshold: int) -> None:
    """A true count below the threshold is withheld; a published one is perturbed(n, 0)."""
    for name, count in true.items():
        if name == "mean_days_in_care_before_move":
            assert published[name] in (None, count), name
            continue
        value = published[name]
        if 0 < count < threshold:
            assert value is None, (name, count)
        elif value is not None:
            assert value == perturbed(count, 0), (name, count, value)


async def test_network_care_statistics_withhold_small_counts_and_perturb_the_rest(
    care_network: tuple[httpx.AsyncClient, Actor, dict[str, Any]],
) -> None:
    client, admin, data = care_network
    params = {"as_of": AS_OF.isoformat()}
    response = await client.get("/api/v1/stats/network/care", params=params, headers=admin.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    threshold = body["suppression_threshold"]
    assert threshold == 5
    expected = _expected(data)  # the active member's only: the inactive one counts nowhere
    assert body["children_in_residential_care"] == perturbed(data["in_care"], 0)
    _check_published(body["totals"], expected[None], threshold)
    # Some figures are published: the test is not satisfied by withholding everything.
    assert body["totals"]["tracing_concluded"] == perturbed(expected[None]["tracing_concluded"], 0)
    rows = {row["period"]: row for row in body["rows"]}
    assert set(rows) == {label for label in expected if label is not None}
    for label, row in rows.items():
        _check_published(row, expected[label], threshold)
    assert body["suppressed"] is True  # quarters with one or two moves exist
    assert any(row["moves_to_family_care"] is None for row in body["rows"])
    again = await client.get("/api/v1/stats/network/care", params=params, headers=admin.headers)
    assert again.json() == body  # the same question, the same noise: averaging learns nothing


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"group_by": "month"}, ["query", "group_by"]),
        ({"as_of": "2026-06-15"}, ["query", "as_of"]),
        ({"from": "2026-02-01", "to": "2026-03-31"}, ["query", "from"]),
        ({"from": "2026-01-01", "to": "2026-02-28"}, ["query", "to"]),
        ({"province": "kandal"}, ["query", "province"]),
    ],
)
async def test_network_care_statistics_ask_only_in_the_closed_query_space(
    client: httpx.AsyncClient, network_admin: Actor, params: dict[str, str], loc: list[str]
) -> None:
    response = await client.get(
        "/api/v1/stats/network/care", params=params, headers=network_admin.headers
    )
    assert error_locs(assert_problem(response, 422)) == [loc]


def test_network_care_figures_default_to_the_last_quarter_end() -> None:
    from ovc_api.stats.network_space import quarter_end

    assert quarter_end(None, date(2026, 11, 29)) == date(2026, 9, 30)
    assert quarter_end(None, date(2026, 1, 1)) == date(2025, 12, 31)
    assert quarter_end(date(2026, 12, 31), date(2026, 1, 1)) == date(2026, 12, 31)
