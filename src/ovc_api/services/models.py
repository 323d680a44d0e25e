from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import Index, Numeric, UniqueConstraint
from sqlmodel import Field

from ovc_api.models_base import (
    CountedRecord,
    TenantRow,
    created_field,
    enum_field,
    optional_text,
    stamp_indexes,
    user_ref,
)

ServiceType = StrEnum(
    "ServiceType",
    "emergency_food_package counselling medical_treatment birth_certificate_support "
    "id_poor_card_support school_enrolment_support education_support "
    "vocational_training positive_parenting income_generation kinship_care_support "
    "family_reunification_support case_conference other",
)


class Currency(StrEnum):
    khr = "KHR"
    usd = "USD"
    thb = "THB"


class OrganisationService(TenantRow, table=True):
    """A service an organisation offers in a province: one row each, for the directory."""

    __tablename__ = "organisation_services"
    __table_args__ = (
        UniqueConstraint("organisation_id", "service_type", "province"),
        Index("ix_organisation_services_lookup", "service_type", "province"),
    )
    service_type: str = enum_field(40)
    province: str = enum_field(32)
    description: str | None = optional_text(500)
    created_at: datetime = created_field()


class ServiceDelivery(CountedRecord, table=True):
    """A service delivered to a case's child or to a family, by the recording organisation.

    Under an accepted referral the receiver records services against the sender's case
    (`referral_id` set); the sender then sees them too.
    """

    __tablename__ = "service_deliveries"
    __table_args__ = (
        Index("ix_service_deliveries_org_delivered", "organisation_id", "delivered_on", "id"),
        Index("ix_service_deliveries_org_type", "organisation_id", "service_type", "delivered_on"),
        *stamp_indexes("service_deliveries", "updated"),
    )

    case_id: uuid.UUID | None = Field(default=None, foreign_key="cases.id", index=True)
    child_id: uuid.UUID | None = Field(default=None, foreign_key="children.id", index=True)
    family_id: uuid.UUID | None = Field(default=None, foreign_key="families.id", index=True)
    referral_id: uuid.UUID | None = Field(default=None, foreign_key="referrals.id", index=True)
    service_type: str = enum_field(40)
    other_description: str | None = optional_text(300)
    delivered_on: date
    quantity: Decimal | None = Field(default=None, sa_type=Numeric(12, 2))
    unit: str | None = optional_text(40)
    cost: Decimal | None = Field(default=None, sa_type=Numeric(14, 2))
    currency: str | None = enum_field(3, default=None, nullable=True)
    province: str = enum_field(32)
    district: str | None = optional_text(100)
    notes: str | None = optional_text(2000)
    recorded_by: uuid.UUID | None = user_ref()
