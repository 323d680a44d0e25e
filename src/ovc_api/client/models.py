"""Typed views of the main resources, written by hand for the fields scripts use.

They are deliberately lenient: codes (sex, status, province...) are plain strings, so a value
added to the API later does not break an old script, and fields the model does not name are
kept (`model_extra`). `raw` is always the JSON object exactly as the server sent it, and
`etag` the ETag of a record read or created singly (send it back as If-Match to update).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, PrivateAttr

__all__ = ["Case", "Child", "Family", "Referral", "Resource", "Service"]


class Resource(BaseModel):
    """A record of the API: named, typed fields plus the untouched JSON in `raw`."""

    model_config = ConfigDict(extra="allow")

    id: uuid.UUID
    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)
    _etag: str | None = PrivateAttr(default=None)

    @classmethod
    def from_api(cls, data: dict[str, Any], etag: str | None = None) -> Self:
        record = cls.model_validate(data)
        record._raw = data
        record._etag = etag
        return record

    @property
    def raw(self) -> dict[str, Any]:
        return self._raw

    @property
    def etag(self) -> str | None:
        return self._etag


class Child(Resource):
    organisation_id: uuid.UUID
    family_id: uuid.UUID | None = None
    given_name_latin: str | None = None
    family_name_latin: str | None = None
    given_name_khmer: str | None = None
    family_name_khmer: str | None = None
    sex: str
    date_of_birth: date | None = None
    birth_date_estimated: bool = False
    birth_registration: str | None = None
    disability: str | None = None
    schooling_status: str | None = None
    care_arrangement: str
    province: str
    district: str | None = None
    commune: str | None = None
    village: str | None = None
    archived_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class Family(Resource):
    organisation_id: uuid.UUID
    name: str
    id_poor_status: str | None = None
    income_sources: list[str] = []
    province: str
    district: str | None = None
    commune: str | None = None
    village: str | None = None
    archived_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class Case(Resource):
    organisation_id: uuid.UUID
    child_id: uuid.UUID
    family_id: uuid.UUID | None = None
    assigned_to: uuid.UUID | None = None
    referral_source: str
    concerns: list[str] = []
    risk_level: str
    status: str
    opened_on: date
    closed_on: date | None = None
    closure_reason: str | None = None
    summary: str | None = None
    last_contact_on: date | None = None
    created_at: datetime
    updated_at: datetime
    # The child's summary as the API nests it (names, sex, age...): a plain dict.
    child: dict[str, Any] = {}


class Service(Resource):
    organisation_id: uuid.UUID
    service_type: str
    delivered_on: date
    case_id: uuid.UUID | None = None
    child_id: uuid.UUID | None = None
    family_id: uuid.UUID | None = None
    referral_id: uuid.UUID | None = None
    quantity: Decimal | None = None
    unit: str | None = None
    cost: Decimal | None = None
    currency: str | None = None
    province: str
    district: str | None = None
    notes: str | None = None
    created_at: datetime
    updated_at: datetime


class Referral(Resource):
    direction: str
    organisation_id: uuid.UUID
    receiving_organisation_id: uuid.UUID
    status: str
    urgency: str
    services_requested: list[str] = []
    reason: str | None = None  # hidden from the receiver while pending
    case_id: uuid.UUID | None = None
    child_id: uuid.UUID | None = None
    family_id: uuid.UUID | None = None
    receiver_case_id: uuid.UUID | None = None
    decided_at: datetime | None = None
    closed_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    # What the receiver is allowed to see of the child: a plain dict.
    summary: dict[str, Any] = {}
