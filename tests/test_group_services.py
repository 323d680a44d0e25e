"""Group service events: many deliveries in one call, a result per row, idempotent,
bounded, and no existence oracle for other organisations' records."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import httpx
from sqlalchemy import func, select

from ovc_api.audit.models import AuditEvent
from ovc_api.services.group_schemas import MAX_GROUP_ROWS
from ovc_api.services.models import ServiceDelivery

from .conftest import Factory, Tenant, system_session
from .helpers import assert_problem, error_locs

GROUP = "/api/v1/services/group-events"


def _event(rows: list[dict[str, Any]], **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "service_type": "birth_certificate_support",
        "delivered_on": "2026-02-10",
        "notes": "Mobile registration at Rom Lech village",
        "rows": rows,
    }
    body.update(changes)
    return body


async def _count(app: Any, model: Any, *where: Any) -> int:
    async with system_session(app) as session:
        return int(
            (await session.exec(select(func.count()).select_from(model).where(*where))).one()[0]
        )


async def test_a_campaign_records_each_row_and_reports_the_ones_that_failed(
    client: httpx.AsyncClient, tenant_a: Tenant, tenant_b: Tenant, factory: Factory, app: Any
) -> None:
    org = tenant_a.organisation_id
    manager = tenant_a["case_manager"]
    case_id = await factory.case(org, opened_on=date(2026, 1, 15))
    family_id = await factory.family(org)
    child_without_case = await factory.child(org)
    foreign_child = await factory.child(tenant_b.organisation_id)
    late_case = await factory.case(org, opened_on=date(2026, 3, 1))
    rows = [
        {"case_id": str(case_id)},
        {"family_id": str(family_id), "quantity": "2"},
        {"child_id": str(child_without_case)},
        {"child_id": str(foreign_child)},
        {"child_id": str(uuid.uuid4())},
        {"case_id": str(late_case)},
    ]
    key = {"Idempotency-Key": uuid.uuid4().hex}
    response = await client.post(GROUP, json=_event(rows), headers={**manager.headers, **key})
    assert response.status_code == 207, response.text
    body = response.json()
    assert [r["status"] for r in body["results"]] == [201, 201, 201, 404, 404, 422]
    assert (body["recorded"], body["failed"]) == (3, 3)
    foreign, missing = body["results"][3], body["results"][4]
    assert {k: v for k, v in foreign.items() if k != "index"} == {
        k: v for k, v in missing.items() if k != "index"
    }
    assert body["results"][5]["errors"][0]["loc"] == ["body", "delivered_on"]
    ids = [r["service_id"] for r in body["results"] if r["status"] == 201]
    for service_id in ids:
        read = await client.get(f"/api/v1/services/{service_id}", headers=manager.headers)
        assert read.status_code == 200, read.text
        assert read.json()["service_type"] == "birth_certificate_support"
    audited = await _count(
        app,
        AuditEvent,
        AuditEvent.action == "service.create",
        AuditEvent.resource_id.in_([uuid.UUID(i) for i in ids]),  # type: ignore[attr-defined]
    )
    assert audited == 3
    # A retry with the same key records nothing more and answers the same.
    again = await client.post(GROUP, json=_event(rows), headers={**manager.headers, **key})
    assert again.status_code == 207 and again.json() == body
    assert again.headers["idempotent-replayed"] == "true"
    stored = await _count(
        app,
        ServiceDelivery,
        ServiceDelivery.organisation_id == org,  # type: ignore[arg-type]
    )
    assert stored == 3


async def test_group_events_are_bounded_and_need_an_idempotency_key(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    manager = tenant_a["case_manager"]
    key = {"Idempotency-Key": uuid.uuid4().hex}
    rows = [{"case_id": str(uuid.uuid4())} for _ in range(10_000)]
    too_many = await client.post(GROUP, json=_event(rows), headers={**manager.headers, **key})
    problem = assert_problem(too_many, 422)
    assert error_locs(problem) == [["body", "rows"]]
    assert str(MAX_GROUP_ROWS) in problem["errors"][0]["msg"]
    no_key = await client.post(
        GROUP, json=_event([{"case_id": str(uuid.uuid4())}]), headers=manager.headers
    )
    assert error_locs(assert_problem(no_key, 422)) == [["header", "Idempotency-Key"]]
    for bad_row in ({}, {"case_id": str(uuid.uuid4()), "family_id": str(uuid.uuid4())}):
        bad = await client.post(GROUP, json=_event([bad_row]), headers={**manager.headers, **key})
        assert error_locs(assert_problem(bad, 422)) == [["body", "rows", 0]]
    unknown = await client.post(
        GROUP,
        json=_event([{"case_id": str(uuid.uuid4())}], service_type="rice"),
        headers={**manager.headers, **key},
    )
    assert error_locs(assert_problem(unknown, 422)) == [["body", "service_type"]]
