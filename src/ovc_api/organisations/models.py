from __future__ import annotations

import uuid
from enum import StrEnum

from sqlalchemy import Column, String
from sqlmodel import Field

from ovc_api.models_base import JSONType, Versioned, enum_field, id_field


class OrganisationKind(StrEnum):
    ngo = "ngo"
    government = "government"
    residential_care = "residential_care"
    other = "other"


class Organisation(Versioned, table=True):
    """A member of the network. Not tenant-owned: every member may read active ones."""

    __tablename__ = "organisations"

    id: uuid.UUID = id_field()
    name: str = Field(sa_type=String(200), unique=True)
    short_name: str = Field(sa_type=String(40), unique=True)
    kind: str = enum_field(24)
    provinces: list[str] = Field(default_factory=list, sa_column=Column(JSONType, nullable=False))
    contact_email: str | None = Field(default=None, sa_type=String(254))
    contact_phone: str | None = Field(default=None, sa_type=String(40))
    address: str | None = Field(default=None, sa_type=String(500))
    website: str | None = Field(default=None, sa_type=String(300))
    active: bool = Field(default=True)
