"""The one CSV writer behind every CSV the API emits (exports, statistics, reports).

RFC 4180: a header row, CRLF line ends, fields quoted when they need it; UTF-8. Cells a
spreadsheet would run as a formula (`=HYPERLINK(...)` in a district or a name typed by
another organisation) are written with a leading apostrophe, as OWASP advises for CSV
opened in Excel. Free text reaches every one of these files, so none may bypass this.

A line whose cells hold no comma, quote or line break is exactly its cells joined with
commas: that fast path serves most lines. The formula check searches the joined line first,
so ordinary lines pay a few substring scans, not a per-cell check; any other line goes
through the csv module.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A cell's text, None's empty: `map(_EMPTY_FOR_NONE.get, cells, cells)` runs in C.
_EMPTY_FOR_NONE: dict[Any, Any] = {None: ""}


def _may_hold_a_formula(line: str) -> bool:
    """Whether a cell of the joined line may start like a formula: at the line's start or
    after a comma. Written out: a generator over the substrings (or a regular expression)
    cost a third of an export's CPU."""
    return (
        line.startswith(FORMULA_STARTS)
        or ",=" in line
        or ",+" in line
        or ",-" in line
        or ",@" in line
        or ",\t" in line
        or ",\r" in line
    )


def defused(cell: Any) -> Any:
    """The cell, with a leading apostrophe if a spreadsheet would take it for a formula."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


class CsvWriter:
    """Turns rows of cells into CSV lines (without their line end) of a fixed width."""

    def __init__(self, width: int) -> None:
        self._commas = width - 1
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\r\n")

    def _quoted(self, cells: Sequence[Any]) -> str:
        self._writer.writerow(cells)
        line = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return line[:-2]

    def text_line(self, cells: Sequence[str | None]) -> str:
        """A line of text cells (or None, written empty): the exports' hot path."""
        line = ",".join(map(_EMPTY_FOR_NONE.get, cells, cells))
        if _may_hold_a_formula(line):
            cells = [defused(cell) for cell in cells]
            line = ",".join(map(_EMPTY_FOR_NONE.get, cells, cells))
        if line.count(",") != self._commas or '"' in line or "\n" in line or "\r" in line:
            line = self._quoted([defused(cell) for cell in cells])
        return line

    def line(self, cells: Sequence[Any]) -> str:
        """A line of any cells: None empty, everything else as its text."""
        return self.text_line(
            [
                None if cell is None else cell if isinstance(cell, str) else str(cell)
                for cell in cells
            ]
        )


def csv_text(header: Sequence[str], lines: Iterable[Sequence[Any]]) -> str:
    """A whole (small) CSV document: statistics and reports, never exports (they stream)."""
    writer = CsvWriter(len(header))
    out = [writer.line(header)]
    out.extend(writer.line(line) for line in lines)
    out.append("")
    return "\r\n".join(out)
