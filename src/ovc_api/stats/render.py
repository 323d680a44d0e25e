"""Statistics as JSON, CSV (`Accept: text/csv` or `format=csv`) or XLSX (`format=xlsx`, or
the spreadsheet media type in `Accept`), from one table.

CSV: a header row naming the group keys then the counts, one line per row of the JSON
`rows`; withheld counts are empty cells, and network tables end with a `suppressed` column
(the withheld counts' names, space-separated). Totals are in the JSON; in CSV, call the same
statistic without `group_by` (its one row is the totals). Cells go through the API's one CSV
writer (ovc_api.csv_writer), which defuses spreadsheet formulas in free text (districts).
XLSX: the CSV's lines in a worksheet, counts as numbers, text always as text cells (never a
formula).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from ovc_api.csv_writer import csv_text
from ovc_api.formats import Format, FormatParam, negotiate
from ovc_api.stats.tables import Table
from ovc_api.xlsx_writer import XLSX_MEDIA_TYPE, Sheet, xlsx_response

FORMATS = (Format.json, Format.csv, Format.xlsx)
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The statistic (JSON), or as CSV with `Accept: text/csv` / `format=csv`, "
        "or as a spreadsheet with `format=xlsx`",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


def chosen_format(request: Request, requested: FormatParam) -> Format:
    """406 before any work when the caller accepts neither JSON, CSV nor XLSX."""
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
    if fmt in (Format.csv, Format.xlsx):
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
        if fmt is Format.xlsx:
            return xlsx_response([Sheet(filename, header, lines)], filename)
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
