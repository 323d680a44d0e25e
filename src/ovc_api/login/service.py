"""Logins, refresh-token rotation (with reuse detection) and logout."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api.audit.service import record_anonymous
from ovc_api.auth import lookups, throttle
from ovc_api.auth.models import AuthSession, RefreshToken
from ovc_api.auth.passwords import PasswordHasher
from ovc_api.auth.scopes import ROLE_SCOPES, Role
from ovc_api.auth.tokens import digest, issue_access_token, new_refresh_token
from ovc_api.db import Database, set_tenant_context, utcnow
from ovc_api.errors import TooManyRequests, Unauthorized
from ovc_api.identity.models import Organisation, User
from ovc_api.settings import Settings

BAD_LOGIN = "Incorrect email or password"


@dataclass(frozen=True)
class RequestInfo:
    client_ip: str | None
    request_id: str | None


def _audit(
    session: AsyncSession,
    info: RequestInfo,
    action: str,
    organisation_id: uuid.UUID | None,
    user_id: uuid.UUID | None,
    detail: str | None = None,
) -> None:
    """A login event, recorded with the request it came from (no principal exists yet)."""
    record_anonymous(
        session,
        action,
        organisation_id=organisation_id,
        user_id=user_id,
        request_id=info.request_id,
        client_ip=info.client_ip,
        detail=detail,
    )


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int
    scopes: list[str]
    password_change_required: bool = False
    notices: tuple[str, ...] = ()


def _notices(settings: Settings, user: User) -> tuple[str, ...]:
    """What the user must be told at login: a reset by the network, until they act on it."""
    at = user.password_reset_by_network_at
    if at is None or not user.must_change_password:
        return ()
    day = at.astimezone(ZoneInfo(settings.timezone)).date().isoformat()
    return (f"Your password was reset by the network administrator on {day}.",)


async def _issue(
    session: AsyncSession, settings: Settings, user: User, auth_session: AuthSession
) -> IssuedTokens:
    now = utcnow()
    refresh = new_refresh_token()
    session.add(
        RefreshToken(
            session_id=auth_session.id,
            organisation_id=user.organisation_id,
            token_digest=digest(refresh),
            created_at=now,
            expires_at=auth_session.expires_at,
        )
    )
    # A temporary password's login holds no scope: it may only set a new password.
    change_required = user.must_change_password
    scopes = [] if change_required else sorted(s.value for s in ROLE_SCOPES[Role(user.role)])
    access, lifetime = issue_access_token(
        settings,
        user_id=user.id,
        organisation_id=user.organisation_id,
        session_id=auth_session.id,
        scopes=scopes,
        now=now,
    )
    return IssuedTokens(
        access_token=access,
        expires_in=lifetime,
        refresh_token=refresh,
        refresh_expires_in=int((auth_session.expires_at - now).total_seconds()),
        scopes=scopes,
        password_change_required=change_required,
        notices=_notices(settings, user),
    )


async def login(
    session: AsyncSession,
    database: Database,
    settings: Settings,
    hasher: PasswordHasher,
    email: str,
    password: str,
    info: RequestInfo,
) -> IssuedTokens:
    email = email.strip().lower()
    now = utcnow()
    keys = {
        throttle.account_key(email): settings.login_max_failures,
        throttle.address_key(info.client_ip): settings.login_max_failures_per_address,
    }
    # Counted before the password is checked: racing requests cannot all reach the hash.
    wait = await throttle.claim_attempt(database, settings, keys, now)
    # No tenant yet: the account is looked up by a narrow function, then read under its own
    # organisation's row-level security.
    await set_tenant_context(session, await lookups.login_organisation(session, email))
    if wait is not None:
        _audit(session, info, "auth.login_throttled", None, None)
        raise TooManyRequests(
            "Too many failed logins: wait before trying again", wait, keep_changes=True
        )
    row = await _user_by_email(session, email)
    user, org_active = row if row else (None, False)
    password_ok = await hasher.verify(password, user.password_hash if user else None)
    if user is None or not password_ok or not user.active or not org_active:
        _audit(
            session,
            info,
            "auth.login_failed",
            user.organisation_id if user else None,
            user.id if user else None,
            None if user is None else ("inactive" if password_ok else "bad_password"),
        )
        raise Unauthorized(BAD_LOGIN, keep_changes=True)
    await throttle.forget_success(
        session, throttle.account_key(email), throttle.address_key(info.client_ip)
    )
    auth_session = AuthSession(
        user_id=user.id,
        organisation_id=user.organisation_id,
        created_at=now,
        expires_at=now + timedelta(days=settings.refresh_token_days),
    )
    session.add(auth_session)
    user.last_login_at = now
    _audit(session, info, "auth.login", user.organisation_id, user.id)
    return await _issue(session, settings, user, auth_session)


async def _user_by_email(session: AsyncSession, email: str) -> tuple[User, bool] | None:
    """The pre-tenant look-up of a login's user and whether its organisation is active."""
    row = (
        await session.exec(
            select(User, Organisation.active)
            .join(Organisation, Organisation.id == User.organisation_id)  # type: ignore[arg-type]
            .where(User.email == email)
        )
    ).first()
    return (row[0], row[1]) if row else None


async def revoke_session(session: AsyncSession, session_id: uuid.UUID, reason: str) -> None:
    await session.exec(
        update(AuthSession)
        .where(col(AuthSession.id) == session_id, col(AuthSession.revoked_at).is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
    )


async def revoke_user_sessions(
    session: AsyncSession, user_id: uuid.UUID, reason: str, *, keep: uuid.UUID | None = None
) -> None:
    statement = update(AuthSession).where(
        col(AuthSession.user_id) == user_id, col(AuthSession.revoked_at).is_(None)
    )
    if keep is not None:
        statement = statement.where(col(AuthSession.id) != keep)
    await session.exec(statement.values(revoked_at=utcnow(), revoked_reason=reason))


async def refresh(
    session: AsyncSession, settings: Settings, token: str, info: RequestInfo
) -> IssuedTokens:
    now = utcnow()
    organisation_id = await lookups.refresh_token_organisation(session, digest(token))
    if organisation_id is None:
        raise Unauthorized("The refresh token is invalid")
    await set_tenant_context(session, organisation_id)
    stored = (
        await session.exec(select(RefreshToken).where(RefreshToken.token_digest == digest(token)))
    ).first()
    if stored is None:
        raise Unauthorized("The refresh token is invalid")
    auth_session = await session.get(AuthSession, stored.session_id)
    assert auth_session is not None
    claimed = await session.exec(
        update(RefreshToken)
        .where(col(RefreshToken.id) == stored.id, col(RefreshToken.used_at).is_(None))
        .values(used_at=now)
    )
    if claimed.rowcount != 1:
        # A rotated token came back: it was stolen or replayed. End the whole chain.
        await revoke_session(session, auth_session.id, "refresh_token_reuse")
        _audit(
            session, info, "auth.refresh_reuse", auth_session.organisation_id, auth_session.user_id
        )
        raise Unauthorized(
            "This refresh token was already used; the session has been revoked", keep_changes=True
        )
    user = await session.get(User, auth_session.user_id)
    organisation = await session.get(Organisation, auth_session.organisation_id)
    if (
        stored.expires_at <= now
        or auth_session.revoked_at is not None
        or user is None
        or not user.active
        or organisation is None
        or not organisation.active
    ):
        raise Unauthorized("The refresh token is expired or revoked")
    auth_session.last_refreshed_at = now
    _audit(session, info, "auth.refresh", user.organisation_id, user.id)
    return await _issue(session, settings, user, auth_session)
