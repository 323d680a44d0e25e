"""A case's sub-resources: assessments, plan goals and actions, notes, follow-ups."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlmodel import select

from ovc_api.clock import local_today

from .conftest import Actor, Factory, Tenant, system_session
from .helpers import assert_problem, error_locs

CASES = "/api/v1/cases"
OPENED = date(2026, 1, 15)
COLLECTIONS = ("assessments", "goals", "actions", "notes", "follow-ups")
ITEM_IDS = {
    "assessments": "assessment_id",
    "goals": "goal_id",
    "actions": "action_id",
    "notes": "note_id",
    "follow-ups": "follow_up_id",
}


def _today() -> date:
    return local_today()


def _bodies(goal_id: uuid.UUID) -> dict[str, dict[str, Any]]:
    """A valid new record of each collection, for a case opened on OPENED."""
    return {
        "assessments": {
            "kind": "initial",
            "assessed_on": "2026-01-25",
            "domains": {
                "food_and_nutrition": {"score": 2, "needs": "rice support"},
                "education": {"score": 1},
            },
            "summary": "Left with the grandmother; not in school.",
        },
        "goals": {"domain": "education", "description": "Back to school"},
        "actions": {
            "goal_id": str(goal_id),
            "description": "Enrol at Kdol primary school",
            "due_on": "2026-03-01",
        },
        "notes": {"noted_on": "2026-01-22", "text": "Home visit: grandmother caring for two."},
        "follow-ups": {"kind": "home_visit", "scheduled_on": "2026-02-01"},
    }


CHANGES: dict[str, dict[str, Any]] = {
    "assessments": {"summary": "Corrected summary"},
    "goals": {"status": "achieved"},
    "actions": {"done_on": "2026-02-20"},
    "notes": {"text": "Corrected note"},
    "follow-ups": {"outcome": "Nobody home"},
}


def _url(case_id: Any, collection: str, record_id: Any = None) -> str:
    base = f"{CASES}/{case_id}/{collection}"
    return base if record_id is None else f"{base}/{record_id}"


async def _case_with_casework(
    factory: Factory, tenant: Tenant, **fields: Any
) -> tuple[uuid.UUID, dict[str, uuid.UUID]]:
    fields.setdefault("assigned_to", tenant["caseworker"].user_id)
    case_id = await factory.case(tenant.organisation_id, **fields)
    return case_id, await factory.casework(tenant.organisation_id, case_id)


async def _case_row(app: FastAPI, case_id: uuid.UUID) -> Any:
    """The case as stored (the /cases endpoints are another package's)."""
    from ovc_api.cases.models import Case

    async with system_session(app) as session:
        return (await session.exec(select(Case).where(Case.id == case_id))).one()


async def _audit(client: httpx.AsyncClient, tenant: Tenant, **params: Any) -> list[dict[str, Any]]:
    response = await client.get(
        "/api/v1/audit", params={"limit": 200, **params}, headers=tenant["org_admin"].headers
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


# --- who may -------------------------------------------------------------------------------


async def test_assigned_caseworker_and_managers_may_colleagues_and_analysts_may_not(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    case_id, ids = await _case_with_casework(factory, tenant_a)
    colleague = await factory.user(tenant_a.organisation_id, "caseworker")
    bodies = _bodies(ids["goal_id"])
    allowed = (tenant_a["caseworker"], tenant_a["case_manager"], tenant_a["org_admin"])
    for collection in COLLECTIONS:
        item = _url(case_id, collection, ids[ITEM_IDS[collection]])
        for actor in allowed:
            created = await client.post(
                _url(case_id, collection), json=bodies[collection], headers=actor.headers
            )
            assert created.status_code == 201, (actor.role, collection, created.text)
            listed = await client.get(_url(case_id, collection), headers=actor.headers)
            assert listed.status_code == 200, (actor.role, collection, listed.text)
            assert (await client.get(item, headers=actor.headers)).status_code == 200
        for actor, status in ((colleague, 404), (tenant_a["analyst"], 403)):
            calls = [
                client.post(
                    _url(case_id, collection), json=bodies[collection], headers=actor.headers
                ),
                client.get(_url(case_id, collection), headers=actor.headers),
                client.get(item, headers=actor.headers),
                client.patch(
                    item, json=CHANGES[collection], headers={**actor.headers, "If-Match": "*"}
                ),
            ]
            for call in calls:
                assert_problem(await call, status)
    for path in ("plan", f"notes/{ids['note_id']}/revisions"):
        url = f"{CASES}/{case_id}/{path}"
        assert (await client.get(url, headers=tenant_a["caseworker"].headers)).status_code == 200
        assert_problem(await client.get(url, headers=colleague.headers), 404)
        assert_problem(await client.get(url, headers=tenant_a["analyst"].headers), 403)


async def test_another_organisations_case_and_records_answer_404(
    client: httpx.AsyncClient, tenant_a: Tenant, tenant_b: Tenant, factory: Factory
) -> None:
    own_case, _ = await _case_with_casework(factory, tenant_a)
    foreign_case, foreign = await _case_with_casework(factory, tenant_b)
    headers = tenant_a["case_manager"].headers
    bodies = _bodies(foreign["goal_id"])
    for collection in COLLECTIONS:
        record_id = foreign[ITEM_IDS[collection]]
        for case_id in (foreign_case, own_case):
            item = _url(case_id, collection, record_id)
            assert_problem(await client.get(item, headers=headers), 404)
            patched = await client.patch(
                item, json=CHANGES[collection], headers={**headers, "If-Match": "*"}
            )
            assert_problem(patched, 404)
        listed = await client.get(_url(foreign_case, collection), headers=headers)
        assert_problem(listed, 404)
        created = await client.post(
            _url(foreign_case, collection), json=bodies[collection], headers=headers
        )
        assert_problem(created, 404)


async def test_a_record_of_another_case_answers_404(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    case_id, _ = await _case_with_casework(factory, tenant_a)
    _, other = await _case_with_casework(factory, tenant_a)
    headers = tenant_a["caseworker"].headers
    for collection in COLLECTIONS:
        item = _url(case_id, collection, other[ITEM_IDS[collection]])
        assert_problem(await client.get(item, headers=headers), 404)
        patched = await client.patch(
            item, json=CHANGES[collection], headers={**headers, "If-Match": "*"}
        )
        assert_problem(patched, 404)
    revisions = f"{CASES}/{case_id}/notes/{other['note_id']}/revisions"
    assert_problem(await client.get(revisions, headers=headers), 404)


# --- create, read, correct -----------------------------------------------------------------


async def test_create_answers_location_and_etag_then_reads_back(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    case_id, ids = await _case_with_casework(factory, tenant_a)
    worker = tenant_a["caseworker"]
    for collection, body in _bodies(ids["goal_id"]).items():
        created = await client.post(_url(case_id, collection), json=body, headers=worker.headers)
        assert created.status_code == 201, created.text
        record = created.json()
        assert created.headers["location"] == _url(case_id, collection, record["id"])
        assert record["case_id"] == str(case_id)
        read = await client.get(created.headers["location"], headers=worker.headers)
        assert read.json() == record
        assert read.headers["etag"] == created.headers["etag"]
        listed = await client.get(_url(case_id, collection), headers=worker.headers)
        assert record["id"] in [r["id"] for r in listed.json()["items"]]
    assessment = (await client.get(_url(case_id, "assessments"), headers=worker.headers)).json()[
        "items"
    ][0]
    assert assessment["domains"] == {
        "food_and_nutrition": {"score": 2, "needs": "rice support"},
        "education": {"score": 1, "needs": None},
    }
    assert assessment["assessed_by"] == str(worker.user_id)
    note = (await client.get(_url(case_id, "notes"), headers=worker.headers)).json()["items"]
    assert note[0]["author_id"] == str(worker.user_id)


async def test_actions_default_to_the_callers_organisation_and_accept_other_members(
    client: httpx.AsyncClient, tenant_a: Tenant, tenant_b: Tenant, factory: Factory
) -> None:
    case_id, ids = await _case_with_casework(factory, tenant_a)
    headers = tenant_a["caseworker"].headers
    body = _bodies(ids["goal_id"])["actions"]
    own = await client.post(_url(case_id, "actions"), json=body, headers=headers)
    assert own.json()["responsible_organisation_id"] == str(tenant_a.organisation_id)
    partner = await client.post(
        _url(case_id, "actions"),
        json={**body, "responsible_organisation_id": str(tenant_b.organisation_id)},
        headers=headers,
    )
    assert partner.status_code == 201, partner.text
    assert partner.json()["responsible_organisation_id"] == str(tenant_b.organisation_id)


async def test_the_plan_lists_goals_with_their_actions(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    case_id, ids = await _case_with_casework(factory, tenant_a)
    headers = tenant_a["caseworker"].headers
    goal = await client.post(
        _url(case_id, "goals"),
        json={"domain": "health", "description": "Vaccinations up to date"},
        headers=headers,
    )
    action = await client.post(
        _url(case_id, "actions"),
        json={"goal_id": goal.json()["id"], "description": "Health centre", "due_on": "2026-02-10"},
        headers=headers,
    )
    plan = await client.get(f"{CASES}/{case_id}/plan", headers=headers)
    assert plan.status_code == 200, plan.text
    body = plan.json()
    assert body["case_id"] == str(case_id) and body["truncated"] is False
    assert [(g["id"], [a["id"] for a in g["actions"]]) for g in body["goals"]] == [
        (str(ids["goal_id"]), [str(ids["action_id"])]),
        (goal.json()["id"], [action.json()["id"]]),
    ]


async def test_patch_needs_if_match_and_refuses_stale_etags(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    case_id, ids = await _case_with_casework(factory, tenant_a)
    headers = tenant_a["caseworker"].headers
    for collection in COLLECTIONS:
        item = _url(case_id, collection, ids[ITEM_IDS[collection]])
        etag = (await client.get(item, headers=headers)).headers["etag"]
        assert_problem(await client.patch(item, json=CHANGES[collection], headers=headers), 428)
        ok = await client.patch(
            item, json=CHANGES[collection], headers={**headers, "If-Match": etag}
        )
        assert ok.status_code == 200, (collection, ok.text)
        assert ok.headers["etag"] != etag
        for field, value in CHANGES[collection].items():
            assert ok.json()[field] == value
        stale = await client.patch(
            item, json=CHANGES[collection], headers={**headers, "If-Match": etag}
        )
        assert_problem(stale, 412)


async def test_idempotent_retry_returns_the_first_record(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    case_id, ids = await _case_with_casework(factory, tenant_a)
    worker = tenant_a["caseworker"]
    for collection, body in _bodies(ids["goal_id"]).items():
        headers = {**worker.headers, "Idempotency-Key": str(uuid.uuid4())}
        first = await client.post(_url(case_id, collection), json=body, headers=headers)
        retry = await client.post(_url(case_id, collection), json=body, headers=headers)
        assert first.status_code == retry.status_code == 201
        assert retry.json() == first.json()
        assert retry.headers["idempotent-replayed"] == "true"
        assert retry.headers["location"] == first.headers["location"]
        listed = await client.get(_url(case_id, collection), headers=worker.headers)
        assert len(listed.json()["items"]) == 2  # the factory's record and this one
        other = {**body, **CHANGES[collection]}
        changed = await client.post(_url(case_id, collection), json=other, headers=headers)
        assert error_locs(assert_problem(changed, 422)) == [["header", "Idempotency-Key"]]


async def test_a_note_correction_keeps_the_earlier_text(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    case_id, _ = await _case_with_casework(factory, tenant_a)
    worker, manager = tenant_a["caseworker"], tenant_a["case_manager"]
    created = await client.post(
        _url(case_id, "notes"),
        json={"noted_on": "2026-02-02", "text": "Grandmother sick."},
        headers=worker.headers,
    )
    item = created.headers["location"]
    corrected = await client.patch(
        item,
        json={"text": "Grandmother sick; aunt visiting.", "noted_on": "2026-02-03"},
        headers={**manager.headers, "If-Match": created.headers["etag"]},
    )
    assert corrected.json()["text"] == "Grandmother sick; aunt visiting."
    assert corrected.json()["author_id"] == str(worker.user_id)
    history = await client.get(f"{item}/revisions", headers=worker.headers)
    assert history.status_code == 200
    [revision] = history.json()
    assert revision["previous"] == {"text": "Grandmother sick.", "noted_on": "2026-02-02"}
    assert revision["version"] == 1
    assert revision["changed_by_user"] == str(manager.user_id)


# --- input rules ---------------------------------------------------------------------------


async def _expect_422(
    client: httpx.AsyncClient,
    actor: Actor,
    cases: list[tuple[str, str, dict[str, Any], list[Any]]],
    *,
    if_match: dict[str, str] | None = None,
) -> None:
    """Each (method, url, body, loc): 422 naming loc (as a prefix of an error's loc)."""
    for method, url, body, loc in cases:
        headers = actor.headers
        if method == "PATCH":
            headers = {**headers, "If-Match": (if_match or {}).get(url, "*")}
        response = await client.request(method, url, json=body, headers=headers)
        locs = error_locs(assert_problem(response, 422))
        assert any(found[: len(loc)] == loc for found in locs), (method, url, body, locs)


async def test_assessment_rules(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    case_id, ids = await _case_with_casework(factory, tenant_a)
    url, item = _url(case_id, "assessments"), _url(case_id, "assessments", ids["assessment_id"])
    base = _bodies(ids["goal_id"])["assessments"]
    future = (_today() + timedelta(days=2)).isoformat()
    health = {"health": {"score": 3}}
    await _expect_422(
        client,
        tenant_a["caseworker"],
        [
            ("POST", url, {**base, "assessed_on": "2026-01-14"}, ["body", "assessed_on"]),
            ("POST", url, {**base, "assessed_on": future}, ["body", "assessed_on"]),
            ("POST", url, {**base, "assessed_on": "2026-02-30"}, ["body", "assessed_on"]),
            ("POST", url, {**base, "kind": "final"}, ["body", "kind"]),
            ("POST", url, {**base, "domains": {}}, ["body", "domains"]),
            ("POST", url, {**base, "domains": {"income": {"score": 2}}}, ["body", "domains"]),
            (
                "POST",
                url,
                {**base, "domains": {"health": {"score": 5}}},
                ["body", "domains", "health", "score"],
            ),
            (
                "POST",
                url,
                {**base, "domains": {"health": {"score": 0}}},
                ["body", "domains", "health", "score"],
            ),
            (
                "POST",
                url,
                {**base, "domains": {"health": {"score": 2, "needs": "x" * 2001}}},
                ["body", "domains", "health", "needs"],
            ),
            ("POST", url, {**base, "summary": "x" * 4001}, ["body", "summary"]),
            ("POST", url, {**base, "organisation_id": str(uuid.uuid4())}, ["body"]),
            ("PATCH", item, {"assessed_on": "2026-01-01"}, ["body", "assessed_on"]),
            ("PATCH", item, {"assessed_on": None}, ["body", "assessed_on"]),
            ("PATCH", item, {"domains": {**health, "spirit": {"score": 1}}}, ["body", "domains"]),
        ],
    )
    ok = await client.post(
        url,
        json={**base, "assessed_on": _today().isoformat(), "domains": health},
        headers=tenant_a["caseworker"].headers,
    )
    assert ok.status_code == 201, ok.text


async def test_goal_rules(client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory) -> None:
    case_id, ids = await _case_with_casework(factory, tenant_a)
    url, item = _url(case_id, "goals"), _url(case_id, "goals", ids["goal_id"])
    base = _bodies(ids["goal_id"])["goals"]
    await _expect_422(
        client,
        tenant_a["caseworker"],
        [
            ("POST", url, {**base, "domain": "income"}, ["body", "domain"]),
            ("POST", url, {**base, "description": ""}, ["body", "description"]),
            ("POST", url, {**base, "description": "x" * 2001}, ["body", "description"]),
            ("POST", url, {**base, "status": "done"}, ["body", "status"]),
            ("PATCH", item, {"status": None}, ["body", "status"]),
            ("PATCH", item, {"status": "closed"}, ["body", "status"]),
        ],
    )


async def test_action_rules(
    client: httpx.AsyncClient, tenant_a: Tenant, tenant_b: Tenant, factory: Factory
) -> None:
    case_id, ids = await _case_with_casework(factory, tenant_a)
    _, other_case = await _case_with_casework(factory, tenant_a)
    _, foreign = await _case_with_casework(factory, tenant_b)
    inactive = await factory.organisation(active=False)
    url, item = _url(case_id, "actions"), _url(case_id, "actions", ids["action_id"])
    base = _bodies(ids["goal_id"])["actions"]
    future = (_today() + timedelta(days=2)).isoformat()
    responsible = "responsible_organisation_id"
    await _expect_422(
        client,
        tenant_a["caseworker"],
        [
            ("POST", url, {**base, "goal_id": str(other_case["goal_id"])}, ["body", "goal_id"]),
            ("POST", url, {**base, "goal_id": str(foreign["goal_id"])}, ["body", "goal_id"]),
            ("POST", url, {**base, "goal_id": str(uuid.uuid4())}, ["body", "goal_id"]),
            ("POST", url, {**base, responsible: str(inactive)}, ["body", responsible]),
            ("POST", url, {**base, responsible: str(uuid.uuid4())}, ["body", responsible]),
            ("POST", url, {**base, "due_on": "2026-01-14"}, ["body", "due_on"]),
            ("POST", url, {**base, "done_on": future}, ["body", "done_on"]),
            ("POST", url, {**base, "done_on": "2026-01-01"}, ["body", "done_on"]),
            ("POST", url, {**base, "description": "x" * 2001}, ["body", "description"]),
            ("PATCH", item, {"goal_id": str(other_case["goal_id"])}, ["body", "goal_id"]),
            ("PATCH", item, {responsible: str(inactive)}, ["body", responsible]),
            ("PATCH", item, {"due_on": None}, ["body", "due_on"]),
            ("PATCH", item, {"due_on": "2025-12-31"}, ["body", "due_on"]),
        ],
    )


async def test_note_rules(client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory) -> None:
    case_id, ids = await _case_with_casework(factory, tenant_a)
    url, item = _url(case_id, "notes"), _url(case_id, "notes", ids["note_id"])
    base = _bodies(ids["goal_id"])["notes"]
    future = (_today() + timedelta(days=2)).isoformat()
    await _expect_422(
        client,
        tenant_a["caseworker"],
        [
            ("POST", url, {**base, "text": ""}, ["body", "text"]),
            ("POST", url, {**base, "text": "   "}, ["body", "text"]),
            ("POST", url, {**base, "text": "x" * 10_001}, ["body", "text"]),
            ("POST", url, {**base, "noted_on": future}, ["body", "noted_on"]),
            ("POST", url, {**base, "noted_on": "2026-01-14"}, ["body", "noted_on"]),
            ("PATCH", item, {"text": None}, ["body", "text"]),
            ("PATCH", item, {"noted_on": "2026-01-01"}, ["body", "noted_on"]),
        ],
    )
    longest = await client.post(
        url, json={**base, "text": "ក" * 10_000}, headers=tenant_a["caseworker"].headers
    )
    assert longest.status_code == 201, longest.text


async def test_follow_up_rules(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    case_id, ids = await _case_with_casework(factory, tenant_a)
    url, item = _url(case_id, "follow-ups"), _url(case_id, "follow-ups", ids["follow_up_id"])
    base = _bodies(ids["goal_id"])["follow-ups"]
    future = (_today() + timedelta(days=2)).isoformat()
    done = {**base, "status": "done", "done_on": "2026-02-01"}
    await _expect_422(
        client,
        tenant_a["caseworker"],
        [
            ("POST", url, {**base, "scheduled_on": "2026-01-14"}, ["body", "scheduled_on"]),
            ("POST", url, {**base, "kind": "sms"}, ["body", "kind"]),
            ("POST", url, {**base, "status": "postponed"}, ["body", "status"]),
            ("POST", url, {**base, "status": "done"}, ["body", "done_on"]),
            ("POST", url, {**base, "done_on": "2026-02-01"}, ["body", "done_on"]),
            ("POST", url, {**done, "done_on": future}, ["body", "done_on"]),
            ("POST", url, {**done, "done_on": "2026-01-10"}, ["body", "done_on"]),
            ("POST", url, {**base, "outcome": "x" * 4001}, ["body", "outcome"]),
            ("PATCH", item, {"status": "done"}, ["body", "done_on"]),
            ("PATCH", item, {"scheduled_on": "2026-01-01"}, ["body", "scheduled_on"]),
            ("PATCH", item, {"kind": None}, ["body", "kind"]),
        ],
    )
    early = await client.post(
        url, json={**base, "scheduled_on": "2026-01-14"}, headers=tenant_a["caseworker"].headers
    )
    assert assert_problem(early, 422)["detail"].startswith("a follow-up before the case opened")
    reopened = await client.post(url, json=done, headers=tenant_a["caseworker"].headers)
    leave_done = await client.patch(
        reopened.headers["location"],
        json={"status": "scheduled"},
        headers={**tenant_a["caseworker"].headers, "If-Match": reopened.headers["etag"]},
    )
    assert error_locs(assert_problem(leave_done, 422)) == [["body", "done_on"]]
    cleared = await client.patch(
        reopened.headers["location"],
        json={"status": "scheduled", "done_on": None},
        headers={**tenant_a["caseworker"].headers, "If-Match": reopened.headers["etag"]},
    )
    assert cleared.status_code == 200 and cleared.json()["done_on"] is None


async def test_list_filters_and_sorts(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    case_id, ids = await _case_with_casework(factory, tenant_a)
    headers = tenant_a["caseworker"].headers
    for day in ("2026-03-01", "2026-02-01", "2026-04-01"):
        await client.post(
            _url(case_id, "notes"), json={"noted_on": day, "text": day}, headers=headers
        )
    newest_first = await client.get(_url(case_id, "notes"), params={"limit": 2}, headers=headers)
    assert [n["noted_on"] for n in newest_first.json()["items"]] == ["2026-04-01", "2026-03-01"]
    rest = await client.get(
        _url(case_id, "notes"),
        params={"limit": 2, "cursor": newest_first.json()["next_cursor"]},
        headers=headers,
    )
    assert [n["noted_on"] for n in rest.json()["items"]] == ["2026-02-01", "2026-01-21"]
    assert rest.json()["next_cursor"] is None
    window = await client.get(
        _url(case_id, "notes"),
        params={"noted_from": "2026-02-01", "noted_to": "2026-03-01", "sort": "noted_on"},
        headers=headers,
    )
    assert [n["noted_on"] for n in window.json()["items"]] == ["2026-02-01", "2026-03-01"]
    done = await client.post(
        _url(case_id, "follow-ups"),
        json={
            "kind": "phone_call",
            "status": "done",
            "scheduled_on": "2026-02-03",
            "done_on": "2026-02-03",
        },
        headers=headers,
    )
    only_done = await client.get(
        _url(case_id, "follow-ups"), params={"status": "done"}, headers=headers
    )
    assert [f["id"] for f in only_done.json()["items"]] == [done.json()["id"]]
    open_actions = await client.get(
        _url(case_id, "actions"), params={"done": "false"}, headers=headers
    )
    assert [a["id"] for a in open_actions.json()["items"]] == [str(ids["action_id"])]
    bad_queries = [
        ("notes", {"sort": "text"}),
        ("notes", {"noted_from": "2026-03-01", "noted_to": "2026-02-01"}),
        ("follow-ups", {"status": "late"}),
        ("goals", {"domain": "income"}),
        ("assessments", {"kind": "final"}),
        ("actions", {"cursor": "!!"}),
    ]
    for collection, params in bad_queries:
        response = await client.get(_url(case_id, collection), params=params, headers=headers)
        assert_problem(response, 422)


# --- closed cases and derived data ---------------------------------------------------------


async def test_a_closed_case_refuses_writes_but_can_be_read(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    case_id, ids = await _case_with_casework(
        factory, tenant_a, status="closed", closed_on=date(2026, 6, 1)
    )
    headers = tenant_a["case_manager"].headers
    for collection, body in _bodies(ids["goal_id"]).items():
        created = await client.post(_url(case_id, collection), json=body, headers=headers)
        assert assert_problem(created, 409)["detail"] == "the case is closed"
        item = _url(case_id, collection, ids[ITEM_IDS[collection]])
        etag = (await client.get(item, headers=headers)).headers["etag"]
        patched = await client.patch(
            item, json=CHANGES[collection], headers={**headers, "If-Match": etag}
        )
        assert assert_problem(patched, 409)["detail"] == "the case is closed"
        assert (await client.get(_url(case_id, collection), headers=headers)).status_code == 200


async def test_a_done_follow_up_moves_last_contact_without_changing_the_case_etag(
    client: httpx.AsyncClient, app: FastAPI, tenant_a: Tenant, factory: Factory
) -> None:
    case_id, ids = await _case_with_casework(factory, tenant_a, last_contact_on=date(2026, 3, 1))
    headers = tenant_a["caseworker"].headers
    before = await _case_row(app, case_id)
    url = _url(case_id, "follow-ups")
    scheduled = await client.post(
        url, json={"kind": "home_visit", "scheduled_on": "2026-02-20"}, headers=headers
    )
    assert (await _case_row(app, case_id)).last_contact_on == date(2026, 3, 1)
    done = await client.post(
        url,
        json={
            "kind": "phone_call",
            "status": "done",
            "scheduled_on": "2026-04-01",
            "done_on": "2026-04-02",
        },
        headers=headers,
    )
    assert done.status_code == 201, done.text
    after = await _case_row(app, case_id)
    assert after.last_contact_on == date(2026, 4, 2)
    assert (after.version, after.updated_at) == (before.version, before.updated_at)
    earlier = await client.patch(
        scheduled.headers["location"],
        json={"status": "done", "done_on": "2026-03-15", "outcome": "Met the aunt"},
        headers={**headers, "If-Match": scheduled.headers["etag"]},
    )
    assert earlier.status_code == 200, earlier.text
    assert (await _case_row(app, case_id)).last_contact_on == date(2026, 4, 2)
    later = await client.patch(
        _url(case_id, "follow-ups", ids["follow_up_id"]),
        json={"status": "done", "done_on": "2026-05-01"},
        headers={**headers, "If-Match": "*"},
    )
    assert later.status_code == 200, later.text
    final = await _case_row(app, case_id)
    assert final.last_contact_on == date(2026, 5, 1)
    assert (final.version, final.updated_at) == (before.version, before.updated_at)
    missed = await client.post(
        url,
        json={"kind": "home_visit", "status": "missed", "scheduled_on": "2026-06-01"},
        headers=headers,
    )
    assert missed.status_code == 201
    assert (await _case_row(app, case_id)).last_contact_on == date(2026, 5, 1)


# --- audit ---------------------------------------------------------------------------------


async def test_reads_and_writes_are_audited_with_the_case(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    case_id, ids = await _case_with_casework(factory, tenant_a)
    worker = tenant_a["caseworker"]
    headers = worker.headers
    secret = f"Sensitive detail {uuid.uuid4().hex}"
    created = await client.post(
        _url(case_id, "notes"), json={"noted_on": "2026-02-01", "text": secret}, headers=headers
    )
    note_id = created.json()["id"]
    await client.get(created.headers["location"], headers=headers)
    await client.get(_url(case_id, "notes"), params={"sort": "noted_on"}, headers=headers)
    await client.patch(
        created.headers["location"],
        json={"text": secret + "!"},
        headers={**headers, "If-Match": created.headers["etag"]},
    )
    await client.get(f"{created.headers['location']}/revisions", headers=headers)
    events = await _audit(client, tenant_a, case_id=str(case_id))
    assert [e["action"] for e in events] == [
        "case_note.revisions_read",
        "case_note.update",
        "case_note.list",
        "case_note.read",
        "case_note.create",
    ]
    assert all(e["case_id"] == str(case_id) for e in events)
    assert all(e["actor_user_id"] == str(worker.user_id) for e in events)
    assert events[1]["changed_fields"] == ["text"] and events[1]["resource_id"] == note_id
    assert events[2]["record_ids"] == [str(ids["note_id"]), note_id]
    assert events[3]["resource_id"] == note_id
    assert secret not in str(events)


async def test_every_kind_of_record_is_audited(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    case_id, ids = await _case_with_casework(factory, tenant_a)
    headers = tenant_a["case_manager"].headers
    resources = {
        "assessments": "assessment",
        "goals": "case_plan_goal",
        "actions": "case_plan_action",
        "notes": "case_note",
        "follow-ups": "follow_up",
    }
    for collection, body in _bodies(ids["goal_id"]).items():
        resource = resources[collection]
        created = await client.post(_url(case_id, collection), json=body, headers=headers)
        item = _url(case_id, collection, ids[ITEM_IDS[collection]])
        await client.get(item, headers=headers)
        await client.get(_url(case_id, collection), headers=headers)
        await client.patch(item, json=CHANGES[collection], headers={**headers, "If-Match": "*"})
        events = await _audit(client, tenant_a, case_id=str(case_id), resource_type=resource)
        assert [(e["action"], e["resource_id"]) for e in events] == [
            (f"{resource}.update", str(ids[ITEM_IDS[collection]])),
            (f"{resource}.list", None),
            (f"{resource}.read", str(ids[ITEM_IDS[collection]])),
            (f"{resource}.create", created.json()["id"]),
        ], collection
        assert events[0]["changed_fields"] == sorted(CHANGES[collection])
        assert sorted(events[1]["record_ids"]) == sorted(
            [str(ids[ITEM_IDS[collection]]), created.json()["id"]]
        )
    await client.get(f"{CASES}/{case_id}/plan", headers=headers)
    [plan_read] = await _audit(client, tenant_a, case_id=str(case_id), resource_type="case_plan")
    assert plan_read["action"] == "case_plan.read"
    goals = (await client.get(_url(case_id, "goals"), headers=headers)).json()["items"]
    actions = (await client.get(_url(case_id, "actions"), headers=headers)).json()["items"]
    assert sorted(plan_read["record_ids"]) == sorted(r["id"] for r in goals + actions)
