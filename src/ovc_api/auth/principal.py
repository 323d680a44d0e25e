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
from sqlalchemy import and_, text, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api import API_V1
from ovc_api.auth import lookups
from ovc_api.auth.models import AuthSession
from ovc_api.auth.problems import ApiKeySuspended, PasswordChangeRequired, PersonRequired
from ovc_api.auth.scopes import ROLE_SCOPES, SCOPE_DESCRIPTIONS, Role, Scope
from ovc_api.auth.tokens import (
    AccessClaims,
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

    @classmethod
    def of_person(
        cls, role: Role, organisation_id: uuid.UUID, user_id: uuid.UUID, **more: Any
    ) -> Principal:
        """A person's principal, with the scopes of their role (`more`: the other fields)."""
        scopes = frozenset(s.value for s in ROLE_SCOPES[role])
        return cls(organisation_id, scopes, role=role, user_id=user_id, **more)

    @property
    def is_network_admin(self) -> bool:
        return self.role is Role.network_admin

    def has(self, scope: Scope) -> bool:
        return scope.value in self.scopes


@dataclass(frozen=True)
class ApiKeyLookup:
    """What authenticating a key needs: the key, its organisation's and responsible's state."""

    api_key: ApiKey
    organisation_active: bool
    responsible_role: str
    # The responsible user is active and of the key's organisation.
    responsible_live: bool


def _invalid(reason: str = "Missing or invalid credentials") -> Unauthorized:
    return Unauthorized(reason)


# PostgreSQL: the credential check and the tenant binding in one statement (one round trip).
# `bound` sets the transaction's settings before `found` reads the user under row-level
# security: `found` is a LATERAL sub-query that refers to `bound` and, with OFFSET 0, cannot be
# pulled up, so it can only run as the inner side of a nested loop whose outer row (the
# settings) is already computed. Had PostgreSQL ever ordered it otherwise, the row-level
# security policy would hide the user and the credential would be refused (401), never
# admitted. The network administrator's widening is switched on by the outer projection,
# which runs after the role is known. Since migration 0013 the policies read the setting
# through an InitPlan, which PostgreSQL computes on its first use, that is when the inner
# side scans `users`: after `bound` (the same order; the same 401 if it ever were not).
_JWT_PRINCIPAL_PG = text(
    """
SELECT set_config('ovc.network',
                  CASE WHEN found.role = 'network_admin' THEN 'on' ELSE 'off' END, true),
       found.role, found.must_change_password, found.live
FROM (SELECT set_config('ovc.org_id', :org, true) AS org,
             set_config('ovc.system', 'off', true) AS system,
             set_config('ovc.network', 'off', true) AS network,
             set_config('synchronous_commit', :sync, true) AS sync
      OFFSET 0) AS bound
CROSS JOIN LATERAL (
    SELECT users.role, users.must_change_password,
           users.active AND organisations.active AND auth_sessions.revoked_at IS NULL AS live
    FROM users
    JOIN organisations ON organisations.id = users.organisation_id
    JOIN auth_sessions ON auth_sessions.user_id = users.id
    WHERE users.id = :user_id AND auth_sessions.id = :session_id
      AND users.organisation_id = CAST(bound.org AS uuid)
    OFFSET 0) AS found
"""
)


async def _jwt_principal_row(
    session: AsyncSession, claims: AccessClaims, *, relaxed_commit: bool
) -> tuple[str, bool, bool] | None:
    """(role, must change password, live) of the token's user and login, the transaction
    bound to the token's (signed) organisation: one statement on PostgreSQL."""
    if session.info.get("is_postgres"):
        connection = await session.connection()
        found = (
            await connection.execute(
                _JWT_PRINCIPAL_PG,
                {
                    "org": str(claims.organisation_id),
                    "sync": "off" if relaxed_commit else "on",
                    "user_id": claims.user_id,
                    "session_id": claims.session_id,
                },
            )
        ).first()
        return None if found is None else (found[1], found[2], found[3])
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
    return None if row is None else (row[0], row[1], row[2])


async def _principal_from_jwt(
    session: AsyncSession, settings: Settings, token: str, *, relaxed_commit: bool
) -> Principal:
    try:
        claims = decode_access_token(settings, token)
    except InvalidToken as exc:
        raise _invalid("The access token is invalid or expired") from exc
    row = await _jwt_principal_row(session, claims, relaxed_commit=relaxed_commit)
    if row is None:
        raise _invalid("The access token is invalid or expired")
    role_name, must_change_password, live = row
    if not live:
        raise _invalid("The access token has been revoked")
    return Principal.of_person(
        Role(role_name),
        claims.organisation_id,
        claims.user_id,
        session_id=claims.session_id,
        password_change_required=must_change_password,
    )


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
