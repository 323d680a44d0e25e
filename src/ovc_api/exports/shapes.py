"""What an export row looks like: the SQL columns read, and how each becomes a CSV or JSON cell.

A :class:`Shape` pairs the columns a statement selects with the output columns, which are
either passed through (converted where CSV or JSON needs it) or derived from several selected
values (an age band from a birth date, a pseudonym from an id). This runs for every row of
exports of a million rows, so a row is assembled by one C-level `itemgetter` and only the
cells that need it are converted in Python; on PostgreSQL the rows come through COPY
(`exports.copying`), so ids, dates, timestamps and amounts arrive as the text PostgreSQL's
output functions write.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from hashlib import blake2b
from operator import itemgetter
from typing import Any, Literal

from ovc_api.cases.schemas import CONCERN_ORDER
from ovc_api.csv_writer import CsvWriter

Kind = Literal[
    "text",
    "uuid",
    "date",
    "month",
    "datetime",
    "bool",
    "decimal",
    "concerns",
    "copied_month",
    "copied_timestamp",
    "copied_bool",
]
Row = Sequence[Any]
Convert = Callable[[Any], Any]
CONCERN_SEPARATOR = ";"


class Pseudonyms:
    """Stand-ins for record ids, stable within one export and unlinkable outside it.

    A keyed hash (BLAKE2b, 64 bits) under a random key that lives only as long as the export:
    two rows of the same child share a pseudonym, but nothing (not even another export) can
    map it back to the child's id. Computed per row, so memory stays flat however many
    children an export holds.
    """

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)

    def __call__(self, record_id: Any) -> str | None:
        if record_id is None:
            return None
        return blake2b(record_id.bytes, key=self._key, digest_size=8).hexdigest()


def _utc_iso(value: datetime) -> str:
    """ISO 8601 in UTC with `Z`, as the JSON responses write timestamps."""
    return value.isoformat().replace("+00:00", "Z")


def _copied_utc_iso(text: str) -> str:
    """COPY's text of a timestamp in UTC ("2026-01-15 09:30:00.12+00": DateStyle ISO,
    TimeZone UTC, the fraction without its trailing zeros) as `_utc_iso` writes it
    ("2026-01-15T09:30:00.120000Z")."""
    clock = text[11:-3]
    if len(clock) > 8:
        clock = clock.ljust(15, "0")
    return f"{text[:10]}T{clock}Z"


def copied_bool(text: str) -> bool:
    """COPY's text of a boolean ("t" or "f")."""
    return text == "t"


def _copied_csv_bool(text: str) -> str:
    return "true" if text == "t" else "false"


def _copied_month(text: str) -> str:
    """YYYY-MM of COPY's ISO date."""
    return text[:7]


def _month(value: date) -> str:
    """YYYY-MM: de-identified exports give the month of an event, never its day."""
    return f"{value.year:04d}-{value.month:02d}"


def _two_places(value: Decimal) -> str:
    return f"{value:.2f}"


def _ordered_concerns(aggregated: str) -> list[str]:
    """The concerns aggregated in SQL ("a;b"), in the order the enumeration lists them."""
    return sorted(aggregated.split(CONCERN_SEPARATOR), key=CONCERN_ORDER.__getitem__)


def _csv_concerns(aggregated: str) -> str:
    if CONCERN_SEPARATOR not in aggregated:
        return aggregated
    return CONCERN_SEPARATOR.join(_ordered_concerns(aggregated))


def _csv_bool(value: bool) -> str:
    return "true" if value else "false"


# Per kind: the conversion of a non-null value for CSV (to text) and for JSON (None: pass it
# as is). On PostgreSQL values arrive as COPY's text (see Shape.postgres).
_CONVERSIONS: dict[Kind, tuple[Convert | None, Convert | None]] = {
    "text": (None, None),
    "uuid": (str, str),
    "date": (date.isoformat, date.isoformat),
    "month": (_month, _month),
    "datetime": (_utc_iso, _utc_iso),
    "bool": (_csv_bool, None),
    "decimal": (_two_places, _two_places),
    "concerns": (_csv_concerns, _ordered_concerns),
    "copied_month": (_copied_month, _copied_month),
    "copied_timestamp": (_copied_utc_iso, _copied_utc_iso),
    "copied_bool": (_copied_csv_bool, copied_bool),
}


