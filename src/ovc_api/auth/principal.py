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
from sqlalchemy import and_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api import API_V1
from ovc_api.auth import lookups
from ovc_api.auth.models import AuthSession
from ovc_api.auth.problems import ApiKeySuspended, PasswordChangeRequired, PersonRequired
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
    # Logged in with a temporary password: the credential may only set a new password.
    password_change_required: bool = False

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
            select(
                User.role,
                User.must_change_password,
                # One flag: user, organisation and login all still live.
                and_(
                    col(User.active),
                    col(Organisation.active),
                    col(AuthSession.revoked_at).is_(None),
                ),
            )
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
    role, must_change_password, live = row
    if not live:
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
        password_change_required=must_change_password,
    )


@dataclass(frozen=True)
class ApiKeyLookup:
    """What authenticating a key needs: the key, its organisation's and responsible's state."""

    api_key: ApiKey
    organisation_active: bool
    responsible_role: str
    # The responsible user is active and of the key's organisation.
    responsible_live: bool


async def _lookup_api_key(session: AsyncSession, prefix: str) -> ApiKeyLookup | None:
    """The key, its organisation's state and its responsible user's, read under the key's
    organisation's row-level security (bound from ovc_api.auth.lookups first)."""
    row = (
        await session.exec(
            select(
                ApiKey,
                Organisation.active,
                User.role,
                and_(col(User.active), col(User.organisation_id) == col(ApiKey.organisation_id)),
            )
            .join(Organisation, Organisation.id == ApiKey.organisation_id)  # type: ignore[arg-type]
            .join(User, User.id == ApiKey.responsible_user_id)  # type: ignore[arg-type]
            .where(ApiKey.prefix == prefix)
        )
    ).first()
    return ApiKeyLookup(*row) if row is not None else None


def api_key_effective_scopes(key_scopes: list[str], responsible_role: str) -> frozenset[str]:
    """A key never holds more than its responsible user holds now (demotion narrows it)."""
    try:
        role_scopes = {s.value for s in ROLE_SCOPES[Role(responsible_role)]}
    except ValueError:
        return frozenset()
    return frozenset(key_scopes) & role_scopes


async def _principal_from_api_key(session: AsyncSession, key: str) -> Principal:
    prefix = api_key_prefix(key)
    if prefix is None:
        raise _invalid()
    organisation_id = await lookups.api_key_organisation(session, prefix, digest(key))
    if organisation_id is None:
        raise _invalid()
    await set_tenant_context(session, organisation_id)
    found = await _lookup_api_key(session, prefix)
    now = utcnow()
    if found is None or not same_digest(key, found.api_key.secret_digest):
        raise _invalid()
    api_key = found.api_key
    if api_key.revoked_at is not None or not found.organisation_active:
        raise _invalid("The API key has been revoked")
    if api_key.expires_at is not None and api_key.expires_at <= now:
        raise _invalid("The API key has expired")
    if not found.responsible_live:
        raise ApiKeySuspended(
            "The API key is suspended: its responsible user is deactivated. An administrator "
            "can hand it to another responsible user."
        )
    if api_key.last_used_at is None or now - api_key.last_used_at > API_KEY_TOUCH_INTERVAL:
        # Recorded at most once a minute: a write per request would cost a commit each.
        await session.exec(
            update(ApiKey).where(ApiKey.id == api_key.id).values(last_used_at=now)  # type: ignore[arg-type]
        )
    return Principal(
        organisation_id=api_key.organisation_id,
        scopes=api_key_effective_scopes(api_key.scopes, found.responsible_role),
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
    await request.app.state.rate_limiter.check(request, principal)
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
    if principal.password_change_required:
        raise PasswordChangeRequired(
            "You logged in with a temporary password: set a new one "
            f"(POST {API_V1}/users/me/password) before doing anything else"
        )
    missing = [scope for scope in security_scopes.scopes if scope not in principal.scopes]
    if missing:
        raise Forbidden(f"This action needs the scope(s): {', '.join(missing)}")
    return principal


async def password_changer(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
    """The one dependency a temporary password's credential passes: setting a new password."""
    return principal


async def current_person(
    security_scopes: SecurityScopes, principal: Annotated[Principal, Depends(authenticate)]
) -> Principal:
    """A person holding the scopes: four-eyes actions must name who requested and who decided."""
    principal = await current_principal(security_scopes, principal)
    if principal.user_id is None:
        raise PersonRequired(
            "This action needs a person (four-eyes: who requested and who approved): "
            "API keys cannot do it"
        )
    return principal


def _needs(*scopes: Scope) -> Any:
    return Security(current_principal, scopes=[s.value for s in scopes])


def _person_needs(*scopes: Scope) -> Any:
    return Security(current_person, scopes=[s.value for s in scopes])


# A route's signature says what it needs: `principal: UsersAdmin`.
AnyPrincipal = Annotated[Principal, Security(current_principal)]
OrganisationsAdmin = Annotated[Principal, _needs(Scope.organisations_admin)]
UsersAdmin = Annotated[Principal, _needs(Scope.users_admin)]
ApiKeysAdmin = Annotated[Principal, _needs(Scope.api_keys_admin)]
AuditReader = Annotated[Principal, _needs(Scope.audit_read)]
FacilitiesWriter = Annotated[Principal, _needs(Scope.facilities_write)]
CasesReader = Annotated[Principal, _needs(Scope.cases_read)]
CasesWriter = Annotated[Principal, _needs(Scope.cases_write)]
# Four-eyes: closures are requested and decided by people, never by API keys.
CaseApprover = Annotated[Principal, _person_needs(Scope.cases_approve)]
ClosureRequester = Annotated[Principal, _person_needs(Scope.cases_write)]
PasswordChanger = Annotated[Principal, Depends(password_changer)]
StatsReader = Annotated[Principal, _needs(Scope.stats_read)]
NetworkStatsReader = Annotated[Principal, _needs(Scope.stats_network)]
WebhooksAdmin = Annotated[Principal, _needs(Scope.webhooks_admin)]
