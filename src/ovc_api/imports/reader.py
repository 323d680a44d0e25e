"""Reading an uploaded CSV or XLSX file into rows of text keyed by column.

Only the first worksheet of a workbook is read. Cells become text as a person typed them:
a date cell is YYYY-MM-DD, a whole number has no ".0". Blank rows are skipped; each row keeps
its spreadsheet row number (the header is row 1) for error messages.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from ovc_api.imports.columns import column_for


class UnreadableFile(ValueError):
    """The upload is not a CSV or XLSX file we can read."""


class TooManyRows(ValueError):
    pass


@dataclass
class Sheet:
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    header_errors: list[dict[str, Any]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)


def file_format(file_name: str, content: bytes) -> str:
    """xlsx (a zip archive) or csv, by content first, then by name."""
    if content[:4] == b"PK\x03\x04" or file_name.lower().endswith(".xlsx"):
        return "xlsx"
    return "csv"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _csv_lines(content: bytes) -> Iterator[list[str]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFile("a CSV file must be UTF-8 (Excel: Save As 'CSV UTF-8')") from exc
    try:
        yield from csv.reader(io.StringIO(text))
    except csv.Error as exc:
        raise UnreadableFile(f"not a readable CSV file: {exc}") from exc


def _xlsx_lines(content: bytes) -> Iterator[list[str]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise UnreadableFile("not a readable XLSX file") from exc
    try:
        sheet = workbook.worksheets[0]
        for row in sheet.iter_rows(values_only=True):
            yield [_text(value) for value in row]
    finally:
        workbook.close()


def read_sheet(content: bytes, fmt: str, max_rows: int) -> Sheet:
    """The rows under the header, by column key; more than `max_rows` raises TooManyRows."""
    lines = _xlsx_lines(content) if fmt == "xlsx" else _csv_lines(content)
    sheet = Sheet()
    header = next(lines, None)
    if header is None:
        raise UnreadableFile("the file is empty: it needs a header row")
    keys: list[str | None] = []
    for position, cell in enumerate(header, start=1):
        name = cell.strip()
        if not name:
            keys.append(None)
            continue
        column = column_for(name)
        if column is None:
            sheet.header_errors.append(
                {"row": 1, "column": name, "message": f"unknown column (column {position})"}
            )
        elif column.key in sheet.columns:
            sheet.header_errors.append(
                {"row": 1, "column": column.key, "message": "this column appears twice"}
            )
        else:
            sheet.columns.append(column.key)
        keys.append(column.key if column is not None else None)
    for number, line in enumerate(lines, start=2):
        values = {
            key: cell.strip() for key, cell in zip(keys, line, strict=False) if key and cell.strip()
        }
        if not values:
            continue
        if len(sheet.rows) >= max_rows:
            raise TooManyRows(f"at most {max_rows} rows may be imported at once")
        sheet.rows.append((number, values))
    return sheet