def _as_copied(kind: Kind) -> Kind:
    """The kind of a value as COPY's text gives it (`exports.copying`): the export's own
    text for ids ("dashed"), dates (ISO) and amounts ("25.50" for numeric(,2)), nothing to
    print again; months and timestamps cut and reshaped from it."""
    if kind in ("uuid", "date", "decimal"):
        return "text"
    if kind == "month":
        return "copied_month"
    if kind == "datetime":
        return "copied_timestamp"
    if kind == "bool":  # "t" or "f"
        return "copied_bool"
    return kind


@dataclass(frozen=True)
class _Derived:
    position: int
    compute: Callable[..., Any]
    indexes: tuple[int, ...]
    kind: Kind


@dataclass
class Shape:
    """The columns an export selects, and the output columns built from them.

    `postgres`: the rows come as COPY's text (`exports.copying`): ids, dates and amounts as
    the export writes them, rendered by the database's output functions as the row leaves
    (after the sort: text rendered in the statement itself was rendered for every row before
    the first one came, 7 of 16 s at 1M cases), nothing built and printed again in Python.
    A derived column's inputs are selected apart (`typed`): COPY's text is read back into
    the values the driver gives (ids, dates) for them.
    """

    postgres: bool = False
    typed: set[int] = field(default_factory=set)  # selected indexes read back as values
    selected: list[Any] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    _sources: list[int] = field(default_factory=list)  # per output column: a selected index
    _kinds: list[Kind] = field(default_factory=list)
    _derived: list[_Derived] = field(default_factory=list)
    _written: list[Kind] = field(default_factory=list)  # per output column: its own kind

    def _index(self, expression: Any) -> int:
        for index, known in enumerate(self.selected):
            if known is expression:
                return index
        self.selected.append(expression)
        return len(self.selected) - 1

    def _typed_index(self, expression: Any) -> int:
        """A derived column's input, selected apart from the same column shown as text."""
        self.selected.append(expression.label(f"typed_{len(self.selected)}"))
        self.typed.add(len(self.selected) - 1)
        return len(self.selected) - 1

    def column(self, name: str, expression: Any, kind: Kind = "text") -> Shape:
        """An output column that is one selected value."""
        self._written.append(kind)
        if self.postgres:
            kind = _as_copied(kind)
        self.names.append(name)
        self._sources.append(self._index(expression))
        self._kinds.append(kind)
        return self

    def fields(self, model: Any, *names: str, kind: Kind = "text") -> Shape:
        """Output columns that are the model's fields of these names, under the same names."""
        for name in names:
            self.column(name, getattr(model, name), kind)
        return self

    def derived(
        self, name: str, compute: Callable[..., Any], *expressions: Any, kind: Kind = "text"
    ) -> Shape:
        """An output column computed from selected values (its JSON value; `kind` says how
        CSV writes it). `compute` gets the values as the driver returns them."""
        indexes = tuple(
            self._typed_index(e) if self.postgres else self._index(e) for e in expressions
        )
        self._derived.append(_Derived(len(self.names), compute, indexes, kind))
        self.names.append(name)
        self._sources.append(indexes[0])
        self._kinds.append("text")
        return self

    def plain_columns(self) -> list[tuple[int, Kind]] | None:
        """Per output column, its selected index and its kind, when every one is a selected
        value (no derived column): what `exports.copying.csv_plan` can write in SQL."""
        if self._derived:
            return None
        return list(zip(self._sources, self._written, strict=True))

    def row_function(self, for_csv: bool) -> Callable[[Row], list[Any]]:
        """Selected row -> output cells, converting only the cells that need it."""
        sources = self._sources
        take: Callable[[Row], Sequence[Any]] = (
            itemgetter(*sources) if len(sources) > 1 else lambda row: (row[sources[0]],)
        )
        side = 0 if for_csv else 1
        fixes: list[tuple[int, Convert]] = [
            (position, conversion)
            for position, kind in enumerate(self._kinds)
            if (conversion := _CONVERSIONS[kind][side]) is not None
        ]
        derived: list[tuple[int, Callable[..., Any], tuple[int, ...], Convert | None]] = [
            (d.position, d.compute, d.indexes, _CONVERSIONS[d.kind][0] if for_csv else None)
            for d in self._derived
        ]

        def row_cells(row: Row) -> list[Any]:
            cells = list(take(row))
            for position, convert in fixes:
                value = cells[position]
                if value is not None:
                    cells[position] = convert(value)
            for position, compute, indexes, to_csv in derived:
                value = compute(*[row[i] for i in indexes])
                cells[position] = value if to_csv is None or value is None else to_csv(value)
            return cells

        return row_cells

    def encoder(self, fmt: str) -> Encoder:
        """CSV for "csv", NDJSON otherwise."""
        return CsvEncoder(self) if fmt == "csv" else NdjsonEncoder(self)


