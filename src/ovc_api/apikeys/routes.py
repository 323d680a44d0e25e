"""API keys for integrations and scripts: created by org admins, shown once, stored hashed."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlmodel import col, select

from ovc_api import API_V1
from ovc_api.audit.service import record
from ovc_api.auth.principal import ApiKeysAdmin
from ovc_api.auth.scopes import ADMIN_SCOPES, Scope
from ovc_api.auth.tokens import digest, new_api_key
from ovc_api.db import Session, utcnow
from ovc_api.errors import Forbidden, Unprocessable, error_responses
from ovc_api.identity.models import ApiKey
from ovc_api.pagination import Page, Pagination, fetch_page, parse_datetime, sort_options
from ovc_api.tenancy import get_visible_or_404, scoped

router = APIRouter(prefix=f"{API_V1}/api-keys", tags=["api-keys"])
NEWEST_FIRST = sort_options(col(ApiKey.id), created_at=(col(ApiKey.created_at), parse_datetime))[
    "-created_at"
]


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str = Field(min_length=1, max_length=120)
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=len(Scope))]
    expires_at: AwareDatetime | None = Field(default=None, description="Optional; in the future")


class ApiKeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    label: str
    prefix: str
    scopes: list[Scope]
    created_by: uuid.UUID
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The secret, shown only in this response: store it now")


@router.post(
    "",
    summary="Create an API key with a subset of your scopes (the secret is shown once)",
    status_code=201,
    response_model=ApiKeyCreated,
    responses=error_responses(401, 403, 422),
)
async def create_api_key(
    body: ApiKeyCreate, response: Response, session: Session, principal: ApiKeysAdmin
) -> ApiKeyCreated:
    wanted = {s.value for s in body.scopes}
    if wanted & {s.value for s in ADMIN_SCOPES}:
        raise Unprocessable.field(["body", "scopes"], "API keys cannot hold administrative scopes")
    if not wanted <= principal.scopes:
        raise Forbidden("An API key can only hold scopes you have yourself")
    if body.expires_at is not None and body.expires_at <= utcnow():
        raise Unprocessable.field(["body", "expires_at"], "must be in the future")
    if principal.user_id is None:
        raise Forbidden("API keys are created by people, not by other keys")
    secret, prefix = new_api_key()
    api_key = ApiKey(
        organisation_id=principal.organisation_id,
        label=body.label,
        prefix=prefix,
        secret_digest=digest(secret),
        scopes=sorted(wanted),
        created_by=principal.user_id,
        expires_at=body.expires_at,
    )
    session.add(api_key)
    await session.flush()
    record(session, principal, "api_key.create", resource_type="api_key", resource_id=api_key.id)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Location"] = f"/api/v1/api-keys/{api_key.id}"
    return ApiKeyCreated.model_validate(
        {**ApiKeyRead.model_validate(api_key).model_dump(), "key": secret}
    )


@router.get(
    "",
    summary="List your organisation's API keys (never their secrets)",
    response_model=Page[ApiKeyRead],
    responses=error_responses(401, 403, 422),
)
async def list_api_keys(
    request: Request,
    response: Response,
    session: Session,
    principal: ApiKeysAdmin,
    pagination: Pagination,
    revoked: bool | None = None,
) -> Page[ApiKeyRead]:
    statement = scoped(select(ApiKey), principal, ApiKey)
    if revoked is not None:
        column = col(ApiKey.revoked_at)
        statement = statement.where(column.is_not(None) if revoked else column.is_(None))
    items, next_cursor = await fetch_page(
        session, statement, pagination, NEWEST_FIRST, request, response
    )
    return Page(items=[ApiKeyRead.model_validate(k) for k in items], next_cursor=next_cursor)


@router.get(
    "/{api_key_id}",
    summary="Read an API key's details",
    response_model=ApiKeyRead,
    responses=error_responses(401, 403, 404, 422),
)
async def get_api_key(
    api_key_id: uuid.UUID, session: Session, principal: ApiKeysAdmin
) -> ApiKeyRead:
    return ApiKeyRead.model_validate(
        await get_visible_or_404(session, principal, ApiKey, api_key_id)
    )


@router.post(
    "/{api_key_id}/revoke",
    summary="Revoke an API key: it stops working at once",
    response_model=ApiKeyRead,
    responses=error_responses(401, 403, 404, 422),
)
async def revoke_api_key(
    api_key_id: uuid.UUID, session: Session, principal: ApiKeysAdmin
) -> ApiKeyRead:
    api_key = await get_visible_or_404(session, principal, ApiKey, api_key_id)
    if api_key.revoked_at is None:
        api_key.revoked_at = utcnow()
        record(
            session, principal, "api_key.revoke", resource_type="api_key", resource_id=api_key.id
        )
    return ApiKeyRead.model_validate(api_key)
