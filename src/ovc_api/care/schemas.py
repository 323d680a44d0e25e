"""Request and response shapes of facilities, placements and family tracing."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, Field, computed_field, model_validator

from ovc_api.care.models import (
    FacilityKind,
    GatekeepingAuthority,
    PlacementType,
    TracingMethod,
    TracingOutcome,
)
from ovc_api.geography import Province
from ovc_api.schemas_common import OwnedRecordRead, RecordRead, StrictBody

NAME = Field(min_length=1, max_length=200)


class FacilityCreate(StrictBody):
    name: str = NAME
    kind: FacilityKind
    organisation_id: uuid.UUID | None = Field(
        default=None,
        description="The operator organisation: the network administrator names it; an "
        "organisation's administrator records its own facilities (leave it out)",
    )
    registration_number: str | None = Field(
        default=None, max_length=60, description="MoSVY registration or licence number"
    )
    registered_on: date | None = None
    province: Province
    district: str | None = Field(default=None, max_length=100)
    capacity: int | None = Field(default=None, ge=0, le=10_000)
    transitioning_since: date | None = Field(
        default=None,
        description="Since when the facility is transitioning to family-based care (if it is)",
    )


class FacilityUpdate(StrictBody):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    kind: FacilityKind | None = None
    registration_number: str | None = Field(default=None, max_length=60)
    registered_on: date | None = None
    province: Province | None = None
    district: str | None = Field(default=None, max_length=100)
    capacity: int | None = Field(default=None, ge=0, le=10_000)
    transitioning_since: date | None = None


class FacilityRead(OwnedRecordRead):
    name: str
    kind: FacilityKind
    registration_number: str | None
    registered_on: date | None
    province: Province
    district: str | None
    capacity: int | None
    transitioning_since: date | None
    created_at: datetime
    updated_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def transitioning(self) -> bool:
        """Whether the facility is transitioning to community and family-based care."""
        return self.transitioning_since is not None


class Gatekeeping(StrictBody):
    """Why a child goes into residential care: the last resort, decided with authority."""

    decided_by: GatekeepingAuthority
    decided_on: date
    decision_reference: str | None = Field(default=None, max_length=100)
    tracing_id: uuid.UUID = Field(description="The family-tracing attempt that came before")
    family_care_not_possible_reason: str = Field(min_length=1, max_length=2000)


class PlacementCreate(StrictBody):
    placement_type: PlacementType
    facility_id: uuid.UUID | None = Field(
        default=None, description="Required for residential care and group homes, else none"
    )
    caregiver: str | None = Field(default=None, max_length=200)
    started_on: date
    ended_on: date | None = Field(
        default=None,
        description="Only for an earlier period recorded afterwards; an open placement "
        "(none) ends the current one on `started_on`",
    )
    reason: str | None = Field(default=None, max_length=1000, description="Why this change")
    decision_reference: str | None = Field(default=None, max_length=100)
    gatekeeping: Gatekeeping | None = Field(
        default=None, description="Required for residential care and group homes"
    )

    @model_validator(mode="after")
    def _period(self) -> PlacementCreate:
        if self.ended_on is not None and self.ended_on <= self.started_on:
            raise ValueError("ended_on must be after started_on")
        return self


class PlacementUpdate(StrictBody):
    caregiver: str | None = Field(default=None, max_length=200)
    reason: str | None = Field(default=None, max_length=1000)
    end_reason: str | None = Field(default=None, max_length=1000)
    decision_reference: str | None = Field(default=None, max_length=100)


class GatekeepingRead(BaseModel):
    decided_by: GatekeepingAuthority
    decided_on: date
    tracing_id: uuid.UUID
    tracing_outcome: TracingOutcome
    family_care_not_possible_reason: str


class PlacementRead(RecordRead):
    child_id: uuid.UUID
    placement_type: PlacementType
    facility_id: uuid.UUID | None
    caregiver: str | None
    started_on: date
    ended_on: date | None
    reason: str | None
    end_reason: str | None
    decision_reference: str | None
    recorded_at_intake: bool
    gatekeeping: GatekeepingRead | None = None
    created_at: datetime
    updated_at: datetime


class TracingCreate(StrictBody):
    sought: str = Field(
        min_length=1, max_length=300, description="The relative or place sought (e.g. an aunt)"
    )
    method: TracingMethod
    attempted_on: date
    outcome: TracingOutcome
    case_id: uuid.UUID | None = Field(
        default=None, description="The case the attempt belongs to (it then shows in its history)"
    )
    notes: str | None = Field(default=None, max_length=2000)


class TracingUpdate(StrictBody):
    outcome: TracingOutcome | None = None
    notes: str | None = Field(default=None, max_length=2000)


class TracingRead(RecordRead):
    child_id: uuid.UUID
    case_id: uuid.UUID | None
    sought: str
    method: TracingMethod
    attempted_on: date
    outcome: TracingOutcome
    notes: str | None
    created_at: datetime
    updated_at: datetime