class Encoder:
    """Turns batches of selected rows into bytes of the output format."""

    def header(self) -> bytes:
        return b""

    def encode(self, rows: Iterable[Row]) -> bytes:
        raise NotImplementedError

    def trailer(self, rows: int) -> bytes:
        """The last line of every export, with its row count: a stream broken off (a server
        shut down, a database gone) lacks it, so a short file cannot pass for a whole one."""
        raise NotImplementedError


# The end-of-export line: CSV `# end rows=N`, NDJSON `{"_end":true,"rows":N}`.
CSV_END_PREFIX = "# end rows="


class CsvEncoder(Encoder):
    """CSV through the API's one writer (ovc_api.csv_writer: RFC 4180, formulas defused,
    a fast path for ordinary lines); export cells are already text or None."""

    def __init__(self, shape: Shape) -> None:
        self._names = shape.names
        self._row = shape.row_function(for_csv=True)
        self._writer = CsvWriter(len(self._names))

    def header(self) -> bytes:
        return (self._writer.line(self._names) + "\r\n").encode()

    def encode(self, rows: Iterable[Row]) -> bytes:
        line, cells = self._writer.text_line, self._row
        lines = [line(cells(row)) for row in rows]
        lines.append("")
        return "\r\n".join(lines).encode()

    def trailer(self, rows: int) -> bytes:
        return f"{CSV_END_PREFIX}{rows}\r\n".encode()


class CsvLinesEncoder(CsvEncoder):
    """`shape`'s CSV header and end line around the lines PostgreSQL wrote
    (`exports.copying.csv_plan`), each line's end made CRLF: COPY writes one line per row,
    ending in a line feed; a line break inside a quoted cell stays as it is, as the csv
    module leaves it. Python touches no cell."""

    def encode(self, rows: Iterable[Row]) -> bytes:
        return b"".join([bytes(line[:-1]) + b"\r\n" for line in rows])


class NdjsonEncoder(Encoder):
    """One JSON object per line (UTF-8, not ASCII-escaped), the same columns as the CSV."""

    def __init__(self, shape: Shape) -> None:
        names, cells = shape.names, shape.row_function(for_csv=False)
        self._row: Callable[[Row], dict[str, Any]] = lambda row: dict(
            zip(names, cells(row), strict=True)
        )
        self._dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

    def encode(self, rows: Iterable[Row]) -> bytes:
        dumps, row = self._dumps, self._row
        return "".join([dumps(row(r)) + "\n" for r in rows]).encode()

    def trailer(self, rows: int) -> bytes:
        return self._dumps({"_end": True, "rows": rows}).encode() + b"\n"
