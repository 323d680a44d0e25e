"""Alternative care: the facilities directory, family tracing, reintegration plans and
their monitoring visits. A child's placements belong to the child's record
(`children/placements.py`) and are re-exported here."""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, Index
from sqlmodel import Field

from ovc_api.children.placements import (
    ARRANGEMENT_OF,
    FAMILY_BASED,
    PLACEMENT_OF,
    RESIDENTIAL,
    Placement,
    PlacementType,
)
from ovc_api.models_base import (
    JSONType,
    OwnedRecord,
    RevisionedRecord,
    Versioned,
    enum_field,
    json_list,
    optional_text,
    organisation_fk,
    text_field,
    user_ref,
)

FacilityKind = StrEnum(
    "FacilityKind", "residential_care_institution group_home transit_centre other"
)


# The facility kinds a placement type takes place at (types absent here take no facility).
FACILITY_KINDS: dict[PlacementType, frozenset[FacilityKind]] = {
    PlacementType.residential_care: frozenset(
        {FacilityKind.residential_care_institution, FacilityKind.transit_centre}
    ),
    PlacementType.group_home: frozenset({FacilityKind.group_home}),
}
__all__ = [
    "ARRANGEMENT_OF",
    "FACILITY_KINDS",
    "FAMILY_BASED",
    "PLACEMENT_OF",
    "RESIDENTIAL",
    "Placement",
    "PlacementType",
]


GatekeepingAuthority = StrEnum("GatekeepingAuthority", "case_conference dosvy ccwc mosvy court")

TracingMethod = StrEnum(
    "TracingMethod", "home_visit community_inquiry local_authorities phone social_media other"
)

TracingOutcome = StrEnum("TracingOutcome", "found_willing found_unable not_found in_progress")


class CareFacility(OwnedRecord, table=True):
    """A residential care institution or other facility: shared reference data every member
    reads (the directory), owned (edited) by its operator organisation. Residents are never
    listed through it."""

    __tablename__ = "care_facilities"
    __table_args__ = (Index("ix_care_facilities_province", "province", "name"),)
    # Reference data, not a child's record: corrections are audited, not kept as revisions
    # (which belong to the record's organisation, and the network administrator edits too).

    organisation_id: uuid.UUID = organisation_fk(index=True)  # also looked up alone
    name: str = text_field(200)
    kind: str = enum_field(40)
    registration_number: str | None = optional_text(60)
    registered_on: date | None = Field(default=None)
    province: str = enum_field(32)
    district: str | None = optional_text(100)
    capacity: int | None = Field(default=None)
    transitioning_since: date | None = Field(default=None)


class TracingAttempt(RevisionedRecord, table=True):
    """One attempt to find a child's family or relatives, before any alternative care."""

    __tablename__ = "tracing_attempts"
    __table_args__ = (
        Index("ix_tracing_attempts_org_child", "organisation_id", "child_id", "attempted_on"),
    )

    child_id: uuid.UUID = Field(foreign_key="children.id", index=True)
    case_id: uuid.UUID | None = Field(default=None, foreign_key="cases.id", index=True)
    sought: str = text_field(300)
    method: str = enum_field(24)
    attempted_on: date
    outcome: str = enum_field(16)
    notes: str | None = optional_text(2000)
    recorded_by: uuid.UUID | None = user_ref()


PlanStatus = StrEnum("PlanStatus", "planning monitoring completed")

VisitStatus = StrEnum("VisitStatus", "scheduled done cancelled")


DEFAULT_MONITORING_MONTHS = (1, 3, 6, 12)


class ReintegrationPlan(RevisionedRecord, table=True):
    """Returning a child from care to a family: prepared, then monitored after the move.
    A re-separation ends the family placement and sends the plan back to planning."""

    __tablename__ = "reintegration_plans"
    __table_args__ = (
        Index("ix_reintegration_plans_org_status", "organisation_id", "status", "id"),
    )

    case_id: uuid.UUID = Field(foreign_key="cases.id", index=True)
    child_id: uuid.UUID = Field(foreign_key="children.id", index=True)
    status: str = enum_field(16, default=PlanStatus.planning.value)
    target_placement_type: str = enum_field(40)
    caregiver: str = text_field(200)
    planned_move_on: date | None = Field(default=None)
    # {"assessed_on": date, "child"|"family"|"community": {"score": 1-4, "notes": str}}
    readiness: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONType))
    # [{"description", "due_on", "done_on"}]
    preparation_steps: list[dict[str, Any]] = json_list()
    # planned services: [{"service_type", "description", "planned_on"}]
    support_package: list[dict[str, Any]] = json_list()
    moved_on: date | None = Field(default=None)
    placement_id: uuid.UUID | None = Field(default=None, foreign_key="placements.id")
    re_separated_on: date | None = Field(default=None)
    re_separations: int = Field(default=0)
    created_by: uuid.UUID | None = user_ref()


class MonitoringVisit(RevisionedRecord, table=True):
    """A follow-up after a reintegration move (by default 1, 3, 6 and 12 months on)."""

    __tablename__ = "monitoring_visits"
    __table_args__ = (
        Index("ix_monitoring_visits_org_status_due", "organisation_id", "status", "due_on"),
        Index("ix_monitoring_visits_plan", "plan_id", "due_on"),
    )

    plan_id: uuid.UUID = Field(foreign_key="reintegration_plans.id")
    case_id: uuid.UUID = Field(foreign_key="cases.id", index=True)
    placement_id: uuid.UUID = Field(foreign_key="placements.id")
    months_after_move: int
    due_on: date
    status: str = enum_field(16, default=VisitStatus.scheduled.value)
    visited_on: date | None = Field(default=None)
    placement_stable: bool | None = Field(default=None)
    notes: str | None = optional_text(2000)
    visited_by: uuid.UUID | None = user_ref()


class CareSettings(Versioned, table=True):
    """An organisation's alternative-care settings (one row, or none for the defaults)."""

    __tablename__ = "care_settings"

    organisation_id: uuid.UUID = Field(foreign_key="organisations.id", primary_key=True)
    # Months after a reintegration move when monitoring visits fall due.
    monitoring_months: list[int] = Field(sa_column=Column(JSONType, nullable=False))
