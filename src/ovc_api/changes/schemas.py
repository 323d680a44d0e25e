"""What the change feed shows: ids, kinds and versions, never a record's content."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from ovc_api.outbox import Change


class ChangeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    position: int = Field(description="Commit order: strictly increasing along the feed")
    event_id: uuid.UUID = Field(validation_alias="id")
    type: str = Field(description="The event, e.g. `case.status_changed`, `child.updated`")
    change: Change = Field(
        description="`created`, `updated`, or `removed`: the record left your view (e.g. a "
        "referral to you was withdrawn): drop your copy of what it shared"
    )
    resource_type: str
    resource_id: uuid.UUID = Field(description="Fetch the record with GET to get its content")
    organisation_id: uuid.UUID = Field(
        validation_alias="owner_organisation_id", description="The organisation owning it"
    )
    case_id: uuid.UUID | None = Field(description="Its case, if one of yours")
    version: int | None = Field(description="The record's version after the change")
    occurred_at: datetime


class ChangePage(BaseModel):
    items: list[ChangeRead]
    next_cursor: str = Field(
        description="Where to resume: pass it as `cursor` next time (also when `items` is empty)"
    )
    has_more: bool = Field(description="true: more changes are ready now; ask again at once")
