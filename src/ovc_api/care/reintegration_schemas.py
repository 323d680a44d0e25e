"""Request and response shapes of reintegration plans and their monitoring visits."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import Field, field_validator

from ovc_api.care.models import PlacementType, PlanStatus, VisitStatus
from ovc_api.care.schemas import Gatekeeping
from ovc_api.schemas_common import CaseRecordRead, RecordRead, StrictBody
from ovc_api.services.models import ServiceType

NOTES = Field(default=None, max_length=2000)


class ReadinessScore(StrictBody):
    score: int = Field(ge=1, le=4, description="1 not ready ... 4 ready")
    notes: str | None = NOTES


class ReintegrationReadiness(StrictBody):
    """ReintegrationReadiness of the child, the family and the community for the return."""

    assessed_on: date
    child: ReadinessScore
    family: ReadinessScore
    community: ReadinessScore


class PreparationStep(StrictBody):
    description: str = Field(min_length=1, max_length=300)
    due_on: date
    done_on: date | None = None


class PlannedService(StrictBody):
    """One service of the support package the family gets around the move."""

    service_type: ServiceType
    description: str | None = Field(default=None, max_length=300)
    planned_on: date | None = None


class PlanCreate(StrictBody):
    case_id: uuid.UUID = Field(description="The child's case: monitoring visits belong to it")
    target_placement_type: PlacementType = Field(description="A family-based placement")
    caregiver: str = Field(min_length=1, max_length=200)
    planned_move_on: date | None = None
    readiness: ReintegrationReadiness | None = None
    preparation_steps: list[PreparationStep] = Field(default_factory=list, max_length=50)
    support_package: list[PlannedService] = Field(default_factory=list, max_length=50)


class PlanUpdate(StrictBody):
    target_placement_type: PlacementType | None = None
    caregiver: str | None = Field(default=None, min_length=1, max_length=200)
    planned_move_on: date | None = None
    readiness: ReintegrationReadiness | None = None
    preparation_steps: list[PreparationStep] | None = Field(default=None, max_length=50)
    support_package: list[PlannedService] | None = Field(default=None, max_length=50)


class MoveBody(StrictBody):
    moved_on: date
    caregiver: str | None = Field(
        default=None, max_length=200, description="If not the plan's caregiver"
    )


class ReSeparationBody(StrictBody):
    """Where the child went when the family placement broke down."""

    separated_on: date
    placement_type: PlacementType
    facility_id: uuid.UUID | None = None
    caregiver: str | None = Field(default=None, max_length=200)
    reason: str = Field(min_length=1, max_length=1000)
    gatekeeping: Gatekeeping | None = None


class PlanRead(CaseRecordRead):
    child_id: uuid.UUID
    status: PlanStatus
    target_placement_type: PlacementType
    caregiver: str
    planned_move_on: date | None
    readiness: ReintegrationReadiness | None
    preparation_steps: list[PreparationStep]
    support_package: list[PlannedService]
    moved_on: date | None
    placement_id: uuid.UUID | None
    re_separated_on: date | None
    re_separations: int
    created_at: datetime
    updated_at: datetime


class VisitUpdate(StrictBody):
    visited_on: date
    placement_stable: bool = Field(description="Whether the child's family placement holds")
    notes: str | None = NOTES


class VisitRead(RecordRead):
    plan_id: uuid.UUID
    case_id: uuid.UUID
    placement_id: uuid.UUID
    months_after_move: int
    due_on: date
    status: VisitStatus
    visited_on: date | None
    placement_stable: bool | None
    notes: str | None
    updated_at: datetime


class CareSettings(StrictBody):
    monitoring_months: list[int] = Field(
        min_length=1,
        max_length=12,
        description="Months after a reintegration move when monitoring visits fall due",
        examples=[[1, 3, 6, 12]],
    )

    @field_validator("monitoring_months")
    @classmethod
    def _increasing(cls, months: list[int]) -> list[int]:
        if any(m < 1 or m > 36 for m in months):
            raise ValueError("each between 1 and 36 months")
        if months != sorted(set(months)):
            raise ValueError("in increasing order, each once")
        return months
