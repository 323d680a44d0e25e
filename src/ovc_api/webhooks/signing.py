"""Secrets and signatures per the Standard Webhooks specification.

A secret is `whsec_` and 32 random bytes in base64. A message is signed as
`v1,<base64 HMAC-SHA256(secret, "<webhook-id>.<webhook-timestamp>.<body>")>`; during a
rotation's overlap the header carries one signature per valid secret (space-separated), so a
receiver still holding the previous secret keeps verifying. Secrets are stored encrypted
(Fernet, key derived from OVC_SECRET_KEY): the worker needs them back to sign.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet

SECRET_PREFIX = "whsec_"  # noqa: S105 (the format's prefix, not a secret)


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _fernet(secret_key: str) -> Fernet:
    derived = hashlib.sha256(b"ovc-api webhook secrets\0" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(derived))


def encrypt_secret(secret: str, secret_key: str) -> str:
    return _fernet(secret_key).encrypt(secret.encode()).decode()


def decrypt_secret(token: str, secret_key: str) -> str:
    return _fernet(secret_key).decrypt(token.encode()).decode()


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def signed_headers(
    secrets_in_force: list[str], message_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three Standard Webhooks headers, signed with every secret in force."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            signature(secret, message_id, timestamp, body) for secret in secrets_in_force
        ),
    }
