"""`POST /api/v1/cases/{case_id}/notes` (and a case's goals, assessments, follow-ups) ahead
of the router (ovc_api.fastlane_writes): on PostgreSQL a person's create without an
Idempotency-Key is the credential check and the kind's one statement in one round trip
(pipeline mode), then the COMMIT, answered exactly as the documented route answers; every
other request is declined to that route, its transaction (record, audit row, event)
rolled back, and answered as before."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from sqlalchemy import update
from sqlmodel import col, select

from ovc_api import fastlane_writes
from ovc_api.audit.models import AuditEvent
from ovc_api.identity.models import User
from ovc_api.outbox import Event
from ovc_api.settings import Settings

from .conftest import Factory, Tenant, system_session
from .helpers import (
    app_of_its_own,
    assert_problem,
    count_of_case,
    error_locs,
    fast_lane_statements,
    terminate_pooled_connection,
    written_by_request,
)

CASES = "/api/v1/cases"
postgres_only = pytest.mark.skipif(
    not os.environ.get("OVC_TEST_DATABASE_URL"), reason="needs PostgreSQL (OVC_TEST_DATABASE_URL)"
)
NOTE = {"noted_on": "2026-01-22", "text": "Home visit: ក្មេងនៅសាលា."}


def _bodies() -> dict[str, tuple[Any, Any, dict[str, Any]]]:
    """collection -> (model, read schema, a valid body for a case opened on 2026-01-15)."""
    from ovc_api.casework.models import Assessment, CaseNote, CasePlanGoal, FollowUp
    from ovc_api.casework.schemas import AssessmentRead, FollowUpRead, GoalRead, NoteRead

    return {
        "notes": (CaseNote, NoteRead, NOTE),
        "goals": (CasePlanGoal, GoalRead, {"domain": "education", "description": "School"}),
        "follow-ups": (
            FollowUp,
            FollowUpRead,
            {
                "kind": "phone_call",
                "status": "done",
                "scheduled_on": "2026-02-01",
                "done_on": "2026-02-02",
                "outcome": "Talked to the aunt",
            },
        ),
        "assessments": (
            Assessment,
            AssessmentRead,
            {
                "kind": "initial",
                "assessed_on": "2026-01-25",
                "domains": {"education": {"score": 1}, "health": {"score": 3, "needs": "clinic"}},
            },
        ),
    }


@contextmanager
def _declining(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every create goes to the documented FastAPI route."""
    with monkeypatch.context() as patch:
        patch.setattr(
            fastlane_writes.FastCaseCreate,
            "matches",
            lambda self, scope: (fastlane_writes.Match.NONE, {}),
        )
        yield


async def _post(
    client: httpx.AsyncClient,
    url: str,
    body: Any,
    headers: dict[str, str],
    **more: str,
) -> tuple[httpx.Response, str]:
    request_id = f"fast-write-{uuid.uuid4().hex[:12]}"
    response = await client.post(
        url, json=body, headers={**headers, **more, "X-Request-ID": request_id}
    )
    return response, request_id


async def _events_of_case(app: FastAPI, case_id: uuid.UUID) -> int:
    async with system_session(app) as session:
        return len((await session.exec(select(Event).where(col(Event.case_id) == case_id))).all())


VARYING = {"x-request-id", "ratelimit-remaining", "ratelimit-reset", "location", "etag"}
STAMPS = {"id", "created_at", "updated_at"}


def _comparable(response: httpx.Response) -> tuple[int, dict[str, str], list[str], Any]:
    """Status, headers and body (its keys in order) but what names the new record."""
    headers = {k: v for k, v in response.headers.items() if k not in VARYING}
    body = response.json()
    if response.status_code != 201:
        return response.status_code, headers, [], {**body, "instance": None, "request_id": None}
    shown = {k: v for k, v in body.items() if k not in STAMPS}
    return response.status_code, headers, list(body), shown


def _audit_shape(row: AuditEvent) -> tuple[Any, ...]:
    return (
        row.organisation_id,
        row.actor_user_id,
        row.action,
        row.resource_type,
        row.case_id,
        row.client_ip,
        row.changed_fields,
        row.detail,
    )


def _event_shape(row: Event) -> tuple[Any, ...]:
    return (
        row.organisation_id,
        row.type,
        row.change,
        row.resource_type,
        row.case_id,
        row.version,
        row.webhook_pending,
    )


