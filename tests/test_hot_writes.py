"""The hot write: a case's note (and goal, assessment) created in one statement.

On PostgreSQL `POST /cases/{id}/notes` sends the credential check (which sets the tenant)
and one statement: the case found in the caller's scope for writing and checked (open, the
note not dated before it opened), the note inserted RETURNING its row, its audit row and
its change-feed event inserted, one data-modifying CTE (`service_kit.insert_row`). A
request with an Idempotency-Key, and SQLite, take the session path (the case loaded, the
rules, the ORM insert, the audit). Both answer the same JSON, ETag and Location, refuse the
same requests, and write the same audit and event rows.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import select

from ovc_api.audit.models import AuditEvent
from ovc_api.concurrency import etag_of
from ovc_api.outbox import Event

from .conftest import Factory, Tenant, system_session
from .helpers import (
    assert_problem,
    count_of_case,
    error_locs,
    recorded_statements,
    written_by_request,
)

CASES = "/api/v1/cases"


def _kinds() -> dict[str, tuple[str, Any, Any, dict[str, Any]]]:
    """collection -> (audit resource, model, read schema, a valid body for a case opened on
    2026-01-15)."""
    from ovc_api.casework.models import Assessment, CaseNote, CasePlanGoal, FollowUp
    from ovc_api.casework.schemas import AssessmentRead, FollowUpRead, GoalRead, NoteRead

    return {
        "notes": (
            "case_note",
            CaseNote,
            NoteRead,
            {"noted_on": "2026-01-22", "text": "Home visit: ក្មេងនៅសាលា."},
        ),
        "goals": (
            "case_plan_goal",
            CasePlanGoal,
            GoalRead,
            {"domain": "education", "description": "Back to school"},
        ),
        "follow-ups": (
            "follow_up",
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
            "assessment",
            Assessment,
            AssessmentRead,
            {
                "kind": "initial",
                "assessed_on": "2026-01-25",
                "domains": {"education": {"score": 1}, "health": {"score": 3, "needs": "clinic"}},
            },
        ),
    }


async def _stored(app: FastAPI, model: Any, record_id: str) -> Any:
    async with system_session(app) as session:
        return (await session.exec(select(model).where(model.id == uuid.UUID(record_id)))).one()


def _audit_shape(row: AuditEvent) -> dict[str, Any]:
    return {
        "organisation_id": row.organisation_id,
        "actor_user_id": row.actor_user_id,
        "actor_api_key_id": row.actor_api_key_id,
        "action": row.action,
        "resource_type": row.resource_type,
        "changed_fields": row.changed_fields,
        "record_ids": row.record_ids,
        "case_id": row.case_id,
        "via_referral_id": row.via_referral_id,
        "client_ip": row.client_ip,
        "detail": row.detail,
    }


def _event_shape(row: Event) -> dict[str, Any]:
    return {
        "organisation_id": row.organisation_id,
        "type": row.type,
        "change": row.change,
        "resource_type": row.resource_type,
        "owner_organisation_id": row.owner_organisation_id,
        "case_id": row.case_id,
        "version": row.version,
        "webhook_pending": row.webhook_pending,
    }


@pytest.mark.parametrize("collection", ["notes", "goals", "assessments", "follow-ups"])
async def test_a_create_is_one_statement_and_answers_and_records_as_the_session_path(
    collection: str,
    app: FastAPI,
    client: httpx.AsyncClient,
    tenant_a: Tenant,
    tenant_b: Tenant,
    factory: Factory,
    test_database: Any,
) -> None:
    resource, model, read, body = _kinds()[collection]
    worker = tenant_a["caseworker"]
    case_id = await factory.case(tenant_a.organisation_id, assigned_to=worker.user_id)
    url = f"{CASES}/{case_id}/{collection}"
    shapes: dict[str, Any] = {}
    # The session path first (an Idempotency-Key takes it), then the same body twice
    # without one (the second run executes the statement the first one built).
    for run, key in enumerate([str(uuid.uuid4()), None, None]):
        request_id = f"hot-write-{collection}-{run}-{uuid.uuid4().hex[:8]}"
        headers = {**worker.headers, "X-Request-ID": request_id}
        if key is not None:
            headers["Idempotency-Key"] = key
        with recorded_statements(app) as seen:
            created = await client.post(url, json=body, headers=headers)
        assert created.status_code == 201, created.text
        answer = created.json()
        stored = await _stored(app, model, answer["id"])
        assert answer == read.model_validate(stored).model_dump(mode="json")
        assert created.headers["etag"] == etag_of(stored) == f'"{stored.id.hex}.1"'
        assert created.headers["location"] == f"{url}/{answer['id']}"
        assert created.headers["content-type"] == "application/json"
        (audit,), (announced,) = await written_by_request(app, request_id)
        assert (audit.action, audit.resource_id) == (f"{resource}.create", stored.id)
        assert (announced.type, announced.resource_id) == (f"{resource}.created", stored.id)
        shape = {
            "answer": {
                k: v for k, v in answer.items() if k not in {"id", "created_at", "updated_at"}
            },
            "audit": _audit_shape(audit),
            "event": _event_shape(announced),
        }
        assert shape["audit"]["case_id"] == case_id and shape["event"]["case_id"] == case_id
        assert shape["audit"]["actor_user_id"] == worker.user_id
        shapes.setdefault("first", shape)
        assert shape == shapes["first"], run
        assert stored.created_at <= stored.updated_at
        assert announced.position is not None  # numbered at commit, in commit order
        if key is None and test_database.is_postgres:
            # The credential check (which sets the tenant), then one statement.
            assert len(seen) == 2, seen
            assert "set_config" in seen[0]
            for table in (model.__tablename__, "audit_events", "events"):
                assert f"INSERT INTO {table}" in seen[1], seen[1]
    if collection == "follow-ups":  # done: the case's last contact moved, its ETag kept
        from ovc_api.cases.models import Case

        async with system_session(app) as session:
            case = (await session.exec(select(Case).where(Case.id == case_id))).one()
        assert (case.last_contact_on, case.version) == (date(2026, 2, 2), 1)
    # Another organisation's caller runs the warm statement: its own case, its own rows.
    b_admin = tenant_b["org_admin"]
    b_case = await factory.case(tenant_b.organisation_id)
    request_id = f"hot-write-b-{uuid.uuid4().hex[:8]}"
    created = await client.post(
        f"{CASES}/{b_case}/{collection}",
        json=body,
        headers={**b_admin.headers, "X-Request-ID": request_id},
    )
    assert created.status_code == 201, created.text
    (audit,), (announced,) = await written_by_request(app, request_id)
    assert (audit.organisation_id, audit.actor_user_id) == (
        tenant_b.organisation_id,
        b_admin.user_id,
    )
    assert (announced.organisation_id, announced.case_id) == (tenant_b.organisation_id, b_case)
    assert await count_of_case(app, model, case_id) == 3


@pytest.mark.parametrize("keyed", [False, True])
async def test_a_note_refused_writes_nothing_and_answers_as_before(
    keyed: bool,
    app: FastAPI,
    client: httpx.AsyncClient,
    tenant_a: Tenant,
    tenant_b: Tenant,
    factory: Factory,
) -> None:
    """404 for a case of another organisation, a missing one, one not assigned to the
    caseworker; 409 for a closed case (before any date check); 422 for a note dated before
    the case opened: on both paths, with nothing written (no note, audit row or event)."""
    from ovc_api.casework.models import CaseNote

    worker = tenant_a["caseworker"]
    org = tenant_a.organisation_id
    mine = await factory.case(org, assigned_to=worker.user_id)
    colleagues = await factory.case(org)
    closed = await factory.case(
        org, assigned_to=worker.user_id, status="closed", closed_on=date(2026, 6, 1)
    )
    foreign = await factory.case(tenant_b.organisation_id)
    note = {"noted_on": "2026-01-22", "text": "Called the grandmother."}
    early = {**note, "noted_on": "2026-01-14"}
    calls: list[tuple[Any, dict[str, Any], int]] = [
        (foreign, note, 404),
        (uuid.uuid4(), note, 404),
        (colleagues, note, 404),
        (closed, note, 409),
        (closed, early, 409),
        (mine, early, 422),
    ]
    for case_id, body, status in calls:
        request_id = f"hot-refused-{uuid.uuid4().hex[:8]}"
        headers = {**worker.headers, "X-Request-ID": request_id}
        if keyed:
            headers["Idempotency-Key"] = str(uuid.uuid4())
        refused = await client.post(f"{CASES}/{case_id}/notes", json=body, headers=headers)
        problem = assert_problem(refused, status)
        if status == 409:
            assert problem["detail"] == "the case is closed"
        if status == 422:
            assert error_locs(problem) == [["body", "noted_on"]]
            assert problem["detail"] == "cannot be before the case opened (2026-01-15)"
        assert await written_by_request(app, request_id) == ([], []), (case_id, status)
    for case_id in (mine, colleagues, closed):
        assert await count_of_case(app, CaseNote, case_id) == 0
    # An analyst (no cases:write) is refused before anything is read.
    refused = await client.post(
        f"{CASES}/{mine}/notes", json=note, headers=tenant_a["analyst"].headers
    )
    assert_problem(refused, 403)


async def test_a_replayed_note_is_the_first_answer_and_one_note(
    app: FastAPI, client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    from ovc_api.casework.models import CaseNote

    manager = tenant_a["case_manager"]
    case_id = await factory.case(tenant_a.organisation_id)
    url = f"{CASES}/{case_id}/notes"
    note = {"noted_on": "2026-02-01", "text": "Visited the school."}
    headers = {**manager.headers, "Idempotency-Key": str(uuid.uuid4())}
    first = await client.post(url, json=note, headers=headers)
    retry = await client.post(url, json=note, headers=headers)
    assert first.status_code == retry.status_code == 201, retry.text
    assert retry.json() == first.json() and retry.headers["idempotent-replayed"] == "true"
    assert retry.headers["etag"] == first.headers["etag"]
    assert retry.headers["location"] == first.headers["location"]
    plain = await client.post(url, json=note, headers=manager.headers)
    assert plain.status_code == 201 and plain.json()["id"] != first.json()["id"]
    assert await count_of_case(app, CaseNote, case_id) == 2
    changed = await client.post(url, json={**note, "text": "Other"}, headers=headers)
    assert error_locs(assert_problem(changed, 422)) == [["header", "Idempotency-Key"]]


async def test_the_rules_in_sql_and_in_python_agree(app: FastAPI) -> None:
    """`NewRecordRules.clause`, evaluated by the database, admits exactly the rows `check`
    admits (a nullable date left empty is not checked by either)."""
    from types import SimpleNamespace

    from sqlalchemy import Date, String, literal
    from sqlalchemy import select as core_select

    from ovc_api.casework.common import NewRecordRules
    from ovc_api.errors import ProblemError

    rules = NewRecordRules(("noted_on", "done_on"))
    opened = date(2026, 1, 15)
    async with system_session(app) as session:
        for status in ("intake", "implementation", "closed"):
            for noted in (date(2026, 1, 14), opened, date(2026, 2, 1)):
                for done in (None, date(2026, 1, 1), opened, date(2026, 3, 1)):
                    values = {"noted_on": noted, "done_on": done}
                    try:
                        rules.check(SimpleNamespace(status=status, opened_on=opened), values)
                        admitted = True
                    except ProblemError:
                        admitted = False
                    columns = SimpleNamespace(
                        status=literal(status, String()), opened_on=literal(opened, Date())
                    )
                    binds = {k: literal(v, Date()) for k, v in values.items()}
                    clause = rules.clause(columns, binds)
                    in_sql = (await session.exec(core_select(clause))).one()[0]
                    assert bool(in_sql) == admitted, (status, noted, done, in_sql)
                    assert admitted == (
                        status != "closed" and noted >= opened and (done is None or done >= opened)
                    )


async def test_an_invalid_body_answers_422_alike_for_any_case(
    client: httpx.AsyncClient, tenant_a: Tenant, tenant_b: Tenant, factory: Factory
) -> None:
    """The body is validated before the case is looked up: a case of another organisation
    and a missing one answer the same 422, which says nothing of either."""
    headers = tenant_a["case_manager"].headers
    foreign = await factory.case(tenant_b.organisation_id)
    own = await factory.case(tenant_a.organisation_id)
    answers = []
    for case_id in (foreign, uuid.uuid4(), own):
        refused = await client.post(
            f"{CASES}/{case_id}/notes", json={"noted_on": "2026-01-22"}, headers=headers
        )
        problem = assert_problem(refused, 422)
        answers.append((error_locs(problem), problem["detail"]))
    assert answers[0] == answers[1] == answers[2] and answers[0][0] == [["body", "text"]]


async def test_an_api_key_writes_notes_as_itself_and_only_with_cases_all(
    app: FastAPI, client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    """A key is nobody: no author, the audit names the key; without `cases:all` it is
    assigned no case, so every case answers 404 (the narrowing binds no user)."""
    admin = tenant_a["org_admin"]
    case_id = await factory.case(tenant_a.organisation_id, assigned_to=admin.user_id)
    url = f"{CASES}/{case_id}/notes"
    note = {"noted_on": "2026-02-01", "text": "Synced from the partner's system."}
    keys = {}
    for name, scopes in (
        ("all", ["cases:read", "cases:write", "cases:all"]),
        ("own", ["cases:read", "cases:write"]),
    ):
        issued = await client.post(
            "/api/v1/api-keys",
            json={"label": f"sync {name}", "scopes": scopes},
            headers=admin.headers,
        )
        assert issued.status_code == 201, issued.text
        keys[name] = issued.json()
    for _ in range(2):  # the second request runs the statement the first one built
        request_id = f"hot-key-{uuid.uuid4().hex[:8]}"
        headers = {"Authorization": f"Bearer {keys['all']['key']}", "X-Request-ID": request_id}
        created = await client.post(url, json=note, headers=headers)
        assert created.status_code == 201, created.text
        assert created.json()["author_id"] is None
        (audit,), (announced,) = await written_by_request(app, request_id)
        assert (audit.actor_user_id, str(audit.actor_api_key_id)) == (None, keys["all"]["id"])
        assert announced.case_id == case_id
        narrow = {"Authorization": f"Bearer {keys['own']['key']}"}
        assert_problem(await client.post(url, json=note, headers=narrow), 404)


@pytest.mark.parametrize("keyed", [False, True])
async def test_a_follow_up_refused_answers_as_before_and_moves_no_contact(
    keyed: bool,
    app: FastAPI,
    client: httpx.AsyncClient,
    tenant_a: Tenant,
    tenant_b: Tenant,
    factory: Factory,
) -> None:
    """A follow-up's own rules (status and done_on agree) do not read the case, yet a case
    outside the scope still answers 404 and a closed one 409 before them; a follow-up
    before the case opened is a 422 of its own words. Nothing is written, the case's last
    contact stays."""
    from ovc_api.cases.models import Case
    from ovc_api.casework.models import FollowUp

    manager = tenant_a["case_manager"]
    org = tenant_a.organisation_id
    contact = date(2026, 3, 1)
    open_case = await factory.case(org, last_contact_on=contact)
    closed = await factory.case(org, status="closed", closed_on=date(2026, 6, 1))
    foreign = await factory.case(tenant_b.organisation_id)
    done = {"kind": "home_visit", "status": "done", "scheduled_on": "2026-04-01"}
    early = {"kind": "home_visit", "scheduled_on": "2026-01-14"}
    late_done = {**done, "done_on": "2026-04-02", "scheduled_on": "2026-01-10"}
    calls: list[tuple[Any, dict[str, Any], int, list[Any], str | None]] = [
        (foreign, done, 404, [], None),
        (closed, done, 409, [], "the case is closed"),
        (open_case, done, 422, [["body", "done_on"]], "required when status is done"),
        (open_case, early, 422, [["body", "scheduled_on"]], None),
        (open_case, late_done, 422, [["body", "scheduled_on"]], None),
    ]
    for case_id, body, status, locs, detail in calls:
        request_id = f"hot-follow-up-{uuid.uuid4().hex[:8]}"
        headers = {**manager.headers, "X-Request-ID": request_id}
        if keyed:
            headers["Idempotency-Key"] = str(uuid.uuid4())
        refused = await client.post(f"{CASES}/{case_id}/follow-ups", json=body, headers=headers)
        problem = assert_problem(refused, status)
        if locs:
            assert error_locs(problem) == locs
        if detail is not None:
            assert problem["detail"] == detail
        if locs == [["body", "scheduled_on"]]:
            assert problem["detail"] == "a follow-up before the case opened (2026-01-15)"
        assert await written_by_request(app, request_id) == ([], [])
    assert await count_of_case(app, FollowUp, open_case) == 0
    async with system_session(app) as session:
        case = (await session.exec(select(Case).where(Case.id == open_case))).one()
    assert case.last_contact_on == contact
    # An earlier contact than the last one is recorded without moving it back.
    earlier = {**done, "scheduled_on": "2026-02-01", "done_on": "2026-02-02"}
    created = await client.post(
        f"{CASES}/{open_case}/follow-ups", json=earlier, headers=manager.headers
    )
    assert created.status_code == 201, created.text
    async with system_session(app) as session:
        case = (await session.exec(select(Case).where(Case.id == open_case))).one()
    assert case.last_contact_on == contact
