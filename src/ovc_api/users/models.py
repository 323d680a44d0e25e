from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import String
from sqlmodel import Field

from ovc_api.db import UTCDateTime
from ovc_api.models_base import Versioned, created_field, enum_field, id_field, organisation_fk


class User(Versioned, table=True):
    """A person who logs in. Tenant-owned: visible to their own organisation only."""

    __tablename__ = "users"

    id: uuid.UUID = id_field()
    organisation_id: uuid.UUID = organisation_fk(index=True)
    email: str = Field(sa_type=String(254), unique=True)
    full_name: str = Field(sa_type=String(200))
    role: str = enum_field(24)
    password_hash: str = Field(sa_type=String(300))
    active: bool = Field(default=True)
    must_change_password: bool = Field(default=False)
    password_changed_at: datetime = created_field()
    last_login_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
