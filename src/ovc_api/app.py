"""The application factory: one place that wires settings, database, errors and routes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from ovc_api import __version__, clock, fastlane, fastlane_writes
from ovc_api.auth.passwords import PasswordHasher
from ovc_api.db import Database, require_schema_at_head
from ovc_api.docs import install_docs
from ovc_api.errors import PROBLEM_CONTENT_TYPE, install_error_handlers
from ovc_api.health import router as health_router
from ovc_api.imports.routes import PATH as UPLOAD_PATH
from ovc_api.observability import RequestContextMiddleware, configure_logging, metrics_response
from ovc_api.ratelimit import HEADER_NAMES, RateLimiter
from ovc_api.routes import API_ROUTERS
from ovc_api.settings import Settings, get_settings
from ovc_api.tenancy import VisibilityRules, install
from ovc_api.visibility import install_rules
from ovc_api.vocabularies.service import describe_enums
from ovc_api.webhooks.worker import run_forever

logger = logging.getLogger("ovc_api")

DESCRIPTION = """
Case management for orphans and vulnerable children, for a network of child-welfare NGOs.

Every error is `application/problem+json` (RFC 9457). A record of another organisation
answers 404 exactly like a missing one. A database outage, overload or timeout answers 503
with `Retry-After` (never 500): retry after that delay; a POST safely only with its
`Idempotency-Key`. Lists are keyset-paginated (`limit`, `cursor`,
`next_cursor`, `Link: rel="next"`).
"""


UNAVAILABLE_RESPONSE: dict[str, Any] = {
    "description": "The database is unavailable, overloaded or too slow (a restart, a "
    "timeout, a conflict that persisted): retry after the delay in `Retry-After`",
    "headers": {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}},
    "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
}


def _operation_id(route: APIRoute) -> str:
    return route.name


def create_app(settings: Settings | None = None, *, check_schema: bool = True) -> FastAPI:
    settings = settings or get_settings()
    clock.configure(settings.timezone)
    database = Database.from_settings(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        _require_visibility_rules(_app)
        if check_schema:
            await require_schema_at_head(database.engine)
        logger.info("ovc-api started", extra={"environment": settings.environment.value})
        stop = asyncio.Event()
        deliveries = None
        if settings.webhook_worker_in_process:
            # One delivery worker in this process (`ovc-api demo`): SQLite needs no other.
            deliveries = asyncio.create_task(run_forever(database, settings, stop))
        yield
        stop.set()
        if deliveries is not None:
            await deliveries
        await database.engine.dispose()

    app = FastAPI(
        title="ovc-api",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        # Served by ovc_api.docs from the package's own assets (no CDN).
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.database = database
    app.state.password_hasher = PasswordHasher(settings)
    app.state.visibility_rules = install_rules()
    app.state.rate_limiter = RateLimiter(settings)
    install_error_handlers(app)
    install_docs(app)
    app.include_router(health_router)
    for router in API_ROUTERS:
        app.include_router(router)
    app.add_route("/metrics", metrics_response, include_in_schema=False)
    # GET /api/v1/cases/{case_id}'s common request and POST /api/v1/cases/{case_id}/notes'
    # (and a case's other records made in one statement), ahead of the router (not
    # documented: they decline every other request to the documented route).
    fastlane.install(app)
    fastlane_writes.install(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=False,
            allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "If-Match",
                "Idempotency-Key",
                "X-Request-ID",
            ],
            expose_headers=[
                "ETag",
                "Link",
                "Location",
                "Retry-After",
                "X-Request-ID",
                *HEADER_NAMES,
            ],
            max_age=600,
        )
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_body_bytes,
        upload_limits={UPLOAD_PATH: settings.import_max_bytes},
    )
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


class VisibilityRulesNotInstalled(RuntimeError):
    """The app would serve tenant data without its visibility rules: it refuses to start."""


def _require_visibility_rules(app: FastAPI) -> None:
    """Start only with the app's visibility rules in force (never the bare organisation rule,
    which would show a caseworker every case)."""
    rules: VisibilityRules | None = getattr(app.state, "visibility_rules", None)
    if rules is None or rules.count() == 0:
        raise VisibilityRulesNotInstalled("the app was built without its visibility rules")
    install(rules)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema, with validation errors documented as the Problem we really send."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=TAGS,
    )
    problem_ref = {"$ref": "#/components/schemas/Problem"}
    for path, path_item in schema.get("paths", {}).items():
        for operation in path_item.values():
            responses = operation.get("responses", {})
            if "422" in responses:
                responses["422"] = {
                    "description": "Invalid input",
                    "content": {PROBLEM_CONTENT_TYPE: {"schema": problem_ref}},
                }
            if path.startswith("/api/"):
                responses.setdefault("503", {"$ref": "#/components/responses/Unavailable"})
    schema.setdefault("components", {}).setdefault("responses", {})["Unavailable"] = (
        UNAVAILABLE_RESPONSE
    )
    components = schema.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    describe_enums(components)
    app.openapi_schema = schema
    return schema


TAGS = [
    {"name": "auth", "description": "Log in (OAuth2 password flow), refresh, log out."},
    {"name": "organisations", "description": "Member organisations of the network."},
    {"name": "users", "description": "People who log in, and their roles."},
    {"name": "api-keys", "description": "Credentials for integrations and scripts."},
    {"name": "audit", "description": "Who did what, for the organisation's administrators."},
    {"name": "children", "description": "Children an organisation protects."},
    {"name": "families", "description": "Households, their members and situation."},
    {"name": "cases", "description": "Cases: workflow, closure approvals, history."},
    {"name": "casework", "description": "Assessments, case plans, notes and follow-ups."},
    {"name": "tasks", "description": "What needs doing: overdue follow-ups and actions."},
    {"name": "services", "description": "The services directory and services delivered."},
    {"name": "referrals", "description": "Consent-scoped referrals between organisations."},
    {"name": "case-conferences", "description": "Partners meeting about a case."},
    {"name": "stats", "description": "Aggregates for dashboards and donor reports (JSON or CSV)."},
    {"name": "reports", "description": "The quarterly donor/ministry report."},
    {
        "name": "exports",
        "description": "Streaming CSV/NDJSON exports, identified or de-identified.",
    },
    {
        "name": "imports",
        "description": "Children, households and cases from a spreadsheet (CSV or XLSX).",
    },
    {"name": "health", "description": "Liveness and readiness probes."},
]


def build_app() -> FastAPI:
    """Entry point for `uvicorn --factory ovc_api.app:build_app` (used by several workers)."""
    settings = get_settings()
    configure_logging(settings)
    return create_app(settings)
