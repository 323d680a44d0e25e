"""From aggregates to the published table: rows in a stable order, totals, withheld cells.

Organisation statistics publish every number. Network statistics publish a number only
when the suppression (ovc_api.stats.suppression) lets it through: a withheld count is
null and named in its row's `suppressed` list; a published one is perturbed by its cell
key (ovc_api.stats.perturbation). Suppression decides on the true counts.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ovc_api.ages import AgeBand
from ovc_api.cases.models import (
    CaseStatus,
    ClosureReason,
    ProtectionConcern,
    ReferralSource,
    RiskLevel,
)
from ovc_api.children.models import CareArrangement, Sex
from ovc_api.geography import Province
from ovc_api.services.models import ServiceType
from ovc_api.stats.engine import (
    KEY_SUFFIX,
    PLACEMENTS,
    REFERRAL_OUTCOMES,
    SERVICE_OUTCOMES,
    OutcomeData,
)
from ovc_api.stats.perturbation import perturbed
from ovc_api.stats.suppression import (
    CellId,
    Cube,
    Equation,
    Key,
    Level,
    cube_cells,
    suppress,
    suppress_cube,
)

ORDERED_KEYS: dict[str, type[StrEnum]] = {
    "status": CaseStatus,
    "risk_level": RiskLevel,
    "concern": ProtectionConcern,
    "province": Province,
    "sex": Sex,
    "age_band": AgeBand,
    "care_arrangement": CareArrangement,
    "referral_source": ReferralSource,
    "service_type": ServiceType,
    "reason": ClosureReason,
}
POSITIONS = {
    key: {member.value: i for i, member in enumerate(enum)} for key, enum in ORDERED_KEYS.items()
}
CLOSED_BY_REASON = {reason.value: f"cases_closed_{reason.value}" for reason in ClosureReason}
OUTCOME_COUNTS: tuple[str, ...] = (
    "cases_closed",
    *CLOSED_BY_REASON.values(),
    *PLACEMENTS.values(),
    *SERVICE_OUTCOMES.values(),
    *REFERRAL_OUTCOMES,
)
OUTCOME_FIELDS: tuple[str, ...] = (*OUTCOME_COUNTS, "median_days_to_closure")


@dataclass
class Table:
    keys: list[str]
    columns: list[str]  # the counts (and measures) of each row, in order
    rows: list[dict[str, Any]]
    totals: dict[str, Any]
    network: bool = False


def _order(key: str, value: Any) -> tuple[int, int, str]:
    """Enumerations in their declared order, other values as text, missing values last."""
    if value is None:
        return (1, 0, "")
    position = POSITIONS.get(key, {}).get(value)
    if position is not None:
        return (0, position, "")
    return (0, 0, str(value))


def sorted_keys(keys: Sequence[str], found: Sequence[Key]) -> list[Key]:
    return sorted(found, key=lambda k: [_order(name, v) for name, v in zip(keys, k, strict=True)])


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, uuid.UUID) else value


def cube_table(
    cube: Cube,
    keys: Sequence[str],
    counts: Sequence[str],
    *,
    threshold: int | None = None,
) -> Table:
    """The rows (the table over all keys) and totals of a cube; with a threshold, suppressed."""
    level, top = tuple(keys), cube[tuple(keys)]
    withheld = suppress_cube(cube, counts, threshold) if threshold is not None else {}

    def published(at: Level, key: Key, measured: dict[str, int]) -> dict[str, Any]:
        if threshold is None:
            return {c: measured[c] for c in counts}
        hidden = key in withheld.get(at, set())
        return {
            **{
                c: None if hidden else perturbed(measured[c], measured[c + KEY_SUFFIX])
                for c in counts
            },
            "suppressed": list(counts) if hidden else [],
        }

    rows = [
        {
            **{k: _plain(v) for k, v in zip(keys, key, strict=True)},
            **published(level, key, top[key]),
        }
        for key in sorted_keys(keys, list(top))
    ]
    grand = cube[()].get((), dict.fromkeys([*counts, *(c + KEY_SUFFIX for c in counts)], 0))
    return Table(
        list(keys), list(counts), rows, published((), (), grand), network=threshold is not None
    )


# --- outcomes ---------------------------------------------------------------------------


def _get(cube: Cube, level: Level, key: Key, count: str) -> tuple[int, int]:
    """A count and its cell key (zero for a cell without records, or an unkeyed cube)."""
    measured = cube.get(level, {}).get(key, {})
    return measured.get(count, 0), measured.get(count + KEY_SUFFIX, 0)


OutcomeCell = tuple[CellId, int, int]  # cell id, true count, cell key


def _outcome_cells(data: OutcomeData, period: str) -> dict[str, dict[Any, OutcomeCell]]:
    """For each outcome count: {period label, or None for the total: (cell id, value, key)}."""
    by_reason, by_type = (period, "reason"), (period, "service_type")
    cells: dict[str, dict[Any, OutcomeCell]] = {name: {} for name in OUTCOME_COUNTS}

    for (label,) in data.closures[(period,)]:
        closed: CellId = ("closures", "cases", (period,), (label,))
        cells["cases_closed"][label] = (closed, *_get(data.closures, (period,), (label,), "cases"))
    cells["cases_closed"][None] = (
        ("closures", "cases", (), ()),
        *_get(data.closures, (), (), "cases"),
    )
    for label, reason in data.closures[by_reason]:
        cell: CellId = ("closures", "cases", by_reason, (label, reason))
        cells[CLOSED_BY_REASON[reason]][label] = (
            cell,
            *_get(data.closures, by_reason, (label, reason), "cases"),
        )
        if reason in PLACEMENTS:
            placed = ("placed", "children", by_reason, (label, reason))
            cells[PLACEMENTS[reason]][label] = (
                placed,
                *_get(data.closures, by_reason, (label, reason), "children"),
            )
    for reason, name in CLOSED_BY_REASON.items():
        found = _get(data.closures, ("reason",), (reason,), "cases")
        cells[name][None] = (("closures", "cases", ("reason",), (reason,)), *found)
    for reason, name in PLACEMENTS.items():
        found = _get(data.closures, ("reason",), (reason,), "children")
        cells[name][None] = (("placed", "children", ("reason",), (reason,)), *found)
    for label, service_type in data.services[by_type]:
        service: CellId = ("services", "children", by_type, (label, service_type))
        cells[SERVICE_OUTCOMES[service_type]][label] = (
            service,
            *_get(data.services, by_type, (label, service_type), "children"),
        )
    for service_type, name in SERVICE_OUTCOMES.items():
        found = _get(data.services, ("service_type",), (service_type,), "children")
        cells[name][None] = (("services", "children", ("service_type",), (service_type,)), *found)
    for name, cube in data.referrals.items():
        for (label,) in cube[(period,)]:
            cells[name][label] = (
                (name, "n", (period,), (label,)),
                *_get(cube, (period,), (label,), "n"),
            )
        cells[name][None] = ((name, "n", (), ()), *_get(cube, (), (), "n"))
    return cells


def _tagged(
    tag: str, cube: Cube, counts: Sequence[str]
) -> tuple[dict[CellId, int], list[Equation], list[list[CellId]]]:
    values, equations, links = cube_cells(cube, counts)

    def name(cell: CellId) -> CellId:
        return (tag, *cell)  # type: ignore[misc]

    return (
        {name(c): v for c, v in values.items()},
        [Equation(name(e.total), tuple(name(p) for p in e.parts), e.rank) for e in equations],
        [[name(c) for c in linked] for linked in links],
    )


def _outcome_withheld(data: OutcomeData, period: str, threshold: int) -> set[CellId]:
    """Closures form a period x reason table with every marginal; children placed, services
    and referrals are tables over periods with their totals. Children placed are almost the
    cases closed for the same reason: the two are withheld together."""
    placements: Cube = {
        level: {k: v for k, v in data.closures[level].items() if k[-1] in PLACEMENTS}
        for level in ((period, "reason"), ("reason",))
    }
    parts = [
        _tagged("closures", data.closures, ["cases"]),
        _tagged("placed", placements, ["children"]),
        _tagged("services", data.services, ["children"]),
        *[_tagged(name, cube, ["n"]) for name, cube in data.referrals.items()],
    ]
    values: dict[CellId, int] = {}
    equations: list[Equation] = []
    links: list[list[CellId]] = []
    for part_values, part_equations, _ in parts:
        values.update(part_values)
        equations += part_equations
    for level, table in placements.items():
        for key in table:
            links.append([("closures", "cases", level, key), ("placed", "children", level, key)])
    return suppress(values, equations, threshold, links)


def outcome_table(data: OutcomeData, period: str, *, threshold: int | None = None) -> Table:
    cells = _outcome_cells(data, period)
    withheld = _outcome_withheld(data, period, threshold) if threshold is not None else set()
    labels = {label for found in cells.values() for label in found if label is not None}

    def row(label: Any) -> dict[str, Any]:
        values: dict[str, Any] = {}
        hidden: list[str] = []
        for name in OUTCOME_COUNTS:
            cell, value, key = cells[name].get(label, (None, 0, 0))
            if cell is not None and cell in withheld:
                values[name] = None
                hidden.append(name)
            else:
                values[name] = value if threshold is None else perturbed(value, key)
        closed = cells["cases_closed"].get(label)
        median = data.medians.get(label)
        if median is not None and closed is not None and closed[0] in withheld:
            median = None
            hidden.append("median_days_to_closure")
        values["median_days_to_closure"] = median
        if threshold is not None:
            values["suppressed"] = hidden
        return values

    rows = [{period: label, **row(label)} for label in sorted(labels)]
    return Table([period], list(OUTCOME_FIELDS), rows, row(None), network=threshold is not None)
