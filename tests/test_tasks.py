"""The work list: overdue and upcoming follow-ups and actions, cases without contact."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from ovc_api.clock import local_today

from .conftest import Actor, Factory, Tenant, system_session
from .helpers import assert_problem, error_locs

TASKS = "/api/v1/tasks"
SECTIONS = (
    "overdue_follow_ups",
    "upcoming_follow_ups",
    "overdue_actions",
    "upcoming_actions",
    "cases_without_contact",
)


def _today() -> date:
    return local_today()


def _days(n: int) -> date:
    return _today() + timedelta(days=n)


async def _insert_all(app: FastAPI, records: list[Any]) -> None:
    """Many rows in one transaction (the factory's _insert commits one at a time)."""

    async with system_session(app) as session:
        session.add_all(records)


class Builder:
    """Cases with dated follow-ups and actions, for one organisation."""

    def __init__(self, factory: Factory, organisation_id: uuid.UUID) -> None:
        self.factory = factory
        self.organisation_id = organisation_id

    async def case(
        self,
        worker: Actor,
        *,
        opened: int = -100,
        last_contact: int | None = -1,
        names: tuple[str | None, ...] = ("Dara", "Sok", "ដារា", "សុខ"),
        **fields: Any,
    ) -> uuid.UUID:
        given_latin, family_latin, given_khmer, family_khmer = names
        child_id = await self.factory.child(
            self.organisation_id,
            given_name_latin=given_latin,
            family_name_latin=family_latin,
            given_name_khmer=given_khmer,
            family_name_khmer=family_khmer,
        )
        return await self.factory.case(
            self.organisation_id,
            child_id=child_id,
            assigned_to=worker.user_id,
            opened_on=_days(opened),
            last_contact_on=None if last_contact is None else _days(last_contact),
            **fields,
        )

    async def follow_up(
        self,
        case_id: uuid.UUID,
        scheduled: int,
        status: str = "scheduled",
        kind: str = "home_visit",
    ) -> uuid.UUID:
        from ovc_api.casework.models import FollowUp

        return await self.factory._insert(
            FollowUp(
                organisation_id=self.organisation_id,
                case_id=case_id,
                kind=kind,
                status=status,
                scheduled_on=_days(scheduled),
                done_on=_days(min(scheduled, 0)) if status == "done" else None,
            )
        )

    async def action(
        self, case_id: uuid.UUID, due: int, done: int | None = None, text: str = "Enrol"
    ) -> uuid.UUID:
        from ovc_api.casework.models import CasePlanAction, CasePlanGoal

        goal_id = await self.factory._insert(
            CasePlanGoal(
                organisation_id=self.organisation_id,
                case_id=case_id,
                domain="education",
                description="Back to school",
            )
        )
        return await self.factory._insert(
            CasePlanAction(
                organisation_id=self.organisation_id,
                case_id=case_id,
                goal_id=goal_id,
                description=text,
                responsible_organisation_id=self.organisation_id,
                due_on=_days(due),
                done_on=None if done is None else _days(done),
            )
        )


def _item(
    case_id: uuid.UUID,
    on: date,
    record_type: str,
    record_id: uuid.UUID,
    detail: str | None,
    name: str | None = "Dara Sok",
) -> dict[str, Any]:
    return {
        "case_id": str(case_id),
        "child_name": name,
        "on": on.isoformat(),
        "record_type": record_type,
        "record_id": str(record_id),
        "detail": detail,
    }


async def _tasks(client: httpx.AsyncClient, actor: Actor, **params: Any) -> dict[str, Any]:
    response = await client.get(TASKS, params=params, headers=actor.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_each_section_lists_exactly_the_due_items_of_my_open_cases(
    client: httpx.AsyncClient,
    app: FastAPI,
    tenant_a: Tenant,
    tenant_b: Tenant,
    factory: Factory,
) -> None:
    org = tenant_a.organisation_id
    worker = await factory.user(org, "caseworker")
    colleague = await factory.user(org, "caseworker")
    build = Builder(factory, org)
    limit = app.state.settings.no_contact_days

    busy = await build.case(worker, last_contact=-5)
    overdue_visit = await build.follow_up(busy, -3)
    overdue_call = await build.follow_up(busy, -10, kind="phone_call")
    today_visit = await build.follow_up(busy, 0)
    soon_visit = await build.follow_up(busy, 14)
    await build.follow_up(busy, 15)  # beyond the default 14 days
    await build.follow_up(busy, -4, status="done")
    await build.follow_up(busy, -4, status="missed")
    await build.follow_up(busy, 3, status="cancelled")
    overdue_action = await build.action(busy, -1, text="Birth certificate")
    await build.action(busy, -2, done=-1)
    soon_action = await build.action(busy, 0, text="School uniform")
    await build.action(busy, 20)

    khmer_only = await build.case(
        worker, opened=-60, last_contact=None, names=(None, None, "ស្រីនាង", "ឈុន")
    )
    silent = await build.case(worker, opened=-200, last_contact=-(limit + 1), risk_level="high")
    await build.case(worker, last_contact=-limit)  # exactly the limit: not yet
    await build.case(worker, opened=-limit, last_contact=None)

    closed = await build.case(worker, last_contact=None, status="closed", closed_on=_days(-1))
    await build.follow_up(closed, -3)
    await build.action(closed, -3)
    others = await build.case(colleague, last_contact=None)
    await build.follow_up(others, -3)
    foreign = await Builder(factory, tenant_b.organisation_id).case(
        await factory.user(tenant_b.organisation_id, "caseworker"), last_contact=None
    )
    await Builder(factory, tenant_b.organisation_id).follow_up(foreign, -3)

    body = await _tasks(client, worker)
    assert body["as_of"] == _today().isoformat()
    assert (body["scope"], body["days_ahead"], body["no_contact_days"]) == ("mine", 14, limit)
    assert body["overdue_follow_ups"] == {
        "total": 2,
        "items": [
            _item(busy, _days(-10), "follow_up", overdue_call, "phone_call"),
            _item(busy, _days(-3), "follow_up", overdue_visit, "home_visit"),
        ],
    }
    assert body["upcoming_follow_ups"] == {
        "total": 2,
        "items": [
            _item(busy, _days(0), "follow_up", today_visit, "home_visit"),
            _item(busy, _days(14), "follow_up", soon_visit, "home_visit"),
        ],
    }
    assert body["overdue_actions"] == {
        "total": 1,
        "items": [_item(busy, _days(-1), "case_plan_action", overdue_action, "Birth certificate")],
    }
    assert body["upcoming_actions"] == {
        "total": 1,
        "items": [_item(busy, _days(0), "case_plan_action", soon_action, "School uniform")],
    }
    assert body["cases_without_contact"] == {
        "total": 2,
        "items": [
            _item(khmer_only, _days(-60), "case", khmer_only, "medium", "ស្រីនាង ឈុន"),
            _item(silent, _days(-(limit + 1)), "case", silent, "high"),
        ],
    }
    wider = await _tasks(client, worker, days_ahead=20)
    assert [i["on"] for i in wider["upcoming_follow_ups"]["items"]] == [
        _days(n).isoformat() for n in (0, 14, 15)
    ]
    assert [i["on"] for i in wider["upcoming_actions"]["items"]] == [
        _days(n).isoformat() for n in (0, 20)
    ]


async def test_the_organisation_scope_needs_cases_all(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    org = tenant_a.organisation_id
    build = Builder(factory, org)
    worker, colleague = tenant_a["caseworker"], await factory.user(org, "caseworker")
    mine = await build.case(worker)
    theirs = await build.case(colleague)
    nobodys = await factory.case(org, opened_on=_days(-10))
    follow_ups = [await build.follow_up(case, -2) for case in (mine, theirs, nobodys)]

    denied = await client.get(TASKS, params={"scope": "organisation"}, headers=worker.headers)
    assert "cases:all" in assert_problem(denied, 403)["detail"]
    analyst = await client.get(TASKS, headers=tenant_a["analyst"].headers)
    assert_problem(analyst, 403)

    own = await _tasks(client, worker)
    assert [i["record_id"] for i in own["overdue_follow_ups"]["items"]] == [str(follow_ups[0])]
    manager = tenant_a["case_manager"]
    assert (await _tasks(client, manager))["overdue_follow_ups"] == {"total": 0, "items": []}
    everything = await _tasks(client, manager, scope="organisation")
    assert everything["scope"] == "organisation"
    assert [i["record_id"] for i in everything["overdue_follow_ups"]["items"]] == sorted(
        str(f) for f in follow_ups
    )
    assert everything["overdue_follow_ups"]["total"] == 3


async def test_an_api_key_has_no_cases_of_its_own(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    build = Builder(factory, tenant_a.organisation_id)
    follow_up = await build.follow_up(await factory.case(tenant_a.organisation_id), -1)
    key = await client.post(
        "/api/v1/api-keys",
        json={"label": "dashboard", "scopes": ["cases:read", "cases:all"]},
        headers=tenant_a["org_admin"].headers,
    )
    headers = {"Authorization": f"Bearer {key.json()['key']}"}
    mine = await client.get(TASKS, headers=headers)
    assert error_locs(assert_problem(mine, 422)) == [["query", "scope"]]
    everything = await client.get(TASKS, params={"scope": "organisation"}, headers=headers)
    assert everything.status_code == 200, everything.text
    items = everything.json()["overdue_follow_ups"]["items"]
    assert [i["record_id"] for i in items] == [str(follow_up)]


async def test_sections_are_capped_but_report_their_total(
    client: httpx.AsyncClient, app: FastAPI, tenant_a: Tenant, factory: Factory
) -> None:
    from ovc_api.casework.models import FollowUp

    worker = await factory.user(tenant_a.organisation_id, "caseworker")
    case_id = await Builder(factory, tenant_a.organisation_id).case(worker)
    await _insert_all(
        app,
        [
            FollowUp(
                organisation_id=tenant_a.organisation_id,
                case_id=case_id,
                kind="phone_call",
                scheduled_on=_days(-1 - n % 50),
            )
            for n in range(205)
        ],
    )
    section = (await _tasks(client, worker))["overdue_follow_ups"]
    assert section["total"] == 205
    assert len(section["items"]) == 200
    dates = [i["on"] for i in section["items"]]
    assert dates == sorted(dates) and dates[0] == _days(-50).isoformat()


async def test_query_errors(client: httpx.AsyncClient, tenant_a: Tenant) -> None:
    headers = tenant_a["case_manager"].headers
    for params, loc in (
        ({"days_ahead": 0}, ["query", "days_ahead"]),
        ({"days_ahead": 91}, ["query", "days_ahead"]),
        ({"days_ahead": "soon"}, ["query", "days_ahead"]),
        ({"scope": "network"}, ["query", "scope"]),
    ):
        response = await client.get(TASKS, params=params, headers=headers)
        assert error_locs(assert_problem(response, 422)) == [loc]


async def test_the_work_list_read_is_audited_with_its_cases(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    worker = await factory.user(tenant_a.organisation_id, "caseworker")
    build = Builder(factory, tenant_a.organisation_id)
    visited = await build.case(worker)
    await build.follow_up(visited, -1)
    await build.action(visited, 2)
    silent = await build.case(worker, last_contact=None)
    await build.case(worker)  # nothing due: not named
    body = await _tasks(client, worker)
    assert sum(body[s]["total"] for s in SECTIONS) == 3
    events = await client.get(
        "/api/v1/audit",
        params={"resource_type": "task", "user_id": str(worker.user_id)},
        headers=tenant_a["org_admin"].headers,
    )
    [event] = events.json()["items"]
    assert event["action"] == "task.list"
    assert sorted(event["record_ids"]) == sorted([str(visited), str(silent)])
    assert "Dara" not in events.text


async def test_a_case_named_in_a_work_list_shows_that_read_in_its_access_log(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    """`/cases/{id}/access-log` listed case-list reads only, not the work list (issue 10, 6)."""
    worker = await factory.user(tenant_a.organisation_id, "caseworker")
    build = Builder(factory, tenant_a.organisation_id)
    visited = await build.case(worker)
    await build.follow_up(visited, -1)
    quiet = await build.case(worker)  # nothing due: not named in the work list
    await _tasks(client, worker)
    manager = tenant_a["case_manager"].headers
    named = await client.get(f"/api/v1/cases/{visited}/access-log", headers=manager)
    assert named.status_code == 200
    assert "task.list" in [event["action"] for event in named.json()["items"]]
    unnamed = await client.get(f"/api/v1/cases/{quiet}/access-log", headers=manager)
    assert "task.list" not in [event["action"] for event in unnamed.json()["items"]]
