"""`GET /api/v1/cases/{case_id}` ahead of the router (ovc_api.fastlane): on PostgreSQL a
person's read of their own organisation's case is the credential check and the audited read
in one round trip (pipeline mode), answered exactly as the documented route answers; every
other request is declined to that route, its transaction (read and audit row) rolled back.
And access tokens are verified once each (ovc_api.auth.tokens), their expiry checked on
every use."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text, update
from sqlmodel import col, select

from ovc_api import fastlane
from ovc_api.app import create_app
from ovc_api.audit.models import AuditEvent
from ovc_api.auth import tokens
from ovc_api.db import utcnow
from ovc_api.identity.models import User
from ovc_api.settings import Settings

from .conftest import Factory, Tenant, system_session
from .helpers import (
    app_of_its_own,
    assert_problem,
    fast_lane_statements,
    owner_connection,
    terminate_pooled_connection,
)

CASES = "/api/v1/cases"
postgres_only = pytest.mark.skipif(
    not os.environ.get("OVC_TEST_DATABASE_URL"), reason="needs PostgreSQL (OVC_TEST_DATABASE_URL)"
)


@contextmanager
def _declining(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every request goes to the documented FastAPI route."""
    with monkeypatch.context() as patch:
        patch.setattr(
            fastlane.FastCaseRead, "matches", lambda self, scope: (fastlane.Match.NONE, {})
        )
        yield


async def _events(app: FastAPI, request_id: str) -> list[AuditEvent]:
    async with system_session(app) as session:
        statement = select(AuditEvent).where(col(AuditEvent.request_id) == request_id)
        return list((await session.exec(statement)).all())


async def _get(
    client: httpx.AsyncClient, case_id: Any, headers: dict[str, str]
) -> tuple[httpx.Response, str]:
    request_id = f"fast-{uuid.uuid4().hex[:12]}"
    response = await client.get(
        f"{CASES}/{case_id}", headers={**headers, "X-Request-ID": request_id}
    )
    return response, request_id


def _comparable(response: httpx.Response) -> tuple[int, dict[str, str], Any]:
    varying = {"x-request-id", "ratelimit-remaining", "ratelimit-reset"}
    headers = {k: v for k, v in response.headers.items() if k not in varying}
    return response.status_code, headers, response.json()


