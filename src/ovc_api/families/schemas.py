"""Request and response bodies of households and their members."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from ovc_api.children.models import Sex
from ovc_api.families.models import IdPoorStatus, IncomeSource, Relation
from ovc_api.geography import Province
from ovc_api.schemas_common import MAX_TEXT, Location, StrictBody
from ovc_api.text import nfc

MAX_MEMBERS = 30
MAX_MEMBER_NOTES = 2000
NOT_MIGRATED = "only applies to a member who migrated (set migrated=true)"


def _no_null(value: Any) -> Any:
    """PATCH: an explicit null on a required field is a mistake, not 'leave unchanged'."""
    if value is None:
        raise ValueError("cannot be null: omit the field to leave it unchanged")
    return value


def _distinct(sources: list[IncomeSource] | None) -> list[IncomeSource] | None:
    if sources is not None and len(set(sources)) != len(sources):
        raise ValueError("each income source may be listed once")
    return sources


def _only_when_migrated(value: str | None, info: ValidationInfo) -> str | None:
    # `migrated` is declared first, so it is already validated (False when omitted on create).
    if value is not None and info.data.get("migrated") is False:
        raise ValueError(NOT_MIGRATED)
    return value


class MemberCreate(StrictBody):
    name: str = Field(min_length=1, max_length=200)
    relation: Relation = Field(description="Relation to the child(ren) of the household")
    sex: Sex
    age: int | None = Field(default=None, ge=0, le=120, description="In years; may be estimated")
    is_caregiver: bool = False
    migrated: bool = Field(default=False, description="Living away for work (e.g. in Thailand)")
    migration_destination: str | None = Field(
        default=None, max_length=200, description="Only when migrated"
    )
    notes: str | None = Field(default=None, max_length=MAX_MEMBER_NOTES)

    _name = field_validator("name")(nfc)
    _destination = field_validator("migration_destination")(_only_when_migrated)


class MemberUpdate(StrictBody):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    relation: Relation | None = None
    sex: Sex | None = None
    age: int | None = Field(default=None, ge=0, le=120)
    is_caregiver: bool | None = None
    migrated: bool | None = Field(
        default=None, description="false also clears migration_destination"
    )
    migration_destination: str | None = Field(default=None, max_length=200)
    notes: str | None = Field(default=None, max_length=MAX_MEMBER_NOTES)
    archived: bool | None = Field(
        default=None, description="true: the member left the household (restore with false)"
    )

    _required = field_validator("name", "relation", "sex", "is_caregiver", "migrated")(_no_null)
    _name = field_validator("name")(nfc)
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
    name: str = Field(
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

    _name = field_validator("name")(nfc)
    _sources = field_validator("income_sources")(_distinct)


class FamilyUpdate(StrictBody):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    id_poor_status: IdPoorStatus | None = None
    income_sources: list[IncomeSource] | None = Field(default=None, max_length=len(IncomeSource))
    province: Province | None = None
    district: str | None = Field(default=None, max_length=100)
    commune: str | None = Field(default=None, max_length=100)
    village: str | None = Field(default=None, max_length=100)
    notes: str | None = Field(default=None, max_length=MAX_TEXT)
    archived: bool | None = Field(default=None, description="Archive (or restore); never deleted")

    _required = field_validator("name", "id_poor_status", "income_sources", "province")(_no_null)
    _name = field_validator("name")(nfc)
    _sources = field_validator("income_sources")(_distinct)


class FamilyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    organisation_id: uuid.UUID
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
