from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator

from ovc_api.cases.models import RiskLevel
from ovc_api.families.models import Relation
from ovc_api.schemas_common import PastDate, RecordRead, StrictBody, each_once
from ovc_api.services.models import ServiceType
from ovc_api.sharing.models import ConsentMethod, ReferralStatus, Urgency


class Consent(StrictBody):
    """The family's consent: required, no consent, no referral."""

    given_by: str = Field(min_length=1, max_length=200, description="Who consented")
    relation: Relation | None = Field(
        default=None, description="Their relation to the child (omit when the child consented)"
    )
    given_on: PastDate
    method: ConsentMethod


class ReferralCreate(StrictBody):
    case_id: uuid.UUID
    receiving_organisation_id: uuid.UUID
    services_requested: list[ServiceType] = Field(min_length=1, max_length=len(ServiceType))
    reason: str = Field(min_length=1, max_length=2000)
    urgency: Urgency = Urgency.routine
    consent: Consent

    _unique = field_validator("services_requested")(each_once("services must not repeat"))


class DecisionBody(StrictBody):
    note: str | None = Field(default=None, max_length=2000)


class DeclineBody(StrictBody):
    reason: str = Field(min_length=1, max_length=2000)


class ReceiverCaseCreate(StrictBody):
    assigned_to: uuid.UUID | None = None
    risk_level: RiskLevel | None = None
    opened_on: date | None = None


class ReferralSummary(BaseModel):
    """What the consent covers: all the receiver sees until it accepts."""

    child_first_name: str | None
    age: int | None
    sex: str
    province: str
    district: str | None
    concerns: list[str]
    services_requested: list[ServiceType]


class ReferralRead(RecordRead):
    direction: str = Field(description="`sent` or `received`, from the caller's side")
    organisation_id: uuid.UUID = Field(description="The sending organisation")
    receiving_organisation_id: uuid.UUID
    status: ReferralStatus
    urgency: Urgency
    services_requested: list[ServiceType]
    reason: str | None = Field(description="Hidden from the receiver while pending")
    summary: ReferralSummary
    consent_given_by: str | None = Field(description="Hidden from the receiver while pending")
    consent_relation: str | None = Field(description="Hidden from the receiver while pending")
    consent_given_on: date
    consent_method: ConsentMethod
    decision_reason: str | None
    decided_at: datetime | None
    closed_at: datetime | None
    case_id: uuid.UUID | None = Field(description="Hidden from the receiver until it accepts")
    child_id: uuid.UUID | None = Field(description="Hidden from the receiver until it accepts")
    family_id: uuid.UUID | None = Field(description="Hidden from the receiver until it accepts")
    receiver_case_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


def summary_of(raw: dict[str, Any]) -> ReferralSummary:
    return ReferralSummary.model_validate(raw)
