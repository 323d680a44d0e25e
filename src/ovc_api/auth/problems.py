"""Problem types of the credential rules, each with its own `type` so clients can act on it."""

from __future__ import annotations

from ovc_api.errors import Forbidden, Unauthorized


class PasswordChangeRequired(Forbidden):
    """A temporary password's credential: it may only set a new password."""

    title, slug = "Password Change Required", "password-change-required"


class PersonRequired(Forbidden):
    """Four-eyes actions (closure requests and decisions) need a person, never an API key."""

    title, slug = "Person Required", "person-required"


class ApiKeySuspended(Unauthorized):
    """The key's responsible user is deactivated (or gone): the key waits for a new one."""

    title, slug = "API Key Suspended", "api-key-suspended"
