"""Spreadsheet import: upload, dry run or commit, progress; and the template.

HTTP only: the rows are checked and recorded by `imports/service.py`, through the children,
families and cases services.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, File, Query, Request, Response, UploadFile
from fastapi.responses import JSONResponse

from ovc_api import API_V1
from ovc_api.auth.principal import CasesReader, CasesWriter
from ovc_api.csv_writer import csv_text
from ovc_api.db import Session
from ovc_api.errors import PayloadTooLarge, error_responses
from ovc_api.imports import service
from ovc_api.imports.columns import COLUMNS, layout_markdown
from ovc_api.imports.models import ImportJob, ImportMode
from ovc_api.imports.schemas import ImportJobRead
from ovc_api.settings import Settings
from ovc_api.xlsx_writer import XLSX_MEDIA_TYPE, Sheet, xlsx_response

router = APIRouter(prefix=f"{API_V1}/imports", tags=["imports"])
PATH = f"{API_V1}/imports"

DESCRIPTION = """
Upload a CSV (UTF-8) or XLSX file (multipart field `file`; the first worksheet is read) of
children, one per row, each optionally with a household and a case, in the layout below
(download a template with `GET /api/v1/imports/template`). Header cells may be the English
key, the Khmer label, or both as in the template ("sex / ភេទ"); columns in any order.

- `mode=validate` (the default) is a dry run: every row is checked as the API would check it
  (the same messages), and likely duplicates of recorded children are reported with the
  duplicate check's own rule (and rows describing the same child twice). Nothing is written.
- `mode=commit` checks the same way, then records every household, child and case through
  the same rules and audit as the individual endpoints, in one transaction: all rows or
  none (a refused commit reports the errors and records nothing). A file is committed once
  per organisation: committing the same file again (same SHA-256) answers the first job.

A row with a likely duplicate is an error until its `confirm_not_duplicate` is `yes`.
Rows sharing a `household` label share one new household. A case is opened when
`case_opened_on` is set, assigned to the caller (an API key cannot open cases this way).

Small files are processed during the request (201, the finished job). Files with more rows
than the setting `import_background_rows` run as a job in the API process (202 with
`Location`); poll `GET /api/v1/imports/{import_id}` for `processed_rows` and `status` (any
worker answers: the job is a database row). Limits: settings `import_max_bytes` (413 above)
and `import_max_rows` (422 above).

"""


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@router.post(
    "",
    summary="Import children (with households and cases) from a CSV or XLSX file",
    description=DESCRIPTION + layout_markdown(),
    status_code=201,
    response_model=ImportJobRead,
    responses={
        200: {
            "description": "This file was committed before: the first job",
            "model": ImportJobRead,
        },
        202: {
            "description": "A large file: the job runs in the background",
            "model": ImportJobRead,
        },
        **error_responses(401, 403, 409, 413, 415, 422),
    },
)
async def create_import(
    request: Request,
    response: Response,
    background: BackgroundTasks,
    session: Session,
    principal: CasesWriter,
    file: Annotated[UploadFile, File(description="The CSV or XLSX file")],
    mode: Annotated[ImportMode, Query(description="validate (dry run) or commit")] = (
        ImportMode.validate
    ),
) -> Any:
    settings = _settings(request)
    content = await file.read(settings.import_max_bytes + 1)
    if len(content) > settings.import_max_bytes:
        raise PayloadTooLarge(f"Import files are limited to {settings.import_max_bytes} bytes")
    upload = service.read_upload(file.filename, content, settings.import_max_rows)
    # The credential check's writes (an API key's last use) end here: the import runs in
    # transactions of its own, which must not wait for this one's lock (SQLite).
    await session.commit()
    database = request.app.state.database
    job, earlier = await service.open_job(database, principal, upload, mode)
    if earlier:
        return JSONResponse(_read(job), status_code=200)
    location = f"{PATH}/{job.id}"
    if len(upload.sheet.rows) > settings.import_background_rows:
        background.add_task(service.run_import, database, principal, job.id, upload.sheet)
        return JSONResponse(_read(job), status_code=202, headers={"Location": location})
    await service.run_import(database, principal, job.id, upload.sheet)
    finished = ImportJobRead.model_validate(await service.finished_job(database, principal, job.id))
    response.headers["Location"] = location
    return finished


def _read(job: ImportJob) -> dict[str, Any]:
    return ImportJobRead.model_validate(job).model_dump(mode="json")


@router.get(
    "/template",
    summary="The import's template: the columns with English and Khmer headers",
    description="XLSX (default: a sheet to fill in, and a sheet describing each column and "
    "its allowed values) or CSV (the header row only, UTF-8 with a byte-order mark so Excel "
    "shows the Khmer).",
    responses={
        200: {
            "description": "The template",
            "content": {
                XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
                "text/csv": {"schema": {"type": "string"}},
            },
        },
        **error_responses(401, 403, 422),
    },
)
async def get_import_template(
    principal: CasesReader,
    template_format: Annotated[
        str, Query(alias="format", pattern="^(xlsx|csv)$", description="xlsx or csv")
    ] = "xlsx",
) -> Response:
    headers = [column.header for column in COLUMNS]
    if template_format == "csv":
        return Response(
            "\ufeff" + csv_text(headers, []),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="ovc-import-template.csv"'},
        )
    described = [[c.key, c.khmer, c.meaning, c.values] for c in COLUMNS]
    return xlsx_response(
        [
            Sheet("children", headers, []),
            Sheet("columns", ["column", "Khmer", "meaning", "values"], described),
        ],
        "ovc-import-template",
    )


@router.get(
    "/{import_id}",
    summary="An import's progress and result (row errors, what was recorded)",
    response_model=ImportJobRead,
    responses=error_responses(401, 403, 404, 422),
)
async def get_import(
    import_id: uuid.UUID, session: Session, principal: CasesReader
) -> ImportJobRead:
    job = await service.job_in_scope(session, principal, import_id)
    return ImportJobRead.model_validate(job)
