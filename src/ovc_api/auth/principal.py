"""Who is calling: one dependency turns a bearer credential into a Principal.

It checks the credential against the database on every request, so deactivating a user
or an organisation, logging out or revoking a key takes effect at once, then binds the
transaction to the caller's organisation for row-level security.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import OAuth2PasswordBearer, SecurityScopes
from sqlalchemy import update
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api import API_V1
from ovc_api.auth import lookups
from ovc_api.auth.models import AuthSession
from ovc_api.auth.scopes import ROLE_SCOPES, SCOPE_DESCRIPTIONS, Role, Scope
from ovc_api.auth.tokens import (
    InvalidToken,
    api_key_prefix,
    decode_access_token,
    digest,
    same_digest,
)
from ovc_api.db import Session, set_tenant_context, utcnow
from ovc_api.errors import Forbidden, Unauthorized
from ovc_api.identity.models import ApiKey, Organisation, User
from ovc_api.settings import Settings

oauth2_scheme = OAuth2PasswordBearer(
    tokenUrl=f"{API_V1}/auth/token", scopes=SCOPE_DESCRIPTIONS, auto_error=False
)
API_KEY_TOUCH_INTERVAL = timedelta(minutes=1)


@dataclass(frozen=True)
class Principal:
    organisation_id: uuid.UUID
    scopes: frozenset[str]
    role: Role | None = None
    user_id: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None
    session_id: uuid.UUID | None = None
    client_ip: str | None = None
    request_id: str | None = None
    # GET/HEAD: only reads may see records shared for reading (see ovc_api.tenancy).
    read_only: bool = False

    @property
    def is_network_admin(self) -> bool:
        return self.role is Role.network_admin

    def has(self, scope: Scope) -> bool:
        return scope.value in self.scopes


def _invalid(reason: str = "Missing or invalid credentials") -> Unauthorized:
    return Unauthorized(reason)


async def _principal_from_jwt(
    session: AsyncSession, settings: Settings, token: str, *, relaxed_commit: bool
) -> Principal:
    try:
        claims = decode_access_token(settings, token)
    except InvalidToken as exc:
        raise _invalid("The access token is invalid or expired") from exc
    # The organisation claim is signed: bind the transaction to it at once, so the check
    # below already runs under row-level security and costs no extra round trip.
    await set_tenant_context(session, claims.organisation_id, relaxed_commit=relaxed_commit)
    row = (
        await session.exec(
            select(User.role, User.active, Organisation.active, AuthSession.revoked_at)
            .join(Organisation, Organisation.id == User.organisation_id)  # type: ignore[arg-type]
            .join(AuthSession, AuthSession.user_id == User.id)  # type: ignore[arg-type]
            .where(
                User.id == claims.user_id,
                AuthSession.id == claims.session_id,
                User.organisation_id == claims.organisation_id,
            )
        )
    ).first()
    if row is None:
        raise _invalid("The access token is invalid or expired")
    role, user_active, org_active, revoked_at = row
    if not user_active or not org_active or revoked_at is not None:
        raise _invalid("The access token has been revoked")
    role = Role(role)
    if role is Role.network_admin:
        await set_tenant_context(
            session, claims.organisation_id, network=True, relaxed_commit=relaxed_commit
        )
    return Principal(
        organisation_id=claims.organisation_id,
        scopes=frozenset(s.value for s in ROLE_SCOPES[role]),
        role=role,
        user_id=claims.user_id,
        session_id=claims.session_id,
    )


async def _principal_from_api_key(session: AsyncSession, key: str) -> Principal:
    prefix = api_key_prefix(key)
    if prefix is None:
        raise _invalid()
    organisation_id = await lookups.api_key_organisation(session, prefix, digest(key))
    if organisation_id is None:
        raise _invalid()
    await set_tenant_context(session, organisation_id)
    row = (
        await session.exec(
            select(ApiKey, Organisation.active)
            .join(Organisation, Organisation.id == ApiKey.organisation_id)  # type: ignore[arg-type]
            .where(ApiKey.prefix == prefix)
        )
    ).first()
    now = utcnow()
    if row is None or not same_digest(key, row[0].secret_digest):
        raise _invalid()
    api_key, org_active = row
    if api_key.revoked_at is not None or not org_active:
        raise _invalid("The API key has been revoked")
    if api_key.expires_at is not None and api_key.expires_at <= now:
        raise _invalid("The API key has expired")
    if api_key.last_used_at is None or now - api_key.last_used_at > API_KEY_TOUCH_INTERVAL:
        # Recorded at most once a minute: a write per request would cost a commit each.
        await session.exec(
            update(ApiKey).where(ApiKey.id == api_key.id).values(last_used_at=now)  # type: ignore[arg-type]
        )
    return Principal(
        organisation_id=api_key.organisation_id,
        scopes=frozenset(api_key.scopes),
        api_key_id=api_key.id,
    )


async def authenticate(
    request: Request,
    session: Session,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> Principal:
    if not token:
        raise _invalid()
    settings: Settings = request.app.state.settings
    read_only = request.method in {"GET", "HEAD"}
    if api_key_prefix(token) is not None:
        principal = await _principal_from_api_key(session, token)
        await set_tenant_context(session, principal.organisation_id, relaxed_commit=read_only)
    else:
        principal = await _principal_from_jwt(session, settings, token, relaxed_commit=read_only)
    client = request.client
    return replace(
        principal,
        client_ip=client.host if client else None,
        request_id=getattr(request.state, "request_id", None),
        read_only=read_only,
    )


async def current_principal(
    security_scopes: SecurityScopes, principal: Annotated[Principal, Depends(authenticate)]
) -> Principal:
    missing = [scope for scope in security_scopes.scopes if scope not in principal.scopes]
    if missing:
        raise Forbidden(f"This action needs the scope(s): {', '.join(missing)}")
    return principal


def _needs(*scopes: Scope) -> Any:
    return Security(current_principal, scopes=[s.value for s in scopes])


# A route's signature says what it needs: `principal: UsersAdmin`.
AnyPrincipal = Annotated[Principal, Security(current_principal)]
OrganisationsAdmin = Annotated[Principal, _needs(Scope.organisations_admin)]
UsersAdmin = Annotated[Principal, _needs(Scope.users_admin)]
ApiKeysAdmin = Annotated[Principal, _needs(Scope.api_keys_admin)]
AuditReader = Annotated[Principal, _needs(Scope.audit_read)]
CasesReader = Annotated[Principal, _needs(Scope.cases_read)]
CasesWriter = Annotated[Principal, _needs(Scope.cases_write)]
CaseApprover = Annotated[Principal, _needs(Scope.cases_approve)]
StatsReader = Annotated[Principal, _needs(Scope.stats_read)]
NetworkStatsReader = Annotated[Principal, _needs(Scope.stats_network)]
