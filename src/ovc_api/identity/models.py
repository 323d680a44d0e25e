"""The records a credential resolves to: the organisation, the user, the API key."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import String
from sqlmodel import Field

from ovc_api.models_base import (
    OwnedRecord,
    TenantRow,
    Versioned,
    created_field,
    enum_field,
    id_field,
    json_list,
    optional_text,
    optional_time,
    organisation_fk,
    text_field,
)

OrganisationKind = StrEnum("OrganisationKind", "ngo government residential_care other")


class Organisation(Versioned, table=True):
    """A member of the network. Not tenant-owned: every member may read active ones."""

    __tablename__ = "organisations"

    id: uuid.UUID = id_field()
    name: str = Field(sa_type=String(200), unique=True)
    short_name: str = Field(sa_type=String(40), unique=True)
    kind: str = enum_field(24)
    provinces: list[str] = json_list()
    contact_email: str | None = optional_text(254)
    contact_phone: str | None = optional_text(40)
    address: str | None = optional_text(500)
    website: str | None = optional_text(300)
    active: bool = Field(default=True)


class User(OwnedRecord, table=True):
    """A person who logs in. Tenant-owned: visible to their own organisation only."""

    __tablename__ = "users"

    organisation_id: uuid.UUID = organisation_fk(index=True)  # also looked up alone
    email: str = Field(sa_type=String(254), unique=True)
    full_name: str = text_field(200)
    role: str = enum_field(24)
    password_hash: str = text_field(300)
    active: bool = Field(default=True)
    must_change_password: bool = Field(default=False)
    password_changed_at: datetime = created_field()
    last_login_at: datetime | None = optional_time()
    # The last time the network administrator reset this (member organisation's) user's
    # password: told to the user at their next login and in /users/me.
    password_reset_by_network_at: datetime | None = optional_time()


class ApiKey(TenantRow, table=True):
    """A named service account of the organisation (the label is its name); the secret itself
    is never stored. A person answers for it (`responsible_user_id`): at each use the key holds
    at most that person's current scopes, and is suspended while they are deactivated."""

    __tablename__ = "api_keys"

    organisation_id: uuid.UUID = organisation_fk(index=True)  # also looked up alone
    label: str = text_field(120)
    prefix: str = Field(sa_type=String(12), unique=True)
    secret_digest: str = text_field(64)
    scopes: list[str] = json_list()
    created_by: uuid.UUID = Field(foreign_key="users.id")
    responsible_user_id: uuid.UUID = Field(foreign_key="users.id", index=True)
    created_at: datetime = created_field()
    expires_at: datetime | None = optional_time()
    revoked_at: datetime | None = optional_time()
    last_used_at: datetime | None = optional_time()
