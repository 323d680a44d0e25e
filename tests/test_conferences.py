"""Case conferences: organisers see everything, participants the record and their own items."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from .conftest import Factory, Tenant
from .helpers import assert_problem, error_locs

CONFERENCES = "/api/v1/case-conferences"


async def _conference(
    client: httpx.AsyncClient, a: Tenant, b: Tenant, for_case: uuid.UUID, **changes: Any
) -> httpx.Response:
    body: dict[str, Any] = {
        "case_id": str(for_case),
        "held_on": "2026-02-05",
        "location": "Kdol Tahen commune hall",
        "agenda": "Schooling, food, birth certificate",
        "decisions": "Enrol; apply for papers",
        "participant_organisation_ids": [str(b.organisation_id)],
        "external_participants": [
            {"name": "Mr Sok Heng", "role": "Commune chief", "affiliation": "Kdol Tahen commune"}
        ],
        "action_items": [
            {
                "organisation_id": str(a.organisation_id),
                "description": "Birth certificate",
                "due_on": "2026-03-01",
            },
            {
                "organisation_id": str(b.organisation_id),
                "description": "School uniform",
                "due_on": "2026-02-20",
            },
        ],
    }
    body.update(changes)
    return await client.post(CONFERENCES, json=body, headers=a["case_manager"].headers)


async def test_participants_see_the_record_and_their_own_actions_only(
    client: httpx.AsyncClient, tenant_a: Tenant, tenant_b: Tenant, factory: Factory
) -> None:
    case_id = await factory.case(tenant_a.organisation_id)
    created = await _conference(client, tenant_a, tenant_b, case_id)
    assert created.status_code == 201, created.text
    conference = created.json()
    assert len(conference["action_items"]) == 2 and conference["case_id"] == str(case_id)
    seen = await client.get(
        f"{CONFERENCES}/{conference['id']}", headers=tenant_b["case_manager"].headers
    )
    assert seen.status_code == 200
    body = seen.json()
    assert body["case_id"] is None and body["decisions"] == "Enrol; apply for papers"
    assert [a["description"] for a in body["action_items"]] == ["School uniform"]
    # Not the rest of the case.
    assert_problem(
        await client.get(f"/api/v1/cases/{case_id}", headers=tenant_b["case_manager"].headers), 404
    )
    # A participant marks its own item done, but edits nothing else.
    item = body["action_items"][0]
    done = await client.patch(
        f"{CONFERENCES}/{conference['id']}/actions/{item['id']}",
        json={"done_on": "2026-02-18"},
        headers={**tenant_b["case_manager"].headers, "If-Match": "*"},
    )
    assert done.status_code == 200, done.text
    assert done.json()["done_on"] == "2026-02-18"
    assert_problem(
        await client.patch(
            f"{CONFERENCES}/{conference['id']}",
            json={"agenda": "x"},
            headers={**tenant_b["case_manager"].headers, "If-Match": "*"},
        ),
        403,
    )
    listed = await client.get(
        CONFERENCES, params={"role": "participant"}, headers=tenant_b["case_manager"].headers
    )
    assert [c["id"] for c in listed.json()["items"]] == [conference["id"]]


async def test_a_third_organisation_sees_nothing(
    client: httpx.AsyncClient, tenant_a: Tenant, tenant_b: Tenant, factory: Factory
) -> None:
    case_id = await factory.case(tenant_a.organisation_id)
    conference = (await _conference(client, tenant_a, tenant_b, case_id)).json()
    third = await factory.tenant()
    assert_problem(
        await client.get(
            f"{CONFERENCES}/{conference['id']}", headers=third["case_manager"].headers
        ),
        404,
    )


async def test_conference_input_errors(
    client: httpx.AsyncClient, tenant_a: Tenant, tenant_b: Tenant, factory: Factory
) -> None:
    case_id = await factory.case(tenant_a.organisation_id)
    stranger = await factory.organisation()
    checks: list[tuple[dict[str, Any], list[Any]]] = [
        ({"held_on": "2025-01-01"}, ["body", "held_on"]),
        (
            {"participant_organisation_ids": [str(uuid.uuid4())]},
            ["body", "participant_organisation_ids", 0],
        ),
        (
            {"participant_organisation_ids": [str(tenant_a.organisation_id)]},
            ["body", "participant_organisation_ids", 0],
        ),
        (
            {
                "action_items": [
                    {"organisation_id": str(stranger), "description": "x", "due_on": "2026-03-01"}
                ]
            },
            ["body", "action_items", 0, "organisation_id"],
        ),
        ({"case_id": str(await factory.case(tenant_b.organisation_id))}, ["body", "case_id"]),
        ({"agenda": "x" * 4001}, ["body", "agenda"]),
    ]
    for changes, loc in checks:
        response = await _conference(client, tenant_a, tenant_b, case_id, **changes)
        assert loc in error_locs(assert_problem(response, 422)), (loc, response.text)
