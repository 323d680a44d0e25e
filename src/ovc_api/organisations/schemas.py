from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from ovc_api.geography import Province
from ovc_api.identity.models import OrganisationKind
from ovc_api.schemas_common import RecordRead


class OrganisationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=2, max_length=200)
    short_name: str = Field(min_length=1, max_length=40)
    kind: OrganisationKind
    provinces: list[Province] = Field(default_factory=list, max_length=25)
    contact_email: EmailStr | None = None
    contact_phone: str | None = Field(default=None, max_length=40)
    address: str | None = Field(default=None, max_length=500)
    website: str | None = Field(default=None, max_length=300)


class OrganisationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=2, max_length=200)
    short_name: str | None = Field(default=None, min_length=1, max_length=40)
    kind: OrganisationKind | None = None
    provinces: list[Province] | None = Field(default=None, max_length=25)
    contact_email: EmailStr | None = None
    contact_phone: str | None = Field(default=None, max_length=40)
    address: str | None = Field(default=None, max_length=500)
    website: str | None = Field(default=None, max_length=300)
    active: bool | None = Field(
        default=None, description="false deactivates: its users' logins and tokens stop"
    )


class OrganisationRead(RecordRead):
    name: str
    short_name: str
    kind: OrganisationKind
    provinces: list[Province]
    contact_email: str | None
    contact_phone: str | None
    address: str | None
    website: str | None
    active: bool
    created_at: datetime
    updated_at: datetime


class ProvinceRead(BaseModel):
    code: Province
    official_code: str
    name: str
