"""API keys: who may create one with which scopes, revocation, hand-over, and a key as shown
(its effective scopes follow its responsible user). Routes call these; they never commit."""

from __future__ import annotations

import uuid

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api import service_kit
from ovc_api.apikeys.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyHandOver,
    ApiKeyRead,
    ResponsibleUser,
)
from ovc_api.auth.principal import Principal, api_key_effective_scopes
from ovc_api.auth.scopes import ADMIN_SCOPES
from ovc_api.auth.tokens import digest, new_api_key
from ovc_api.db import utcnow
from ovc_api.errors import Forbidden, Unprocessable
from ovc_api.identity.models import ApiKey, User
from ovc_api.tenancy import get_visible_or_404, resolve_reference

RESOURCE = "api_key"


def key_read(api_key: ApiKey, responsible: User) -> ApiKeyRead:
    """The key with what it may do now: none of its scopes while its person is inactive."""
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


async def key_reads(session: AsyncSession, api_keys: list[ApiKey]) -> list[ApiKeyRead]:
    """Keys as shown, their responsible users read in one query (of the keys' organisation)."""
    ids = {k.responsible_user_id for k in api_keys}
    responsible: dict[uuid.UUID, User] = {}
    if ids:
        users = await session.exec(select(User).where(col(User.id).in_(ids)))
        responsible = {u.id: u for u in users}
    return [key_read(k, responsible[k.responsible_user_id]) for k in api_keys]


async def key_in_scope(
    session: AsyncSession, principal: Principal, api_key_id: uuid.UUID
) -> ApiKey:
    return await get_visible_or_404(session, principal, ApiKey, api_key_id)


async def read_key(
    session: AsyncSession, principal: Principal, api_key_id: uuid.UUID
) -> ApiKeyRead:
    (shown,) = await key_reads(session, [await key_in_scope(session, principal, api_key_id)])
    return shown


async def create_key(
    session: AsyncSession, principal: Principal, data: ApiKeyCreate
) -> ApiKeyCreated:
    """A key holding a subset of its creator's scopes (never administrative ones), created by
    a person, who answers for it; its secret is in this answer only."""
    wanted = {s.value for s in data.scopes}
    if wanted & {s.value for s in ADMIN_SCOPES}:
        raise Unprocessable.field(["body", "scopes"], "API keys cannot hold administrative scopes")
    if not wanted <= principal.scopes:
        raise Forbidden("An API key can only hold scopes you have yourself")
    if data.expires_at is not None and data.expires_at <= utcnow():
        raise Unprocessable.field(["body", "expires_at"], "must be in the future")
    if principal.user_id is None:
        raise Forbidden("API keys are created by people, not by other keys")
    secret, prefix = new_api_key()
    api_key = ApiKey(
        organisation_id=principal.organisation_id,
        label=data.label,
        prefix=prefix,
        secret_digest=digest(secret),
        scopes=sorted(wanted),
        created_by=principal.user_id,
        responsible_user_id=principal.user_id,
        expires_at=data.expires_at,
    )
    await service_kit.insert(session, principal, api_key, resource=RESOURCE)
    (shown,) = await key_reads(session, [api_key])
    return ApiKeyCreated.model_validate({**shown.model_dump(), "key": secret})


async def revoke_key(
    session: AsyncSession, principal: Principal, api_key_id: uuid.UUID
) -> ApiKeyRead:
    """The key stops working at once (revoking a revoked key changes nothing)."""
    api_key = await key_in_scope(session, principal, api_key_id)
    if api_key.revoked_at is None:
        api_key.revoked_at = utcnow()
        service_kit.audit(session, principal, RESOURCE, "revoke", api_key.id)
    (shown,) = await key_reads(session, [api_key])
    return shown


async def hand_over_key(
    session: AsyncSession, principal: Principal, api_key_id: uuid.UUID, data: ApiKeyHandOver
) -> ApiKeyRead:
    """Another active person of the key's organisation, holding every scope of the key,
    answers for it from now on."""
    api_key = await key_in_scope(session, principal, api_key_id)
    field = ["body", "responsible_user_id"]
    user = await resolve_reference(session, principal, User, data.responsible_user_id, field[-1])
    if user.organisation_id != api_key.organisation_id or not user.active:
        raise Unprocessable.field(field, "must be an active user of the key's organisation")
    if api_key_effective_scopes(api_key.scopes, user.role) != frozenset(api_key.scopes):
        raise Unprocessable.field(field, "this user does not hold every scope of the key")
    if api_key.responsible_user_id != user.id:
        api_key.responsible_user_id = user.id
        service_kit.audit(
            session,
            principal,
            RESOURCE,
            "hand_over",
            api_key.id,
            changed_fields=["responsible_user_id"],
        )
    return key_read(api_key, user)
