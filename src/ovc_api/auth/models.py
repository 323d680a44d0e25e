from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import String
from sqlmodel import Field, SQLModel

from ovc_api.db import UTCDateTime
from ovc_api.models_base import (
    created_field,
    id_field,
    optional_text,
    optional_time,
    organisation_fk,
)


class AuthSession(SQLModel, table=True):
    """One login: its refresh tokens form a chain, its access tokens name it (`sid`).

    Revoking the session (logout, refresh-token reuse, password change) ends every token of
    the chain at once, access tokens included.
    """

    __tablename__ = "auth_sessions"

    id: uuid.UUID = id_field()
    user_id: uuid.UUID = Field(foreign_key="users.id", index=True)
    organisation_id: uuid.UUID = organisation_fk(index=True)
    created_at: datetime = created_field()
    expires_at: datetime = Field(sa_type=UTCDateTime)
    last_refreshed_at: datetime | None = optional_time()
    revoked_at: datetime | None = optional_time()
    revoked_reason: str | None = optional_text(40)


class RefreshToken(SQLModel, table=True):
    __tablename__ = "refresh_tokens"

    id: uuid.UUID = id_field()
    session_id: uuid.UUID = Field(foreign_key="auth_sessions.id", index=True)
    organisation_id: uuid.UUID = organisation_fk()
    token_digest: str = Field(sa_type=String(64), unique=True)
    created_at: datetime = created_field()
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = optional_time()


class LoginThrottle(SQLModel, table=True):
    """Failed-login counters, shared by every worker process through the database."""

    __tablename__ = "login_throttle"

    key: str = Field(sa_type=String(300), primary_key=True)
    failures: int = Field(default=0)
    window_started_at: datetime = created_field()
    locked_until: datetime | None = optional_time()
