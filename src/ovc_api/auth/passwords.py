"""Password hashing (argon2id) and the password policy.

Hashing is deliberately slow, so it runs in a worker thread, off the event loop.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

import anyio.to_thread
from passlib.context import CryptContext

from ovc_api.settings import Settings

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256


@cache
def _common_passwords() -> frozenset[str]:
    text = resources.files("ovc_api").joinpath("data/common_passwords.txt").read_text("utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip())


def password_problem(password: str, email: str | None = None) -> str | None:
    """The rule a password breaks, or None if it is acceptable."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"must be at least {MIN_PASSWORD_LENGTH} characters long"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"must be at most {MAX_PASSWORD_LENGTH} characters long"
    lowered = password.lower()
    common = _common_passwords()
    letters = re.sub(r"[^a-z]", "", lowered)
    if lowered in common or (letters and letters in common and len(letters) <= 10):
        return "is too common (it, or its letters, appear in a list of breached passwords)"
    if len(set(lowered)) <= 3:
        return "is too repetitive"
    if email and email.split("@")[0].lower() in lowered and len(email.split("@")[0]) >= 4:
        return "must not contain the email address"
    return None


class PasswordHasher:
    def __init__(self, settings: Settings) -> None:
        self._context = CryptContext(
            schemes=["argon2"],
            argon2__type="ID",
            argon2__time_cost=settings.argon2_time_cost,
            argon2__memory_cost=settings.argon2_memory_kib,
            argon2__parallelism=settings.argon2_parallelism,
        )
        # Verified against when the account does not exist, so both paths cost the same.
        self._dummy_hash = self._context.hash("not-a-real-password-0000")

    async def hash(self, password: str) -> str:
        return await anyio.to_thread.run_sync(self._context.hash, password)

    async def verify(self, password: str, password_hash: str | None) -> bool:
        target = password_hash or self._dummy_hash
        ok = await anyio.to_thread.run_sync(self._context.verify, password, target)
        return bool(ok) and password_hash is not None

    def hash_sync(self, password: str) -> str:
        return self._context.hash(password)
