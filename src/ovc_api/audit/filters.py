"""The audit log's list filters, as its readers query it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Query
from pydantic import AwareDatetime
from sqlalchemy import ColumnElement
from sqlmodel import col

from ovc_api.audit.models import AuditEvent
from ovc_api.auth.principal import Principal
from ovc_api.errors import Unprocessable
from ovc_api.filtering import ListFilters, equal_to


@dataclass(frozen=True)
class AuditListQuery(ListFilters):
    """Each filter an equality; the period is [from, to)."""

    user_id: Annotated[uuid.UUID | None, Query(description="Acting user")] = None
    api_key_id: uuid.UUID | None = None
    action: Annotated[str | None, Query(max_length=60, pattern=r"^[a-z_.]+$")] = None
    resource_type: Annotated[str | None, Query(max_length=40, pattern=r"^[a-z_]+$")] = None
    resource_id: uuid.UUID | None = None
    case_id: uuid.UUID | None = None
    from_: Annotated[AwareDatetime | None, Query(alias="from")] = None
    to: AwareDatetime | None = None

    def __post_init__(self) -> None:
        if self.from_ is not None and self.to is not None and self.from_ > self.to:
            raise Unprocessable.field(["query", "from"], "must not be after `to`")

    def clauses(self, principal: Principal) -> list[ColumnElement[bool]]:
        clauses = equal_to(
            {
                AuditEvent.actor_user_id: self.user_id,
                AuditEvent.actor_api_key_id: self.api_key_id,
                AuditEvent.action: self.action,
                AuditEvent.resource_type: self.resource_type,
                AuditEvent.resource_id: self.resource_id,
                AuditEvent.case_id: self.case_id,
            }
        )
        if self.from_ is not None:
            clauses.append(col(AuditEvent.at) >= self.from_)
        if self.to is not None:
            clauses.append(col(AuditEvent.at) < self.to)
        return clauses
