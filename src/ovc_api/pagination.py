"""Keyset pagination: bounded pages, an opaque cursor, stable under inserts.

A page is `{"items": [...], "next_cursor": ...}` plus a `Link: <...>; rel="next"` header.
The cursor encodes the sort key and id of the last row, so page 1000 costs what page 1 does.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Generic, TypeVar, cast

from fastapi import Depends, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy import ColumnElement, and_, bindparam, or_, tuple_
from sqlalchemy.sql import Select

from ovc_api.errors import Unprocessable

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
T = TypeVar("T")
S = TypeVar("S", bound="Select[*tuple[Any, ...]]")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


@dataclass(frozen=True)
class PageParams:
    limit: int
    cursor: str | None


def page_params(
    limit: Annotated[
        int,
        Query(
            ge=1, description=f"Page size (default {DEFAULT_LIMIT}; above {MAX_LIMIT} is clamped)"
        ),
    ] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None, Query(max_length=1000, description="`next_cursor` of the previous page")
    ] = None,
) -> PageParams:
    return PageParams(limit=min(limit, MAX_LIMIT), cursor=cursor)


Pagination = Annotated[PageParams, Depends(page_params)]


@dataclass(frozen=True)
class SortKey:
    """A sortable field: its public name, its column, and how to read a cursor value back."""

    name: str
    column: Any
    parse: Callable[[Any], Any]


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def parse_datetime(value: Any) -> datetime:
    return datetime.fromisoformat(value)


def parse_date(value: Any) -> date:
    return date.fromisoformat(value)


def parse_str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("not a string")
    return value


def encode_cursor(sort: str, values: Sequence[Any]) -> str:
    raw = json.dumps([sort, [_encode_value(v) for v in values]], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str, keys: Sequence[SortKey]) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        cursor_sort, values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if cursor_sort != sort or len(values) != len(keys):
            raise ValueError("cursor from another listing")
        return [None if v is None else key.parse(v) for key, v in zip(keys, values, strict=True)]
    except (ValueError, TypeError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Unprocessable.field(
            ["query", "cursor"], "malformed or foreign cursor: pass next_cursor unchanged"
        ) from exc


def _after(keys: Sequence[SortKey], values: Sequence[Any], descending: bool) -> ColumnElement[bool]:
    columns = [k.column for k in keys]
    if all(v is not None for v in values):
        left, right = tuple_(*columns), tuple_(*values)
        return left < right if descending else left > right
    # NULL sort values (e.g. an unset date): spell the comparison out, NULLs sorting last.
    clauses = []
    for i, (key, value) in enumerate(zip(keys, values, strict=True)):
        equal_before = [
            keys[j].column.is_(None) if values[j] is None else keys[j].column == values[j]
            for j in range(i)
        ]
        if value is None:
            continue
        beyond = key.column < value if descending else key.column > value
        clauses.append(and_(*equal_before, or_(beyond, key.column.is_(None))))
    return or_(*clauses)


def paginate(
    statement: S,
    params: PageParams,
    keys: Sequence[SortKey],
    *,
    sort_name: str,
    descending: bool,
) -> S:
    """Order by the keys (last one unique, e.g. id), start after the cursor, fetch one extra."""
    if params.cursor:
        statement = statement.where(
            _after(keys, decode_cursor(params.cursor, sort_name, keys), descending)
        )
    # NULLS LAST only where a NULL can occur: on a NOT NULL key it would stop PostgreSQL
    # from reading the (organisation_id, key, id) index backwards, so every page would sort
    # all of the organisation's rows.
    order = [_order_term(key, key.column, descending) for key in keys]
    return statement.order_by(*order).limit(params.limit + 1)


def keyset(statement: S, sort: Sort, limit: int, after: Sequence[Any] | None) -> S:
    """`paginate` with the cursor's values already decoded, or standing in as bind
    parameters (`cursor_binds`) in a statement built once per shape."""
    if after is not None:
        statement = statement.where(_after(sort.keys, after, sort.descending))
    order = [_order_term(key, key.column, sort.descending) for key in sort.keys]
    return statement.order_by(*order).limit(limit + 1)


def cursor_binds(
    keys: Sequence[SortKey], values: Sequence[Any]
) -> tuple[list[Any], dict[str, Any]]:
    """Bind parameters (`cursor_<i>`) for a decoded cursor's values (a NULL stays None: it
    changes the SQL, see `_after`), and the values to execute them with."""
    binds = [
        None if value is None else bindparam(f"cursor_{i}", type_=key.column.type)
        for i, (key, value) in enumerate(zip(keys, values, strict=True))
    ]
    return binds, {f"cursor_{i}": value for i, value in enumerate(values) if value is not None}


@dataclass(frozen=True)
class Sort:
    """One way to order a listing: its public name (`-opened_on`), keys (the last unique)."""

    name: str
    keys: tuple[SortKey, ...]
    descending: bool

    def values(self, row: Any) -> list[Any]:
        record = row[0] if isinstance(row, tuple) or hasattr(row, "_mapping") else row
        return [getattr(record, key.name) for key in self.keys]

    def labelled_values(self, row: Any) -> list[Any]:
        """The keys of a Core row whose columns are labelled with the keys' names."""
        return [row._mapping[key.name] for key in self.keys]

    def order_on(self, columns: Any) -> list[Any]:
        """ORDER BY terms on columns named like the keys (a CTE's or sub-query's `.c`)."""
        return [_order_term(key, columns[key.name], self.descending) for key in self.keys]


def _order_term(key: SortKey, column: Any, descending: bool) -> Any:
    term = column.desc() if descending else column.asc()
    # The key's own column says whether it is nullable (a labelled copy does not know).
    return term.nulls_last() if getattr(key.column, "nullable", True) else term


def sort_options(id_column: Any, **fields: tuple[Any, Callable[[Any], Any]]) -> dict[str, Sort]:
    """Every field ascending (`field`) and descending (`-field`), ties broken by id."""
    options: dict[str, Sort] = {}
    id_key = SortKey("id", id_column, uuid.UUID)
    for name, (column, parse) in fields.items():
        keys = (SortKey(name, column, parse), id_key)
        options[name] = Sort(name, keys, descending=False)
        options[f"-{name}"] = Sort(f"-{name}", keys, descending=True)
    return options


async def fetch_page(
    session: Any,
    statement: Select[Any],
    params: PageParams,
    sort: Sort,
    request: Request,
    response: Response,
) -> tuple[Sequence[Any], str | None]:
    """Run a keyset-paginated query: the page's rows and the cursor of the next page."""
    statement = paginate(
        statement, params, sort.keys, sort_name=sort.name, descending=sort.descending
    )
    rows = (await session.exec(statement)).all()
    return finish_page(
        rows,
        params,
        sort.keys,
        sort_name=sort.name,
        key_values=sort.values,
        request=request,
        response=response,
    )


RowsT = TypeVar("RowsT", bound=Sequence[Any])


def finish_page(
    rows: RowsT,
    params: PageParams,
    keys: Sequence[SortKey],
    *,
    sort_name: str,
    key_values: Callable[[Any], Sequence[Any]],
    request: Request,
    response: Response,
) -> tuple[RowsT, str | None]:
    # A slice of the rows' own kind: a list's, or the fast lane's rows with none made yet.
    items = cast(RowsT, rows[: params.limit])
    next_cursor = None
    if len(rows) > params.limit:
        next_cursor = encode_cursor(sort_name, key_values(items[-1]))
        next_url = request.url.include_query_params(cursor=next_cursor, limit=params.limit)
        response.headers["Link"] = f'<{next_url}>; rel="next"'
    return items, next_cursor
