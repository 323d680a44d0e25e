"""Column helpers shared by every table model."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from ovc_api.db import UTCDateTime, new_id, utcnow

JSONType = JSON().with_variant(JSONB(), "postgresql")


def id_field() -> Any:
    return Field(default_factory=new_id, primary_key=True)


def created_field() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def enum_field(length: int = 40, **kwargs: Any) -> Any:
    """Enumerations are stored as their stable lowercase code."""
    return Field(sa_type=String(length), **kwargs)


class Versioned(SQLModel):
    """Rows a client may edit: `version` backs the ETag, `updated_at` the `updated_since` filter."""

    created_at: datetime = created_field()
    updated_at: datetime = created_field()
    version: int = Field(default=1, nullable=False)


def organisation_fk(**kwargs: Any) -> Any:
    return Field(foreign_key="organisations.id", nullable=False, **kwargs)


# Cell-key perturbation of network statistics (ovc_api.stats.perturbation): every counted
# record carries a permanent random key, never shown by the API.
RECORD_KEY_LIMIT = 2**31


def new_record_key() -> int:
    return secrets.randbelow(RECORD_KEY_LIMIT)


def record_key_field() -> Any:
    """A random key drawn once per record: a network cell's noise derives from its records'."""
    return Field(default_factory=new_record_key, nullable=False)
