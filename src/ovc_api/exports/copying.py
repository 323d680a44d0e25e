"""An export's statement run as `COPY (...) TO STDOUT` on PostgreSQL, its rows read back.

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
from datetime import date
from typing import Any

import psycopg
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import Select, sqltypes

# COPY TO's text format escapes a backslash, and writes these control characters as letters.
_LETTERS = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_NULL: dict[str, str | None] = {"\\N": None}  # COPY's NULL, and any other field as it is
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


def _unescaped(field: str) -> str | None:
    if field == "\\N":
        return None
    return _ESCAPE.sub(lambda found: _LETTERS.get(found[1], found[1]), field)


def _boolean(value: str) -> bool:
    return value == "t"


def _reader(type_: Any) -> Callable[[str], Any]:
    """How a derived column's input becomes the driver's value."""
    if isinstance(type_, sqltypes.Boolean):
        return _boolean
    if isinstance(type_, sqltypes.Uuid):
        return uuid.UUID
    if isinstance(type_, sqltypes.Date) and not isinstance(type_, sqltypes.DateTime):
        return date.fromisoformat
    raise TypeError(f"an export's derived column cannot be computed from {type_!r}")


@dataclass(frozen=True)
class CopyPlan:
    """The COPY statement (with its values) and how one of its rows is read back."""

    sql: str
    params: dict[str, Any]
    readers: tuple[tuple[int, Callable[[str], Any]], ...]

    def query(self, raw: psycopg.AsyncConnection[Any]) -> str:
        """The statement with its values merged in as literals, as psycopg quotes them
        (COPY takes no bind parameters)."""
        return psycopg.AsyncClientCursor(raw).mogrify(self.sql, self.params)

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


def copy_plan(statement: Select[Any], typed: Collection[int], dialect: Dialect) -> CopyPlan:
    """`statement` as COPY, its columns at the indexes `typed` read back as values."""
    columns = statement.selected_columns
    readers = tuple((position, _reader(columns[position].type)) for position in sorted(typed))
    compiled = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    params = dict(compiled.construct_params())
    processors: dict[str, Any] = dict(compiled._bind_processors)
    for name, process in processors.items():
        if name in params:
            params[name] = process(params[name])
    return CopyPlan(f"COPY ({compiled.string}) TO STDOUT", params, readers)
