"""Which organisation a credential belongs to, asked before any tenant is known.

On PostgreSQL the application role cannot read any tenant's rows without a tenant: each
question is a `SECURITY DEFINER` function owned by the schema owner (migration 0005) that
answers one organisation id, or nothing. The caller then binds the transaction to that
organisation and reads the credential's row under row-level security like any other.
SQLite has no second wall: the same question is a plain query there.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api.auth.models import RefreshToken
from ovc_api.identity.models import ApiKey, User


async def _ask(
    session: AsyncSession, function: str, fallback: Any, **params: str
) -> uuid.UUID | None:
    if session.info.get("is_postgres"):
        arguments = ", ".join(f":{name}" for name in params)
        connection = await session.connection()
        statement = text(f"SELECT {function}({arguments})")
        value = (await connection.execute(statement, params)).scalar()
    else:
        value = (await session.exec(fallback)).first()
    if value is None:
        return None
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


async def login_organisation(session: AsyncSession, email: str) -> uuid.UUID | None:
    """The organisation of the account with this (normalised) e-mail address."""
    fallback = select(col(User.organisation_id)).where(col(User.email) == email)
    return await _ask(session, "ovc_login_organisation", fallback, email=email)


async def refresh_token_organisation(session: AsyncSession, token_digest: str) -> uuid.UUID | None:
    """The organisation of the refresh token with this digest (the token itself is secret)."""
    fallback = select(col(RefreshToken.organisation_id)).where(
        col(RefreshToken.token_digest) == token_digest
    )
    return await _ask(session, "ovc_refresh_token_organisation", fallback, digest=token_digest)


async def api_key_organisation(
    session: AsyncSession, prefix: str, secret_digest: str
) -> uuid.UUID | None:
    """The organisation of the API key with this prefix, only if its secret matches too."""
    fallback = select(col(ApiKey.organisation_id)).where(
        col(ApiKey.prefix) == prefix, col(ApiKey.secret_digest) == secret_digest
    )
    return await _ask(
        session, "ovc_api_key_organisation", fallback, prefix=prefix, digest=secret_digest
    )
