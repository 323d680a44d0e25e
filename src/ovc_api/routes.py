"""Every domain package's router. Each carries its full /api/v1 prefix itself, so a route's
path is its whole template (metrics and logs label requests by it)."""

from __future__ import annotations

from fastapi import APIRouter

from ovc_api.apikeys.routes import router as api_keys_router
from ovc_api.audit.routes import router as audit_router
from ovc_api.auth.routes import router as auth_router
from ovc_api.organisations.routes import router as organisations_router
from ovc_api.users.routes import router as users_router

API_ROUTERS: tuple[APIRouter, ...] = (
    auth_router,
    organisations_router,
    users_router,
    api_keys_router,
    audit_router,
)
