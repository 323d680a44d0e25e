from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

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


class IdPoorStatus(StrEnum):
    """Cambodia's ID Poor programme: level 1 (very poor), level 2 (poor), or none."""

    level_1 = "level_1"
    level_2 = "level_2"
    none = "none"
    unknown = "unknown"


class IncomeSource(StrEnum):
    farming = "farming"
    fishing = "fishing"
    daily_labour = "daily_labour"
    remittances = "remittances"
    small_business = "small_business"
    salaried_work = "salaried_work"
    social_assistance = "social_assistance"
    none = "none"
    other = "other"


class Relation(StrEnum):
    mother = "mother"
    father = "father"
    stepmother = "stepmother"
    stepfather = "stepfather"
    grandmother = "grandmother"
    grandfather = "grandfather"
    aunt = "aunt"
    uncle = "uncle"
    sibling = "sibling"
    cousin = "cousin"
    other_relative = "other_relative"
    foster_parent = "foster_parent"
    neighbour = "neighbour"
    other = "other"


class Family(Versioned, table=True):
    """A household: its members, economic situation and location."""

    __tablename__ = "families"
    __table_args__ = (
        Index("ix_families_org_created", "organisation_id", "created_at", "id"),
        Index("ix_families_org_updated", "organisation_id", "updated_at", "id"),
    )
    __revisioned__ = True

    id: uuid.UUID = id_field()
    organisation_id: uuid.UUID = organisation_fk()
    record_key: int = record_key_field()
    name: str = Field(sa_type=String(200))
    id_poor_status: str = enum_field(16, default=IdPoorStatus.unknown.value)
    income_sources: list[str] = Field(
        default_factory=list, sa_column=Column(JSONType, nullable=False)
    )
    province: str = enum_field(32)
    district: str | None = Field(default=None, sa_type=String(100))
    commune: str | None = Field(default=None, sa_type=String(100))
    village: str | None = Field(default=None, sa_type=String(100))
    notes: str | None = Field(default=None, sa_type=String(4000))
    created_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    archived_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class FamilyMember(Versioned, table=True):
    __tablename__ = "family_members"
    __revisioned__ = True

    id: uuid.UUID = id_field()
    organisation_id: uuid.UUID = organisation_fk()
    family_id: uuid.UUID = Field(foreign_key="families.id", index=True)
    name: str = Field(sa_type=String(200))
    relation: str = enum_field(24)
    sex: str = enum_field(16)
    age: int | None = Field(default=None)
    is_caregiver: bool = Field(default=False)
    migrated: bool = Field(default=False)
    migration_destination: str | None = Field(default=None, sa_type=String(200))
    notes: str | None = Field(default=None, sa_type=String(2000))
    archived_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
