"""Statistics as JSON or CSV (`Accept: text/csv` or `format=csv`), from one table.

CSV: a header row naming the group keys then the counts, one line per row of the JSON
`rows`; withheld counts are empty cells, and network tables end with a `suppressed` column
(the withheld counts' names, space-separated). Totals are in the JSON; in CSV, call the same
statistic without `group_by` (its one row is the totals). Cells go through the API's one CSV
writer (ovc_api.csv_writer), which defuses spreadsheet formulas in free text (districts).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from ovc_api.csv_writer import csv_text
from ovc_api.formats import Format, FormatParam, negotiate
from ovc_api.stats.tables import Table

FORMATS = (Format.json, Format.csv)
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The statistic (JSON), or as CSV with `Accept: text/csv` / `format=csv`",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}


def chosen_format(request: Request, requested: FormatParam) -> Format:
    """406 before any work when the caller accepts neither JSON nor CSV."""
    return negotiate(request, requested, FORMATS)


def csv_response(text: str, filename: str) -> Response:
    return Response(
        text,
        media_type=CSV_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
    )


def table_response(
    fmt: Format,
    table: Table,
    filters: dict[str, Any],
    *,
    filename: str,
    threshold: int | None = None,
) -> Response:
    if fmt is Format.csv:
        header = [*table.keys, *table.columns]
        if table.network:
            header.append("suppressed")
        lines = (
            [
                *(row[name] for name in table.keys + table.columns),
                *([" ".join(row["suppressed"])] if table.network else []),
            ]
            for row in table.rows
        )
        return csv_response(csv_text(header, lines), filename)
    body: dict[str, Any] = {
        "group_by": table.keys,
        "filters": filters,
        "rows": table.rows,
        "totals": table.totals,
    }
    if threshold is not None:
        body["suppression_threshold"] = threshold
    return JSONResponse(body)
