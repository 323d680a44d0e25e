from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Index, String
from sqlmodel import Field

from ovc_api.models_base import (
    CountedRecord,
    enum_field,
    optional_text,
    optional_time,
    stamp_indexes,
    user_ref,
)

Sex = StrEnum("Sex", "female male other")

BirthRegistration = StrEnum(
    "BirthRegistration", "birth_certificate registered_no_certificate not_registered unknown"
)

Disability = StrEnum(
    "Disability", "none physical intellectual sensory psychosocial multiple unknown"
)

Schooling = StrEnum(
    "Schooling", "enrolled not_enrolled dropped_out never_attended completed not_school_age unknown"
)

CareArrangement = StrEnum(
    "CareArrangement",
    "parents single_parent kinship_care foster_care residential_care independent_living other",
)


class Child(CountedRecord, table=True):
    """A child an organisation protects. Names are stored NFC-normalised; `search_text`
    holds every name part casefolded, so a search in either script matches any part."""

    __tablename__ = "children"
    __table_args__ = (
        *stamp_indexes("children", "created", "updated"),
        Index("ix_children_org_location", "organisation_id", "province", "district", "commune"),
    )

    family_id: uuid.UUID | None = Field(default=None, foreign_key="families.id", index=True)
    given_name_latin: str | None = optional_text(100)
    family_name_latin: str | None = optional_text(100)
    given_name_khmer: str | None = optional_text(100)
    family_name_khmer: str | None = optional_text(100)
    search_text: str = Field(default="", sa_type=String(500))
    sex: str = enum_field(16)
    date_of_birth: date | None = Field(default=None)
    birth_date_estimated: bool = Field(default=False)
    birth_registration: str = enum_field(32, default=BirthRegistration.unknown.value)
    disability: str = enum_field(24, default=Disability.none.value)
    schooling_status: str = enum_field(24, default=Schooling.unknown.value)
    care_arrangement: str = enum_field(24)
    province: str = enum_field(32)
    district: str | None = optional_text(100)
    commune: str | None = optional_text(100)
    village: str | None = optional_text(100)
    created_by: uuid.UUID | None = user_ref()
    archived_at: datetime | None = optional_time()
