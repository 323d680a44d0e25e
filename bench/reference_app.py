"""The bare reference: Starlette + asyncpg, one keyset query, no auth, no validation, no audit.

It answers what the API's case list would cost with nothing but the database work and JSON:
the same page (50 cases of one organisation, newest opened first, keyset on (opened_on, id),
each with its child's summary and its concerns), in one round trip. bench/run.py serves it
with uvicorn and 2 workers beside the API and measures both in the same run:

    BENCH_REFERENCE_DSN=postgresql://postgres@127.0.0.1:5432/ovc_bench \\
        .venv/bin/uvicorn reference_app:app --app-dir bench --workers 2 --port 8101

GET /cases?org=<uuid>[&cursor=<opened_on>,<id>] -> {"items": [...], "next_cursor": ...}
GET /children?org=<uuid> -> the first page of GET /api/v1/children's equivalent
GET /cases/<id>?org=<uuid> -> one case with its child and concerns, and the read's audit row
POST /cases/<id>/notes?org=<uuid>&user=<uuid> -> a note on an open case, and its audit row
The two last do in one statement each (a data-modifying CTE, in the statement's own
transaction) the database work GET /api/v1/cases/{id} and POST /api/v1/cases/{id}/notes need:
read and audit; check the case, insert, audit.
It connects as the database owner (row-level security does not apply): a floor, not a peer.

With `&session=<uuid>` the three do the statements the API does, in the API's transaction:
BEGIN, the credential check with the tenant settings (the API's own statement, for the
user and login of the bearer token), the page or record with its read-audit row (the list
one row naming the page's ids, as `audit.service.audited_page`), or the note with its
audit row, then COMMIT. That isolates the framework's share: the same SQL, round trips and
transaction, none of the Python.
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
# GET /api/v1/cases/{id}: the case with its child and concerns, and the read's audit row
# (a read commits without waiting for the WAL flush, as the API's reads do).
ONE_CASE = """
WITH found AS (
    SELECT set_config('synchronous_commit', 'off', true) AS relaxed,
           c.id, c.organisation_id, c.child_id, c.family_id, c.assigned_to, c.referral_source,
           c.referral_source_detail, c.risk_level, c.status, c.opened_on, c.closed_on,
           c.closure_reason, c.summary, c.last_contact_on, c.created_by, c.created_at,
           c.updated_at, c.version,
           ch.given_name_latin, ch.family_name_latin, ch.given_name_khmer,
           ch.family_name_khmer, ch.sex, ch.date_of_birth, ch.province, ch.district,
           ARRAY(SELECT cc.concern FROM case_concerns cc WHERE cc.case_id = c.id
                 ORDER BY cc.concern) AS concerns
    FROM cases c JOIN children ch ON ch.id = c.child_id
    WHERE c.id = $1 AND c.organisation_id = $2
), logged AS (
    INSERT INTO audit_events (id, organisation_id, at, action, resource_type, resource_id,
                              case_id, actor_user_id)
    SELECT gen_random_uuid(), organisation_id, now(), 'case.read', 'case', id, id, $3
    FROM found
)
SELECT * FROM found
"""
# POST /api/v1/cases/{id}/notes: the case is the caller's and open; the note; its audit row.
NEW_NOTE = """
WITH open_case AS (
    SELECT id, organisation_id FROM cases
    WHERE id = $1 AND organisation_id = $2 AND status <> 'closed' AND opened_on <= $4
), note AS (
    INSERT INTO case_notes (id, organisation_id, case_id, author_id, noted_on, text,
                            created_at, updated_at, version)
    SELECT gen_random_uuid(), organisation_id, id, $3, $4, $5, now(), now(), 1 FROM open_case
    RETURNING id, case_id, author_id, noted_on, text, created_at, updated_at, version,
              organisation_id
), logged AS (
    INSERT INTO audit_events (id, organisation_id, at, action, resource_type, resource_id,
                              case_id, actor_user_id)
    SELECT gen_random_uuid(), organisation_id, now(), 'case_note.create', 'case_note', id,
           case_id, $3
    FROM note
)
SELECT id, case_id, author_id, noted_on, text, created_at, updated_at, version FROM note
"""
# The API's credential check and tenant binding (auth/principal.py, `_JWT_PRINCIPAL_PG`).
CREDENTIAL = """
SELECT set_config('ovc.network',
                  CASE WHEN found.role = 'network_admin' THEN 'on' ELSE 'off' END, true),
       found.role, found.must_change_password, found.live
FROM (SELECT set_config('ovc.org_id', $1::text, true) AS org,
             set_config('ovc.system', 'off', true) AS system,
             set_config('ovc.network', 'off', true) AS network,
             set_config('synchronous_commit', $2::text, true) AS sync
      OFFSET 0) AS bound
CROSS JOIN LATERAL (
    SELECT users.role, users.must_change_password,
           users.active AND organisations.active AND auth_sessions.revoked_at IS NULL AS live
    FROM users
    JOIN organisations ON organisations.id = users.organisation_id
    JOIN auth_sessions ON auth_sessions.user_id = users.id
    WHERE users.id = $3 AND auth_sessions.id = $4
      AND users.organisation_id = CAST(bound.org AS uuid)
    OFFSET 0) AS found
