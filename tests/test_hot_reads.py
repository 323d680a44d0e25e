"""The hot reads (the case list, one case; children, households, services delivered and
referrals, listed and read one at a time) are built once per shape and run with
each caller's values (ovc_api.prepared): a statement warmed by one caller must answer
another caller, of another organisation or narrower role, only with that caller's rows, and
its audit row must name that caller and exactly the ids it returned, in order."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import col, select

from ovc_api.audit.models import AuditEvent
from ovc_api.concurrency import etag_of
from ovc_api.filtering import ListFilters

from .conftest import Factory, Tenant, system_session
from .helpers import recorded_statements

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


# --- the other hot reads: children, households, services, referrals -----------------------
# Each takes the cases' path (`ovc_api.row_reads`): on PostgreSQL the credential check sets
# the tenant (one statement), the page or record and its audit row are one statement; the
# answer is the JSON the ORM path gave for the same rows.


@dataclass
class Kind:
    path: str
    table: str
    resource: str
    model: Any
    previous: Callable[[Any, uuid.UUID], dict[str, Any]]  # (ORM row, caller's org) -> JSON


def _as(schema: Any) -> Callable[[Any, uuid.UUID], dict[str, Any]]:
    return lambda row, _org: schema.model_validate(row).model_dump(mode="json")


def _referral(row: Any, organisation_id: uuid.UUID) -> dict[str, Any]:
    from ovc_api.referrals.service import referral_read

    caller = cast(Any, SimpleNamespace(organisation_id=organisation_id))
    return referral_read(row, caller).model_dump(mode="json")


def _kinds() -> dict[str, Kind]:
    from ovc_api.children.models import Child
    from ovc_api.children.schemas import ChildRead
    from ovc_api.families.models import Family
    from ovc_api.families.schemas import FamilyRead
    from ovc_api.services.models import ServiceDelivery
    from ovc_api.services.schemas import ServiceRead
    from ovc_api.sharing.models import Referral

    return {
        "children": Kind(CHILDREN, "children", "child", Child, _as(ChildRead)),
        "families": Kind("/api/v1/families", "families", "family", Family, _as(FamilyRead)),
        "services": Kind(
            "/api/v1/services", "service_deliveries", "service", ServiceDelivery, _as(ServiceRead)
        ),
        "referrals": Kind("/api/v1/referrals", "referrals", "referral", Referral, _referral),
    }


async def _seed(factory: Factory, tenant_a: Tenant, tenant_b: Tenant) -> dict[str, Any]:
    org = tenant_a.organisation_id
    family = await factory.family(org)
    await factory.family(org, name="Household of Ta Sok")
    child = await factory.child(org, family_id=family)
    case = await factory.case(org, child_id=child)
    await factory.case(org)
    shared = await factory.sharing(
        org, case, child, tenant_b.organisation_id, status="accepted", family_id=family
    )
    return {"family": family, "child": child, "case": case, **shared}


async def _orm_rows(app: FastAPI, model: Any, ids: list[str]) -> dict[str, Any]:
    async with system_session(app) as session:
        wanted = [uuid.UUID(i) for i in ids]
        found = (await session.exec(select(model).where(col(model.id).in_(wanted)))).all()
        return {str(row.id): row for row in found}


def _one_statement_reads_and_audits(seen: list[str], table: str, postgres: bool) -> None:
    """PostgreSQL: the credential check (which sets the tenant), then the read that writes
    its audit row; SQLite (no row security, no CTE insert): the read, then the audit row."""
    reads = [s for s in seen if f"FROM {table}" in s]
    assert len(reads) == 1, seen
    if postgres:
        assert len(seen) == 2, seen
        assert "set_config" in seen[0] and "INSERT INTO audit_events" in reads[0]
    else:
        assert "INSERT INTO audit_events" not in reads[0]
        assert sum("INSERT INTO audit_events" in s for s in seen) == 1, seen


@pytest.mark.parametrize("name", ["children", "families", "services", "referrals"])
async def test_hot_list_and_read_cost_one_statement_with_their_audit_and_answer_as_before(
    name: str,
    app: FastAPI,
    client: httpx.AsyncClient,
    tenant_a: Tenant,
    tenant_b: Tenant,
    factory: Factory,
    test_database: Any,
) -> None:
    kind = _kinds()[name]
    await _seed(factory, tenant_a, tenant_b)
    admin = tenant_a["org_admin"]
    postgres = test_database.is_postgres
    for round_ in range(2):  # the second round runs the statements the first one built
        request_id = f"hot-{name}-{round_}-{uuid.uuid4().hex[:8]}"
        headers = {**admin.headers, "X-Request-ID": request_id}
        with recorded_statements(app) as seen:
            listed = await client.get(kind.path, headers=headers)
        assert listed.status_code == 200, listed.text
        items = listed.json()["items"]
        assert items, name
        _one_statement_reads_and_audits(seen, kind.table, postgres)
        (event_,) = await _list_events(app, request_id)
        assert (event_.action, event_.actor_user_id) == (f"{kind.resource}.list", admin.user_id)
        assert [str(i) for i in event_.record_ids or []] == [item["id"] for item in items]
        rows = await _orm_rows(app, kind.model, [item["id"] for item in items])
        org = tenant_a.organisation_id
        assert items == [kind.previous(rows[item["id"]], org) for item in items]

        record_id = items[0]["id"]
        request_id = f"hot-{name}-one-{round_}-{uuid.uuid4().hex[:8]}"
        headers = {**admin.headers, "X-Request-ID": request_id}
        with recorded_statements(app) as seen:
            one = await client.get(f"{kind.path}/{record_id}", headers=headers)
        assert one.status_code == 200, one.text
        if name != "families":  # a household's read adds its members and children
            _one_statement_reads_and_audits(seen, kind.table, postgres)
            assert one.json() == kind.previous(rows[record_id], org)
        else:
            assert {k: one.json()[k] for k in items[0]} == kind.previous(rows[record_id], org)
        assert one.headers["etag"] == etag_of(rows[record_id])
        (event_,) = await _list_events(app, request_id)
        assert (event_.action, str(event_.resource_id)) == (f"{kind.resource}.read", record_id)
        assert event_.organisation_id == org and event_.actor_user_id == admin.user_id


async def test_hot_reads_keep_each_kind_s_audit_columns_and_widenings(
    app: FastAPI,
    client: httpx.AsyncClient,
    tenant_a: Tenant,
    tenant_b: Tenant,
    factory: Factory,
) -> None:
    seeded = await _seed(factory, tenant_a, tenant_b)
    a_admin, b_admin = tenant_a["org_admin"], tenant_b["org_admin"]
    referral, service = str(seeded["referral_id"]), str(seeded["service_id"])
    # The sender's read of its referral and of its service name the case, as before.
    for path, resource in (
        (f"/api/v1/referrals/{referral}", "referral"),
        (f"/api/v1/services/{service}", "service"),
    ):
        request_id = f"hot-own-{uuid.uuid4().hex[:8]}"
        await client.get(path, headers={**a_admin.headers, "X-Request-ID": request_id})
        (event_,) = await _list_events(app, request_id)
        assert (event_.action, event_.case_id) == (f"{resource}.read", seeded["case"])
    # The receiver reads the sender's referral: in its own log (through the referral, no
    # case named) and in the sender's; the same for its list.
    request_id = f"hot-recv-{uuid.uuid4().hex[:8]}"
    got = await client.get(
        f"/api/v1/referrals/{referral}", headers={**b_admin.headers, "X-Request-ID": request_id}
    )
    assert got.status_code == 200 and got.json()["direction"] == "received"
    events = {e.organisation_id: e for e in await _list_events(app, request_id)}
    assert set(events) == {tenant_a.organisation_id, tenant_b.organisation_id}
    assert events[tenant_b.organisation_id].case_id is None
    assert {str(e.via_referral_id) for e in events.values()} == {referral}
    request_id = f"hot-recv-list-{uuid.uuid4().hex[:8]}"
    listed = await client.get(
        "/api/v1/referrals", headers={**b_admin.headers, "X-Request-ID": request_id}
    )
    assert [item["id"] for item in listed.json()["items"]] == [referral]
    actions = sorted(
        (e.organisation_id == tenant_a.organisation_id, e.action, e.resource_id)
        for e in await _list_events(app, request_id)
    )
    assert actions == [
        (False, "referral.list", None),
        (True, "referral.list", seeded["referral_id"]),
    ]
    # Another organisation's child, household or service answers 404 (unless referred).
    org = tenant_a.organisation_id
    for path in (
        f"{CHILDREN}/{await factory.child(org)}",
        f"/api/v1/families/{await factory.family(org)}",
        f"/api/v1/services/{service}",
    ):
        assert (await client.get(path, headers=b_admin.headers)).status_code == 404, path


TASK_SECTIONS = (
    "overdue_follow_ups",
    "upcoming_follow_ups",
    "overdue_actions",
    "upcoming_actions",
    "overdue_monitoring_visits",
    "upcoming_monitoring_visits",
    "cases_without_contact",
)


async def test_the_work_list_reads_its_case_sections_and_audits_them_in_one_statement(
    app: FastAPI,
    client: httpx.AsyncClient,
    tenant_a: Tenant,
    tenant_b: Tenant,
    factory: Factory,
    test_database: Any,
) -> None:
    org = tenant_a.organisation_id
    busy = await factory.case(org)
    await factory.casework(org, busy)  # an overdue follow-up and action; no contact either
    await factory.case(org)  # no contact since it opened
    await factory.case(tenant_b.organisation_id)
    manager = tenant_a["case_manager"]
    for round_ in range(2):  # the second round runs the statement the first one built
        request_id = f"hot-tasks-{round_}-{uuid.uuid4().hex[:8]}"
        headers = {**manager.headers, "X-Request-ID": request_id}
        with recorded_statements(app) as seen:
            got = await client.get(
                "/api/v1/tasks", params={"scope": "organisation"}, headers=headers
            )
        assert got.status_code == 200, got.text
        body = got.json()
        named = [item["case_id"] for s in TASK_SECTIONS for item in body[s]["items"]]
        assert len(named) == 4 and body["cases_without_contact"]["total"] == 2
        sections = [s for s in seen if "follow_ups" in s]
        assert len(sections) == 1, seen
        if test_database.is_postgres:  # credential, the sections and their audit, 2 more
            assert len(seen) == 4 and "INSERT INTO audit_events" in sections[0], seen
        (event_,) = await _list_events(app, request_id)
        assert (event_.action, event_.actor_user_id) == ("task.list", manager.user_id)
        assert [str(i) for i in event_.record_ids or []] == list(dict.fromkeys(named))
