from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from pydantic import (
    BaseModel,
    Field,
    field_serializer,
    model_validator,
)

from ovc_api.geography import Province
from ovc_api.identity.models import OrganisationKind
from ovc_api.schemas_common import PastDate, RecordRead, StrictBody
from ovc_api.services.models import Currency, ServiceType


class ServiceOffer(StrictBody):
    service_type: ServiceType
    provinces: list[Province] = Field(min_length=1, max_length=len(Province))
    description: str | None = Field(default=None, max_length=500)


class ServiceOffers(StrictBody):
    offers: list[ServiceOffer] = Field(max_length=len(ServiceType))

    @model_validator(mode="after")
    def _one_offer_per_service(self) -> ServiceOffers:
        kinds = [o.service_type for o in self.offers]
        if len(set(kinds)) != len(kinds):
            raise ValueError("list each service type once, with all its provinces")
        return self


class ServiceOfferRead(BaseModel):
    service_type: ServiceType
    provinces: list[Province]
    description: str | None


class DirectoryEntry(BaseModel):
    organisation_id: uuid.UUID
    name: str
    short_name: str
    kind: OrganisationKind
    contact_email: str | None
    contact_phone: str | None
    description: str | None


class _ServiceFields(BaseModel):
    other_description: str | None = Field(default=None, min_length=1, max_length=300)
    quantity: Decimal | None = Field(default=None, gt=0, max_digits=12, decimal_places=2)
    unit: str | None = Field(default=None, min_length=1, max_length=40)
    cost: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=2)
    currency: Currency | None = None
    notes: str | None = Field(default=None, max_length=2000)


class ServiceCreate(StrictBody, _ServiceFields):
    service_type: ServiceType
    delivered_on: PastDate
    case_id: uuid.UUID | None = Field(default=None, description="The case whose child was served")
    family_id: uuid.UUID | None = Field(default=None, description="Or the family served")
    referral_id: uuid.UUID | None = Field(
        default=None, description="Or the accepted referral this service answers (receiver only)"
    )

    @model_validator(mode="after")
    def _consistent(self) -> ServiceCreate:
        if not (self.case_id or self.family_id or self.referral_id):
            raise ValueError("name the case, the family or the referral served")
        if self.referral_id and (self.case_id or self.family_id):
            raise ValueError("a service under a referral names only the referral")
        if (self.service_type is ServiceType.other) != (self.other_description is not None):
            raise ValueError("other_description is required for `other`, and only for it")
        if (self.cost is None) != (self.currency is None):
            raise ValueError("cost and currency go together")
        return self


class ServiceUpdate(StrictBody, _ServiceFields):
    delivered_on: PastDate | None = None


class ServiceRead(RecordRead):
    """Amounts as decimal strings with two places ("25.50"): exact, unlike JSON numbers."""

    organisation_id: uuid.UUID = Field(description="The organisation that delivered it")
    service_type: ServiceType
    other_description: str | None
    delivered_on: date
    case_id: uuid.UUID | None
    child_id: uuid.UUID | None
    family_id: uuid.UUID | None
    referral_id: uuid.UUID | None
    quantity: Decimal | None
    unit: str | None
    cost: Decimal | None
    currency: Currency | None
    province: Province
    district: str | None
    notes: str | None
    created_at: datetime
    updated_at: datetime

    @field_serializer("quantity", "cost")
    def _two_places(self, value: Decimal | None) -> str | None:
        return None if value is None else f"{value:.2f}"
