"""The bare reference: Starlette + asyncpg, one keyset query, no auth, no validation, no audit.

It answers what the API's case list would cost with nothing but the database work and JSON:
the same page (50 cases of one organisation, newest opened first, keyset on (opened_on, id),
each with its child's summary and its concerns), in one round trip. bench/run.py serves it
with uvicorn and 2 workers beside the API and measures both in the same run:

    BENCH_REFERENCE_DSN=postgresql://postgres@127.0.0.1:5432/ovc_bench \\
        .venv/bin/uvicorn reference_app:app --app-dir bench --workers 2 --port 8101

GET /cases?org=<uuid>[&cursor=<opened_on>,<id>] -> {"items": [...], "next_cursor": ...}
GET /children?org=<uuid> -> the first page of GET /api/v1/children's equivalent
It connects as the database owner (row-level security does not apply): a floor, not a peer.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

PAGE = 50
SELECT = """
SELECT c.id, c.status, c.risk_level, c.referral_source, c.opened_on, c.closed_on,
       c.closure_reason, c.assigned_to, c.last_contact_on, c.updated_at, c.version,
       ch.id AS child_id, ch.given_name_latin, ch.family_name_latin, ch.given_name_khmer,
       ch.family_name_khmer, ch.sex, ch.date_of_birth,
       ARRAY(SELECT cc.concern FROM case_concerns cc WHERE cc.case_id = c.id
             ORDER BY cc.concern) AS concerns
FROM cases c JOIN children ch ON ch.id = c.child_id
WHERE c.organisation_id = $1 {after}
ORDER BY c.opened_on DESC, c.id DESC
LIMIT 51
"""
FIRST_PAGE = SELECT.format(after="")
NEXT_PAGE = SELECT.format(after="AND (c.opened_on, c.id) < ($2, $3)")
# The same for GET /api/v1/children (default sort -created_at), to compare with that list.
CHILDREN = """
SELECT id, organisation_id, family_id, given_name_latin, family_name_latin, given_name_khmer,
       family_name_khmer, sex, date_of_birth, birth_date_estimated, birth_registration,
       disability, schooling_status, care_arrangement, province, district, commune, village,
       archived_at, created_at, updated_at
FROM children
WHERE organisation_id = $1 AND archived_at IS NULL
ORDER BY created_at DESC, id DESC
LIMIT 51
"""


def _json(value: Any) -> Any:
    if isinstance(value, uuid.UUID | date):
        return str(value) if isinstance(value, uuid.UUID) else value.isoformat()
    return value


def _item(row: asyncpg.Record) -> dict[str, Any]:
    child_fields = (
        "given_name_latin",
        "family_name_latin",
        "given_name_khmer",
        "family_name_khmer",
        "sex",
        "date_of_birth",
    )
    item = {k: _json(v) for k, v in row.items() if k not in child_fields and k != "child_id"}
    item["child"] = {"id": str(row["child_id"]), **{k: _json(row[k]) for k in child_fields}}
    return item


async def list_cases(request: Request) -> Response:
    pool: asyncpg.Pool = request.app.state.pool
    org = uuid.UUID(request.query_params["org"])
    cursor = request.query_params.get("cursor")
    if cursor:
        opened_on, case_id = cursor.split(",")
        rows = await pool.fetch(NEXT_PAGE, org, date.fromisoformat(opened_on), uuid.UUID(case_id))
    else:
        rows = await pool.fetch(FIRST_PAGE, org)
    items = [_item(r) for r in rows[:PAGE]]
    last = rows[PAGE - 1] if len(rows) > PAGE else None
    body = {
        "items": items,
        "next_cursor": f"{last['opened_on'].isoformat()},{last['id']}" if last else None,
    }
    return Response(json.dumps(body, default=str), media_type="application/json")


async def list_children(request: Request) -> Response:
    pool: asyncpg.Pool = request.app.state.pool
    rows = await pool.fetch(CHILDREN, uuid.UUID(request.query_params["org"]))
    body = {
        "items": [{k: _json(v) for k, v in r.items()} for r in rows[:PAGE]],
        "next_cursor": str(rows[PAGE - 1]["id"]) if len(rows) > PAGE else None,
    }
    return Response(json.dumps(body, default=str), media_type="application/json")


async def health(request: Request) -> Response:
    return PlainTextResponse("ok")


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    dsn = os.environ["BENCH_REFERENCE_DSN"]
    size = int(os.environ.get("BENCH_REFERENCE_POOL", "10"))
    app.state.pool = await asyncpg.create_pool(dsn, min_size=size, max_size=size)
    try:
        yield
    finally:
        await app.state.pool.close()


app = Starlette(
    routes=[
        Route("/cases", list_cases),
        Route("/children", list_children),
        Route("/healthz", health),
    ],
    lifespan=lifespan,
)
