"""An import job: one uploaded file, validated (dry run) or committed, and its progress.

The row lives in the database so any worker answers `GET /imports/{id}` while the one that
runs the job is still at it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index
from sqlmodel import Field

from ovc_api.models_base import (
    TenantRow,
    created_field,
    enum_field,
    json_dict,
    json_list,
    optional_text,
    optional_time,
    text_field,
    user_ref,
)

ImportMode = StrEnum("ImportMode", "validate commit")

ImportStatus = StrEnum("ImportStatus", "queued running validated committed failed")


class ImportJob(TenantRow, table=True):
    __tablename__ = "import_jobs"
    __table_args__ = (
        Index("ix_import_jobs_organisation_id_created_at", "organisation_id", "created_at"),
        # A file is committed once per organisation (NULL: validations and failed commits).
        Index("uq_import_jobs_commit_digest", "organisation_id", "commit_digest", unique=True),
    )
    created_by: uuid.UUID | None = user_ref()
    api_key_id: uuid.UUID | None = Field(default=None, foreign_key="api_keys.id")
    mode: str = enum_field(16)
    status: str = enum_field(16)
    file_name: str = text_field(255)
    file_format: str = text_field(8)
    file_digest: str = text_field(64)
    commit_digest: str | None = optional_text(64)
    total_rows: int = Field(default=0)
    processed_rows: int = Field(default=0)
    error_count: int = Field(default=0)
    errors: list[dict[str, Any]] = json_list()
    created: dict[str, Any] = json_dict()
    created_at: datetime = created_field()
    updated_at: datetime = created_field()
    finished_at: datetime | None = optional_time()
