"""An export's statement run as `COPY (...) TO STDOUT` on PostgreSQL, its rows read back,
or (`csv_plan`, identified CSV) its CSV lines written by PostgreSQL itself.

The rows come in COPY's text format (tab-separated, `\\N` for NULL, backslash escapes),
written by PostgreSQL's output functions as each row leaves, and are kept as that text
(`exports.shapes` writes ids, dates and amounts as it is, reshapes months, timestamps and
booleans), except a derived column's inputs (`Shape.typed`), read back into the values the
driver gives: the ids and dates pseudonyms and age bands are computed from.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import Text, case, cast, func, literal, literal_column, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import Select, sqltypes

from ovc_api.cases.queries import CONCERN_POSITIONS
from ovc_api.csv_writer import FORMULA_STARTS
from ovc_api.exports.shapes import CONCERN_SEPARATOR, Kind, Shape, copied_bool
from ovc_api.prepared import driver_values

# COPY TO's text format escapes a backslash, and writes these control characters as letters.
_LETTERS = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_NULL: dict[str, str | None] = {"\\N": None}  # COPY's NULL, and any other field as it is
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_PLACEHOLDER = re.compile(r"%%|%\((\w+)\)s")  # psycopg's %(name)s, and its escaped %


def _unescaped(field: str) -> str | None:
    if field == "\\N":
        return None
    return _ESCAPE.sub(lambda found: _LETTERS.get(found[1], found[1]), field)


def _reader(type_: Any) -> Callable[[str], Any]:
    """How a derived column's input becomes the driver's value."""
    if isinstance(type_, sqltypes.Boolean):
        return copied_bool
    if isinstance(type_, sqltypes.Uuid):
        return uuid.UUID
    if isinstance(type_, sqltypes.Date) and not isinstance(type_, sqltypes.DateTime):
        return date.fromisoformat
    raise TypeError(f"an export's derived column cannot be computed from {type_!r}")


@dataclass(frozen=True)
class CopyPlan:
    """The COPY statement, the settings its values are read from, and how one of its rows
    is read back.

    COPY takes no bind parameters, and values merged into its text as literals would be
    written with the statement to PostgreSQL's own log when it fails or the client leaves
    midway (a searched child's name among them). Each value is set instead, by a statement
    of bind parameters, as a transaction-local setting (`settings`: its name and text), and
    the COPY reads it with `current_setting(...)`, cast to its type."""

    sql: str
    settings: dict[str, str]
    readers: tuple[tuple[int, Callable[[str], Any]], ...]

    def parser(self, encoding: str) -> Callable[[bytes], list[Any]]:
        readers = self.readers

        def parse(line: bytes) -> list[Any]:
            text = line.decode(encoding)
            fields: list[Any] = text[:-1].split("\t")  # without its line end
            if "\\" in text:
                if text.count("\\") == text.count("\\N"):  # NULLs only (data's are "\\\\")
                    fields = list(map(_NULL.get, fields, fields))  # in C
                else:
                    fields = [_unescaped(field) if "\\" in field else field for field in fields]
            for position, read in readers:
                value = fields[position]
                if value is not None:
                    fields[position] = read(value)
            return fields

        return parse


def copy_plan(
    statement: Select[Any], typed: Collection[int], dialect: Dialect, options: str = ""
) -> CopyPlan:
    """`statement` as COPY (with `options`, e.g. " (FORMAT csv)"), its columns at the
    indexes `typed` read back as values."""
    columns = statement.selected_columns
    readers = tuple((position, _reader(columns[position].type)) for position in sorted(typed))
    compiled = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    values = driver_values(compiled)(None)
    settings: dict[str, str] = {}
    setting_of: dict[tuple[str, str], str] = {}

    def read_from_a_setting(found: re.Match[str]) -> str:
        name = found[1]
        if name is None:
            return "%"  # psycopg's escape of a literal percent sign
        value = values[name]
        if value is None:
            return "NULL"
        bound = compiled.binds.get(name)
        if bound is None:  # one value of an IN list: its list's bind
            bound = compiled.binds[name.rsplit("_", 1)[0]]
        type_name = (
            "text"
            if isinstance(bound.type, sqltypes.NullType)
            else compiled.dialect.type_compiler_instance.process(bound.type)
        )
        text = _setting_text(value)
        setting = setting_of.get((text, type_name))
        if setting is None:  # one setting per value and type
            setting = setting_of[text, type_name] = f"ovc.copy_{len(settings)}"
            settings[setting] = text
        # A sub-query: read once per COPY (an init plan), not once per row.
        return f"(SELECT CAST(current_setting('{setting}') AS {type_name}))"

    sql = _PLACEHOLDER.sub(read_from_a_setting, compiled.string)
    return CopyPlan(f"COPY ({sql}) TO STDOUT{options}", settings, readers)


def _setting_text(value: Any) -> str:
    """A bind value as the text its type's input function reads."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, str | int | Decimal | date | uuid.UUID):
        return str(value)
    raise TypeError(f"an export's filter value of type {type(value).__name__} cannot be set")


# --- CSV written by PostgreSQL --------------------------------------------------------------


def _constant(text: str) -> Any:
    """Our own text, written into the statement (not a value of the request's: the COPY
    reads those from settings, `copy_plan`), so PostgreSQL plans it as a constant."""
    return literal(text, Text, literal_execute=True)


def _cell(value: Any, kind: Kind) -> Any:
    """A selected value as the export's CSV cell text (`exports.shapes` writes the same in
    Python): ids, dates and amounts as PostgreSQL writes them, months as YYYY-MM, timestamps
    in UTC as `_utc_iso` writes them, booleans as true/false, concerns in their order; free
    text and amounts defused as `csv_writer.defused` does (an empty string is a NULL: both
    are an empty cell)."""
    if kind in ("uuid", "date"):
        return cast(value, Text)
    if kind == "month":
        return func.to_char(value, _constant("YYYY-MM"), type_=Text)
    if kind == "datetime":
        utc = func.timezone(_constant("UTC"), value)
        whole = func.to_char(utc, _constant('YYYY-MM-DD"T"HH24:MI:SS'), type_=Text)
        fraction = func.to_char(utc, _constant(".US"), type_=Text)
        exact = utc == func.date_trunc(_constant("second"), utc)
        return whole + case((exact, _constant("")), else_=fraction) + _constant("Z")
    if kind == "bool":
        return case((value.is_(True), _constant("true")), (value.is_(False), _constant("false")))
    if kind == "concerns":
        listed = func.string_to_array(value, _constant(CONCERN_SEPARATOR))
        concern = func.unnest(listed).column_valued("c")
        order = func.array_position(CONCERN_POSITIONS, concern)
        separator: Any = literal_column(f"'{CONCERN_SEPARATOR}'")
        return select(
            func.string_agg(concern, aggregate_order_by(separator, order))
        ).scalar_subquery()
    if kind not in ("text", "decimal"):
        raise TypeError(f"no CSV cell written by the database for {kind!r}")
    text = func.nullif(cast(value, Text), _constant(""))
    starts = [_constant(start) for start in FORMULA_STARTS]
    return case(
        (func.left(text, literal(1, literal_execute=True)).in_(starts), _constant("'") + text),
        else_=text,
    )


def csv_plan(statement: Select[Any], shape: Shape, dialect: Dialect) -> CopyPlan | None:
    """`statement` as `COPY (...) TO STDOUT (FORMAT csv)` of the export's own CSV lines
    (each with a line end of "\\n", CRLF for the caller to put), or None when a column is
    computed in Python (de-identified exports: pseudonyms, age bands). The cells are written
    from the ordered rows (OFFSET 0: not merged into the outer statement), so PostgreSQL
    renders them as each row leaves, after the sort, not for every row before the first."""
    columns = shape.plain_columns()
    if columns is None:
        return None
    ordered = statement.offset(literal(0, literal_execute=True)).subquery("exported")
    selected = list(ordered.c)
    cells = [_cell(selected[index], kind).label(f"c{n}") for n, (index, kind) in enumerate(columns)]
    return copy_plan(select(*cells).select_from(ordered), (), dialect, " (FORMAT csv)")
