from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, Field, field_validator

from ovc_api.schemas_common import MAX_TEXT, OwnedRecordRead, StrictBody, each_once


class ExternalParticipant(StrictBody):
    """Someone outside the network: a commune official, a village chief, a local business."""

    name: str = Field(min_length=1, max_length=200)
    role: str | None = Field(default=None, max_length=100)
    affiliation: str | None = Field(default=None, max_length=200)


class ActionItemCreate(StrictBody):
    organisation_id: uuid.UUID = Field(description="The organiser or a participating member")
    description: str = Field(min_length=1, max_length=2000)
    due_on: date


class ActionItemUpdate(StrictBody):
    description: str | None = Field(default=None, min_length=1, max_length=2000)
    due_on: date | None = None
    done_on: date | None = None


class ConferenceCreate(StrictBody):
    case_id: uuid.UUID
    held_on: date
    location: str | None = Field(default=None, max_length=300)
    agenda: str | None = Field(default=None, max_length=MAX_TEXT)
    decisions: str | None = Field(default=None, max_length=MAX_TEXT)
    participant_organisation_ids: list[uuid.UUID] = Field(default_factory=list, max_length=30)
    external_participants: list[ExternalParticipant] = Field(default_factory=list, max_length=50)
    action_items: list[ActionItemCreate] = Field(default_factory=list, max_length=100)

    _unique = field_validator("participant_organisation_ids")(
        each_once("participants must not repeat")
    )


class ConferenceUpdate(StrictBody):
    held_on: date | None = None
    location: str | None = Field(default=None, max_length=300)
    agenda: str | None = Field(default=None, max_length=MAX_TEXT)
    decisions: str | None = Field(default=None, max_length=MAX_TEXT)
    external_participants: list[ExternalParticipant] | None = Field(default=None, max_length=50)


class ActionItemRead(OwnedRecordRead):
    description: str
    due_on: date
    done_on: date | None
    updated_at: datetime


class ConferenceRead(BaseModel):
    id: uuid.UUID
    organisation_id: uuid.UUID = Field(description="The organiser")
    case_id: uuid.UUID | None = Field(description="Shown to the organiser only")
    held_on: date
    location: str | None
    agenda: str | None
    decisions: str | None
    participant_organisation_ids: list[uuid.UUID]
    external_participants: list[ExternalParticipant]
    action_items: list[ActionItemRead] = Field(
        description="All of them for the organiser; a participant sees its own"
    )
    created_at: datetime
    updated_at: datetime
