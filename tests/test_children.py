"""Children: recording, duplicates, search in both scripts, corrections, archive, audit."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from ovc_api.clock import local_today

from .conftest import Factory, Tenant, system_session
from .helpers import assert_problem, error_locs

CHILDREN = "/api/v1/children"


def _child(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "given_name_latin": "Sreymom",
        "family_name_latin": f"Kim{uuid.uuid4().hex[:6]}",
        "given_name_khmer": "ស្រីមុំ",
        "family_name_khmer": "គឹម",
        "sex": "female",
        "date_of_birth": "2014-06-01",
        "birth_date_estimated": True,
        "birth_registration": "not_registered",
        "schooling_status": "dropped_out",
        "care_arrangement": "kinship_care",
        "province": "battambang",
        "district": "Bavel",
        "commune": f"Commune {uuid.uuid4().hex[:6]}",
        "village": "Ou Lmun",
    }
    body.update(changes)
    return body


async def test_caseworker_records_a_child(client: httpx.AsyncClient, tenant_a: Tenant) -> None:
    worker = tenant_a["caseworker"]
    # "e" + combining acute (NFD) is stored as the single precomposed character (NFC).
    response = await client.post(
        CHILDREN, json=_child(given_name_latin="Sokhe\u0301"), headers=worker.headers
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["given_name_latin"] == "Sokh\u00e9"
    assert body["organisation_id"] == str(tenant_a.organisation_id)
    assert body["birth_date_estimated"] is True
    assert response.headers["etag"] and response.headers["location"].endswith(body["id"])
    read = await client.get(f"{CHILDREN}/{body['id']}", headers=worker.headers)
    assert read.status_code == 200 and read.json() == body


async def test_search_any_name_part_in_either_script(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    manager = tenant_a["case_manager"]
    family = f"Chhun{uuid.uuid4().hex[:5]}"
    child_id = await factory.child(
        tenant_a.organisation_id,
        family_name_latin=family,
        given_name_khmer="ស្រីនាង",
        family_name_khmer="ឈុនធី",
    )
    for q in (family.upper(), family[2:7].lower(), "នាង", "ឈុនធី"):
        found = await client.get(CHILDREN, params={"q": q, "limit": 200}, headers=manager.headers)
        assert str(child_id) in [c["id"] for c in found.json()["items"]], q
    none = await client.get(CHILDREN, params={"q": "%"}, headers=manager.headers)
    assert str(child_id) not in [c["id"] for c in none.json()["items"]]


async def test_likely_duplicates_need_confirmation(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    headers = tenant_a["case_manager"].headers
    first = await client.post(CHILDREN, json=(body := _child()), headers=headers)
    assert first.status_code == 201
    near = {
        **body,
        "given_name_latin": body["given_name_latin"].upper(),
        "date_of_birth": "2014-11-20",
    }
    duplicate = await client.post(CHILDREN, json=near, headers=headers)
    problem = assert_problem(duplicate, 409)
    assert [d["id"] for d in problem["duplicates"]] == [first.json()["id"]]
    confirmed = await client.post(
        CHILDREN, json={**near, "confirm_not_duplicate": True}, headers=headers
    )
    assert confirmed.status_code == 201
    elsewhere = await client.post(
        CHILDREN, json={**body, "commune": "Another commune"}, headers=headers
    )
    assert elsewhere.status_code == 201


async def test_child_input_errors(
    client: httpx.AsyncClient, tenant_a: Tenant, tenant_b: Tenant, factory: Factory
) -> None:
    headers = tenant_a["caseworker"].headers
    foreign_family = await factory.family(tenant_b.organisation_id)
    cases: list[tuple[dict[str, Any], list[Any]]] = [
        (
            _child(date_of_birth=(local_today() + timedelta(days=2)).isoformat()),
            ["body", "date_of_birth"],
        ),
        (_child(province="atlantis"), ["body", "province"]),
        (_child(sex="x"), ["body", "sex"]),
        (_child(care_arrangement="orphanage"), ["body", "care_arrangement"]),
        (_child(given_name_latin="x" * 101), ["body", "given_name_latin"]),
        (_child(family_id=str(foreign_family)), ["body", "family_id"]),
        (_child(organisation_id=str(tenant_b.organisation_id)), ["body", "organisation_id"]),
        (_child(date_of_birth="2014-02-30"), ["body", "date_of_birth"]),
    ]
    for body, loc in cases:
        response = await client.post(CHILDREN, json=body, headers=headers)
        assert loc in error_locs(assert_problem(response, 422)), (body, response.text)
    nameless = _child(given_name_latin=None, given_name_khmer=None)
    assert_problem(await client.post(CHILDREN, json=nameless, headers=headers), 422)
    for params in ({"sex": "x"}, {"sort": "name"}, {"cursor": "!!"}, {"province": "mars"}):
        assert_problem(await client.get(CHILDREN, params=params, headers=headers), 422)


async def test_idempotent_create(client: httpx.AsyncClient, tenant_a: Tenant) -> None:
    headers = {**tenant_a["caseworker"].headers, "Idempotency-Key": str(uuid.uuid4())}
    body = _child()
    first = await client.post(CHILDREN, json=body, headers=headers)
    retry = await client.post(CHILDREN, json=body, headers=headers)
    assert first.status_code == retry.status_code == 201
    assert retry.json()["id"] == first.json()["id"]
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.headers["etag"] == first.headers["etag"]
    changed = await client.post(CHILDREN, json={**body, "village": "Other"}, headers=headers)
    assert error_locs(assert_problem(changed, 422)) == [["header", "Idempotency-Key"]]
    listed = await client.get(
        CHILDREN, params={"commune": body["commune"]}, headers=tenant_a["case_manager"].headers
    )
    assert len(listed.json()["items"]) == 1


async def test_corrections_need_if_match_and_keep_history(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    headers = tenant_a["caseworker"].headers
    created = await client.post(CHILDREN, json=_child(), headers=headers)
    path, etag = f"{CHILDREN}/{created.json()['id']}", created.headers["etag"]
    assert_problem(await client.patch(path, json={"village": "A"}, headers=headers), 428)
    ok = await client.patch(
        path,
        json={"village": "Ta Kream", "schooling_status": "enrolled"},
        headers={**headers, "If-Match": etag},
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["schooling_status"] == "enrolled"
    stale = await client.patch(path, json={"village": "B"}, headers={**headers, "If-Match": etag})
    assert_problem(stale, 412)
    history = await client.get(f"{path}/revisions", headers=headers)
    assert history.json()[0]["previous"] == {
        "village": "Ou Lmun",
        "schooling_status": "dropped_out",
    }
    assert history.json()[0]["changed_by_user"] == str(tenant_a["caseworker"].user_id)


async def test_archive_instead_of_delete(client: httpx.AsyncClient, tenant_a: Tenant) -> None:
    headers = tenant_a["case_manager"].headers
    body = _child()
    created = await client.post(CHILDREN, json=body, headers=headers)
    path = f"{CHILDREN}/{created.json()['id']}"
    archived = await client.patch(
        path, json={"archived": True}, headers={**headers, "If-Match": created.headers["etag"]}
    )
    assert archived.json()["archived_at"] is not None
    active = await client.get(CHILDREN, params={"commune": body["commune"]}, headers=headers)
    assert active.json()["items"] == []
    listed = await client.get(
        CHILDREN, params={"commune": body["commune"], "archived": "true"}, headers=headers
    )
    assert [c["id"] for c in listed.json()["items"]] == [created.json()["id"]]
    assert (await client.delete(path, headers=headers)).status_code == 405


async def test_caseworkers_see_their_own_and_assigned_children_only(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    org = tenant_a.organisation_id
    colleague = await factory.user(org, "caseworker")
    mine = await client.post(CHILDREN, json=_child(), headers=tenant_a["caseworker"].headers)
    child_id = mine.json()["id"]
    assert_problem(await client.get(f"{CHILDREN}/{child_id}", headers=colleague.headers), 404)
    assigned_child = await factory.child(org)
    await factory.case(org, child_id=assigned_child, assigned_to=colleague.user_id)
    assert (
        await client.get(f"{CHILDREN}/{assigned_child}", headers=colleague.headers)
    ).status_code == 200
    listing = await client.get(CHILDREN, params={"limit": 200}, headers=colleague.headers)
    assert [c["id"] for c in listing.json()["items"]] == [str(assigned_child)]
    manager = await client.get(f"{CHILDREN}/{child_id}", headers=tenant_a["case_manager"].headers)
    assert manager.status_code == 200


async def test_reads_and_writes_are_audited(client: httpx.AsyncClient, tenant_a: Tenant) -> None:
    worker, admin = tenant_a["caseworker"], tenant_a["org_admin"]
    created = await client.post(CHILDREN, json=(body := _child()), headers=worker.headers)
    child_id = created.json()["id"]
    await client.get(f"{CHILDREN}/{child_id}", headers=worker.headers)
    await client.get(CHILDREN, params={"commune": body["commune"]}, headers=worker.headers)
    events = await client.get(
        "/api/v1/audit",
        params={"resource_type": "child", "user_id": str(worker.user_id)},
        headers=admin.headers,
    )
    items = events.json()["items"]
    assert [e["action"] for e in items[:3]] == ["child.list", "child.read", "child.create"]
    assert items[0]["record_ids"] == [child_id]
    assert items[1]["resource_id"] == child_id
    assert body["given_name_latin"] not in events.text


async def test_pagination_is_stable_while_rows_are_inserted(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    headers = tenant_a["case_manager"].headers
    province = "kep"
    for _ in range(5):
        await factory.child(tenant_a.organisation_id, province=province)
    first = await client.get(
        CHILDREN, params={"province": province, "limit": 2, "sort": "created_at"}, headers=headers
    )
    seen = [c["id"] for c in first.json()["items"]]
    cursor = first.json()["next_cursor"]
    await factory.child(tenant_a.organisation_id, province=province)  # lands after the cursor
    while cursor:
        page = await client.get(
            CHILDREN,
            params={"province": province, "limit": 2, "sort": "created_at", "cursor": cursor},
            headers=headers,
        )
        seen += [c["id"] for c in page.json()["items"]]
        cursor = page.json()["next_cursor"]
    assert len(seen) == len(set(seen)) == 6


async def test_api_key_without_cases_all_is_assigned_nothing(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    """A key has no user: `assigned_to = NULL` must not match unassigned records."""
    created = await client.post(
        "/api/v1/api-keys",
        json={"label": "sync", "scopes": ["cases:read"]},
        headers=tenant_a["org_admin"].headers,
    )
    key = {"Authorization": f"Bearer {created.json()['key']}"}
    child_id = await factory.child(tenant_a.organisation_id)  # created_by is NULL
    assert_problem(await client.get(f"{CHILDREN}/{child_id}", headers=key), 404)
    listed = await client.get(CHILDREN, params={"limit": 200}, headers=key)
    assert listed.json()["items"] == []


async def test_expired_idempotency_keys_are_purged(
    client: httpx.AsyncClient, tenant_a: Tenant, app: Any
) -> None:
    from sqlalchemy import select

    from ovc_api.idempotency import RETENTION, IdempotencyRecord

    worker = tenant_a["caseworker"]
    old = IdempotencyRecord(
        organisation_id=tenant_a.organisation_id,
        caller_id=worker.user_id,
        key="old",
        method="POST",
        path=CHILDREN,
        request_digest="x",
        status_code=201,
        body="{}",
        created_at=datetime.now(UTC) - RETENTION - timedelta(minutes=1),
    )
    async with system_session(app) as session:
        session.add(old)
    headers = {**worker.headers, "Idempotency-Key": "new"}
    assert (await client.post(CHILDREN, json=_child(), headers=headers)).status_code == 201
    async with system_session(app) as session:
        keys = (
            await session.exec(
                select(IdempotencyRecord.key).where(  # type: ignore[call-overload]
                    IdempotencyRecord.caller_id == worker.user_id
                )
            )
        ).all()
    assert [k for (k,) in keys] == ["new"]


async def test_today_is_the_date_where_the_network_works(tenant_a: Tenant, settings: Any) -> None:
    """UTC+14: local "today" is already tomorrow in UTC, and must not count as the future."""
    from ovc_api import clock
    from ovc_api.app import create_app

    app = create_app(settings.model_copy(update={"timezone": "Pacific/Kiritimati"}))
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            headers = tenant_a["caseworker"].headers
            today = clock.local_today()  # from 10:00 UTC on, already tomorrow in UTC
            born_today = await http.post(
                CHILDREN, json=_child(date_of_birth=today.isoformat()), headers=headers
            )
            assert born_today.status_code == 201, born_today.text
            tomorrow = (today + timedelta(days=1)).isoformat()
            future = await http.post(CHILDREN, json=_child(date_of_birth=tomorrow), headers=headers)
            assert error_locs(assert_problem(future, 422)) == [["body", "date_of_birth"]]
    finally:
        clock.configure(settings.timezone)
        await app.state.database.engine.dispose()