@pytest.mark.parametrize("collection", ["notes", "goals", "assessments", "follow-ups"])
async def test_a_create_answers_as_the_documented_route_in_one_round_trip_and_a_commit(
    collection: str,
    app: FastAPI,
    client: httpx.AsyncClient,
    tenant_a: Tenant,
    factory: Factory,
    test_database: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model, read, body = _bodies()[collection]
    worker = tenant_a["caseworker"]
    case_id = await factory.case(tenant_a.organisation_id, assigned_to=worker.user_id)
    url = f"{CASES}/{case_id}/{collection}"
    with _declining(monkeypatch):
        documented, documented_id = await _post(client, url, body, worker.headers)
    assert documented.status_code == 201, documented.text
    (documented_audit,), (documented_event,) = await written_by_request(app, documented_id)
    for _ in range(2):  # the second create runs the statement the first one compiled
        with fast_lane_statements(app) as seen:
            fast, request_id = await _post(client, url, body, worker.headers)
        assert _comparable(fast) == _comparable(documented)
        answer = fast.json()
        async with system_session(app) as session:
            stored = (
                await session.exec(select(model).where(model.id == uuid.UUID(answer["id"])))
            ).one()
        # Byte for byte what the route serializes for the stored record.
        assert fast.content == read.model_validate(stored).model_dump_json().encode()
        assert fast.headers["location"] == f"{url}/{answer['id']}"
        assert fast.headers["etag"] == f'"{stored.id.hex}.1"'
        (audit,), (event,) = await written_by_request(app, request_id)
        assert (audit.action, audit.resource_id) == (f"{documented_audit.action}", stored.id)
        assert _audit_shape(audit) == _audit_shape(documented_audit)
        assert (event.type, event.resource_id) == (documented_event.type, stored.id)
        assert _event_shape(event) == _event_shape(documented_event)
        assert event.position is not None
        if test_database.is_postgres:
            # The credential check that binds the tenant, then the one statement.
            assert [fast_path for fast_path, _ in seen] == [True, True], seen
            assert "set_config" in seen[0][1]
            for table in (model.__tablename__, "audit_events", "events"):
                assert f"INSERT INTO {table}" in seen[1][1]
        else:
            assert not any(fast_path for fast_path, _ in seen)  # SQLite keeps its path
    assert await count_of_case(app, model, case_id) == 3
    if collection == "follow-ups":  # done: the case's last contact moved, its ETag kept
        from ovc_api.cases.models import Case

        async with system_session(app) as session:
            case = (await session.exec(select(Case).where(Case.id == case_id))).one()
        assert (case.last_contact_on, case.version) == (date(2026, 2, 2), 1)


async def test_declined_creates_roll_back_and_answer_as_before(
    app: FastAPI,
    client: httpx.AsyncClient,
    tenant_a: Tenant,
    tenant_b: Tenant,
    factory: Factory,
    test_database: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another organisation's case (404 as a missing one), a closed case (409), a note
    before the case opened and a bad body (422), a temporary password (403), a role
    changed since the token was issued, a revoked login (401): each answers as the
    documented route does, and nothing is left of it (no note, audit row, event)."""
    from ovc_api.casework.models import CaseNote

    org = tenant_a.organisation_id
    admin, manager, worker = tenant_a["org_admin"], tenant_a["case_manager"], tenant_a["caseworker"]
    mine = await factory.case(org)
    closed = await factory.case(org, status="closed", closed_on=date(2026, 6, 1))
    foreign = await factory.case(tenant_b.organisation_id)
    early = {**NOTE, "noted_on": "2026-01-14"}
    cases = [mine, closed, foreign]

    async def refused(
        case_id: Any, body: Any, headers: dict[str, str], status: int, fast: bool
    ) -> dict[str, Any]:
        url = f"{CASES}/{case_id}/notes"
        with _declining(monkeypatch):
            documented, documented_id = await _post(client, url, body, headers)
        with fast_lane_statements(app) as seen:
            response, request_id = await _post(client, url, body, headers)
        problem = assert_problem(response, status)
        assert _comparable(response) == _comparable(documented)
        assert await written_by_request(app, request_id) == ([], [])
        assert await written_by_request(app, documented_id) == ([], [])
        if test_database.is_postgres:
            # Whether the fast lane ran (and rolled back) its statements first.
            sent = any(fast_path and "INSERT INTO case_notes" in s for fast_path, s in seen)
            assert sent == fast, seen
        return problem

    missing = await refused(uuid.uuid4(), NOTE, manager.headers, 404, True)
    foreign_problem = await refused(foreign, NOTE, manager.headers, 404, True)
    same = {"instance": None, "request_id": None}
    assert {**foreign_problem, **same} == {**missing, **same}
    problem = await refused(closed, NOTE, manager.headers, 409, True)
    assert problem["detail"] == "the case is closed"
    problem = await refused(mine, early, manager.headers, 422, True)
    assert error_locs(problem) == [["body", "noted_on"]]
    problem = await refused(mine, {"noted_on": "2026-01-22"}, manager.headers, 422, False)
    assert error_locs(problem) == [["body", "text"]]
    problem = await refused(mine, {**NOTE, "extra": 1}, manager.headers, 422, False)
    # An analyst holds no cases:write; a caseworker may not write to an unassigned case.
    await refused(mine, NOTE, tenant_a["analyst"].headers, 403, False)
    await refused(mine, NOTE, worker.headers, 404, True)
    # A temporary password: 403 as ever, the fast lane's note rolled back.
    async with system_session(app) as session:
        await session.exec(
            update(User).where(col(User.id) == admin.user_id).values(must_change_password=True)  # type: ignore[call-overload]
        )
    await refused(mine, NOTE, admin.headers, 403, True)
    # Demoted to caseworker after logging in: an unassigned case is a 404 now.
    async with system_session(app) as session:
        await session.exec(
            update(User)  # type: ignore[call-overload]
            .where(col(User.id) == admin.user_id)
            .values(role="caseworker", must_change_password=False)
        )
    await refused(mine, NOTE, admin.headers, 404, True)
    # A revoked login: 401, and the note the pipeline wrote is rolled back.
    assert (await client.post("/api/v1/auth/logout", headers=manager.headers)).status_code == 204
    await refused(mine, NOTE, manager.headers, 401, True)
    for case_id in cases:
        assert await count_of_case(app, CaseNote, case_id) == 0
        assert await _events_of_case(app, case_id) == 0


async def test_requests_of_another_kind_are_the_documented_route_s(
    app: FastAPI, client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    """An Idempotency-Key (its replay memory), another JSON media type, a query string,
    a body that is not JSON: the route answers them, the fast lane sends nothing."""
    from ovc_api.casework.models import CaseNote

    manager = tenant_a["case_manager"]
    case_id = await factory.case(tenant_a.organisation_id)
    url = f"{CASES}/{case_id}/notes"
    key = {"Idempotency-Key": str(uuid.uuid4())}
    with fast_lane_statements(app) as seen:
        first, _ = await _post(client, url, NOTE, manager.headers, **key)
        retry, _ = await _post(client, url, NOTE, manager.headers, **key)
        assert first.status_code == retry.status_code == 201, retry.text
        assert retry.json() == first.json() and retry.headers["idempotent-replayed"] == "true"
        merged = await client.post(
            url,
            content=b'{"noted_on": "2026-01-23", "text": "x"}',
            headers={**manager.headers, "Content-Type": "application/merge-patch+json"},
        )
        assert merged.status_code == 201, merged.text
        queried = await client.post(url, params={"x": "1"}, json=NOTE, headers=manager.headers)
        assert queried.status_code == 201, queried.text
        garbled = await client.post(
            url,
            content=b'{"noted_on": ',
            headers={**manager.headers, "Content-Type": "application/json"},
        )
        assert_problem(garbled, 422)
    assert not any(fast_path for fast_path, _ in seen), seen
    assert await count_of_case(app, CaseNote, case_id) == 3


async def test_a_create_counts_against_the_rate_limit_and_a_429_leaves_nothing(
    settings: Settings,
    tenant_a: Tenant,
    factory: Factory,
    rate_window_start: None,
) -> None:
    from ovc_api.casework.models import CaseNote

    manager = tenant_a["case_manager"]
    case_id = await factory.case(tenant_a.organisation_id)
    url = f"{CASES}/{case_id}/notes"
    async with app_of_its_own(settings, rate_limit="2/minute") as (app, http):
        with fast_lane_statements(app) as seen:
            answers = [await _post(http, url, NOTE, manager.headers) for _ in range(3)]
        assert [r.status_code for r, _ in answers] == [201, 201, 429]
        assert answers[1][0].headers["ratelimit-remaining"] == "0"
        assert_problem(answers[2][0], 429)
        assert answers[2][0].headers["retry-after"]
        assert len((await written_by_request(app, answers[1][1]))[0]) == 1
        assert await written_by_request(app, answers[2][1]) == ([], [])
        assert await count_of_case(app, CaseNote, case_id) == 2
        assert await _events_of_case(app, case_id) == 2
        if app.state.database.is_postgres:  # three fast creates, the last rolled back
            inserts = [s for fast_path, s in seen if fast_path and "INSERT INTO case_notes" in s]
            assert len(inserts) == 3


@postgres_only
async def test_a_connection_killed_under_the_fast_create_answers_503_and_writes_nothing(
    settings: Settings, tenant_a: Tenant, factory: Factory
) -> None:
    """A write is not run again on a fresh connection (it may have been committed): 503
    with Retry-After, as the route's, and the pool's next connection serves the next."""
    from ovc_api.casework.models import CaseNote

    manager = tenant_a["case_manager"]
    case_id = await factory.case(tenant_a.organisation_id)
    url = f"{CASES}/{case_id}/notes"
    async with app_of_its_own(settings, database_pool_size=1) as (app, http):
        assert (await _post(http, url, NOTE, manager.headers))[0].status_code == 201
        await terminate_pooled_connection(app, settings)
        response, request_id = await _post(http, url, NOTE, manager.headers)
        assert_problem(response, 503)
        assert response.headers["retry-after"]
        assert await written_by_request(app, request_id) == ([], [])
        response, request_id = await _post(http, url, NOTE, manager.headers)
        assert response.status_code == 201, response.text
        assert len((await written_by_request(app, request_id))[0]) == 1
    assert await count_of_case(app, CaseNote, case_id) == 2


@postgres_only
@pytest.mark.parametrize("request_kind", ["create", "read", "list"])
async def test_a_fast_request_is_two_round_trips_on_the_wire(
    settings: Settings, tenant_a: Tenant, factory: Factory, tmp_path: Any, request_kind: str
) -> None:
    """What the pooled connection sends (libpq's trace) for a fast create, case read or
    case list: BEGIN, the credential check and the statement, then one Sync (the first
    round trip); COMMIT (the second). psycopg would otherwise send its own BEGIN and wait
    for it first."""
    manager = tenant_a["case_manager"]
    case_id = await factory.case(tenant_a.organisation_id)
    url = f"{CASES}/{case_id}/notes"

    async def fast_request(app: FastAPI, http: httpx.AsyncClient) -> None:
        if request_kind == "create":
            response, request_id = await _post(http, url, NOTE, manager.headers)
            assert response.status_code == 201, response.text
            assert len((await written_by_request(app, request_id))[0]) == 1
            return
        path = f"{CASES}/{case_id}" if request_kind == "read" else CASES
        response = await http.get(path, headers=manager.headers)
        assert response.status_code == 200, response.text

    trace = tmp_path / "libpq.trace"
    async with app_of_its_own(settings, database_pool_size=1) as (app, http):
        assert (await _post(http, url, NOTE, manager.headers))[0].status_code == 201
        async with app.state.database.engine.connect() as connection:
            raw = (await connection.get_raw_connection()).driver_connection
        with trace.open("w") as sink:
            raw.pgconn.trace(sink.fileno())
            raw.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)
            try:
                await fast_request(app, http)
            finally:
                raw.pgconn.untrace()
        # The pooled connection is handed back out of autocommit mode.
        assert raw.autocommit is False
    lines = trace.read_text().splitlines()
    sent = [[*line.split("\t"), ""] for line in lines if line.startswith("F\t")]
    waits = [fields[2].strip() for fields in sent if fields[2].strip() in {"Sync", "Query"}]
    assert waits == ["Sync", "Query"], sent
    assert '"BEGIN"' in sent[0][3] and '"COMMIT"' in sent[-1][3], sent
