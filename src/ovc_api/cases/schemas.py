"""Request and response bodies of the cases domain (enumerations from cases.models)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.json_schema import SkipJsonSchema

from ovc_api.cases.models import (
    CaseStatus,
    ClosureReason,
    ClosureRequestStatus,
    ProtectionConcern,
    ReferralSource,
    RiskLevel,
)
from ovc_api.cases.workflow import REOPEN_TARGETS
from ovc_api.children.models import Sex
from ovc_api.geography import Province
from ovc_api.schemas_common import (
    MAX_TEXT,
    CaseRecordRead,
    PastDate,
    RecordRead,
    StrictBody,
    each_once,
)

NOTE = Field(default=None, min_length=1, max_length=2000)
CONCERNS = Field(
    min_length=1, max_length=len(ProtectionConcern), description="One or more, no duplicates"
)
CONCERN_ORDER = {concern.value: i for i, concern in enumerate(ProtectionConcern)}


_distinct = each_once("each concern may be listed once")


def ordered_concerns(concerns: Any) -> list[ProtectionConcern]:
    """Concerns in the order the enumeration lists them, so responses are stable."""
    return [ProtectionConcern(c) for c in sorted(concerns, key=CONCERN_ORDER.__getitem__)]


class CaseCreate(StrictBody):
    child_id: uuid.UUID
    family_id: uuid.UUID | None = Field(default=None, description="Default: the child's family")
    assigned_to: uuid.UUID | None = Field(
        default=None,
        description="A caseworker or case manager; default: the caller (others need cases:all)",
    )
    referral_source: ReferralSource
    referral_source_detail: str | None = Field(default=None, max_length=200)
    concerns: list[ProtectionConcern] = CONCERNS
    risk_level: RiskLevel
    opened_on: PastDate = Field(description="Not in the future, not before the child's birth")
    summary: str | None = Field(default=None, max_length=MAX_TEXT)
    _concerns = field_validator("concerns")(_distinct)


class CaseUpdate(StrictBody):
    """The editable fields. The status moves through /transitions, closure and reopening."""

    risk_level: RiskLevel | None = None
    concerns: list[ProtectionConcern] | None = Field(
        default=None,
        min_length=1,
        max_length=len(ProtectionConcern),
        description="Replaces the whole set; the previous set is kept in the revisions",
    )
    assigned_to: uuid.UUID | None = Field(default=None, description="Needs cases:all")
    family_id: uuid.UUID | None = None
    referral_source: ReferralSource | None = None
    referral_source_detail: str | None = Field(default=None, max_length=200)
    summary: str | None = Field(default=None, max_length=MAX_TEXT)
    status: SkipJsonSchema[Any] = Field(default=None, exclude=True)

    _concerns = field_validator("concerns")(_distinct)

    @field_validator("status", mode="before")
    @classmethod
    def _status_has_its_own_endpoint(cls, value: Any) -> Any:
        raise ValueError(
            "the status is not edited directly: POST /api/v1/cases/{case_id}/transitions, "
            "or request closure at /api/v1/cases/{case_id}/closure-requests"
        )


class ChildSummary(RecordRead):
    given_name_latin: str | None
    family_name_latin: str | None
    given_name_khmer: str | None
    family_name_khmer: str | None
    sex: Sex
    date_of_birth: date | None
    province: Province
    district: str | None


class CaseRead(BaseModel):
    id: uuid.UUID
    organisation_id: uuid.UUID
    child_id: uuid.UUID
    family_id: uuid.UUID | None
    assigned_to: uuid.UUID | None
    referral_source: ReferralSource
    referral_source_detail: str | None
    concerns: list[ProtectionConcern]
    risk_level: RiskLevel
    status: CaseStatus
    opened_on: date
    closed_on: date | None
    closure_reason: ClosureReason | None
    summary: str | None
    last_contact_on: date | None = Field(description="Maintained by follow-ups")
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    child: ChildSummary


CASE_COLUMNS = tuple(name for name in CaseRead.model_fields if name not in {"concerns", "child"})


class TransitionCreate(StrictBody):
    to_status: CaseStatus
    note: str | None = NOTE


class ClosureRequestCreate(StrictBody):
    reason: ClosureReason
    closed_on: PastDate = Field(description="Not in the future, not before the case was opened")
    note: str | None = NOTE


class ClosureApproval(StrictBody):
    comment: str | None = NOTE


class ClosureRejection(StrictBody):
    comment: str = Field(min_length=1, max_length=2000, description="Why, for the requester")


class ClosureRequestRead(CaseRecordRead):
    reason: ClosureReason
    closed_on: date
    note: str | None
    status: ClosureRequestStatus
    requested_by: uuid.UUID | None
    decided_by: uuid.UUID | None
    decided_at: datetime | None
    decision_comment: str | None
    created_at: datetime
    updated_at: datetime


class Reopening(StrictBody):
    note: str = Field(min_length=1, max_length=2000, description="Why the case is reopened")
    to_status: CaseStatus = Field(
        default=CaseStatus.assessment, description="assessment (default) or intake"
    )

    @field_validator("to_status")
    @classmethod
    def _reopen_target(cls, value: CaseStatus) -> CaseStatus:
        if value not in REOPEN_TARGETS:
            raise ValueError("a case is reopened to assessment or intake")
        return value


class AccessLogEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    at: datetime
    action: str
    actor_user_id: uuid.UUID | None
    actor_api_key_id: uuid.UUID | None
    request_id: str | None
