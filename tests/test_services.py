"""The services directory and services delivered."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx

from ovc_api.clock import local_today

from .conftest import Factory, Tenant
from .helpers import assert_problem, error_locs

SERVICES = "/api/v1/services"


async def test_organisations_declare_services_and_the_directory_finds_them(
    client: httpx.AsyncClient, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    path = f"/api/v1/organisations/{tenant_a.organisation_id}/services"
    offers = {
        "offers": [
            {
                "service_type": "vocational_training",
                "provinces": ["battambang", "pursat"],
                "description": "Motorbike repair and sewing, 6 months",
            },
            {"service_type": "counselling", "provinces": ["battambang"]},
        ]
    }
    put = await client.put(path, json=offers, headers=tenant_a["org_admin"].headers)
    assert put.status_code == 200, put.text
    read = await client.get(path, headers=tenant_b["caseworker"].headers)
    assert {o["service_type"]: o["provinces"] for o in read.json()} == {
        "counselling": ["battambang"],
        "vocational_training": ["battambang", "pursat"],
    }
    found = await client.get(
        "/api/v1/directory",
        params={"service": "vocational_training", "province": "pursat", "limit": 200},
        headers=tenant_b["caseworker"].headers,
    )
    entry = [
        e for e in found.json()["items"] if e["organisation_id"] == str(tenant_a.organisation_id)
    ]
    assert entry[0]["description"] == "Motorbike repair and sewing, 6 months"
    elsewhere = await client.get(
        "/api/v1/directory",
        params={"service": "counselling", "province": "pursat", "limit": 200},
        headers=tenant_b["caseworker"].headers,
    )
    assert str(tenant_a.organisation_id) not in [
        e["organisation_id"] for e in elsewhere.json()["items"]
    ]
    # Replacing the list drops what is no longer offered.
    await client.put(path, json={"offers": []}, headers=tenant_a["org_admin"].headers)
    assert (await client.get(path, headers=tenant_b["caseworker"].headers)).json() == []


async def test_directory_input_errors(
    client: httpx.AsyncClient, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    headers = tenant_a["org_admin"].headers
    own = f"/api/v1/organisations/{tenant_a.organisation_id}/services"
    other = f"/api/v1/organisations/{tenant_b.organisation_id}/services"
    offer = {"service_type": "counselling", "provinces": ["battambang"]}
    assert_problem(await client.put(other, json={"offers": [offer]}, headers=headers), 403)
    twice = await client.put(own, json={"offers": [offer, offer]}, headers=headers)
    assert_problem(twice, 422)
    unknown = await client.put(
        own, json={"offers": [{**offer, "service_type": "magic"}]}, headers=headers
    )
    assert ["body", "offers", 0, "service_type"] in error_locs(assert_problem(unknown, 422))
    assert_problem(await client.get("/api/v1/directory", headers=headers), 422)
    assert_problem(
        await client.get("/api/v1/directory", params={"service": "x"}, headers=headers), 422
    )


def _service(case_id: uuid.UUID, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "service_type": "emergency_food_package",
        "delivered_on": "2026-02-02",
        "case_id": str(case_id),
        "quantity": "1",
        "unit": "package",
        "cost": "25.50",
        "currency": "USD",
        "notes": "Rice, fish sauce, oil",
    }
    body.update(changes)
    return body


async def test_record_and_correct_a_service(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    org = tenant_a.organisation_id
    worker = tenant_a["caseworker"].headers
    case_id = await factory.case(org, assigned_to=tenant_a["caseworker"].user_id)
    created = await client.post(SERVICES, json=_service(case_id), headers=worker)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["province"] == "battambang" and body["district"] == "Bavel"
    assert body["cost"] == "25.50" and body["currency"] == "USD"
    path = f"{SERVICES}/{body['id']}"
    assert_problem(await client.patch(path, json={"quantity": "2"}, headers=worker), 428)
    fixed = await client.patch(
        path, json={"quantity": "2"}, headers={**worker, "If-Match": created.headers["etag"]}
    )
    assert fixed.json()["quantity"] == "2.00"
    listed = await client.get(SERVICES, params={"case_id": str(case_id)}, headers=worker)
    assert [s["id"] for s in listed.json()["items"]] == [body["id"]]


async def test_service_input_errors(
    client: httpx.AsyncClient, tenant_a: Tenant, tenant_b: Tenant, factory: Factory
) -> None:
    headers = tenant_a["case_manager"].headers
    case_id = await factory.case(tenant_a.organisation_id)
    foreign_case = await factory.case(tenant_b.organisation_id)
    foreign_family = await factory.family(tenant_b.organisation_id)
    tomorrow = (local_today() + timedelta(days=1)).isoformat()
    checks: list[tuple[dict[str, Any], list[Any]]] = [
        (_service(foreign_case), ["body", "case_id"]),
        (
            {**_service(case_id), "case_id": None, "family_id": str(foreign_family)},
            ["body", "family_id"],
        ),
        (_service(case_id, delivered_on=tomorrow), ["body", "delivered_on"]),
        (_service(case_id, delivered_on="2025-01-01"), ["body", "delivered_on"]),
        (_service(case_id, service_type="teleport"), ["body", "service_type"]),
        (_service(case_id, quantity="-1"), ["body", "quantity"]),
        (_service(case_id, currency="EUR"), ["body", "currency"]),
        (_service(case_id, notes="x" * 2001), ["body", "notes"]),
    ]
    for body, loc in checks:
        response = await client.post(SERVICES, json=body, headers=headers)
        assert loc in error_locs(assert_problem(response, 422)), (loc, response.text)
    for body in (
        _service(case_id, service_type="other"),  # needs other_description
        _service(case_id, cost=None),  # currency without cost
        {k: v for k, v in _service(case_id).items() if k != "case_id"},  # nobody served
    ):
        assert_problem(await client.post(SERVICES, json=body, headers=headers), 422)
    inverted = await client.get(
        SERVICES,
        params={"delivered_from": "2026-03-01", "delivered_to": "2026-01-01"},
        headers=headers,
    )
    assert error_locs(assert_problem(inverted, 422)) == [["query", "delivered_from"]]


async def test_services_to_a_family_and_idempotent_retry(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    family_id = await factory.family(tenant_a.organisation_id, province="pursat")
    headers = {**tenant_a["case_manager"].headers, "Idempotency-Key": str(uuid.uuid4())}
    body = {
        "service_type": "income_generation",
        "delivered_on": "2026-02-01",
        "family_id": str(family_id),
        "notes": "Two piglets",
    }
    first = await client.post(SERVICES, json=body, headers=headers)
    retry = await client.post(SERVICES, json=body, headers=headers)
    assert first.status_code == retry.status_code == 201
    assert first.json()["id"] == retry.json()["id"] and first.json()["province"] == "pursat"
    listed = await client.get(SERVICES, params={"family_id": str(family_id)}, headers=headers)
    assert len(listed.json()["items"]) == 1
