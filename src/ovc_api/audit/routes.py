"""The audit log of one's organisation, for its administrators."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict
from sqlmodel import col, select

from ovc_api import API_V1
from ovc_api.audit.models import AuditEvent
from ovc_api.auth.principal import AuditReader
from ovc_api.db import Session
from ovc_api.errors import Unprocessable, error_responses
from ovc_api.pagination import Page, Pagination, fetch_page, parse_datetime, sort_options
from ovc_api.tenancy import scoped

router = APIRouter(prefix=f"{API_V1}/audit", tags=["audit"])
NEWEST_FIRST = sort_options(col(AuditEvent.id), at=(col(AuditEvent.at), parse_datetime))["-at"]


class AuditEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    at: datetime
    action: str
    actor_user_id: uuid.UUID | None
    actor_api_key_id: uuid.UUID | None
    resource_type: str | None
    resource_id: uuid.UUID | None
    changed_fields: list[str] | None
    record_ids: list[uuid.UUID] | None
    case_id: uuid.UUID | None
    via_referral_id: uuid.UUID | None
    request_id: str | None
    client_ip: str | None
    detail: str | None


@router.get(
    "",
    summary="Query the organisation's audit log, newest first",
    response_model=Page[AuditEventRead],
    responses=error_responses(401, 403, 422),
)
async def list_audit_events(
    request: Request,
    response: Response,
    session: Session,
    principal: AuditReader,
    pagination: Pagination,
    user_id: Annotated[uuid.UUID | None, Query(description="Acting user")] = None,
    api_key_id: uuid.UUID | None = None,
    action: Annotated[str | None, Query(max_length=60, pattern=r"^[a-z_.]+$")] = None,
    resource_type: Annotated[str | None, Query(max_length=40, pattern=r"^[a-z_]+$")] = None,
    resource_id: uuid.UUID | None = None,
    case_id: uuid.UUID | None = None,
    from_: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    to: AwareDatetime | None = None,
) -> Page[AuditEventRead]:
    if from_ is not None and to is not None and from_ > to:
        raise Unprocessable.field(["query", "from"], "must not be after `to`")
    statement = scoped(select(AuditEvent), principal, AuditEvent)
    filters = {
        AuditEvent.actor_user_id: user_id,
        AuditEvent.actor_api_key_id: api_key_id,
        AuditEvent.action: action,
        AuditEvent.resource_type: resource_type,
        AuditEvent.resource_id: resource_id,
        AuditEvent.case_id: case_id,
    }
    for column, value in filters.items():
        if value is not None:
            statement = statement.where(col(column) == value)
    if from_ is not None:
        statement = statement.where(col(AuditEvent.at) >= from_)
    if to is not None:
        statement = statement.where(col(AuditEvent.at) < to)
    items, next_cursor = await fetch_page(
        session, statement, pagination, NEWEST_FIRST, request, response
    )
    return Page(items=[AuditEventRead.model_validate(e) for e in items], next_cursor=next_cursor)
