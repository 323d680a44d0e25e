from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, Index, String
from sqlmodel import Field

from ovc_api.db import UTCDateTime
from ovc_api.models_base import (
    JSONType,
    Versioned,
    enum_field,
    id_field,
    organisation_fk,
    record_key_field,
)


class ReferralStatus(StrEnum):
    pending = "pending"
    accepted = "accepted"
    declined = "declined"
    withdrawn = "withdrawn"
    completed = "completed"


class Urgency(StrEnum):
    routine = "routine"
    urgent = "urgent"
    emergency = "emergency"


class ConsentMethod(StrEnum):
    verbal = "verbal"
    written = "written"
    thumbprint = "thumbprint"


class Referral(Versioned, table=True):
    """A request from the owning (sending) organisation to another to take on a child or
    deliver services. While accepted, the receiver may read the referred child's and family's
    core records and the case summary, and nothing else."""

    __tablename__ = "referrals"
    __table_args__ = (
        Index("ix_referrals_org_created", "organisation_id", "created_at", "id"),
        Index("ix_referrals_receiver", "receiving_organisation_id", "status", "created_at"),
    )
    __revisioned__ = True

    id: uuid.UUID = id_field()
    organisation_id: uuid.UUID = organisation_fk()
    record_key: int = record_key_field()
    receiving_organisation_id: uuid.UUID = Field(foreign_key="organisations.id")
    case_id: uuid.UUID = Field(foreign_key="cases.id", index=True)
    child_id: uuid.UUID = Field(foreign_key="children.id", index=True)
    family_id: uuid.UUID | None = Field(default=None, foreign_key="families.id", index=True)
    services_requested: list[str] = Field(
        default_factory=list, sa_column=Column(JSONType, nullable=False)
    )
    reason: str = Field(sa_type=String(2000))
    urgency: str = enum_field(16)
    consent_given_by: str = Field(sa_type=String(200))
    consent_relation: str = enum_field(24)
    consent_given_on: date
    consent_method: str = enum_field(16)
    status: str = enum_field(16, default=ReferralStatus.pending.value)
    # What the consent covers, frozen at sending: all the receiver sees while pending.
    summary: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSONType, nullable=False)
    )
    decision_reason: str | None = Field(default=None, sa_type=String(2000))
    decided_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    receiver_case_id: uuid.UUID | None = Field(default=None, foreign_key="cases.id")
    created_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
