from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, LargeBinary
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine
from sqlmodel import Field, SQLModel

from ovc_api.db import UTCDateTime, new_id, utcnow
from ovc_api.models_base import JSONType, optional_text, text_field, user_ref

UUID_BYTES = 16


class UUIDArray(TypeDecorator[list[uuid.UUID]]):
    """A list of ids stored compactly: `uuid[]` on PostgreSQL, 16 bytes an id on SQLite.

    A list read names every record it returned; stored as JSON text each id cost ~40 bytes
    (and ~2 KB a page of 50), now 16 (the order of the page is kept).
    """

    impl = LargeBinary
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.ARRAY(postgresql.UUID(as_uuid=True)))
        return dialect.type_descriptor(LargeBinary())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        ids = [i if isinstance(i, uuid.UUID) else uuid.UUID(str(i)) for i in value]
        if dialect.name == "postgresql":
            return ids
        return b"".join(i.bytes for i in ids)

    def process_result_value(self, value: Any, dialect: Dialect) -> list[uuid.UUID] | None:
        if value is None:
            return None
        if isinstance(value, (bytes, bytearray, memoryview)):
            raw = bytes(value)
            return [
                uuid.UUID(bytes=raw[i : i + UUID_BYTES]) for i in range(0, len(raw), UUID_BYTES)
            ]
        return [i if isinstance(i, uuid.UUID) else uuid.UUID(str(i)) for i in value]


class AuditEvent(SQLModel, table=True):
    """Who did what to which record, when. Never the values changed, only field names.

    On PostgreSQL the table is partitioned by month of `at` (so whole months can be archived
    and dropped, see `ovc_api.audit.partitions`); the key therefore includes `at`.
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_org_at", "organisation_id", "at", "id"),
        Index("ix_audit_events_resource", "organisation_id", "resource_type", "resource_id", "at"),
        Index("ix_audit_events_case", "organisation_id", "case_id", "at"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    organisation_id: uuid.UUID | None = Field(default=None, foreign_key="organisations.id")
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, primary_key=True)
    actor_user_id: uuid.UUID | None = user_ref()
    actor_api_key_id: uuid.UUID | None = Field(default=None, foreign_key="api_keys.id")
    action: str = text_field(60)
    resource_type: str | None = optional_text(40)
    resource_id: uuid.UUID | None = Field(default=None)
    changed_fields: list[str] | None = Field(default=None, sa_column=Column(JSONType))
    # For list reads: which records the response contained, in the order returned.
    record_ids: list[uuid.UUID] | None = Field(default=None, sa_column=Column(UUIDArray()))
    # The case an event concerns (the case itself or one of its sub-resources).
    case_id: uuid.UUID | None = Field(default=None)
    via_referral_id: uuid.UUID | None = Field(default=None)
    request_id: str | None = optional_text(128)
    client_ip: str | None = optional_text(64)
    detail: str | None = optional_text(200)
