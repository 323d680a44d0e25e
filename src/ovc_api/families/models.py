from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlmodel import Field

from ovc_api.models_base import (
    CountedRecord,
    RevisionedRecord,
    enum_field,
    json_list,
    optional_text,
    optional_time,
    stamp_indexes,
    text_field,
    user_ref,
)


class IdPoorStatus(StrEnum):
    """Cambodia's ID Poor programme: level 1 (very poor), level 2 (poor), or none."""

    level_1 = "level_1"
    level_2 = "level_2"
    none = "none"
    unknown = "unknown"


IncomeSource = StrEnum(
    "IncomeSource",
    "farming fishing daily_labour remittances small_business salaried_work "
    "social_assistance none other",
)

Relation = StrEnum(
    "Relation",
    "mother father stepmother stepfather grandmother grandfather aunt uncle sibling "
    "cousin other_relative foster_parent neighbour other",
)


class Family(CountedRecord, table=True):
    """A household: its members, economic situation and location."""

    __tablename__ = "families"
    __table_args__ = stamp_indexes("families", "created", "updated")

    name: str = text_field(200)
    id_poor_status: str = enum_field(16, default=IdPoorStatus.unknown.value)
    income_sources: list[str] = json_list()
    province: str = enum_field(32)
    district: str | None = optional_text(100)
    commune: str | None = optional_text(100)
    village: str | None = optional_text(100)
    notes: str | None = optional_text(4000)
    created_by: uuid.UUID | None = user_ref()
    archived_at: datetime | None = optional_time()


class FamilyMember(RevisionedRecord, table=True):
    __tablename__ = "family_members"

    family_id: uuid.UUID = Field(foreign_key="families.id", index=True)
    name: str = text_field(200)
    relation: str = enum_field(24)
    sex: str = enum_field(16)
    age: int | None = Field(default=None)
    is_caregiver: bool = Field(default=False)
    migrated: bool = Field(default=False)
    migration_destination: str | None = optional_text(200)
    notes: str | None = optional_text(2000)
    archived_at: datetime | None = optional_time()
