"""API keys for integrations and scripts: created by org admins, shown once, stored hashed.

A key is a named service account of the organisation with a responsible user (its creator
until handed over): at each use it holds at most that person's current scopes, and it is
suspended while that person is deactivated, so a key never outlives the person answering
for it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlmodel import col, select

from ovc_api import API_V1, service_kit
from ovc_api.auth.principal import ApiKeysAdmin, Principal, api_key_effective_scopes
from ovc_api.auth.scopes import ADMIN_SCOPES, Scope
from ovc_api.auth.tokens import digest, new_api_key
from ovc_api.db import Session, utcnow
from ovc_api.errors import Forbidden, Unprocessable, error_responses
from ovc_api.identity.models import ApiKey, User
from ovc_api.pagination import Page, Pagination, fetch_page, parse_datetime, sort_options
from ovc_api.tenancy import get_visible_or_404, resolve_reference, scoped

router = APIRouter(prefix=f"{API_V1}/api-keys", tags=["api-keys"])
NEWEST_FIRST = sort_options(col(ApiKey.id), created_at=(col(ApiKey.created_at), parse_datetime))[
    "-created_at"
]


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str = Field(min_length=1, max_length=120)
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=len(Scope))]
    expires_at: AwareDatetime | None = Field(default=None, description="Optional; in the future")


class ApiKeyHandOver(BaseModel):
    model_config = ConfigDict(extra="forbid")
    responsible_user_id: uuid.UUID = Field(
        description="An active user of the organisation who holds every scope of the key"
    )


class ResponsibleUser(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    full_name: str
    active: bool = Field(description="false: the key is suspended until handed over")


class ApiKeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    label: str = Field(description="The service account's name")
    prefix: str
    scopes: list[Scope]
    effective_scopes: list[Scope] = Field(
        description="What the key may do now: its scopes that its responsible user still holds "
        "(none while that user is deactivated)"
    )
    created_by: uuid.UUID
    responsible: ResponsibleUser = Field(description="The person who answers for the key")
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


def _read(api_key: ApiKey, responsible: User) -> ApiKeyRead:
    effective = (
        sorted(api_key_effective_scopes(api_key.scopes, responsible.role))
        if responsible.active
        else []
    )
    return ApiKeyRead.model_validate(
        {
            **{
                name: getattr(api_key, name)
                for name in ApiKeyRead.model_fields
                if name not in {"effective_scopes", "responsible"}
            },
            "effective_scopes": effective,
            "responsible": ResponsibleUser.model_validate(responsible),
        }
    )


async def _responsible(session: Session, api_keys: list[ApiKey]) -> dict[uuid.UUID, User]:
    """The responsible users of these keys, in one query (they are of the key's organisation)."""
    ids = {k.responsible_user_id for k in api_keys}
    if not ids:
        return {}
    users = await session.exec(select(User).where(col(User.id).in_(ids)))
    return {u.id: u for u in users}


async def _read_one(session: Session, api_key: ApiKey) -> ApiKeyRead:
    return _read(api_key, (await _responsible(session, [api_key]))[api_key.responsible_user_id])


async def _visible_key(session: Session, principal: Principal, api_key_id: uuid.UUID) -> ApiKey:
    return await get_visible_or_404(session, principal, ApiKey, api_key_id)


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
        responsible_user_id=principal.user_id,
        expires_at=body.expires_at,
    )
    session.add(api_key)
    await session.flush()
    service_kit.audit(session, principal, "api_key", "create", api_key.id)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Location"] = f"/api/v1/api-keys/{api_key.id}"
    return ApiKeyCreated.model_validate(
        {**(await _read_one(session, api_key)).model_dump(), "key": secret}
    )


@router.get(
    "",
    summary="List your organisation's API keys with who answers for each (never their secrets)",
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
    responsible = await _responsible(session, items)
    return Page(
        items=[_read(k, responsible[k.responsible_user_id]) for k in items],
        next_cursor=next_cursor,
    )


@router.get(
    "/{api_key_id}",
    summary="Read an API key's details",
    response_model=ApiKeyRead,
    responses=error_responses(401, 403, 404, 422),
)
async def get_api_key(
    api_key_id: uuid.UUID, session: Session, principal: ApiKeysAdmin
) -> ApiKeyRead:
    return await _read_one(session, await _visible_key(session, principal, api_key_id))


@router.post(
    "/{api_key_id}/revoke",
    summary="Revoke an API key: it stops working at once",
    response_model=ApiKeyRead,
    responses=error_responses(401, 403, 404, 422),
)
async def revoke_api_key(
    api_key_id: uuid.UUID, session: Session, principal: ApiKeysAdmin
) -> ApiKeyRead:
    api_key = await _visible_key(session, principal, api_key_id)
    if api_key.revoked_at is None:
        api_key.revoked_at = utcnow()
        service_kit.audit(session, principal, "api_key", "revoke", api_key.id)
    return await _read_one(session, api_key)


@router.post(
    "/{api_key_id}/hand-over",
    summary="Make another person of the organisation responsible for an API key",
    description="The new responsible user must be active, of the key's organisation and hold "
    "every scope of the key (422 otherwise). A key whose responsible user was deactivated "
    "works again once handed over.",
    response_model=ApiKeyRead,
    responses=error_responses(401, 403, 404, 422),
)
async def hand_over_api_key(
    api_key_id: uuid.UUID, body: ApiKeyHandOver, session: Session, principal: ApiKeysAdmin
) -> ApiKeyRead:
    api_key = await _visible_key(session, principal, api_key_id)
    field = ["body", "responsible_user_id"]
    user = await resolve_reference(session, principal, User, body.responsible_user_id, field[-1])
    if user.organisation_id != api_key.organisation_id or not user.active:
        raise Unprocessable.field(field, "must be an active user of the key's organisation")
    if api_key_effective_scopes(api_key.scopes, user.role) != frozenset(api_key.scopes):
        raise Unprocessable.field(field, "this user does not hold every scope of the key")
    if api_key.responsible_user_id != user.id:
        api_key.responsible_user_id = user.id
        service_kit.audit(
            session,
            principal,
            "api_key",
            "hand_over",
            api_key.id,
            changed_fields=["responsible_user_id"],
        )
    return _read(api_key, user)
