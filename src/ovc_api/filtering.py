"""List filters, defined once per domain.

Each domain's `filters.py` holds one frozen dataclass of its list's query parameters. FastAPI
reads the parameters from the dataclass (`Annotated[CaseFilters, Depends()]`), so the list
endpoint and the export of the same records take exactly the same filters, and the dataclass
builds the same SQL conditions for both. Invalid combinations (an inverted date range) are a
422 when the object is built, before any SQL. The list's `<Domain>ListQuery` adds its order
(`sort`) to the filters: an export takes the filters only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from datetime import date
from enum import StrEnum
from typing import Any, ClassVar, TypeVar

from sqlalchemy import ColumnElement
from sqlmodel import col

from ovc_api.auth.principal import Principal
from ovc_api.errors import Unprocessable
from ovc_api.text import search_pattern

S = TypeVar("S")


class ListFilters:
    """The base of each domain's filter dataclass."""

    # Filters that single a child out: refused in de-identified exports.
    identifying: ClassVar[tuple[str, ...]] = ()
    # Filters whose value is never written to the audit log (a name searched for).
    private: ClassVar[tuple[str, ...]] = ("q",)

    def clauses(self, principal: Principal) -> list[ColumnElement[bool]]:
        """The conditions the filters add to a statement of the domain's records."""
        raise NotImplementedError

    def apply(self, statement: S, principal: Principal) -> S:
        """`statement` with the filters' conditions added."""
        clauses = self.clauses(principal)
        return statement.where(*clauses) if clauses else statement  # type: ignore[attr-defined]

    def filtered(self) -> bool:
        """Whether any filter differs from its default (an order, `sort`, is not a filter):
        such a list's statement carries the filters' values."""
        return any(
            getattr(self, item.name) != item.default
            for item in fields(self)  # type: ignore[arg-type]
            if item.name != "sort"
        )

    def identifying_in_use(self) -> list[str]:
        """The identifying filters given a value."""
        return [name for name in self.identifying if getattr(self, name) is not None]

    def describe(self) -> str:
        """The filters used, for the audit log (values, except searched names)."""
        parts = []
        for item in fields(self):  # type: ignore[arg-type]
            value = getattr(self, item.name)
            if value is None or value is False:
                continue
            if item.name in self.private:
                parts.append(item.name)
            elif isinstance(value, StrEnum):
                parts.append(f"{item.name}={value.value}")
            else:
                parts.append(f"{item.name}={value}")
        return " ".join(parts)


def equal_to(values: Mapping[Any, Any]) -> list[ColumnElement[bool]]:
    """`column == value` for each column given a value."""
    return [col(column) == value for column, value in values.items() if value is not None]


def within(column: Any, start: Any, end: Any) -> list[ColumnElement[bool]]:
    """`start <= column <= end`, each bound only when given."""
    clauses = []
    if start is not None:
        clauses.append(col(column) >= start)
    if end is not None:
        clauses.append(col(column) <= end)
    return clauses


def matching(column: Any, text: str | None) -> list[ColumnElement[bool]]:
    """`column` holds the searched `text` (a LIKE, its wildcards escaped), when one is given."""
    return [column.like(search_pattern(text), escape="\\")] if text else []


def check_order(start: date | None, end: date | None, start_name: str, end_name: str) -> None:
    """An inverted range is a 422 naming its first parameter."""
    if start is not None and end is not None and start > end:
        raise Unprocessable.field(["query", start_name], f"must not be after {end_name}")
