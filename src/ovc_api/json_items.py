"""Response items written as JSON by PostgreSQL, byte for byte as pydantic writes them.

Building a page's items in Python (a dict per row, then a pydantic validation and
serialization of 50 read models) cost more CPU than anything else left in a list request.
Here the database writes each item's JSON text in the statement that reads it (as PostgREST
does): `row_to_json` of a LATERAL row whose columns are the read model's fields, labelled
and in their declared order, so Python passes the text through and builds only the envelope.

What pydantic writes and what PostgreSQL writes agree for the field types allowed here
(`json_row` refuses any other): compact separators, keys in order, strings as UTF-8 with
the same escapes (`\\"`, `\\\\`, `\\n`, `\\t`, `\\b`, `\\f`, `\\r`, other control characters
as lowercase `\\u00XX`; nothing else escaped), UUIDs in their canonical lowercase form, ISO
dates, enumerations as their values, null. Timestamps differ (PostgreSQL writes the
session's offset and drops trailing zeros of the fraction; pydantic writes UTC as `Z` and
six digits when there is a fraction), so they are formatted here as pydantic does
(`iso_utc`). Nested read models and lists are the caller's JSON expressions.
"""

from __future__ import annotations

import enum
import types
import uuid
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel
from sqlalchemy import ColumnElement, func, literal_column
from sqlalchemy import select as core_select
from sqlalchemy.sql.selectable import LateralFromClause

# Fields whose values PostgreSQL's `to_json` writes as pydantic does.
_SAME_JSON: tuple[type, ...] = (uuid.UUID, str, date, bool)
_UTC: ColumnElement[str] = literal_column("'UTC'")
_ISO_MICROSECONDS: ColumnElement[str] = literal_column("""'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'""")
_NO_FRACTION: ColumnElement[str] = literal_column("'.000000Z'")
_Z: ColumnElement[str] = literal_column("'Z'")


def iso_utc(timestamp: Any) -> ColumnElement[Any]:
    """A `timestamptz` as pydantic writes an aware UTC datetime: `2026-01-01T00:00:00Z`,
    or with six digits of fraction when it has one (`...:00.123400Z`)."""
    text = func.to_char(func.timezone(_UTC, timestamp), _ISO_MICROSECONDS)
    return func.replace(text, _NO_FRACTION, _Z)


def _kind(annotation: Any) -> str:
    """How a field's value is written: "same" (as `to_json` writes it), "datetime" or
    "json" (a nested model or a list: the caller gives its JSON); TypeError otherwise
    (floats, decimals, dicts... are not known to agree)."""
    if get_origin(annotation) in (Union, types.UnionType):
        kinds = {_kind(arg) for arg in get_args(annotation) if arg is not type(None)}
        if len(kinds) == 1:
            return kinds.pop()
    elif get_origin(annotation) is list:
        return "json"
    elif isinstance(annotation, type):
        if issubclass(annotation, datetime):
            return "datetime"
        if issubclass(annotation, BaseModel):
            return "json"
        if issubclass(annotation, enum.Enum) and all(
            isinstance(member.value, str) for member in annotation
        ):
            return "same"
        if issubclass(annotation, _SAME_JSON) and not issubclass(annotation, enum.Enum):
            return "same"
    raise TypeError(f"no JSON written by the database is known to match {annotation!r}")


def json_row(model: type[BaseModel], values: Mapping[str, Any], name: str) -> LateralFromClause:
    """A LATERAL row of `values` (SQL expressions by field name, one for each of `model`'s
    fields; a nested model or a list as a `json` expression) labelled and ordered as
    `model` declares its fields; `row_json` of it is the item's JSON."""
    fields = model.model_fields
    if set(values) != set(fields):
        raise ValueError(f"{model.__name__}: values for {sorted(fields)} expected")
    columns = []
    for field_name, info in fields.items():
        expression = values[field_name]
        if info.serialization_alias or info.exclude:
            raise TypeError(f"{model.__name__}.{field_name}: aliases are not written here")
        if _kind(info.annotation) == "datetime":
            expression = iso_utc(expression)
        columns.append(expression.label(field_name))
    # Every FROM of the values is the enclosing statement's (correlated, even all of them).
    return core_select(*columns).correlate_except(None).lateral(name)


def row_json(row: LateralFromClause) -> ColumnElement[Any]:
    """`row_to_json` of a `json_row` (type `json`: nested as such in another row)."""
    return func.row_to_json(row.table_valued())
