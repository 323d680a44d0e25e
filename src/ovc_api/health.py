"""Liveness and readiness for orchestrators and load balancers."""

from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from ovc_api.db import Database, SchemaNotAtHead, require_schema_at_head
from ovc_api.errors import error_responses

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "unavailable"]
    database: Literal["ok", "unreachable", "not_migrated"]
    detail: str | None = None


@router.get(
    "/healthz",
    summary="The process is alive",
    response_model=Health,
    responses=error_responses(500),
)
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="Ready for traffic: database reachable and schema at the expected revision",
    description="Answers within OVC_READYZ_TIMEOUT_SECONDS: a database that does not "
    "answer in time is `unreachable` (503).",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Not ready"}, **error_responses(500)},
)
async def readyz(request: Request) -> Readiness | JSONResponse:
    database: Database = request.app.state.database
    timeout = request.app.state.settings.readyz_timeout_seconds
    try:
        async with asyncio.timeout(timeout):
            await require_schema_at_head(database.engine)
    except SchemaNotAtHead as exc:
        body = Readiness(status="unavailable", database="not_migrated", detail=str(exc))
        return JSONResponse(body.model_dump(), status_code=503)
    except (SQLAlchemyError, OSError, TimeoutError):
        body = Readiness(
            status="unavailable", database="unreachable", detail="database is unreachable"
        )
        return JSONResponse(body.model_dump(), status_code=503)
    return Readiness(status="ready", database="ok")
