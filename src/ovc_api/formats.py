"""Response formats: JSON by default, CSV, NDJSON or XLSX on request (`Accept` or `format=`)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from fastapi import Query, Request

from ovc_api.errors import ProblemError

MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv",
    "ndjson": "application/x-ndjson",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class Format(StrEnum):
    json = "json"
    csv = "csv"
    ndjson = "ndjson"
    xlsx = "xlsx"


class NotAcceptable(ProblemError):
    status, title, slug = 406, "Not Acceptable", "not-acceptable"


FormatParam = Annotated[
    Format | None,
    Query(alias="format", description="Overrides the Accept header: json, csv, xlsx (or ndjson)"),
]


def negotiate(request: Request, requested: Format | None, allowed: tuple[Format, ...]) -> Format:
    """`format=` wins; otherwise the first allowed media type the Accept header names."""
    if requested is not None:
        if requested not in allowed:
            raise NotAcceptable(f"format must be one of: {', '.join(allowed)}")
        return requested
    accept = request.headers.get("accept", "")
    if not accept or "*/*" in accept:
        return allowed[0]
    for fmt in allowed:
        if MEDIA_TYPES[fmt] in accept:
            return fmt
    if "application/*" in accept or "text/*" in accept:
        return allowed[0]
    raise NotAcceptable("Acceptable media types: " + ", ".join(MEDIA_TYPES[f] for f in allowed))
