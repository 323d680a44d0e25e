"""An export's statement run as `COPY (...) TO STDOUT` on PostgreSQL, its rows read back.

A cursor's plan runs in one process; COPY's may use parallel workers. The rows come in
COPY's text format (tab-separated, `\\N` for NULL, backslash escapes) and are read back into
the values the driver would have given for the statement's columns (on PostgreSQL an
export's ids, dates, timestamps and amounts are text already, `exports.shapes`): text as it
is, booleans, and the dates and ids the derived columns (age bands, pseudonyms) compute
from. A statement with a column of any other type is not copied (None): the cursor reads it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import psycopg
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import Select, sqltypes

# COPY TO's text format escapes a backslash, and writes these control characters as letters.
_LETTERS = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_TEXT = object()  # a column read as the text COPY writes


def _unescaped(field: str) -> str | None:
    if field == "\\N":
        return None
    return _ESCAPE.sub(lambda found: _LETTERS.get(found[1], found[1]), field)


def _boolean(value: str) -> bool:
    return value == "t"


def _reader(type_: Any) -> Any:
    """How a column's text becomes its value (`_TEXT`: as it is), or None: not supported."""
    if isinstance(type_, sqltypes.Boolean):
        return _boolean
    if isinstance(type_, sqltypes.Uuid):
        return uuid.UUID
    if isinstance(type_, sqltypes.Date):
        return date.fromisoformat
    if isinstance(type_, sqltypes.String | sqltypes.NullType):
        return _TEXT  # text, varchar, enumerations; aggregates and to_char of the shapes
    return None


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
                    fields = [None if field == "\\N" else field for field in fields]
                else:
                    fields = [_unescaped(field) if "\\" in field else field for field in fields]
            for position, read in readers:
                value = fields[position]
                if value is not None:
                    fields[position] = read(value)
            return fields

        return parse


def copy_plan(statement: Select[Any], dialect: Dialect) -> CopyPlan | None:
    """`statement` as COPY, or None if a column's type is not read back here."""
    readers = []
    for position, column in enumerate(statement.selected_columns):
        read = _reader(column.type)
        if read is None:
            return None
        if read is not _TEXT:
            readers.append((position, read))
    compiled = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    params = dict(compiled.construct_params())
    processors: dict[str, Any] = dict(compiled._bind_processors)
    for name, process in processors.items():
        if name in params:
            params[name] = process(params[name])
    return CopyPlan(f"COPY ({compiled.string}) TO STDOUT", params, tuple(readers))
