"""Imports every domain's table models, so Alembic and tests see the whole schema."""

from ovc_api.apikeys.models import ApiKey
from ovc_api.audit.models import AuditEvent
from ovc_api.auth.models import AuthSession, LoginThrottle, RefreshToken
from ovc_api.organisations.models import Organisation
from ovc_api.users.models import User

__all__ = [
    "ApiKey",
    "AuditEvent",
    "AuthSession",
    "LoginThrottle",
    "Organisation",
    "RefreshToken",
    "User",
]
