"""A case's history as the API shows it: status changes and family-tracing attempts."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from ovc_api.care.models import TracingMethod, TracingOutcome
from ovc_api.cases.models import CaseStatus, ClosureReason

HistoryKind = StrEnum("HistoryKind", "status_change tracing_attempt")


class TracingEntry(BaseModel):
    """The attempt as it stands now (its outcome may have been recorded later)."""

    sought: str
    method: TracingMethod
    attempted_on: date
    outcome: TracingOutcome


class CaseHistoryEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID = Field(description="The status change's or the tracing attempt's id")
    kind: HistoryKind
    from_status: CaseStatus | None
    to_status: CaseStatus | None = Field(description="Status changes only")
    closure_reason: ClosureReason | None
    note: str | None
    changed_by: uuid.UUID | None = Field(description="Who made the change or recorded it")
    approved_by: uuid.UUID | None
    changed_at: datetime = Field(description="When it was recorded")
    tracing: TracingEntry | None = Field(description="Tracing attempts only")
