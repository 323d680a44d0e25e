"""Correction history: the earlier values of every field a write replaced.

Case data is never overwritten without trace: `apply_changes` stores the previous values of
a revisioned record (models with ``__revisioned__ = True``) here, in the same transaction.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Column, Index, String
from sqlmodel import Field, SQLModel, col, select

from ovc_api.models_base import JSONType, created_field, id_field, organisation_fk


class Revision(SQLModel, table=True):
    __tablename__ = "revisions"
    __table_args__ = (
        Index(
            "ix_revisions_resource", "organisation_id", "resource_type", "resource_id", "version"
        ),
    )

    id: uuid.UUID = id_field()
    organisation_id: uuid.UUID = organisation_fk()
    resource_type: str = Field(sa_type=String(40))
    resource_id: uuid.UUID
    version: int = Field(description="The version these values belonged to")
    changed_by_user: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    changed_by_api_key: uuid.UUID | None = Field(default=None, foreign_key="api_keys.id")
    changed_at: datetime = created_field()
    previous: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSONType, nullable=False)
    )


def jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


class RevisionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    version: int
    changed_at: datetime
    changed_by_user: uuid.UUID | None
    changed_by_api_key: uuid.UUID | None
    previous: dict[str, Any]


async def revisions_of(session: Any, resource_type: str, record: Any) -> list[RevisionRead]:
    """The correction history of a record the caller may see (load it in scope first)."""
    statement = (
        select(Revision)
        .where(
            col(Revision.organisation_id) == record.organisation_id,
            col(Revision.resource_type) == resource_type,
            col(Revision.resource_id) == record.id,
        )
        .order_by(col(Revision.version).desc())
        .limit(500)
    )
    return [RevisionRead.model_validate(r) for r in (await session.exec(statement)).all()]
