from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from ovc_api.models_base import (
    CountedRecord,
    OwnedRecord,
    TenantRow,
    created_field,
    enum_field,
    optional_text,
    optional_time,
    organisation_fk,
    stamp_indexes,
    user_ref,
)

CaseStatus = StrEnum("CaseStatus", "intake assessment case_plan implementation review closed")

RiskLevel = StrEnum("RiskLevel", "low medium high emergency")


class ReferralSource(StrEnum):
    local_authority = "local_authority"
    provincial_social_affairs = "provincial_social_affairs"  # DoSVY
    commune_committee = "commune_committee"  # CCWC
    ngo = "ngo"
    community = "community"
    self = "self"


ProtectionConcern = StrEnum(
    "ProtectionConcern",
    "abandonment left_behind_by_migration neglect lack_of_food violence sexual_abuse "
    "exploitation begging_or_child_labour no_birth_certificate out_of_school "
    "disability medical_emergency other",
)

ClosureReason = StrEnum(
    "ClosureReason",
    "reunified_with_family kinship_care foster_care long_term_residential_care "
    "transferred aged_out other",
)

ClosureRequestStatus = StrEnum("ClosureRequestStatus", "pending approved rejected withdrawn")


class Case(CountedRecord, table=True):
    """One child's episode of support, owned by one organisation."""

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_org_opened", "organisation_id", "opened_on", "id"),
        *stamp_indexes("cases", "created", "updated"),
        Index("ix_cases_org_assigned", "organisation_id", "assigned_to", "opened_on", "id"),
        Index("ix_cases_org_status", "organisation_id", "status", "opened_on", "id"),
    )

    child_id: uuid.UUID = Field(foreign_key="children.id", index=True)
    family_id: uuid.UUID | None = Field(default=None, foreign_key="families.id", index=True)
    assigned_to: uuid.UUID | None = user_ref()
    referral_source: str = enum_field(32)
    referral_source_detail: str | None = optional_text(200)
    risk_level: str = enum_field(16)
    status: str = enum_field(16, default=CaseStatus.intake.value)
    opened_on: date
    closed_on: date | None = Field(default=None)
    closure_reason: str | None = enum_field(40, default=None, nullable=True)
    summary: str | None = optional_text(4000)
    last_contact_on: date | None = Field(default=None)
    created_by: uuid.UUID | None = user_ref()


class CaseConcern(SQLModel, table=True):
    """A case's protection concerns, one row each, so they can be filtered and counted in SQL."""

    __tablename__ = "case_concerns"
    __table_args__ = (
        Index("ix_case_concerns_org_concern", "organisation_id", "concern", "case_id"),
    )

    case_id: uuid.UUID = Field(foreign_key="cases.id", primary_key=True)
    concern: str = enum_field(32, primary_key=True)
    organisation_id: uuid.UUID = organisation_fk()


class CaseStatusChange(TenantRow, table=True):
    __tablename__ = "case_status_changes"
    __table_args__ = (Index("ix_case_status_changes_case", "case_id", "changed_at"),)
    case_id: uuid.UUID = Field(foreign_key="cases.id")
    from_status: str | None = enum_field(16, default=None, nullable=True)
    to_status: str = enum_field(16)
    closure_reason: str | None = enum_field(40, default=None, nullable=True)
    note: str | None = optional_text(2000)
    changed_by: uuid.UUID | None = user_ref()
    approved_by: uuid.UUID | None = user_ref()
    changed_at: datetime = created_field()


class ClosureRequest(OwnedRecord, table=True):
    """A caseworker's request to close a case, decided by a case manager."""

    __tablename__ = "closure_requests"
    __table_args__ = (Index("ix_closure_requests_org_status", "organisation_id", "status"),)

    case_id: uuid.UUID = Field(foreign_key="cases.id", index=True)
    reason: str = enum_field(40)
    note: str | None = optional_text(2000)
    closed_on: date
    status: str = enum_field(16, default=ClosureRequestStatus.pending.value)
    requested_by: uuid.UUID | None = user_ref()
    decided_by: uuid.UUID | None = user_ref()
    decided_at: datetime | None = optional_time()
    decision_comment: str | None = optional_text(2000)
