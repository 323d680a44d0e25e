"""Request and response bodies of households and their members."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from ovc_api.children.models import Sex
from ovc_api.families.models import IdPoorStatus, IncomeSource, Relation
from ovc_api.geography import Province
from ovc_api.schemas_common import (
    MAX_TEXT,
    Location,
    Nfc,
    OwnedRecordRead,
    Patch,
    StrictBody,
    each_once,
)

MAX_MEMBERS = 30
MAX_MEMBER_NOTES = 2000
NOT_MIGRATED = "only applies to a member who migrated (set migrated=true)"


_distinct = each_once("each income source may be listed once")


def _only_when_migrated(value: str | None, info: ValidationInfo) -> str | None:
    # `migrated` is declared first, so it is already validated (False when omitted on create).
    if value is not None and info.data.get("migrated") is False:
        raise ValueError(NOT_MIGRATED)
    return value


class MemberCreate(StrictBody):
    name: Nfc[str] = Field(min_length=1, max_length=200)
    relation: Relation = Field(description="Relation to the child(ren) of the household")
    sex: Sex
    age: int | None = Field(default=None, ge=0, le=120, description="In years; may be estimated")
    is_caregiver: bool = False
    migrated: bool = Field(default=False, description="Living away for work (e.g. in Thailand)")
    migration_destination: str | None = Field(
        default=None, max_length=200, description="Only when migrated"
    )
    notes: str | None = Field(default=None, max_length=MAX_MEMBER_NOTES)

    _destination = field_validator("migration_destination")(_only_when_migrated)


class MemberUpdate(StrictBody):
    name: Nfc[Patch[str]] = Field(default=None, min_length=1, max_length=200)
    relation: Patch[Relation] = None
    sex: Patch[Sex] = None
    age: int | None = Field(default=None, ge=0, le=120)
    is_caregiver: Patch[bool] = None
    migrated: Patch[bool] = Field(
        default=None, description="false also clears migration_destination"
    )
    migration_destination: str | None = Field(default=None, max_length=200)
    notes: str | None = Field(default=None, max_length=MAX_MEMBER_NOTES)
    archived: bool | None = Field(
        default=None, description="true: the member left the household (restore with false)"
    )

    _destination = field_validator("migration_destination")(_only_when_migrated)


class MemberRead(BaseModel):
    id: uuid.UUID
    family_id: uuid.UUID
    name: str
    relation: Relation
    sex: Sex
    age: int | None
    is_caregiver: bool
    migrated: bool
    migration_destination: str | None
    notes: str | None
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime
    etag: str = Field(description="Send it as If-Match to correct this member")


class FamilyCreate(StrictBody, Location):
    name: Nfc[str] = Field(
        min_length=1, max_length=200, description="Household label, e.g. 'Household of Yeay Phan'"
    )
    id_poor_status: IdPoorStatus = IdPoorStatus.unknown
    income_sources: list[IncomeSource] = Field(
        default_factory=list, max_length=len(IncomeSource), description="Each source at most once"
    )
    notes: str | None = Field(default=None, max_length=MAX_TEXT)
    members: list[MemberCreate] = Field(
        default_factory=list,
        max_length=MAX_MEMBERS,
        description="Members recorded with the household (more can be added later)",
    )

    _sources = field_validator("income_sources")(_distinct)


class FamilyUpdate(StrictBody):
    name: Nfc[Patch[str]] = Field(default=None, min_length=1, max_length=200)
    id_poor_status: Patch[IdPoorStatus] = None
    income_sources: Patch[list[IncomeSource]] = Field(default=None, max_length=len(IncomeSource))
    province: Patch[Province] = None
    district: str | None = Field(default=None, max_length=100)
    commune: str | None = Field(default=None, max_length=100)
    village: str | None = Field(default=None, max_length=100)
    notes: str | None = Field(default=None, max_length=MAX_TEXT)
    archived: bool | None = Field(default=None, description="Archive (or restore); never deleted")

    _sources = field_validator("income_sources")(_distinct)


class FamilyRead(OwnedRecordRead):
    name: str
    id_poor_status: IdPoorStatus
    income_sources: list[IncomeSource]
    province: Province
    district: str | None
    commune: str | None
    village: str | None
    notes: str | None
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime


class FamilyDetail(FamilyRead):
    members: list[MemberRead] = Field(description="Current members (those who left are archived)")
    child_ids: list[uuid.UUID] = Field(description="Children of this household the caller sees")
