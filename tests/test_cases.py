"""Cases: opening, who sees and writes which, the status workflow, closure approvals,
reopening, corrections with history, filters and pagination, the access log and audit."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from ovc_api.clock import local_today

from .conftest import Actor, Factory, Tenant
from .helpers import assert_problem, error_locs, recorded_statements

CASES = "/api/v1/cases"
WORKFLOW = ("assessment", "case_plan", "implementation", "review")


def _body(child_id: uuid.UUID, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "child_id": str(child_id),
        "referral_source": "commune_committee",
        "referral_source_detail": "CCWC focal point, Kdol Tahen",
        "concerns": ["out_of_school", "left_behind_by_migration"],
        "risk_level": "high",
        "opened_on": "2026-02-03",
        "summary": "Parents migrated to Thailand; grandmother caring for two children.",
    }
    body.update(changes)
    return body


async def _child_of(factory: Factory, actor: Actor, **fields: Any) -> uuid.UUID:
    """A child recorded by `actor` (so a caseworker may open a case for it)."""
    return await factory.child(actor.organisation_id, created_by=actor.user_id, **fields)


async def _open(
    client: httpx.AsyncClient, factory: Factory, actor: Actor, **changes: Any
) -> httpx.Response:
    child_id = await _child_of(factory, actor)
    response = await client.post(CASES, json=_body(child_id, **changes), headers=actor.headers)
    assert response.status_code == 201, response.text
    return response


async def _get(client: httpx.AsyncClient, case_id: Any, actor: Actor) -> httpx.Response:
    return await client.get(f"{CASES}/{case_id}", headers=actor.headers)


async def _move(
    client: httpx.AsyncClient, case_id: Any, actor: Actor, to_status: str, **extra: Any
) -> httpx.Response:
    return await client.post(
        f"{CASES}/{case_id}/transitions",
        json={"to_status": to_status, **extra},
        headers=actor.headers,
    )


async def _request_closure(
    client: httpx.AsyncClient, case_id: Any, actor: Actor, **changes: Any
) -> httpx.Response:
    body = {"reason": "reunified_with_family", "closed_on": "2026-03-01", **changes}
    return await client.post(
        f"{CASES}/{case_id}/closure-requests", json=body, headers=actor.headers
    )


async def _history(client: httpx.AsyncClient, case_id: Any, actor: Actor) -> list[Any]:
    response = await client.get(f"{CASES}/{case_id}/history", headers=actor.headers)
    assert response.status_code == 200, response.text
    return [(c["from_status"], c["to_status"]) for c in response.json()["items"]]


async def _ids(client: httpx.AsyncClient, actor: Actor, **params: Any) -> list[str]:
    response = await client.get(CASES, params={"limit": 200, **params}, headers=actor.headers)
    assert response.status_code == 200, response.text
    return [c["id"] for c in response.json()["items"]]


# --- opening a case -----------------------------------------------------------------------


async def test_caseworker_opens_a_case_assigned_to_themselves(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    worker = tenant_a["caseworker"]
    family_id = await factory.family(tenant_a.organisation_id)
    child_id = await _child_of(factory, worker, family_id=family_id, date_of_birth=date(2016, 5, 2))
    response = await client.post(CASES, json=_body(child_id), headers=worker.headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"{CASES}/{body['id']}"
    assert response.headers["etag"] == f'"{uuid.UUID(body["id"]).hex}.1"'
    assert body["assigned_to"] == str(worker.user_id)
    assert body["created_by"] == str(worker.user_id)
    assert body["organisation_id"] == str(tenant_a.organisation_id)
    assert body["family_id"] == str(family_id)  # the child's family by default
    assert body["status"] == "intake"
    assert body["concerns"] == ["left_behind_by_migration", "out_of_school"]
    assert (body["closed_on"], body["closure_reason"], body["last_contact_on"]) == (
        None,
        None,
        None,
    )
    assert body["child"] == {
        "id": str(child_id),
        "given_name_latin": "Sreyneang",
        "family_name_latin": "Chhun",
        "given_name_khmer": "ស្រីនាង",
        "family_name_khmer": "ឈុន",
        "sex": "female",
        "date_of_birth": "2016-05-02",
        "province": "battambang",
        "district": "Bavel",
    }
    read = await _get(client, body["id"], worker)
    assert read.json() == body
    assert read.headers["etag"] == response.headers["etag"]
    history = await client.get(f"{CASES}/{body['id']}/history", headers=worker.headers)
    (opened,) = history.json()["items"]
    assert (opened["from_status"], opened["to_status"]) == (None, "intake")
    assert opened["changed_by"] == str(worker.user_id)


async def test_assigning_a_case(
    client: httpx.AsyncClient, tenant_a: Tenant, tenant_b: Tenant, factory: Factory
) -> None:
    org = tenant_a.organisation_id
    worker, manager, admin = tenant_a["caseworker"], tenant_a["case_manager"], tenant_a["org_admin"]
    colleague = await factory.user(org, "caseworker", login=False)
    inactive = await factory.user(org, "caseworker", login=False, active=False)
    child_id = await _child_of(factory, worker)
    to_colleague = _body(child_id, assigned_to=str(colleague.user_id))
    assert_problem(await client.post(CASES, json=to_colleague, headers=worker.headers), 403)
    mine = _body(child_id, assigned_to=str(worker.user_id))
    assert (await client.post(CASES, json=mine, headers=worker.headers)).status_code == 201
    by_manager = await client.post(CASES, json=to_colleague, headers=manager.headers)
    assert by_manager.json()["assigned_to"] == str(colleague.user_id)
    to_manager = await client.post(
        CASES, json=_body(child_id, assigned_to=str(manager.user_id)), headers=admin.headers
    )
    assert to_manager.json()["assigned_to"] == str(manager.user_id)
    for assignee in (
        tenant_a["analyst"].user_id,
        admin.user_id,
        inactive.user_id,
        tenant_b["caseworker"].user_id,
        uuid.uuid4(),
    ):
        body = _body(child_id, assigned_to=str(assignee))
        problem = assert_problem(await client.post(CASES, json=body, headers=manager.headers), 422)
        assert error_locs(problem) == [["body", "assigned_to"]], assignee
    # An org admin is not a caseworker: they must name one.
    defaulted = await client.post(CASES, json=_body(child_id), headers=admin.headers)
    assert error_locs(assert_problem(defaulted, 422)) == [["body", "assigned_to"]]


async def test_case_input_errors(
    client: httpx.AsyncClient, tenant_a: Tenant, tenant_b: Tenant, factory: Factory
) -> None:
    manager = tenant_a["case_manager"]
    child_id = await _child_of(factory, manager, date_of_birth=date(2016, 5, 2))
    archived = await _child_of(factory, manager, archived_at=datetime.now(UTC))
    foreign_child = await factory.child(tenant_b.organisation_id)
    foreign_family = await factory.family(tenant_b.organisation_id)
    tomorrow = (local_today() + timedelta(days=1)).isoformat()
    cases: list[tuple[dict[str, Any], list[Any]]] = [
        (_body(foreign_child), ["body", "child_id"]),
        (_body(uuid.uuid4()), ["body", "child_id"]),
        (_body(archived), ["body", "child_id"]),
        (_body(child_id, family_id=str(foreign_family)), ["body", "family_id"]),
        (_body(child_id, opened_on=tomorrow), ["body", "opened_on"]),
        (_body(child_id, opened_on="2016-05-01"), ["body", "opened_on"]),
        (_body(child_id, opened_on="2026-02-30"), ["body", "opened_on"]),
        (_body(child_id, concerns=["neglect", "neglect"]), ["body", "concerns"]),
        (_body(child_id, concerns=[]), ["body", "concerns"]),
        (_body(child_id, concerns=["witchcraft"]), ["body", "concerns", 0]),
        (_body(child_id, risk_level="extreme"), ["body", "risk_level"]),
        (_body(child_id, referral_source="police"), ["body", "referral_source"]),
        (_body(child_id, referral_source_detail="x" * 201), ["body", "referral_source_detail"]),
        (_body(child_id, summary="x" * 4001), ["body", "summary"]),
        (_body(child_id, status="review"), ["body", "status"]),
        (
            _body(child_id, organisation_id=str(tenant_b.organisation_id)),
            ["body", "organisation_id"],
        ),
    ]
    for body, loc in cases:
        response = await client.post(CASES, json=body, headers=manager.headers)
        assert error_locs(assert_problem(response, 422)) == [loc], (loc, response.text)
    on_birthday = await client.post(
        CASES, json=_body(child_id, opened_on="2016-05-02"), headers=manager.headers
    )
    assert on_birthday.status_code == 201
    bad_queries: list[tuple[dict[str, Any], list[Any]]] = [
        ({"opened_from": "2026-03-01", "opened_to": "2026-02-01"}, ["query", "opened_from"]),
        ({"status": "open"}, ["query", "status"]),
        ({"concern": "x"}, ["query", "concern"]),
        ({"province": "mars"}, ["query", "province"]),
        ({"sort": "risk_level"}, ["query", "sort"]),
        ({"updated_since": "2026-01-01T00:00:00"}, ["query", "updated_since"]),
        ({"cursor": "!!"}, ["query", "cursor"]),
        ({"assigned_to": "me"}, ["query", "assigned_to"]),
    ]
    for params, loc in bad_queries:
        response = await client.get(CASES, params=params, headers=manager.headers)
        assert error_locs(assert_problem(response, 422)) == [loc], params


# --- who sees and writes which case ------------------------------------------------------------


async def test_who_may_do_what(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    org = tenant_a.organisation_id
    worker, manager, admin = tenant_a["caseworker"], tenant_a["case_manager"], tenant_a["org_admin"]
    colleague = await factory.user(org, "caseworker")
    case_id = await factory.case(org, assigned_to=worker.user_id)
    path = f"{CASES}/{case_id}"
    # Another caseworker of the same organisation: as if the case did not exist.
    for method, url, body in (
        ("GET", path, None),
        ("PATCH", path, {"risk_level": "low"}),
        ("POST", f"{path}/transitions", {"to_status": "assessment"}),
        ("POST", f"{path}/closure-requests", {"reason": "other", "closed_on": "2026-03-01"}),
        ("GET", f"{path}/closure-requests", None),
        ("GET", f"{path}/history", None),
        ("GET", f"{path}/access-log", None),
        ("GET", f"{path}/revisions", None),
    ):
        headers = {**colleague.headers, "If-Match": "*"}
        response = await client.request(method, url, json=body, headers=headers)
        assert_problem(response, 404)
    assert str(case_id) not in await _ids(client, colleague)
    # The assigned caseworker, the case manager and the org admin read and write it.
    assert await _ids(client, worker) == [str(case_id)]
    for actor in (worker, manager, admin):
        read = await _get(client, case_id, actor)
        assert read.status_code == 200, actor.role
        patched = await client.patch(
            path,
            json={"summary": f"Seen by {actor.role}"},
            headers={**actor.headers, "If-Match": read.headers["etag"]},
        )
        assert patched.status_code == 200, patched.text
    assert sorted(await _ids(client, manager)) == sorted(await _ids(client, admin))
    assert str(case_id) in await _ids(client, manager)
    analyst = tenant_a["analyst"]
    assert_problem(await client.get(CASES, headers=analyst.headers), 403)
    assert_problem(await _get(client, case_id, analyst), 403)
    # Closure decisions and reopening are the case managers'.
    closure = await _request_closure(client, case_id, worker)
    decide = f"{path}/closure-requests/{closure.json()['id']}"
    assert_problem(await client.post(f"{decide}/approve", json={}, headers=worker.headers), 403)
    assert_problem(
        await client.post(f"{decide}/reject", json={"comment": "no"}, headers=worker.headers), 403
    )
    assert_problem(
        await client.post(f"{path}/reopen", json={"note": "x"}, headers=worker.headers), 403
    )


async def test_another_organisations_ids_are_unknown(
    client: httpx.AsyncClient, tenant_a: Tenant, tenant_b: Tenant, factory: Factory
) -> None:
    manager = tenant_a["case_manager"]
    foreign_case = await factory.case(tenant_b.organisation_id)
    foreign_closure = (await factory.casework(tenant_b.organisation_id, foreign_case))[
        "closure_request_id"
    ]
    own = (await _open(client, factory, manager, assigned_to=str(manager.user_id))).json()
    own_closure = await _request_closure(client, own["id"], tenant_a["caseworker"])
    assert own_closure.status_code == 404  # the caseworker is not assigned
    own_closure = await _request_closure(client, own["id"], tenant_a["org_admin"])
    calls: list[tuple[str, str, dict[str, Any] | None]] = []
    for case_id, closure_id in ((foreign_case, foreign_closure), (own["id"], foreign_closure)):
        closure = f"{CASES}/{case_id}/closure-requests/{closure_id}"
        calls += [
            ("GET", f"{closure}", None),
            ("POST", f"{closure}/approve", {}),
            ("POST", f"{closure}/reject", {"comment": "no"}),
        ]
    path = f"{CASES}/{foreign_case}"
    calls += [
        ("GET", path, None),
        ("PATCH", path, {"risk_level": "low"}),
        ("POST", f"{path}/transitions", {"to_status": "assessment"}),
        ("POST", f"{path}/closure-requests", {"reason": "other", "closed_on": "2026-03-01"}),
        ("GET", f"{path}/closure-requests", None),
        ("POST", f"{path}/reopen", {"note": "x"}),
        ("GET", f"{path}/history", None),
        ("GET", f"{path}/access-log", None),
        ("GET", f"{path}/revisions", None),
    ]
    for method, url, body in calls:
        response = await client.request(
            method, url, json=body, headers={**manager.headers, "If-Match": "*"}
        )
        assert_problem(response, 404)
    # The closure request of the case next door, in one's own organisation, is not this case's.
    other = (await _open(client, factory, manager, assigned_to=str(manager.user_id))).json()
    elsewhere = f"{CASES}/{other['id']}/closure-requests/{own_closure.json()['id']}"
    assert_problem(await client.get(elsewhere, headers=manager.headers), 404)
    assert_problem(await client.post(f"{elsewhere}/approve", json={}, headers=manager.headers), 404)
    # Ids in bodies: 422 naming the field, exactly like a missing record.
    foreign_family = await factory.family(tenant_b.organisation_id)
    foreign_child = await factory.child(tenant_b.organisation_id)
    for field, value in (
        ("child_id", foreign_child),
        ("family_id", foreign_family),
        ("assigned_to", tenant_b["caseworker"].user_id),
    ):
        body = {**_body(await _child_of(factory, manager)), field: str(value)}
        problem = assert_problem(await client.post(CASES, json=body, headers=manager.headers), 422)
        assert error_locs(problem) == [["body", field]]
    for field, value in (
        ("family_id", foreign_family),
        ("assigned_to", tenant_b["caseworker"].user_id),
    ):
        response = await client.patch(
            f"{CASES}/{own['id']}",
            json={field: str(value)},
            headers={**manager.headers, "If-Match": "*"},
        )
        assert error_locs(assert_problem(response, 422)) == [["body", field]]
    assert await _ids(client, manager, assigned_to=str(tenant_b["caseworker"].user_id)) == []


# --- the workflow -----------------------------------------------------------------------------


async def test_status_workflow(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    worker = tenant_a["caseworker"]
    case_id = (await _open(client, factory, worker)).json()["id"]
    skipped = await _move(client, case_id, worker, "case_plan")
    problem = assert_problem(skipped, 409)
    assert problem["allowed"] == ["assessment"]
    assert "assessment" in problem["detail"]
    for status in WORKFLOW:
        moved = await _move(client, case_id, worker, status, note=f"to {status}")
        assert moved.status_code == 200, moved.text
        assert moved.json()["status"] == status
    back = await _move(client, case_id, worker, "intake")
    assert assert_problem(back, 409)["allowed"] == ["implementation", "case_plan"]
    closing = assert_problem(await _move(client, case_id, worker, "closed"), 409)
    assert closing["allowed"] == ["implementation", "case_plan"]
    assert "closure-requests" in closing["detail"]
    assert (await _move(client, case_id, worker, "case_plan")).status_code == 200
    same = assert_problem(await _move(client, case_id, worker, "case_plan"), 409)
    assert same["allowed"] == ["implementation"]
    assert await _history(client, case_id, worker) == [
        (None, "intake"),
        ("intake", "assessment"),
        ("assessment", "case_plan"),
        ("case_plan", "implementation"),
        ("implementation", "review"),
        ("review", "case_plan"),
    ]
    history = await client.get(f"{CASES}/{case_id}/history", headers=worker.headers)
    second = history.json()["items"][1]
    assert (second["note"], second["changed_by"], second["approved_by"]) == (
        "to assessment",
        str(worker.user_id),
        None,
    )
    page = await client.get(
        f"{CASES}/{case_id}/history", params={"limit": 4}, headers=worker.headers
    )
    rest = await client.get(
        f"{CASES}/{case_id}/history",
        params={"limit": 4, "cursor": page.json()["next_cursor"]},
        headers=worker.headers,
    )
    assert [c["to_status"] for c in rest.json()["items"]] == ["review", "case_plan"]
    bad = await _move(client, case_id, worker, "archived")
    assert error_locs(assert_problem(bad, 422)) == [["body", "to_status"]]


async def test_transitions_check_the_version(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    worker = tenant_a["caseworker"]
    created = await _open(client, factory, worker)
    case_id, etag = created.json()["id"], created.headers["etag"]
    path = f"{CASES}/{case_id}/transitions"
    moved = await client.post(
        path, json={"to_status": "assessment"}, headers={**worker.headers, "If-Match": etag}
    )
    assert moved.status_code == 200
    assert moved.headers["etag"] == f'"{uuid.UUID(case_id).hex}.2"'
    stale = await client.post(
        path, json={"to_status": "case_plan"}, headers={**worker.headers, "If-Match": etag}
    )
    assert_problem(stale, 412)
    unconditional = await client.post(path, json={"to_status": "case_plan"}, headers=worker.headers)
    assert unconditional.json()["status"] == "case_plan"
    revisions = await client.get(f"{CASES}/{case_id}/revisions", headers=worker.headers)
    assert [(r["version"], r["previous"]) for r in revisions.json()] == [
        (2, {"status": "assessment"}),
        (1, {"status": "intake"}),
    ]


async def test_status_is_not_patchable(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    worker = tenant_a["caseworker"]
    created = await _open(client, factory, worker)
    for status in ("assessment", "closed", None):
        response = await client.patch(
            f"{CASES}/{created.json()['id']}",
            json={"status": status, "risk_level": "low"},
            headers={**worker.headers, "If-Match": created.headers["etag"]},
        )
        problem = assert_problem(response, 422)
        assert error_locs(problem) == [["body", "status"]]
        assert "/transitions" in problem["errors"][0]["msg"]
    assert (await _get(client, created.json()["id"], worker)).json()["risk_level"] == "high"


async def test_corrections_need_if_match_and_keep_history(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    org = tenant_a.organisation_id
    worker, manager = tenant_a["caseworker"], tenant_a["case_manager"]
    colleague = await factory.user(org, "caseworker")
    family_id = await factory.family(org, created_by=worker.user_id)
    created = await _open(client, factory, worker)
    case_id, etag = created.json()["id"], created.headers["etag"]
    path = f"{CASES}/{case_id}"
    assert_problem(
        await client.patch(path, json={"risk_level": "low"}, headers=worker.headers), 428
    )
    concerns_only = await client.patch(
        path,
        json={"concerns": ["neglect", "out_of_school"]},
        headers={**worker.headers, "If-Match": etag},
    )
    assert concerns_only.status_code == 200, concerns_only.text
    assert concerns_only.json()["concerns"] == ["neglect", "out_of_school"]
    assert concerns_only.headers["etag"] == f'"{uuid.UUID(case_id).hex}.2"'
    stale = await client.patch(
        path, json={"risk_level": "low"}, headers={**worker.headers, "If-Match": etag}
    )
    assert_problem(stale, 412)
    both = await client.patch(
        path,
        json={
            "risk_level": "emergency",
            "concerns": ["violence"],
            "summary": None,
            "family_id": str(family_id),
            "referral_source": "community",
            "referral_source_detail": None,
        },
        headers={**worker.headers, "If-Match": concerns_only.headers["etag"]},
    )
    assert both.status_code == 200, both.text
    assert both.headers["etag"] == f'"{uuid.UUID(case_id).hex}.3"'
    body = both.json()
    assert (body["risk_level"], body["concerns"], body["summary"], body["family_id"]) == (
        "emergency",
        ["violence"],
        None,
        str(family_id),
    )
    unchanged = await client.patch(
        path,
        json={"concerns": ["violence"], "risk_level": "emergency"},
        headers={**worker.headers, "If-Match": both.headers["etag"]},
    )
    assert unchanged.headers["etag"] == both.headers["etag"]
    revisions = (await client.get(f"{path}/revisions", headers=worker.headers)).json()
    assert [(r["version"], r["previous"]) for r in revisions] == [
        (
            2,
            {
                "concerns": ["neglect", "out_of_school"],
                "family_id": None,
                "referral_source": "commune_committee",
                "referral_source_detail": "CCWC focal point, Kdol Tahen",
                "risk_level": "high",
                "summary": created.json()["summary"],
            },
        ),
        (1, {"concerns": ["left_behind_by_migration", "out_of_school"]}),
    ]
    assert revisions[0]["changed_by_user"] == str(worker.user_id)
    current = {**worker.headers, "If-Match": both.headers["etag"]}
    for field in ("risk_level", "concerns", "referral_source", "assigned_to"):
        response = await client.patch(path, json={field: None}, headers=current)
        assert error_locs(assert_problem(response, 422)) == [["body", field]]
    for body_, loc in (
        ({"concerns": ["violence", "violence"]}, ["body", "concerns"]),
        ({"concerns": []}, ["body", "concerns"]),
        ({"opened_on": "2026-01-01"}, ["body", "opened_on"]),
        ({"summary": "x" * 4001}, ["body", "summary"]),
    ):
        response = await client.patch(path, json=body_, headers=current)
        assert error_locs(assert_problem(response, 422)) == [loc]
    reassign = {"assigned_to": str(colleague.user_id)}
    assert_problem(await client.patch(path, json=reassign, headers=current), 403)
    moved = await client.patch(
        path, json=reassign, headers={**manager.headers, "If-Match": both.headers["etag"]}
    )
    assert moved.json()["assigned_to"] == str(colleague.user_id)
    assert_problem(await _get(client, case_id, worker), 404)
    assert (await _get(client, case_id, colleague)).status_code == 200


# --- closing and reopening ---------------------------------------------------------------


async def test_closure_is_approved_by_another_case_manager(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    worker, manager, admin = tenant_a["caseworker"], tenant_a["case_manager"], tenant_a["org_admin"]
    case_id = (await _open(client, factory, worker, opened_on="2026-02-03")).json()["id"]
    await _move(client, case_id, worker, "assessment")
    tomorrow = (local_today() + timedelta(days=1)).isoformat()
    for changes, loc in (
        ({"closed_on": "2026-02-02"}, ["body", "closed_on"]),
        ({"closed_on": tomorrow}, ["body", "closed_on"]),
        ({"reason": "ran_away"}, ["body", "reason"]),
        ({"note": "x" * 2001}, ["body", "note"]),
    ):
        response = await _request_closure(client, case_id, worker, **changes)
        assert error_locs(assert_problem(response, 422)) == [loc]
    requested = await _request_closure(
        client, case_id, worker, reason="kinship_care", note="Living with her aunt"
    )
    assert requested.status_code == 201, requested.text
    closure = requested.json()
    assert requested.headers["location"] == f"{CASES}/{case_id}/closure-requests/{closure['id']}"
    assert (closure["status"], closure["requested_by"], closure["decided_by"]) == (
        "pending",
        str(worker.user_id),
        None,
    )
    again = assert_problem(await _request_closure(client, case_id, worker), 409)
    assert again["pending_closure_request_id"] == closure["id"]
    decide = f"{CASES}/{case_id}/closure-requests/{closure['id']}"
    assert (await _get(client, case_id, worker)).json()["status"] == "assessment"
    # A case manager's own request needs another case manager.
    own = await factory.case(tenant_a.organisation_id, assigned_to=worker.user_id)
    own_request = (await _request_closure(client, own, manager)).json()
    own_decide = f"{CASES}/{own}/closure-requests/{own_request['id']}"
    refused = assert_problem(
        await client.post(f"{own_decide}/approve", json={}, headers=manager.headers), 409
    )
    assert "another case manager must approve" in refused["detail"]
    approved = await client.post(
        f"{decide}/approve", json={"comment": "Agreed at case conference"}, headers=manager.headers
    )
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["decided_by"]) == (
        "approved",
        str(manager.user_id),
    )
    assert approved.json()["decision_comment"] == "Agreed at case conference"
    case = (await _get(client, case_id, worker)).json()
    assert (case["status"], case["closed_on"], case["closure_reason"]) == (
        "closed",
        "2026-03-01",
        "kinship_care",
    )
    history = (await client.get(f"{CASES}/{case_id}/history", headers=worker.headers)).json()
    last = history["items"][-1]
    assert (last["from_status"], last["to_status"], last["closure_reason"]) == (
        "assessment",
        "closed",
        "kinship_care",
    )
    assert (last["changed_by"], last["approved_by"], last["note"]) == (
        str(worker.user_id),
        str(manager.user_id),
        "Living with her aunt",
    )
    twice = assert_problem(
        await client.post(f"{decide}/approve", json={}, headers=admin.headers), 409
    )
    assert "approved" in twice["detail"]
    assert_problem(
        await client.post(f"{decide}/reject", json={"comment": "x"}, headers=admin.headers), 409
    )
    assert_problem(await _request_closure(client, case_id, worker), 409)
    closed_move = assert_problem(await _move(client, case_id, worker, "assessment"), 409)
    assert closed_move["allowed"] == []
    assert "reopen" in closed_move["detail"]
    listed = await client.get(f"{CASES}/{case_id}/closure-requests", headers=worker.headers)
    assert [r["status"] for r in listed.json()["items"]] == ["approved"]


async def test_rejection_keeps_the_case_open(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    worker, manager = tenant_a["caseworker"], tenant_a["case_manager"]
    case_id = (await _open(client, factory, worker)).json()["id"]
    first = (await _request_closure(client, case_id, worker, reason="aged_out")).json()
    decide = f"{CASES}/{case_id}/closure-requests/{first['id']}/reject"
    for body in ({}, {"comment": ""}, {"comment": "x" * 2001}):
        response = await client.post(decide, json=body, headers=manager.headers)
        assert error_locs(assert_problem(response, 422)) == [["body", "comment"]]
    rejected = await client.post(
        decide, json={"comment": "She is 16: not aged out yet"}, headers=manager.headers
    )
    assert rejected.status_code == 200, rejected.text
    assert (rejected.json()["status"], rejected.json()["decision_comment"]) == (
        "rejected",
        "She is 16: not aged out yet",
    )
    assert (await _get(client, case_id, worker)).json()["status"] == "intake"
    second = await _request_closure(client, case_id, worker)
    assert second.status_code == 201
    listed = await client.get(f"{CASES}/{case_id}/closure-requests", headers=worker.headers)
    assert [r["id"] for r in listed.json()["items"]] == [second.json()["id"], first["id"]]
    one = await client.get(
        f"{CASES}/{case_id}/closure-requests/{first['id']}", headers=worker.headers
    )
    assert one.json() == rejected.json()
    assert await _history(client, case_id, worker) == [(None, "intake")]


async def test_reopening_keeps_the_history(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    worker, manager, admin = tenant_a["caseworker"], tenant_a["case_manager"], tenant_a["org_admin"]
    case_id = (await _open(client, factory, worker)).json()["id"]
    path = f"{CASES}/{case_id}/reopen"
    not_closed = await client.post(path, json={"note": "x"}, headers=manager.headers)
    assert "closed" in assert_problem(not_closed, 409)["detail"]
    closure = (await _request_closure(client, case_id, worker)).json()
    await client.post(
        f"{CASES}/{case_id}/closure-requests/{closure['id']}/approve",
        json={},
        headers=manager.headers,
    )
    for body, loc in (
        ({}, ["body", "note"]),
        ({"note": ""}, ["body", "note"]),
        ({"note": "x", "to_status": "review"}, ["body", "to_status"]),
        ({"note": "x", "to_status": "closed"}, ["body", "to_status"]),
    ):
        response = await client.post(path, json=body, headers=manager.headers)
        assert error_locs(assert_problem(response, 422)) == [loc]
    reopened = await client.post(
        path, json={"note": "The aunt moved to Thailand"}, headers=admin.headers
    )
    assert reopened.status_code == 200, reopened.text
    case = reopened.json()
    assert (case["status"], case["closed_on"], case["closure_reason"]) == (
        "assessment",
        None,
        None,
    )
    assert reopened.headers["etag"] == (await _get(client, case_id, worker)).headers["etag"]
    closure = (await _request_closure(client, case_id, worker)).json()
    await client.post(
        f"{CASES}/{case_id}/closure-requests/{closure['id']}/approve",
        json={},
        headers=admin.headers,
    )
    to_intake = await client.post(
        path, json={"note": "New referral", "to_status": "intake"}, headers=manager.headers
    )
    assert to_intake.json()["status"] == "intake"
    assert await _history(client, case_id, worker) == [
        (None, "intake"),
        ("intake", "closed"),
        ("closed", "assessment"),
        ("assessment", "closed"),
        ("closed", "intake"),
    ]
    history = (await client.get(f"{CASES}/{case_id}/history", headers=worker.headers)).json()
    reopening = history["items"][2]
    assert (reopening["note"], reopening["changed_by"]) == (
        "The aunt moved to Thailand",
        str(admin.user_id),
    )
    closures = await client.get(f"{CASES}/{case_id}/closure-requests", headers=worker.headers)
    assert [r["status"] for r in closures.json()["items"]] == ["approved", "approved"]


async def test_idempotent_retries(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    worker, manager = tenant_a["caseworker"], tenant_a["case_manager"]
    child_id = await _child_of(factory, worker)
    headers = {**worker.headers, "Idempotency-Key": str(uuid.uuid4())}
    body = _body(child_id)
    first = await client.post(CASES, json=body, headers=headers)
    retry = await client.post(CASES, json=body, headers=headers)
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["idempotent-replayed"] == "true"
    assert (retry.headers["etag"], retry.headers["location"]) == (
        first.headers["etag"],
        first.headers["location"],
    )
    changed = await client.post(CASES, json={**body, "risk_level": "low"}, headers=headers)
    assert error_locs(assert_problem(changed, 422)) == [["header", "Idempotency-Key"]]
    assert await _ids(client, manager, child_id=str(child_id)) == [first.json()["id"]]
    case_id = first.json()["id"]
    move_headers = {**worker.headers, "Idempotency-Key": str(uuid.uuid4())}
    for _ in range(2):
        moved = await client.post(
            f"{CASES}/{case_id}/transitions",
            json={"to_status": "assessment"},
            headers=move_headers,
        )
        assert (moved.status_code, moved.json()["status"]) == (200, "assessment")
    closure_headers = {**worker.headers, "Idempotency-Key": str(uuid.uuid4())}
    closures = [
        await client.post(
            f"{CASES}/{case_id}/closure-requests",
            json={"reason": "transferred", "closed_on": "2026-03-01"},
            headers=closure_headers,
        )
        for _ in range(2)
    ]
    assert [c.status_code for c in closures] == [201, 201]
    assert closures[0].json() == closures[1].json()
    decide = f"{CASES}/{case_id}/closure-requests/{closures[0].json()['id']}/approve"
    approve_headers = {**manager.headers, "Idempotency-Key": str(uuid.uuid4())}
    approvals = [await client.post(decide, json={}, headers=approve_headers) for _ in range(2)]
    assert [a.status_code for a in approvals] == [200, 200]
    assert await _history(client, case_id, worker) == [
        (None, "intake"),
        ("intake", "assessment"),
        ("assessment", "closed"),
    ]


# --- lists ---------------------------------------------------------------------------------


async def test_list_filters(client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory) -> None:
    org = tenant_a.organisation_id
    worker, manager = tenant_a["caseworker"], tenant_a["case_manager"]
    pursat = await factory.child(org, province="pursat", district="Bakan")
    kep = await factory.child(org, province="kep", district="Damnak Chang'aeur")
    bavel = await factory.child(org)
    a = await factory.case(
        org,
        child_id=pursat,
        assigned_to=worker.user_id,
        concerns=("neglect", "lack_of_food"),
        risk_level="high",
        opened_on=date(2026, 1, 10),
    )
    b = await factory.case(
        org,
        child_id=kep,
        assigned_to=manager.user_id,
        concerns=("neglect",),
        status="review",
        opened_on=date(2026, 2, 10),
    )
    since = datetime.now(UTC)
    c = await factory.case(
        org,
        child_id=bavel,
        assigned_to=worker.user_id,
        concerns=("violence",),
        risk_level="emergency",
        status="review",
        opened_on=date(2026, 3, 10),
    )
    expectations: list[tuple[dict[str, Any], list[uuid.UUID]]] = [
        ({}, [c, b, a]),
        ({"status": "review"}, [c, b]),
        ({"status": "intake"}, [a]),
        ({"status": "closed"}, []),
        ({"risk_level": "medium"}, [b]),
        ({"risk_level": "emergency"}, [c]),
        ({"concern": "neglect"}, [b, a]),
        ({"concern": "lack_of_food"}, [a]),
        ({"concern": "sexual_abuse"}, []),
        ({"assigned_to": str(worker.user_id)}, [c, a]),
        ({"assigned_to": str(manager.user_id)}, [b]),
        ({"child_id": str(kep)}, [b]),
        ({"province": "pursat"}, [a]),
        ({"province": "battambang"}, [c]),
        ({"district": "Damnak Chang'aeur"}, [b]),
        ({"district": "Bakan", "province": "kep"}, []),
        ({"opened_from": "2026-02-10"}, [c, b]),
        ({"opened_to": "2026-02-10"}, [b, a]),
        ({"opened_from": "2026-01-11", "opened_to": "2026-03-09"}, [b]),
        ({"opened_from": "2026-02-10", "opened_to": "2026-02-10"}, [b]),
        ({"updated_since": since.isoformat()}, [c]),
        ({"status": "review", "risk_level": "emergency", "concern": "violence"}, [c]),
    ]
    for params, expected in expectations:
        assert await _ids(client, manager, **params) == [str(i) for i in expected], params
    # A caseworker's list is their own cases, whatever the filter.
    assert await _ids(client, worker) == [str(c), str(a)]
    assert await _ids(client, worker, assigned_to=str(manager.user_id)) == []
    assert await _ids(client, worker, concern="neglect") == [str(a)]


async def test_sort_and_pagination_are_stable_while_inserting(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    org = tenant_a.organisation_id
    manager = tenant_a["case_manager"]
    opened = [date(2026, 1, d) for d in (5, 1, 9, 1, 3)]
    ids = [await factory.case(org, opened_on=day) for day in opened]
    by_opened = sorted(zip(opened, ids, strict=True), key=lambda p: (p[0], str(p[1])))
    ascending = [str(i) for _, i in by_opened]
    assert await _ids(client, manager, sort="opened_on") == ascending
    assert await _ids(client, manager, sort="-opened_on") == ascending[::-1]
    assert await _ids(client, manager) == ascending[::-1]  # default: newest opened first
    assert await _ids(client, manager, sort="created_at") == [str(i) for i in ids]
    assert await _ids(client, manager, sort="-created_at") == [str(i) for i in ids[::-1]]
    first = await client.get(
        CASES, params={"limit": 2, "sort": "opened_on"}, headers=manager.headers
    )
    assert first.headers["link"].endswith('rel="next"')
    seen = [c["id"] for c in first.json()["items"]]
    cursor = first.json()["next_cursor"]
    # Inserted while paging: one before the cursor (never shown), one after (shown once).
    await factory.case(org, opened_on=date(2025, 12, 1))
    late = await factory.case(org, opened_on=date(2026, 2, 1))
    while cursor:
        page = await client.get(
            CASES,
            params={"limit": 2, "sort": "opened_on", "cursor": cursor},
            headers=manager.headers,
        )
        seen += [c["id"] for c in page.json()["items"]]
        cursor = page.json()["next_cursor"]
    assert seen == [*ascending, str(late)]
    other_sort = await client.get(
        CASES, params={"limit": 2, "cursor": first.json()["next_cursor"]}, headers=manager.headers
    )
    assert error_locs(assert_problem(other_sort, 422)) == [["query", "cursor"]]
    assert await _ids(client, manager, sort="-updated_at", limit=1) == [str(late)]


async def test_search_by_the_childs_name_in_khmer_and_latin(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    org = tenant_a.organisation_id
    manager = tenant_a["case_manager"]
    dara = await factory.child(
        org,
        given_name_latin="Dara",
        family_name_latin="Sokha",
        given_name_khmer="ដារា",
        family_name_khmer="សុខា",
    )
    pisey = await factory.child(
        org,
        given_name_latin="Pisey",
        family_name_latin="Sok_100%",
        given_name_khmer="ពិសី",
        family_name_khmer="សុខ",
    )
    dara_case = str(await factory.case(org, child_id=dara))
    pisey_case = str(await factory.case(org, child_id=pisey))
    expectations = [
        ("dara", [dara_case]),
        ("DARA SOKHA", [dara_case]),
        ("sokha dara", []),
        ("sok", [dara_case, pisey_case]),
        ("ដារា", [dara_case]),
        ("សុខ", [dara_case, pisey_case]),
        ("សុខា", [dara_case]),
        ("ពិសី", [pisey_case]),
        ("_100%", [pisey_case]),
        ("%", [pisey_case]),
        ("k_1", [pisey_case]),
        ("x_", []),
    ]
    for q, expected in expectations:
        assert await _ids(client, manager, q=q, sort="created_at") == expected, q


async def test_the_list_costs_the_same_queries_for_any_page_size(
    app: FastAPI, client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    org = tenant_a.organisation_id
    manager = tenant_a["case_manager"]
    for _ in range(6):
        await factory.case(org, concerns=("neglect", "violence"))
    with recorded_statements(app) as small:
        one = await client.get(CASES, params={"limit": 1}, headers=manager.headers)
    with recorded_statements(app) as large:
        six = await client.get(CASES, params={"limit": 6}, headers=manager.headers)
    assert (len(one.json()["items"]), len(six.json()["items"])) == (1, 6)
    assert six.json()["items"][0]["concerns"] == ["neglect", "violence"]
    assert len(small) == len(large)
    case_queries = [s for s in large if "FROM cases" in s or "FROM case_concerns" in s]
    assert len(case_queries) == 1  # the concerns come in the same query, aggregated


# --- who looked: the access log and the audit trail ----------------------------------------


async def test_access_log_shows_who_read_the_case(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    worker, manager, admin = tenant_a["caseworker"], tenant_a["case_manager"], tenant_a["org_admin"]
    case_id = (await _open(client, factory, worker)).json()["id"]
    other = (await _open(client, factory, worker)).json()
    other_id, other_child = other["id"], other["child_id"]
    await client.get(f"{CASES}/{case_id}", headers={**manager.headers, "X-Request-ID": "read-1"})
    await client.get(CASES, headers={**admin.headers, "X-Request-ID": "list-1"})
    # A list that did not contain the case, and a read of the other case: not in its log.
    await client.get(CASES, params={"child_id": str(uuid.uuid4())}, headers=admin.headers)
    await client.get(f"{CASES}/{other_id}", headers=manager.headers)
    await client.get(CASES, params={"child_id": other_child}, headers=admin.headers)
    await client.get(CASES, params={"child_id": str(uuid.uuid4())}, headers=manager.headers)
    path = f"{CASES}/{case_id}/access-log"
    log = await client.get(path, headers=worker.headers)
    assert log.status_code == 200, log.text
    entries = [(e["action"], e["actor_user_id"], e["request_id"]) for e in log.json()["items"]]
    assert entries == [
        ("case.list", str(admin.user_id), "list-1"),
        ("case.read", str(manager.user_id), "read-1"),
        ("case.create", str(worker.user_id), entries[2][2]),
    ]
    assert set(log.json()["items"][0]) == {
        "at",
        "action",
        "actor_user_id",
        "actor_api_key_id",
        "request_id",
    }
    again = await client.get(path, params={"limit": 2}, headers=manager.headers)
    assert [e["action"] for e in again.json()["items"]] == ["case.access_log_read", "case.list"]
    assert again.json()["items"][0]["actor_user_id"] == str(worker.user_id)
    rest = await client.get(
        path, params={"limit": 2, "cursor": again.json()["next_cursor"]}, headers=manager.headers
    )
    assert [e["action"] for e in rest.json()["items"]] == ["case.read", "case.create"]
    assert rest.json()["next_cursor"] is None


async def test_reads_and_writes_are_audited(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    worker, manager, admin = tenant_a["caseworker"], tenant_a["case_manager"], tenant_a["org_admin"]
    created = await _open(client, factory, worker, summary="Secret detail about the family")
    case_id = created.json()["id"]
    path = f"{CASES}/{case_id}"
    await client.patch(
        path,
        json={"risk_level": "low", "concerns": ["neglect"]},
        headers={**worker.headers, "If-Match": created.headers["etag"]},
    )
    await _move(client, case_id, worker, "assessment")
    rejected = (await _request_closure(client, case_id, worker)).json()
    await client.post(
        f"{path}/closure-requests/{rejected['id']}/reject",
        json={"comment": "Not yet"},
        headers=manager.headers,
    )
    closure = (await _request_closure(client, case_id, worker)).json()
    closure_path = f"{path}/closure-requests/{closure['id']}"
    await client.post(f"{closure_path}/approve", json={}, headers=manager.headers)
    await client.post(f"{path}/reopen", json={"note": "Back"}, headers=manager.headers)
    for suffix in ("", "/history", "/revisions", "/closure-requests"):
        await client.get(f"{path}{suffix}", headers=worker.headers)
    await client.get(closure_path, headers=worker.headers)
    events = await client.get(
        "/api/v1/audit", params={"case_id": case_id, "limit": 200}, headers=admin.headers
    )
    trail = [
        (e["action"], e["actor_user_id"], e["changed_fields"]) for e in events.json()["items"]
    ][::-1]
    w, m = str(worker.user_id), str(manager.user_id)
    assert trail[:6] == [
        ("case.create", w, None),
        ("case.update", w, ["concerns", "risk_level"]),
        ("case.transition", w, ["status"]),
        ("closure_request.create", w, None),
        ("closure_request.reject", m, None),
        ("closure_request.create", w, None),
    ]
    # One request, two events: their order within it is not part of the contract.
    assert sorted(trail[6:8]) == [
        ("case.close", m, ["closed_on", "closure_reason", "status"]),
        ("closure_request.approve", m, None),
    ]
    assert trail[8:] == [
        ("case.reopen", m, ["closed_on", "closure_reason", "status"]),
        ("case.read", w, None),
        ("case.history_read", w, None),
        ("case.revisions_read", w, None),
        ("closure_request.list", w, None),
        ("closure_request.read", w, None),
    ]
    items = events.json()["items"]
    assert items[1]["record_ids"] == [closure["id"], rejected["id"]]
    assert items[0]["resource_id"] == closure["id"]
    assert "Secret detail" not in events.text and "Not yet" not in events.text
