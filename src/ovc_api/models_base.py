"""Column helpers and record bases shared by every table model.

A column that means the same in several tables is declared here once: the tenancy key, the
ETag version and timestamps, the statistics' record key, "who did it" and "when" columns,
bounded text and JSON documents. The bases only ever add columns at the front of a table
(pydantic orders inherited fields first), so each table keeps its column order.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, String
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


def text_field(length: int) -> Any:
    """A required string of at most `length` characters."""
    return Field(sa_type=String(length))


def optional_text(length: int) -> Any:
    """A NULL-able string of at most `length` characters."""
    return Field(default=None, sa_type=String(length))


def optional_time() -> Any:
    """A NULL-able timestamp (UTC): when something happened, if it has."""
    return Field(default=None, sa_type=UTCDateTime)


def user_ref() -> Any:
    """A user: who did something, or who is assigned (NULL when an API key or the system
    did it, or nobody is)."""
    return Field(default=None, foreign_key="users.id")


def json_list() -> Any:
    """A JSON array, never NULL (empty by default)."""
    return Field(default_factory=list, sa_column=Column(JSONType, nullable=False))


def json_dict() -> Any:
    """A JSON object, never NULL (empty by default)."""
    return Field(default_factory=dict, sa_column=Column(JSONType, nullable=False))


def organisation_fk(**kwargs: Any) -> Any:
    return Field(foreign_key="organisations.id", nullable=False, **kwargs)


def stamp_indexes(table: str, *stamps: str) -> tuple[Index, ...]:
    """Keyset-pagination indexes of a tenant table by creation or last change:
    `ix_<table>_org_<stamp>` on (organisation_id, <stamp>_at, id)."""
    return tuple(
        Index(f"ix_{table}_org_{stamp}", "organisation_id", f"{stamp}_at", "id") for stamp in stamps
    )


class Versioned(SQLModel):
    """Rows a client may edit: `version` backs the ETag, `updated_at` the `updated_since` filter."""

    created_at: datetime = created_field()
    updated_at: datetime = created_field()
    version: int = Field(default=1, nullable=False)


class TenantRow(SQLModel):
    """A row of one organisation (the tenancy key): its id, then its owner."""

    id: uuid.UUID = id_field()
    organisation_id: uuid.UUID = organisation_fk()


class OwnedRecord(TenantRow, Versioned):
    """An editable tenant row: the ETag columns first, then its id and owner (TenantRow)."""


class RevisionedRecord(OwnedRecord):
    """An owned row whose corrections keep the replaced values (`ovc_api.revisions`)."""

    __revisioned__ = True


# Cell-key perturbation of network statistics (ovc_api.stats.perturbation): every counted
# record carries a permanent random key, never shown by the API.
RECORD_KEY_LIMIT = 2**31


def new_record_key() -> int:
    return secrets.randbelow(RECORD_KEY_LIMIT)


def record_key_field() -> Any:
    """A random key drawn once per record: a network cell's noise derives from its records'."""
    return Field(default_factory=new_record_key, nullable=False)


class CountedRecord(RevisionedRecord):
    """A revisioned row the network statistics count, so it carries its record key."""

    record_key: int = record_key_field()


class CaseRecord(RevisionedRecord):
    """A revisioned row that belongs to one case (casework: assessments, plan, notes...)."""

    case_id: uuid.UUID = Field(foreign_key="cases.id")
