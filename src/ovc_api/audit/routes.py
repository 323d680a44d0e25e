"""The audit log of one's organisation, for its administrators."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict
from sqlmodel import col, select

from ovc_api import API_V1
from ovc_api.audit.filters import AuditListQuery
from ovc_api.audit.models import AuditEvent
from ovc_api.auth.principal import AuditReader
from ovc_api.db import Session
from ovc_api.errors import error_responses
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
    query: Annotated[AuditListQuery, Depends()],
    pagination: Pagination,
) -> Page[AuditEventRead]:
    statement = query.apply(scoped(select(AuditEvent), principal, AuditEvent), principal)
    items, next_cursor = await fetch_page(
        session, statement, pagination, NEWEST_FIRST, request, response
    )
    return Page(items=[AuditEventRead.model_validate(e) for e in items], next_cursor=next_cursor)
