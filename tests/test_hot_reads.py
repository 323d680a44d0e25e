"""The hot reads (the case list, one case) are built once per shape and run with
each caller's values (ovc_api.prepared): a statement warmed by one caller must answer
another caller, of another organisation or narrower role, only with that caller's rows, and
its audit row must name that caller and exactly the ids it returned, in order."""

from __future__ import annotations

import uuid
from datetime import date

import httpx
from fastapi import FastAPI
from sqlmodel import col, select

from ovc_api.audit.models import AuditEvent
from ovc_api.filtering import ListFilters

from .conftest import Factory, Tenant, system_session

CASES = "/api/v1/cases"
CHILDREN = "/api/v1/children"


async def _list_events(app: FastAPI, request_id: str) -> list[AuditEvent]:
    async with system_session(app) as session:
        statement = select(AuditEvent).where(col(AuditEvent.request_id) == request_id)
        return list((await session.exec(statement)).all())


async def _ids(client: httpx.AsyncClient, headers: dict[str, str]) -> set[str]:
    return {item["id"] for item in (await client.get(CASES, headers=headers)).json()["items"]}


async def test_a_warm_statement_answers_each_caller_with_its_own_rows(
    app: FastAPI,
    client: httpx.AsyncClient,
    tenant_a: Tenant,
    tenant_b: Tenant,
    factory: Factory,
) -> None:
    a_admin, b_admin = tenant_a["org_admin"], tenant_b["org_admin"]
    worker = tenant_a["caseworker"]
    a_cases = [await factory.case(tenant_a.organisation_id) for _ in range(2)]
    mine = await factory.case(tenant_a.organisation_id, assigned_to=worker.user_id)
    b_case = await factory.case(tenant_b.organisation_id)
    for _ in range(2):  # the second round runs the statements the first one built
        a_ids, b_ids, w_ids = [
            await _ids(client, actor.headers) for actor in (a_admin, b_admin, worker)
        ]
        assert a_ids == {str(c) for c in [*a_cases, mine]}
        assert b_ids == {str(b_case)}
        assert w_ids == {str(mine)}  # the caseworker's narrowing binds their own id
        assert (await client.get(f"{CASES}/{b_case}", headers=a_admin.headers)).status_code == 404
        one = await client.get(f"{CASES}/{a_cases[0]}", headers=a_admin.headers)
        assert one.status_code == 200 and one.json()["id"] == str(a_cases[0])
        other = await client.get(f"{CASES}/{a_cases[0]}", headers=worker.headers)
        assert other.status_code == 404  # not assigned to them
    children = await client.get(CHILDREN, headers=b_admin.headers)
    assert [c["organisation_id"] for c in children.json()["items"]] == [
        str(tenant_b.organisation_id)
    ]


async def test_each_page_audits_its_caller_and_its_ids_in_order(
    app: FastAPI, client: httpx.AsyncClient, tenant_a: Tenant, tenant_b: Tenant, factory: Factory
) -> None:
    for day in range(1, 6):
        await factory.case(tenant_a.organisation_id, opened_on=date(2026, 2, day))
    await factory.case(tenant_b.organisation_id)
    manager, b_admin = tenant_a["case_manager"], tenant_b["org_admin"]
    seen: list[str] = []
    cursor = None
    for page in range(3):
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        request_id = f"hot-{page}-{uuid.uuid4().hex[:8]}"
        headers = {**manager.headers, "X-Request-ID": request_id}
        body = (await client.get(CASES, params=params, headers=headers)).json()
        ids = [item["id"] for item in body["items"]]
        (event,) = await _list_events(app, request_id)
        assert (event.action, event.organisation_id) == ("case.list", tenant_a.organisation_id)
        assert event.actor_user_id == manager.user_id
        assert [str(i) for i in event.record_ids or []] == ids
        seen += ids
        cursor = body["next_cursor"]
    assert len(seen) == len(set(seen)) == 5 and cursor is None
    request_id = f"hot-b-{uuid.uuid4().hex[:8]}"
    await client.get(CASES, headers={**b_admin.headers, "X-Request-ID": request_id})
    (event,) = await _list_events(app, request_id)
    assert (event.organisation_id, event.actor_user_id) == (
        tenant_b.organisation_id,
        b_admin.user_id,
    )
    assert len(event.record_ids or []) == 1


async def test_an_empty_page_is_audited_with_no_ids(
    app: FastAPI, client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    request_id = f"hot-empty-{uuid.uuid4().hex[:8]}"
    headers = {**tenant_a["org_admin"].headers, "X-Request-ID": request_id}
    assert (await client.get(CASES, headers=headers)).json() == {"items": [], "next_cursor": None}
    (event,) = await _list_events(app, request_id)
    assert event.action == "case.list" and event.record_ids == []


def test_only_values_other_than_the_defaults_count_as_filters() -> None:
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Query(ListFilters):
        archived: bool = False
        q: str | None = None
        sort: str = "-created_at"

    assert not Query().filtered()
    assert not Query(sort="created_at").filtered()
    assert Query(archived=True).filtered()
    assert Query(q="Sok").filtered()
