"""Each domain's filters are defined once: an export takes exactly its list's filters."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

# Parameters of an export that are not filters: what to write, not which records.
EXPORT_ONLY = {"format", "variant"}
# Parameters of a list that are not filters: which page, in which order.
LIST_ONLY = {"limit", "cursor", "sort"}


def _query_parameters(schema: dict[str, Any], path: str) -> dict[str, Any]:
    operation = schema["paths"][path]["get"]
    return {p["name"]: p for p in operation["parameters"] if p["in"] == "query"}


@pytest.mark.parametrize(
    ("list_path", "export_path"),
    [
        ("/api/v1/cases", "/api/v1/exports/cases"),
        ("/api/v1/children", "/api/v1/exports/children"),
        ("/api/v1/services", "/api/v1/exports/services"),
    ],
)
def test_exports_accept_exactly_the_list_filters(
    app: FastAPI, list_path: str, export_path: str
) -> None:
    schema = app.openapi()
    listed = _query_parameters(schema, list_path)
    exported = _query_parameters(schema, export_path)
    assert set(listed) >= LIST_ONLY
    assert set(exported) >= EXPORT_ONLY
    list_filters = {name: p for name, p in listed.items() if name not in LIST_ONLY}
    export_filters = {name: p for name, p in exported.items() if name not in EXPORT_ONLY}
    assert list(export_filters) == list(list_filters)
    # Same types, constraints, defaults and descriptions, not only the same names.
    assert export_filters == list_filters
