"""The /api/v1 router: every domain package's routes, included once."""

from __future__ import annotations

from fastapi import APIRouter

from ovc_api.apikeys.routes import router as api_keys_router
from ovc_api.audit.routes import router as audit_router
from ovc_api.auth.routes import router as auth_router
from ovc_api.organisations.routes import router as organisations_router
from ovc_api.users.routes import router as users_router

api_router = APIRouter()
for router in (auth_router, organisations_router, users_router, api_keys_router, audit_router):
    api_router.include_router(router)
