from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, String
from sqlmodel import Field, SQLModel

from ovc_api.db import UTCDateTime
from ovc_api.models_base import JSONType, created_field, id_field, organisation_fk


class ApiKey(SQLModel, table=True):
    """A credential for an integration or script; the secret itself is never stored."""

    __tablename__ = "api_keys"

    id: uuid.UUID = id_field()
    organisation_id: uuid.UUID = organisation_fk(index=True)
    label: str = Field(sa_type=String(120))
    prefix: str = Field(sa_type=String(12), unique=True)
    secret_digest: str = Field(sa_type=String(64))
    scopes: list[str] = Field(default_factory=list, sa_column=Column(JSONType, nullable=False))
    created_by: uuid.UUID = Field(foreign_key="users.id")
    created_at: datetime = created_field()
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
