"""Alternative-care statistics, compared with counts computed here from generated data."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx

from .conftest import Actor, Factory, Tenant

AS_OF = date(2026, 6, 30)


def _quarter(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


async def _generate(factory: Factory, organisation_id: Any) -> dict[str, Any]:
    """Children leaving residential care for families on known dates, some re-separated,
    some still in care, a foster-to-kinship move (not counted), and tracing attempts."""
    org = organisation_id
    moves: list[tuple[date, date, date | None]] = []  # (entered care, moved, family ended)
    in_care_on_as_of = 0
    for i in range(14):
        child = await factory.child(org, intake_placement=False)
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
        child = await factory.child(org, intake_placement=False)
        await factory.placement(org, child, "residential_care", started_on=date(2025, 5, 1))
        in_care_on_as_of += 1
    child = await factory.child(org, intake_placement=False)
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


async def test_network_care_statistics_withhold_small_counts(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory, network_admin: Actor
) -> None:
    await _generate(factory, tenant_a.organisation_id)
    response = await client.get(
        "/api/v1/stats/network/care",
        params={"as_of": AS_OF.isoformat()},
        headers=network_admin.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    threshold = body["suppression_threshold"]
    assert threshold == 5
    counts = [
        value
        for row in [*body["rows"], body["totals"]]
        for name, value in row.items()
        if isinstance(value, int) and not isinstance(value, bool) and name != "period"
    ]
    assert counts and all(value == 0 or value >= threshold for value in counts)
    assert body["suppressed"] is True  # quarters with one or two moves exist
    assert any(row["moves_to_family_care"] is None for row in body["rows"])
