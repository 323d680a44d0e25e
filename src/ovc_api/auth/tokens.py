"""Access JWTs, opaque refresh tokens and API key secrets.

Access tokens are short-lived HS256 JWTs whose decoding pins the algorithm and checks issuer
and audience. Refresh tokens and API keys are random strings stored only as SHA-256 digests:
they carry enough entropy that a slow hash adds nothing, and a fast one keeps lookups cheap.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from jose import JWTError, jwt

from ovc_api.db import utcnow
from ovc_api.settings import Settings

ALGORITHM = "HS256"
API_KEY_PREFIX = "ovc_"
REQUIRED_CLAIMS = ("sub", "org", "scopes", "iss", "aud", "iat", "exp", "jti", "sid", "typ")


class InvalidToken(Exception):
    pass


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    organisation_id: uuid.UUID
    session_id: uuid.UUID
    scopes: tuple[str, ...]
    jti: str


def issue_access_token(
    settings: Settings,
    *,
    user_id: uuid.UUID,
    organisation_id: uuid.UUID,
    session_id: uuid.UUID,
    scopes: list[str],
    now: datetime | None = None,
) -> tuple[str, int]:
    now = now or utcnow()
    lifetime = timedelta(minutes=settings.access_token_minutes)
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "org": str(organisation_id),
        "sid": str(session_id),
        "scopes": sorted(scopes),
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
        "jti": uuid.uuid4().hex,
        "typ": "access",
    }
    return jwt.encode(claims, settings.secret_key, algorithm=ALGORITHM), int(
        lifetime.total_seconds()
    )


# Verified access tokens: (secret, issuer, audience, token) -> (claims, expiry). A token's
# signature and claims never change, so each is verified once; its expiry is checked on
# every use (as `jwt.decode` does), and revocation is the database's (the credential check
# reads the login on every request).
VERIFIED_TOKENS_MAX = 4096
_verified: dict[tuple[str, str, str, str], tuple[AccessClaims, int]] = {}


def decode_access_token(settings: Settings, token: str) -> AccessClaims:
    """The claims of a valid access token (InvalidToken otherwise), verified once per token."""
    key = (settings.secret_key, settings.jwt_issuer, settings.jwt_audience, token)
    found = _verified.get(key)
    if found is not None:
        claims, expires = found
        if expires < int(time.time()):  # python-jose: expired once `exp < now`
            _verified.pop(key, None)
            raise InvalidToken("Signature has expired.")
        return claims
    claims, expires = _decode_access_token(settings, token)
    if len(_verified) >= VERIFIED_TOKENS_MAX:
        _verified.clear()
    _verified[key] = (claims, expires)
    return claims


def _decode_access_token(settings: Settings, token: str) -> tuple[AccessClaims, int]:
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != ALGORITHM:
            raise InvalidToken("unexpected signing algorithm")
        claims = jwt.decode(
            token,
            settings.secret_key,
            algorithms=[ALGORITHM],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={
                "require_" + name: True for name in ("iat", "exp", "sub", "jti", "aud", "iss")
            },
        )
    except JWTError as exc:
        raise InvalidToken(str(exc)) from exc
    if any(name not in claims for name in REQUIRED_CLAIMS) or claims["typ"] != "access":
        raise InvalidToken("not an access token")
    try:
        access = AccessClaims(
            user_id=uuid.UUID(claims["sub"]),
            organisation_id=uuid.UUID(claims["org"]),
            session_id=uuid.UUID(claims["sid"]),
            scopes=tuple(claims["scopes"]),
            jti=str(claims["jti"]),
        )
        return access, int(claims["exp"])
    except (ValueError, TypeError) as exc:
        raise InvalidToken("malformed claims") from exc


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_refresh_token() -> str:
    return secrets.token_urlsafe(48)


def new_api_key() -> tuple[str, str]:
    """(the full key shown once, its public prefix used to find it)."""
    prefix = secrets.token_hex(6)
    return f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}", prefix


def api_key_prefix(key: str) -> str | None:
    parts = key.split("_")
    if len(parts) < 3 or not key.startswith(API_KEY_PREFIX) or len(parts[1]) != 12:
        return None
    return parts[1]


def same_digest(secret: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(secret), stored_digest)
