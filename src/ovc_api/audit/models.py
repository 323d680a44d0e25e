from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, Index, String
from sqlmodel import Field, SQLModel

from ovc_api.models_base import JSONType, created_field, id_field


class AuditEvent(SQLModel, table=True):
    """Who did what to which record, when. Never the values changed, only field names."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_org_at", "organisation_id", "at", "id"),
        Index("ix_audit_events_resource", "organisation_id", "resource_type", "resource_id", "at"),
        Index("ix_audit_events_case", "organisation_id", "case_id", "at"),
    )

    id: uuid.UUID = id_field()
    organisation_id: uuid.UUID | None = Field(default=None, foreign_key="organisations.id")
    at: datetime = created_field()
    actor_user_id: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    actor_api_key_id: uuid.UUID | None = Field(default=None, foreign_key="api_keys.id")
    action: str = Field(sa_type=String(60))
    resource_type: str | None = Field(default=None, sa_type=String(40))
    resource_id: uuid.UUID | None = Field(default=None)
    changed_fields: list[str] | None = Field(default=None, sa_column=Column(JSONType))
    # For list reads: which records the response contained.
    record_ids: list[str] | None = Field(default=None, sa_column=Column(JSONType))
    # The case an event concerns (the case itself or one of its sub-resources).
    case_id: uuid.UUID | None = Field(default=None)
    via_referral_id: uuid.UUID | None = Field(default=None)
    request_id: str | None = Field(default=None, sa_type=String(128))
    client_ip: str | None = Field(default=None, sa_type=String(64))
    detail: str | None = Field(default=None, sa_type=String(200))
