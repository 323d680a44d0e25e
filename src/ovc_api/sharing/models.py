from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index
from sqlmodel import Field

from ovc_api.models_base import (
    CountedRecord,
    enum_field,
    json_dict,
    json_list,
    optional_text,
    optional_time,
    stamp_indexes,
    text_field,
    user_ref,
)

ReferralStatus = StrEnum("ReferralStatus", "pending accepted declined withdrawn completed")

Urgency = StrEnum("Urgency", "routine urgent emergency")

ConsentMethod = StrEnum("ConsentMethod", "verbal written thumbprint")


class Referral(CountedRecord, table=True):
    """A request from the owning (sending) organisation to another to take on a child or
    deliver services. While accepted, the receiver may read the referred child's and family's
    core records and the case summary, and nothing else."""

    __tablename__ = "referrals"
    __table_args__ = (
        *stamp_indexes("referrals", "created"),
        Index("ix_referrals_receiver", "receiving_organisation_id", "status", "created_at"),
    )

    receiving_organisation_id: uuid.UUID = Field(foreign_key="organisations.id")
    case_id: uuid.UUID = Field(foreign_key="cases.id", index=True)
    child_id: uuid.UUID = Field(foreign_key="children.id", index=True)
    family_id: uuid.UUID | None = Field(default=None, foreign_key="families.id", index=True)
    services_requested: list[str] = json_list()
    reason: str = text_field(2000)
    urgency: str = enum_field(16)
    consent_given_by: str = text_field(200)
    consent_relation: str = enum_field(24)
    consent_given_on: date
    consent_method: str = enum_field(16)
    status: str = enum_field(16, default=ReferralStatus.pending.value)
    # What the consent covers, frozen at sending: all the receiver sees while pending.
    summary: dict[str, Any] = json_dict()
    decision_reason: str | None = optional_text(2000)
    decided_by: uuid.UUID | None = user_ref()
    decided_at: datetime | None = optional_time()
    closed_at: datetime | None = optional_time()
    receiver_case_id: uuid.UUID | None = Field(default=None, foreign_key="cases.id")
    created_by: uuid.UUID | None = user_ref()
