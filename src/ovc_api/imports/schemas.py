"""What an import job looks like to the caller."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from ovc_api.imports.models import ImportMode, ImportStatus
from ovc_api.schemas_common import RecordRead


class ImportRowError(BaseModel):
    row: int = Field(description="The spreadsheet row (the header is row 1; 0: the whole file)")
    column: str = Field(description="The column's English key (empty: the row as a whole)")
    message: str
    duplicates: list[uuid.UUID] | None = Field(
        default=None, description="Likely duplicates already recorded (ids of children)"
    )


class ImportCreated(BaseModel):
    children: int = 0
    families: int = 0
    cases: int = 0
    child_ids: list[uuid.UUID] = Field(default_factory=list, description="In the file's order")


class ImportJobRead(RecordRead):
    mode: ImportMode
    status: ImportStatus = Field(
        description="queued -> running -> validated (a dry run; ready to commit when "
        "error_count is 0), committed, or failed (a commit refused: nothing was recorded)"
    )
    file_name: str
    file_format: str
    file_digest: str = Field(description="SHA-256 of the file: a commit is done once per file")
    total_rows: int
    processed_rows: int = Field(description="Rows checked so far (progress)")
    error_count: int
    errors: list[ImportRowError]
    created: ImportCreated
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
