"""Small-count suppression of network statistics: primary, then complementary.

A *cell* is one published count. An *equation* says that a published total is the sum of
its parts (for distinct counts, bounded by it: treated the same, conservatively), so a
reader who knows the total and all parts but one can work out the last one.

1. Primary: every count from 1 to threshold - 1 is withheld (zero is known and published).
2. Complementary, until no equation needs more: an equation needs one more withheld part
   when its total is published and exactly one of its non-zero parts is withheld, or when
   its total is withheld and none of its non-zero parts is. A need with a single candidate
   is met first (no choice); otherwise, in the equation of lowest rank (coarsest table), the
   smallest remaining non-zero part is withheld, preferring parts that are not the only
   non-zero part of another published total (which would reveal them anyway).
3. Linked cells are withheld together (the counts of one row, or two counts that are almost
   the same number, such as cases and children closed for one reason): a reader must not
   get one from the other.

A statistic grouped by dimensions D publishes, through the same endpoint called with fewer
group keys, every marginal table over a subset of D. So the cube of all those marginals is
protected together: each table over S must agree with its marginals over S minus one key.
Complements are only ever chosen among parts, so the pattern of a marginal table depends on
that table and its own marginals alone: a request grouped by (province) withholds exactly
the province cells that one grouped by (province, quarter) assumes withheld.

This protects one request's tables. Against combining requests (other filters, periods,
groupings), network figures also live in a closed query space and are perturbed: see
ovc_api.stats.perturbation.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any, cast

CellId = Hashable
Level = tuple[str, ...]
Key = tuple[Any, ...]
# level (the group keys of a table, in group_by order) -> key -> count name -> value
Cube = dict[Level, dict[Key, dict[str, int]]]


@dataclass(frozen=True)
class Equation:
    total: CellId
    parts: tuple[CellId, ...]
    # Complements are chosen in equations of lower rank first (the parts' number of keys):
    # a marginal table's pattern must not depend on the finer tables built on it.
    rank: int = 0


def suppress(
    values: Mapping[CellId, int],
    equations: Sequence[Equation],
    threshold: int,
    links: Iterable[Iterable[CellId]] = (),
) -> set[CellId]:
    """The cells to withhold. Cells missing from `values` are zero.

    Forced complements (an equation with a single candidate) are applied first, then one
    choice at a time in the violated equation of lowest rank, until no equation is violated
    (or a violated one has nothing left to withhold).
    """
    group: dict[CellId, set[CellId]] = {}
    for linked in links:
        members = set(linked)
        for cell in list(members):
            members |= group.get(cell, {cell})
        for cell in members:
            group[cell] = members
    lines = [
        (equation.total, [p for p in equation.parts if values.get(p, 0) > 0])
        for equation in equations
    ]
    touching: dict[CellId, list[int]] = {}
    sole_in: dict[CellId, list[CellId]] = {}  # cell -> totals of equations it alone makes up
    for index, (total, parts) in enumerate(lines):
        for cell in (total, *parts):
            touching.setdefault(cell, []).append(index)
        if len(parts) == 1:
            sole_in.setdefault(parts[0], []).append(total)
    withheld: set[CellId] = set()

    def candidates(index: int) -> list[CellId]:
        """Parts that could still be withheld, when the equation needs one more."""
        total, parts = lines[index]
        hidden = sum(part in withheld for part in parts)
        total_hidden = total in withheld
        if (hidden == 1 and not total_hidden) or (hidden == 0 and total_hidden):
            return [part for part in parts if part not in withheld]
        return []

    def preference(cell: CellId) -> tuple[bool, int, str]:
        # Withholding the only part of a published total is useless: the total reveals it.
        useless = any(total not in withheld for total in sole_in.get(cell, ()))
        return (useless, values[cell], str(cell))

    forced: list[int] = []
    violated: list[tuple[int, int]] = []  # heap of (rank, equation), re-checked when popped

    def check(index: int) -> None:
        found = candidates(index)
        if len(found) == 1:
            forced.append(index)
        elif found:
            heapq.heappush(violated, (equations[index].rank, index))

    def withhold(cell: CellId) -> None:
        added = group.get(cell, {cell}) - withheld
        withheld.update(added)
        for member in added:
            for index in touching.get(member, ()):
                check(index)

    for cell, value in values.items():
        if 0 < value < threshold:
            withhold(cell)
    for index in range(len(lines)):
        check(index)
    while forced or violated:
        if forced:
            found = candidates(forced.pop())
            if len(found) == 1:
                withhold(found[0])
            continue
        _, index = heapq.heappop(violated)
        found = candidates(index)
        if found:
            withhold(min(found, key=preference))
    return withheld


def subsets(keys: Sequence[str]) -> list[Level]:
    """Every sub-tuple of the group keys, in order, the empty one (grand total) first."""
    return [
        tuple(keys[i] for i in chosen)
        for size in range(len(keys) + 1)
        for chosen in combinations(range(len(keys)), size)
    ]


def cube_cells(
    cube: Cube, counts: Sequence[str]
) -> tuple[dict[CellId, int], list[Equation], list[list[CellId]]]:
    """Cells, equations (each table against its marginals) and row links of a cube."""
    values: dict[CellId, int] = {}
    equations: list[Equation] = []
    links: list[list[CellId]] = []
    for level, cells in cube.items():
        for key, measured in cells.items():
            row = [(count, level, key) for count in counts]
            links.append(list(row))
            for count in counts:
                values[(count, level, key)] = measured[count]
        for position, _ in enumerate(level):
            parent = level[:position] + level[position + 1 :]
            if parent not in cube:
                continue
            lines: dict[Key, list[Key]] = {}
            for key in cells:
                lines.setdefault(key[:position] + key[position + 1 :], []).append(key)
            for parent_key, keys in lines.items():
                for count in counts:
                    equations.append(
                        Equation(
                            (count, parent, parent_key),
                            tuple((count, level, key) for key in keys),
                            rank=len(level),
                        )
                    )
    return values, equations, links


def suppress_cube(cube: Cube, counts: Sequence[str], threshold: int) -> dict[Level, set[Key]]:
    """Withheld rows of each table of the cube (a row's counts are withheld together)."""
    values, equations, links = cube_cells(cube, counts)
    withheld = suppress(values, equations, threshold, links)
    found: dict[Level, set[Key]] = {level: set() for level in cube}
    for cell in withheld:
        _count, level, key = cast(tuple[str, Level, Key], cell)
        found[level].add(key)
    return found


def additive_cube(keys: Sequence[str], cells: Mapping[Key, int], count: str = "n") -> Cube:
    """The cube of a table of additive counts (its marginals are sums): for hand-made tables."""
    cube: Cube = {}
    for level in subsets(keys):
        positions = [keys.index(k) for k in level]
        table: dict[Key, dict[str, int]] = {}
        for key, value in cells.items():
            sub = tuple(key[i] for i in positions)
            table.setdefault(sub, {count: 0})[count] += value
        cube[level] = table
    return cube