"""
# The first page with its list-read audit row (one row naming the page's ids, in order).
AUDITED_PAGE = f"""
WITH page AS ({FIRST_PAGE.strip()}), logged AS (
    INSERT INTO audit_events (id, organisation_id, at, action, resource_type, actor_user_id,
                              record_ids)
    SELECT gen_random_uuid(), $1, now(), 'case.list', 'case', $2,
           coalesce(array_agg(shown.id ORDER BY shown.opened_on DESC, shown.id DESC),
                    '{{}}'::uuid[])
    FROM (SELECT id, opened_on FROM page ORDER BY opened_on DESC, id DESC LIMIT 50) AS shown
)
SELECT * FROM page ORDER BY opened_on DESC, id DESC
"""
CHILD_FIELDS = (
    "given_name_latin",
    "family_name_latin",
    "given_name_khmer",
    "family_name_khmer",
    "sex",
    "date_of_birth",
    "province",
    "district",
)


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
    session = request.query_params.get("session")
    if session:
        user = uuid.UUID(request.query_params["user"])
        try:
            rows = await _as_the_api(pool, org, user, session, "off", AUDITED_PAGE, org, user)
        except _Refused:
            return PlainTextResponse("unauthorised", status_code=401)
    elif cursor:
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


async def _as_the_api(
    pool: asyncpg.Pool,
    org: uuid.UUID,
    user: uuid.UUID,
    session: str,
    sync: str,
    statement: str,
    *params: Any,
) -> list[asyncpg.Record]:
    """The API's transaction: the credential check and tenant binding, then `statement`;
    `_Refused` (rolled back) when the credential is not live."""
    async with pool.acquire() as conn, conn.transaction():
        found = await conn.fetchrow(CREDENTIAL, str(org), sync, user, uuid.UUID(session))
        if found is None or not found["live"]:
            raise _Refused
        return list(await conn.fetch(statement, *params))


class _Refused(Exception):
    pass


def _dumps(value: Any) -> str:
    return json.dumps(value, default=lambda v: v.isoformat() if hasattr(v, "isoformat") else str(v))


async def one_case(request: Request) -> Response:
    pool: asyncpg.Pool = request.app.state.pool
    case_id = uuid.UUID(request.path_params["case_id"])
    org = uuid.UUID(request.query_params["org"])
    user = uuid.UUID(request.query_params["user"]) if "user" in request.query_params else None
    session = request.query_params.get("session")
    if session and user is not None:
        try:
            rows = await _as_the_api(pool, org, user, session, "off", ONE_CASE, case_id, org, user)
        except _Refused:
            return PlainTextResponse("unauthorised", status_code=401)
        row = rows[0] if rows else None
    else:
        row = await pool.fetchrow(ONE_CASE, case_id, org, user)
    if row is None:
        return PlainTextResponse("not found", status_code=404)
    item = {k: v for k, v in row.items() if k not in CHILD_FIELDS and k != "relaxed"}
    item["child"] = {"id": row["child_id"], **{k: row[k] for k in CHILD_FIELDS}}
    headers = {"ETag": f'W/"{row["version"]}"'}
    return Response(_dumps(item), media_type="application/json", headers=headers)


async def new_note(request: Request) -> Response:
    pool: asyncpg.Pool = request.app.state.pool
    case_id = uuid.UUID(request.path_params["case_id"])
    org = uuid.UUID(request.query_params["org"])
    user = uuid.UUID(request.query_params["user"])
    body = json.loads(await request.body())
    noted_on = date.fromisoformat(body["noted_on"])
    session = request.query_params.get("session")
    if session:
        try:
            rows = await _as_the_api(
                pool, org, user, session, "on", NEW_NOTE, case_id, org, user, noted_on, body["text"]
            )
        except _Refused:
            return PlainTextResponse("unauthorised", status_code=401)
        row = rows[0] if rows else None
    else:
        row = await pool.fetchrow(NEW_NOTE, case_id, org, user, noted_on, body["text"])
    if row is None:
        return PlainTextResponse("not found", status_code=404)
    return Response(_dumps(dict(row.items())), status_code=201, media_type="application/json")


async def health(request: Request) -> Response:
    return PlainTextResponse("ok")


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    dsn = os.environ["BENCH_REFERENCE_DSN"]
    size = int(os.environ.get("BENCH_REFERENCE_POOL", "10"))
    # The server settings the API's connections have (ovc_api.db.create_engine): no JIT.
    app.state.pool = await asyncpg.create_pool(
        dsn, min_size=size, max_size=size, server_settings={"jit": "off"}
    )
    try:
        yield
    finally:
        await app.state.pool.close()


app = Starlette(
    routes=[
        Route("/cases", list_cases),
        Route("/children", list_children),
        Route("/cases/{case_id}", one_case),
        Route("/cases/{case_id}/notes", new_note, methods=["POST"]),
        Route("/healthz", health),
    ],
    lifespan=lifespan,
)