async def test_a_case_read_answers_as_the_documented_route_in_one_audited_round_trip(
    app: FastAPI,
    client: httpx.AsyncClient,
    tenant_a: Tenant,
    factory: Factory,
    test_database: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    manager = tenant_a["case_manager"]
    case_id = await factory.case(tenant_a.organisation_id, concerns=("neglect", "violence"))
    with _declining(monkeypatch):
        documented, _ = await _get(client, case_id, manager.headers)
    assert documented.status_code == 200, documented.text
    for _ in range(2):  # the second read runs the statements the first one compiled
        with fast_lane_statements(app) as seen:
            fast, request_id = await _get(client, case_id, manager.headers)
        assert _comparable(fast) == _comparable(documented)
        (read,) = await _events(app, request_id)
        assert (read.action, read.resource_id, read.case_id) == ("case.read", case_id, case_id)
        assert read.actor_user_id == manager.user_id
        if test_database.is_postgres:
            # The credential check that binds the tenant, then the read writing its audit row.
            assert [fast_path for fast_path, _ in seen] == [True, True], seen
            assert "set_config" in seen[0][1] and "INSERT INTO audit_events" in seen[1][1]
        else:
            assert not any(fast_path for fast_path, _ in seen)  # SQLite keeps its path


async def test_declined_reads_roll_back_and_answer_as_before(
    app: FastAPI,
    client: httpx.AsyncClient,
    tenant_a: Tenant,
    tenant_b: Tenant,
    factory: Factory,
    test_database: Any,
) -> None:
    """Another organisation's case, a missing one, a case the caller's role (changed since
    the token was issued) may not see, a revoked login: the answers of the documented route,
    and no audit row of the pipeline's read survives."""
    admin, other = tenant_a["org_admin"], tenant_b["case_manager"]
    mine = await factory.case(tenant_a.organisation_id)
    theirs = await factory.case(tenant_b.organisation_id)
    for case_id in (theirs, uuid.uuid4()):
        response, request_id = await _get(client, case_id, admin.headers)
        assert_problem(response, 404)
        assert await _events(app, request_id) == []
    # Demoted to caseworker after logging in: an unassigned case is a 404 now.
    async with system_session(app) as session:
        await session.exec(
            update(User).where(col(User.id) == admin.user_id).values(role="caseworker")  # type: ignore[call-overload]
        )
    response, request_id = await _get(client, mine, admin.headers)
    assert_problem(response, 404)
    assert await _events(app, request_id) == []
    # A revoked login: 401 as ever, and nothing of the read is left.
    assert (await client.post("/api/v1/auth/logout", headers=other.headers)).status_code == 204
    with fast_lane_statements(app) as seen:
        response, request_id = await _get(client, theirs, other.headers)
    assert_problem(response, 401)
    assert await _events(app, request_id) == []
    if test_database.is_postgres:
        assert any(fast_path and "INSERT INTO audit_events" in s for fast_path, s in seen), seen


async def test_a_temporary_password_and_a_spent_rate_limit_answer_as_before(
    app: FastAPI, client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    worker = tenant_a["caseworker"]
    case_id = await factory.case(tenant_a.organisation_id, assigned_to=worker.user_id)
    assert (await _get(client, case_id, worker.headers))[0].status_code == 200
    async with system_session(app) as session:
        await session.exec(
            update(User).where(col(User.id) == worker.user_id).values(must_change_password=True)  # type: ignore[call-overload]
        )
    response, request_id = await _get(client, case_id, worker.headers)
    assert_problem(response, 403)
    assert await _events(app, request_id) == []


async def test_the_fast_read_counts_against_the_rate_limit_and_a_429_leaves_no_audit_row(
    settings: Settings,
    tenant_a: Tenant,
    factory: Factory,
    rate_window_start: None,
) -> None:
    manager = tenant_a["case_manager"]
    case_id = await factory.case(tenant_a.organisation_id)
    async with app_of_its_own(settings, rate_limit="2/minute") as (app, http):
        answers = [await _get(http, case_id, manager.headers) for _ in range(3)]
        assert [r.status_code for r, _ in answers] == [200, 200, 429]
        assert answers[1][0].headers["ratelimit-remaining"] == "0"
        assert_problem(answers[2][0], 429)
        assert len(await _events(app, answers[1][1])) == 1
        assert await _events(app, answers[2][1]) == []


@postgres_only
async def test_a_connection_killed_under_the_fast_read_is_read_again_on_a_fresh_one(
    settings: Settings, tenant_a: Tenant, factory: Factory
) -> None:
    manager = tenant_a["case_manager"]
    case_id = await factory.case(tenant_a.organisation_id)
    async with app_of_its_own(settings, database_pool_size=1) as (app, http):
        assert (await _get(http, case_id, manager.headers))[0].status_code == 200
        await terminate_pooled_connection(app, settings)
        response, request_id = await _get(http, case_id, manager.headers)
        assert response.status_code == 200, response.text
        assert len(await _events(app, request_id)) == 1


def test_a_verified_token_is_verified_once_and_expires_on_time(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    lifetime = timedelta(minutes=settings.access_token_minutes)
    ids = {"user_id": uuid.uuid4(), "organisation_id": uuid.uuid4(), "session_id": uuid.uuid4()}
    token, _ = tokens.issue_access_token(
        settings, **ids, scopes=["cases:read"], now=utcnow() - lifetime + timedelta(seconds=30)
    )
    claims = tokens.decode_access_token(settings, token)
    assert claims.user_id == ids["user_id"]
    calls: list[str] = []
    real = tokens._decode_access_token
    monkeypatch.setattr(tokens, "_decode_access_token", lambda s, t: calls.append(t) or real(s, t))
    assert tokens.decode_access_token(settings, token) == claims
    assert calls == []  # verified once
    # Another secret (another deployment's settings) verifies it afresh, and refuses it.
    with pytest.raises(tokens.InvalidToken):
        tokens.decode_access_token(settings.model_copy(update={"secret_key": "x" * 48}), token)
    later = time.time() + 60
    monkeypatch.setattr(tokens.time, "time", lambda: later)
    with pytest.raises(tokens.InvalidToken):
        tokens.decode_access_token(settings, token)


async def test_the_plain_case_list_answers_as_the_documented_route_in_one_round_trip(
    app: FastAPI,
    client: httpx.AsyncClient,
    tenant_a: Tenant,
    factory: Factory,
    test_database: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    admin = tenant_a["org_admin"]
    for _ in range(3):
        await factory.case(tenant_a.organisation_id, concerns=("neglect", "violence"))
    first = await client.get(CASES, params={"limit": 2}, headers=admin.headers)
    queries = [
        {"limit": "2"},
        {"limit": "2", "cursor": first.json()["next_cursor"]},
        {"sort": "created_at", "limit": "1"},
        {},
        {"limit": "500"},  # clamped to the maximum, as by the route
    ]
    for params in queries:
        with _declining(monkeypatch):
            documented = await client.get(CASES, params=params, headers=admin.headers)
        assert documented.status_code == 200, documented.text
        request_id = f"fast-list-{uuid.uuid4().hex[:12]}"
        headers = {**admin.headers, "X-Request-ID": request_id}
        with fast_lane_statements(app) as seen:
            fast = await client.get(CASES, params=params, headers=headers)
        assert _comparable(fast) == _comparable(documented), params
        (listed,) = await _events(app, request_id)
        assert listed.action == "case.list" and listed.actor_user_id == admin.user_id
        assert [str(i) for i in listed.record_ids or []] == [i["id"] for i in fast.json()["items"]]
        if test_database.is_postgres:
            assert [fast_path for fast_path, _ in seen] == [True, True], seen
        else:
            assert not any(fast_path for fast_path, _ in seen)


async def test_filtered_or_invalid_lists_are_the_documented_route_s(
    app: FastAPI, client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    admin = tenant_a["org_admin"]
    await factory.case(tenant_a.organisation_id)
    for params in ({"status": "intake"}, {"limit": "2", "limit ": "3"}):
        with fast_lane_statements(app) as seen:
            response = await client.get(CASES, params=params, headers=admin.headers)
        assert response.status_code == 200, response.text
        assert not any(fast_path for fast_path, _ in seen)
    for params in ({"limit": "0"}, {"limit": "x"}, {"cursor": "garbled"}, {"sort": "name"}):
        with fast_lane_statements(app) as seen:
            assert_problem(await client.get(CASES, params=params, headers=admin.headers), 422)
        assert not any(fast_path for fast_path, _ in seen), params


# Text that JSON writers could disagree on: quotes, backslashes, control characters (named
# escapes and \u00XX), DEL, a slash, non-ASCII (Khmer, accents, an emoji, U+2028).
AWKWARD = 'Chhun "Jr" \\ back/slash\ttab\nline\r\x08\x0c\x01\x1f\x7f é ស្រីនាង 😀 \u2028'


async def test_the_fast_lane_writes_the_documented_route_s_bytes_for_awkward_records(
    app: FastAPI,
    client: httpx.AsyncClient,
    tenant_a: Tenant,
    factory: Factory,
    test_database: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The database writes the items' JSON on the fast lane (`ovc_api.json_items`): the
    same bytes as the route's pydantic serialization, for every optional field set and
    unset, awkward text, timestamps with and without a fraction, concerns in any order."""
    from datetime import UTC, date, datetime

    from ovc_api.cases.models import Case
    from ovc_api.children.models import Child

    org, worker = tenant_a.organisation_id, tenant_a["caseworker"]
    admin = tenant_a["org_admin"]
    family = await factory.family(org)
    odd_child = await factory.child(
        org,
        given_name_latin=AWKWARD,
        family_name_latin="O'Neil",
        given_name_khmer=None,
        family_name_khmer="ឈុន",
        date_of_birth=None,
        district=None,
    )
    full = await factory.case(
        org,
        child_id=odd_child,
        concerns=("other", "violence", "abandonment", "neglect"),
        family_id=family,
        assigned_to=worker.user_id,
        referral_source_detail=AWKWARD,
        summary=AWKWARD + " <script>&amp;</script>",
        status="closed",
        closed_on=date(2026, 2, 28),
        closure_reason="reunified_with_family",
        last_contact_on=date(2026, 2, 1),
        created_by=admin.user_id,
    )
    bare = await factory.case(org, concerns=())
    plain = await factory.case(org, opened_on=date(2026, 1, 15))
    stamps = {
        full: (
            datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
            datetime(2026, 1, 2, 3, 4, 5, 123400, tzinfo=UTC),
        ),
        bare: (
            datetime(2026, 1, 2, 3, 4, 5, 1, tzinfo=UTC),
            datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        ),
    }
    async with system_session(app) as session:
        for case_id, (created, updated) in stamps.items():
            await session.exec(
                update(Case)
                .where(col(Case.id) == case_id)
                .values(created_at=created, updated_at=updated)  # type: ignore[call-overload]
            )
        await session.exec(
            update(Child).where(col(Child.id) == odd_child).values(district='Ba"ttam\\bang')  # type: ignore[call-overload]
        )

    def same(fast: httpx.Response, documented: httpx.Response) -> None:
        assert documented.status_code == 200, documented.text
        assert fast.content == documented.content
        assert _comparable(fast)[:2] == _comparable(documented)[:2]

    for case_id in (full, bare, plain):
        with _declining(monkeypatch):
            documented, _ = await _get(client, case_id, admin.headers)
        with fast_lane_statements(app) as seen:
            fast, _ = await _get(client, case_id, admin.headers)
        same(fast, documented)
        assert any(fast_path for fast_path, _ in seen) == test_database.is_postgres
    for sort in ("-opened_on", "created_at", "-updated_at"):
        params: dict[str, str] = {"sort": sort, "limit": "2"}
        while True:
            with _declining(monkeypatch):
                documented = await client.get(CASES, params=params, headers=admin.headers)
            with fast_lane_statements(app) as seen:
                fast = await client.get(CASES, params=params, headers=admin.headers)
            same(fast, documented)
            assert any(fast_path for fast_path, _ in seen) == test_database.is_postgres
            cursor = fast.json()["next_cursor"]
            if cursor is None:
                break
            params["cursor"] = cursor


@postgres_only
async def test_a_plain_case_list_reads_the_child_through_a_lateral_sub_query(
    app: FastAPI,
    client: httpx.AsyncClient,
    tenant_a: Tenant,
    factory: Factory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The statement's shape that keeps PostgreSQL on the organisation's index (as the app
    role the plain join read and sorted all of an organisation's cases, `child_of_case`):
    the plain list, on the fast lane or the route, joins the child as `LATERAL (...
    OFFSET 0)`; a list filtered on the child's columns joins `children` itself, and
    finds what the filter names."""
    admin = tenant_a["org_admin"]
    await factory.case(tenant_a.organisation_id)
    elsewhere = await factory.child(tenant_a.organisation_id, province="kampot")
    wanted = await factory.case(tenant_a.organisation_id, child_id=elsewhere)

    async def listed(params: dict[str, str]) -> tuple[list[str], str]:
        with fast_lane_statements(app) as seen:
            response = await client.get(CASES, params=params, headers=admin.headers)
        assert response.status_code == 200, response.text
        (page,) = [s for _, s in seen if "INSERT INTO audit_events" in s]
        return [item["id"] for item in response.json()["items"]], page

    lateral = "JOIN LATERAL (SELECT children.id AS id"
    for declining in (False, True):
        with monkeypatch.context() as patch:
            if declining:
                patch.setattr(
                    fastlane.FastCaseRead, "matches", lambda self, scope: (fastlane.Match.NONE, {})
                )
            ids, page = await listed({"limit": "5"})
        assert len(ids) == 2
        assert lateral in page and "OFFSET 0) AS child ON true" in page
        assert "JOIN children ON" not in page
    ids, page = await listed({"province": "kampot"})
    assert ids == [str(wanted)]
    assert lateral not in page and "JOIN children ON" in page


@postgres_only
async def test_the_app_s_connections_compile_no_statement_just_in_time(settings: Settings) -> None:
    """Row-level security's sub-plans make PostgreSQL's cost estimate of a page read high
    enough for JIT compilation, which cost far more than the read itself."""
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        app.state.database.engine.connect() as connection,
    ):
        assert (await connection.execute(text("SHOW jit"))).scalar_one() == "off"


@postgres_only
async def test_the_fast_read_is_planned_once_per_connection(
    settings: Settings, tenant_a: Tenant, factory: Factory
) -> None:
    """PostgreSQL planned the prepared read again at each run (custom plans: 2.5-4 ms
    against 0.6 ms for the read itself at 1M cases): the policies' sub-plans make the
    generic plan look dear. The fast lane prepares its statements at their first run
    (`ovc_api.wire`) and asks for the generic plan."""
    manager = tenant_a["case_manager"]
    case_id = await factory.case(tenant_a.organisation_id)
    async with app_of_its_own(settings, database_pool_size=1) as (app, http):
        for _ in range(8):
            response = await http.get(f"/api/v1/cases/{case_id}", headers=manager.headers)
            assert response.status_code == 200, response.text
        async with app.state.database.engine.connect() as connection:
            plans = await connection.execute(
                text(
                    "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
                    " WHERE statement LIKE '%INSERT INTO audit_events%'"
                )
            )
            assert [tuple(row) for row in plans] == [(8, 0)]


@postgres_only
async def test_the_fast_read_prepares_again_what_the_connection_lost(
    settings: Settings, tenant_a: Tenant, factory: Factory
) -> None:
    """psycopg sends DEALLOCATE ALL after a rollback when it holds prepared statements of
    its own, which drops the fast lane's too: the read prepares them again and is
    answered, its audit row written once."""
    manager = tenant_a["case_manager"]
    case_id = await factory.case(tenant_a.organisation_id)
    async with app_of_its_own(settings, database_pool_size=1) as (app, http):
        url = f"/api/v1/cases/{case_id}"
        assert (await http.get(url, headers=manager.headers)).status_code == 200
        async with app.state.database.engine.connect() as connection:
            await connection.execute(text("DEALLOCATE ALL"))
        response = await http.get(url, headers=manager.headers)
        assert response.status_code == 200, response.text
        assert response.json()["id"] == str(case_id)
    with owner_connection(settings) as conn:
        row = conn.execute(
            "SELECT count(*) FROM audit_events WHERE resource_id = %s AND action = 'case.read'",
            (case_id,),
        ).fetchone()
    assert row == (2,)
