"""The one XLSX writer behind every spreadsheet the API sends (statistics, the quarterly
report, the import template).

Text goes through the CSV writer's one defusing (`ovc_api.csv_writer.defused`): a district
or a name typed as `=HYPERLINK(...)` (or starting with + - @, a tab or a carriage return)
gets the same leading apostrophe as in CSV, so the two downloads hold the same text and a
cell copied out of the sheet stays inert. It is also written as an explicit string cell
(openpyxl would otherwise take a string starting with "=" for a formula). Write-only mode
keeps memory to the rows, not a cell object graph.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi.responses import Response

from ovc_api.csv_writer import defused

if TYPE_CHECKING:  # openpyxl is imported when a workbook is written, not at start-up
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Excel's limit of a sheet name.
MAX_SHEET_NAME = 31


@dataclass
class Sheet:
    title: str
    header: Sequence[str]
    rows: Iterable[Sequence[Any]] = field(default_factory=list)


def _cell(sheet: WriteOnlyWorksheet, value: Any) -> WriteOnlyCell | None:
    from openpyxl.cell import WriteOnlyCell

    if value is None:
        return None
    if isinstance(value, bool | int | float):
        return WriteOnlyCell(sheet, value=value)
    text = value if isinstance(value, str) else str(value)
    cell = WriteOnlyCell(sheet, value=defused(text))
    # openpyxl takes a string starting with "=" for a formula: say it is text.
    cell.data_type = "s"
    return cell


def xlsx_bytes(sheets: Sequence[Sheet]) -> bytes:
    """A workbook with one worksheet per `Sheet`: a header row, then the rows."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    for spec in sheets:
        sheet = workbook.create_sheet(title=spec.title[:MAX_SHEET_NAME])
        sheet.append([_cell(sheet, name) for name in spec.header])
        for row in spec.rows:
            sheet.append([_cell(sheet, value) for value in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def xlsx_response(sheets: Sequence[Sheet], filename: str) -> Response:
    return Response(
        xlsx_bytes(sheets),
        media_type=XLSX_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}.xlsx"'},
    )
