"""Households: members, who sees them, corrections with history, archive, audit."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from .conftest import Factory, Tenant
from .helpers import assert_problem, error_locs

FAMILIES = "/api/v1/families"
AUDIT = "/api/v1/audit"


def _tag() -> str:
    return uuid.uuid4().hex[:8]


def _member(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Yeay Phan",
        "relation": "grandmother",
        "sex": "female",
        "age": 67,
        "is_caregiver": True,
    }
    body.update(changes)
    return body


def _family(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": f"Household of Yeay Phan {_tag()}",
        "id_poor_status": "level_1",
        "income_sources": ["farming", "remittances"],
        "province": "battambang",
        "district": "Bavel",
        "commune": f"Commune {_tag()}",
        "village": "Ou Lmun",
        "notes": "Parents work in Thailand; grandmother cares for three grandchildren.",
    }
    body.update(changes)
    return body


async def _create(
    client: httpx.AsyncClient, headers: dict[str, str], **changes: Any
) -> httpx.Response:
    response = await client.post(FAMILIES, json=_family(**changes), headers=headers)
    assert response.status_code == 201, response.text
    return response


def _ids(response: httpx.Response) -> list[str]:
    return [item["id"] for item in response.json()["items"]]


async def test_caseworker_records_a_household_with_members(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    worker = tenant_a["caseworker"]
    mother = _member(
        name="Sokha",
        relation="mother",
        age=34,
        is_caregiver=False,
        migrated=True,
        migration_destination="Bangkok, Thailand",
    )
    # "e" + combining acute (NFD) is stored as the single precomposed character (NFC).
    body = _family(name="Household of Sokhe\u0301", members=[_member(), mother])
    response = await client.post(FAMILIES, json=body, headers=worker.headers)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["name"] == "Household of Sokh\u00e9"
    assert created["organisation_id"] == str(tenant_a.organisation_id)
    assert created["income_sources"] == ["farming", "remittances"]
    assert created["child_ids"] == []
    assert [m["name"] for m in created["members"]] == ["Yeay Phan", "Sokha"]
    assert created["members"][1]["migration_destination"] == "Bangkok, Thailand"
    assert {m["family_id"] for m in created["members"]} == {created["id"]}
    assert all(m["etag"].startswith('"') for m in created["members"])
    assert response.headers["location"] == f"{FAMILIES}/{created['id']}"
    read = await client.get(f"{FAMILIES}/{created['id']}", headers=worker.headers)
    assert read.status_code == 200
    assert read.json() == created
    assert read.headers["etag"] == response.headers["etag"]
    minimal = {"name": f"Household {_tag()}", "province": "kep"}
    defaults = await client.post(FAMILIES, json=minimal, headers=worker.headers)
    assert defaults.status_code == 201, defaults.text
    assert defaults.json()["id_poor_status"] == "unknown"
    assert defaults.json()["income_sources"] == [] and defaults.json()["members"] == []


async def test_who_sees_a_household(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    org = tenant_a.organisation_id
    worker, manager, analyst = (
        tenant_a["caseworker"],
        tenant_a["case_manager"],
        tenant_a["analyst"],
    )
    colleague = await factory.user(org, "caseworker")
    created = await _create(client, worker.headers)
    family_id, etag = created.json()["id"], created.headers["etag"]
    path = f"{FAMILIES}/{family_id}"
    assert (await client.get(path, headers=worker.headers)).status_code == 200
    assert (await client.get(path, headers=manager.headers)).status_code == 200
    assert_problem(await client.get(path, headers=colleague.headers), 404)
    assert_problem(await client.get(f"{path}/revisions", headers=colleague.headers), 404)
    patch = await client.patch(
        path, json={"notes": "x"}, headers={**colleague.headers, "If-Match": etag}
    )
    assert_problem(patch, 404)
    add = await client.post(f"{path}/members", json=_member(), headers=colleague.headers)
    assert_problem(add, 404)
    assert_problem(await client.get(path, headers=analyst.headers), 403)
    assert_problem(await client.get(FAMILIES, headers=analyst.headers), 403)
    assert_problem(await client.post(FAMILIES, json=_family(), headers=analyst.headers), 403)
    # A household becomes visible to the caseworker its case is assigned to.
    assigned = await factory.family(org, commune=f"Commune {_tag()}")
    await factory.case(org, family_id=assigned, assigned_to=colleague.user_id)
    listing = await client.get(FAMILIES, params={"limit": 200}, headers=colleague.headers)
    assert _ids(listing) == [str(assigned)]
    assert (
        await client.get(f"{FAMILIES}/{assigned}", headers=colleague.headers)
    ).status_code == 200
    everyone = await client.get(
        FAMILIES, params={"commune": created.json()["commune"]}, headers=manager.headers
    )
    assert _ids(everyone) == [family_id]


async def test_another_organisations_household_answers_404_everywhere(
    client: httpx.AsyncClient, tenant_a: Tenant, tenant_b: Tenant, factory: Factory
) -> None:
    foreign = await factory.family(tenant_b.organisation_id)
    foreign_member = await factory.family_member(tenant_b.organisation_id, foreign)
    own = await factory.family(tenant_a.organisation_id)
    own_member = await factory.family_member(tenant_a.organisation_id, own)
    other_own = await factory.family(tenant_a.organisation_id)
    headers = {**tenant_a["case_manager"].headers, "If-Match": "*"}
    member_paths = [
        f"{FAMILIES}/{foreign}/members/{foreign_member}",
        f"{FAMILIES}/{own}/members/{foreign_member}",  # another organisation's member
        f"{FAMILIES}/{other_own}/members/{own_member}",  # a member of another household
        f"{FAMILIES}/{foreign}/members/{own_member}",
    ]
    for path in member_paths:
        assert_problem(await client.get(path, headers=headers), 404)
        assert_problem(await client.patch(path, json={"age": 40}, headers=headers), 404)
    family = f"{FAMILIES}/{foreign}"
    assert_problem(await client.get(family, headers=headers), 404)
    assert_problem(await client.get(f"{family}/revisions", headers=headers), 404)
    assert_problem(await client.patch(family, json={"notes": "x"}, headers=headers), 404)
    add = await client.post(f"{family}/members", json=_member(), headers=headers)
    assert_problem(add, 404)
    listing = await client.get(FAMILIES, params={"limit": 200}, headers=headers)
    assert str(foreign) not in _ids(listing)
    own_read = await client.get(f"{FAMILIES}/{own}/members/{own_member}", headers=headers)
    assert own_read.status_code == 200


async def test_household_input_errors(client: httpx.AsyncClient, tenant_a: Tenant) -> None:
    headers = tenant_a["caseworker"].headers
    cases: list[tuple[dict[str, Any], list[Any]]] = [
        (_family(id_poor_status="level_3"), ["body", "id_poor_status"]),
        (_family(income_sources=["gold_mining"]), ["body", "income_sources", 0]),
        (_family(income_sources=["farming", "farming"]), ["body", "income_sources"]),
        (_family(income_sources=["other"] * 10), ["body", "income_sources"]),
        (_family(name="x" * 201), ["body", "name"]),
        (_family(name="   "), ["body", "name"]),
        (_family(notes="x" * 4001), ["body", "notes"]),
        (_family(province="atlantis"), ["body", "province"]),
        (_family(province=None), ["body", "province"]),
        (_family(organisation_id=str(tenant_a.organisation_id)), ["body", "organisation_id"]),
        (_family(members=[_member(age=130)]), ["body", "members", 0, "age"]),
        (_family(members=[_member(relation="boss")]), ["body", "members", 0, "relation"]),
        (
            _family(members=[_member(migration_destination="Thailand")]),
            ["body", "members", 0, "migration_destination"],
        ),
        (_family(members=[_member(), _member(salary=1)]), ["body", "members", 1, "salary"]),
    ]
    for body, loc in cases:
        response = await client.post(FAMILIES, json=body, headers=headers)
        assert loc in error_locs(assert_problem(response, 422)), (body, response.text)
    created = await _create(client, headers)
    path, etag = f"{FAMILIES}/{created.json()['id']}", created.headers["etag"]
    member_cases: list[tuple[dict[str, Any], list[Any]]] = [
        (_member(age=130), ["body", "age"]),
        (_member(age=-1), ["body", "age"]),
        (_member(sex="unknown"), ["body", "sex"]),
        (_member(name="x" * 201), ["body", "name"]),
        (_member(notes="x" * 2001), ["body", "notes"]),
        (
            _member(migration_destination="x" * 201, migrated=True),
            ["body", "migration_destination"],
        ),
        (
            _member(migrated=False, migration_destination="Thailand"),
            ["body", "migration_destination"],
        ),
        (_member(family_id=str(uuid.uuid4())), ["body", "family_id"]),
    ]
    for body, loc in member_cases:
        response = await client.post(f"{path}/members", json=body, headers=headers)
        assert loc in error_locs(assert_problem(response, 422)), (body, response.text)
    patches: list[tuple[dict[str, Any], list[Any]]] = [
        ({"name": None}, ["body", "name"]),
        ({"province": None}, ["body", "province"]),
        ({"income_sources": ["fishing", "fishing"]}, ["body", "income_sources"]),
        ({"id_poor_status": "poor"}, ["body", "id_poor_status"]),
        ({"members": []}, ["body", "members"]),
        ({"archived": "soon"}, ["body", "archived"]),
    ]
    for body, loc in patches:
        response = await client.patch(path, json=body, headers={**headers, "If-Match": etag})
        assert loc in error_locs(assert_problem(response, 422)), (body, response.text)
    for params in (
        {"id_poor_status": "x"},
        {"sort": "name"},
        {"cursor": "!!"},
        {"province": "mars"},
        {"archived": "maybe"},
        {"updated_since": "yesterday"},
    ):
        assert_problem(await client.get(FAMILIES, params=params, headers=headers), 422)
    bad_id = await client.get(f"{FAMILIES}/not-a-uuid", headers=headers)
    assert error_locs(assert_problem(bad_id, 422)) == [["path", "family_id"]]


async def test_corrections_need_if_match_and_keep_history(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    worker, admin = tenant_a["caseworker"], tenant_a["org_admin"]
    created = await _create(client, worker.headers)
    path, etag = f"{FAMILIES}/{created.json()['id']}", created.headers["etag"]
    assert_problem(await client.patch(path, json={"village": "A"}, headers=worker.headers), 428)
    ok = await client.patch(
        path,
        json={"id_poor_status": "level_2", "income_sources": ["daily_labour"], "notes": None},
        headers={**worker.headers, "If-Match": etag},
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["id_poor_status"] == "level_2"
    assert ok.json()["income_sources"] == ["daily_labour"]
    assert ok.json()["notes"] is None
    assert ok.headers["etag"] != etag
    stale = await client.patch(
        path, json={"village": "B"}, headers={**worker.headers, "If-Match": etag}
    )
    assert_problem(stale, 412)
    history = await client.get(f"{path}/revisions", headers=worker.headers)
    assert history.status_code == 200
    assert history.json()[0]["previous"] == {
        "id_poor_status": "level_1",
        "income_sources": ["farming", "remittances"],
        "notes": created.json()["notes"],
    }
    assert history.json()[0]["changed_by_user"] == str(worker.user_id)
    unchanged = await client.patch(
        path,
        json={"village": "Ou Lmun"},
        headers={**worker.headers, "If-Match": ok.headers["etag"]},
    )
    assert unchanged.headers["etag"] == ok.headers["etag"]
    events = await client.get(
        AUDIT,
        params={"resource_id": created.json()["id"], "action": "family.update"},
        headers=admin.headers,
    )
    assert [e["changed_fields"] for e in events.json()["items"]] == [
        ["id_poor_status", "income_sources", "notes"]
    ]
    assert "Thailand" not in events.text


async def test_idempotent_create(client: httpx.AsyncClient, tenant_a: Tenant) -> None:
    headers = {**tenant_a["caseworker"].headers, "Idempotency-Key": str(uuid.uuid4())}
    body = _family(members=[_member()])
    first = await client.post(FAMILIES, json=body, headers=headers)
    retry = await client.post(FAMILIES, json=body, headers=headers)
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.headers["etag"] == first.headers["etag"]
    assert retry.headers["location"] == first.headers["location"]
    changed = await client.post(FAMILIES, json={**body, "village": "Other"}, headers=headers)
    assert error_locs(assert_problem(changed, 422)) == [["header", "Idempotency-Key"]]
    listed = await client.get(
        FAMILIES, params={"commune": body["commune"]}, headers=tenant_a["case_manager"].headers
    )
    assert _ids(listed) == [first.json()["id"]]
    read = await client.get(first.headers["location"], headers=tenant_a["caseworker"].headers)
    assert len(read.json()["members"]) == 1
    # The same key on a member add: one member, the retry replayed.
    member_path = f"{first.headers['location']}/members"
    member_headers = {**headers, "Idempotency-Key": str(uuid.uuid4())}
    added = await client.post(member_path, json=_member(name="Dara"), headers=member_headers)
    again = await client.post(member_path, json=_member(name="Dara"), headers=member_headers)
    assert added.status_code == again.status_code == 201
    assert again.json() == added.json()
    assert again.headers["idempotent-replayed"] == "true"
    other = await client.post(member_path, json=_member(name="Vanna"), headers=member_headers)
    assert error_locs(assert_problem(other, 422)) == [["header", "Idempotency-Key"]]
    read = await client.get(first.headers["location"], headers=tenant_a["caseworker"].headers)
    assert [m["name"] for m in read.json()["members"]] == ["Yeay Phan", "Dara"]


async def test_members_are_added_corrected_and_leave(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    worker, admin = tenant_a["caseworker"], tenant_a["org_admin"]
    created = await _create(client, worker.headers, members=[_member()])
    family_path = f"{FAMILIES}/{created.json()['id']}"
    grandmother = created.json()["members"][0]
    father = await client.post(
        f"{family_path}/members",
        json=_member(name="Chan", relation="father", sex="male", age=38, is_caregiver=False),
        headers=worker.headers,
    )
    assert father.status_code == 201, father.text
    member = father.json()
    path = f"{family_path}/members/{member['id']}"
    assert father.headers["location"] == path
    assert father.headers["etag"] == member["etag"]
    read = await client.get(path, headers=worker.headers)
    assert read.json() == member and read.headers["etag"] == member["etag"]
    # Corrections need the member's own ETag.
    assert_problem(await client.patch(path, json={"age": 39}, headers=worker.headers), 428)
    family_etag = {**worker.headers, "If-Match": created.headers["etag"]}
    assert_problem(await client.patch(path, json={"age": 39}, headers=family_etag), 412)
    migrated = await client.patch(
        path,
        json={"migrated": True, "migration_destination": "Rayong, Thailand"},
        headers={**worker.headers, "If-Match": member["etag"]},
    )
    assert migrated.status_code == 200, migrated.text
    assert migrated.json()["migration_destination"] == "Rayong, Thailand"
    assert migrated.json()["etag"] == migrated.headers["etag"] != member["etag"]
    stale = await client.patch(
        path, json={"age": 39}, headers={**worker.headers, "If-Match": member["etag"]}
    )
    assert_problem(stale, 412)
    current = {**worker.headers, "If-Match": migrated.headers["etag"]}
    # A destination only makes sense while the member is away.
    grandmother_path = f"{family_path}/members/{grandmother['id']}"
    destination = await client.patch(
        grandmother_path,
        json={"migration_destination": "Phnom Penh"},
        headers={**worker.headers, "If-Match": grandmother["etag"]},
    )
    assert error_locs(assert_problem(destination, 422)) == [["body", "migration_destination"]]
    returned = await client.patch(path, json={"migrated": False}, headers=current)
    assert returned.status_code == 200, returned.text
    assert returned.json()["migrated"] is False
    assert returned.json()["migration_destination"] is None
    left = await client.patch(
        path,
        json={"archived": True},
        headers={**worker.headers, "If-Match": returned.json()["etag"]},
    )
    assert left.status_code == 200, left.text
    assert left.json()["archived_at"] is not None
    family = await client.get(family_path, headers=worker.headers)
    assert [m["id"] for m in family.json()["members"]] == [grandmother["id"]]
    former = await client.get(path, headers=worker.headers)
    assert former.json()["archived_at"] == left.json()["archived_at"]
    back = await client.patch(
        path, json={"archived": False}, headers={**worker.headers, "If-Match": left.json()["etag"]}
    )
    assert back.json()["archived_at"] is None
    family = await client.get(family_path, headers=worker.headers)
    assert [m["id"] for m in family.json()["members"]] == [grandmother["id"], member["id"]]
    assert (await client.delete(path, headers=worker.headers)).status_code == 405
    events = await client.get(
        AUDIT,
        params={"resource_type": "family_member", "resource_id": member["id"]},
        headers=admin.headers,
    )
    assert [(e["action"], e["changed_fields"]) for e in events.json()["items"]] == [
        ("family_member.update", ["archived_at"]),
        ("family_member.read", None),
        ("family_member.archive", ["archived_at"]),
        ("family_member.update", ["migrated", "migration_destination"]),
        ("family_member.update", ["migrated", "migration_destination"]),
        ("family_member.read", None),
        ("family_member.create", None),
    ]
    assert "Rayong" not in events.text


async def test_archived_household_refuses_writes_until_restored(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    headers = tenant_a["case_manager"].headers
    created = await _create(client, headers, members=[_member()])
    body, path = created.json(), f"{FAMILIES}/{created.json()['id']}"
    member_path = f"{path}/members/{body['members'][0]['id']}"
    archived = await client.patch(
        path, json={"archived": True}, headers={**headers, "If-Match": created.headers["etag"]}
    )
    assert archived.status_code == 200, archived.text
    assert archived.json()["archived_at"] is not None
    etag = {**headers, "If-Match": archived.headers["etag"]}
    for response in (
        await client.patch(path, json={"notes": "x"}, headers=etag),
        await client.patch(path, json={"archived": True}, headers=etag),
        await client.post(f"{path}/members", json=_member(), headers=headers),
        await client.patch(member_path, json={"age": 70}, headers={**headers, "If-Match": "*"}),
    ):
        assert "archived" in assert_problem(response, 409)["detail"]
    active = await client.get(FAMILIES, params={"commune": body["commune"]}, headers=headers)
    assert _ids(active) == []
    listed = await client.get(
        FAMILIES, params={"commune": body["commune"], "archived": "true"}, headers=headers
    )
    assert _ids(listed) == [body["id"]]
    restored = await client.patch(
        path, json={"archived": False, "village": "Ta Kream"}, headers=etag
    )
    assert restored.status_code == 200, restored.text
    assert restored.json()["archived_at"] is None and restored.json()["village"] == "Ta Kream"
    added = await client.post(f"{path}/members", json=_member(name="Srey"), headers=headers)
    assert added.status_code == 201
    assert (await client.delete(path, headers=headers)).status_code == 405
    events = await client.get(
        AUDIT, params={"resource_id": body["id"]}, headers=tenant_a["org_admin"].headers
    )
    assert [(e["action"], e["changed_fields"]) for e in events.json()["items"]] == [
        ("family.update", ["archived_at", "village"]),
        ("family.archive", ["archived_at"]),
        ("family.create", None),
    ]


async def test_child_ids_list_the_linked_children_the_caller_sees(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    org = tenant_a.organisation_id
    worker, manager = tenant_a["caseworker"], tenant_a["case_manager"]
    created = await _create(client, worker.headers)
    family_id = created.json()["id"]
    path = f"{FAMILIES}/{family_id}"
    recorded_by_worker = await client.post(
        "/api/v1/children",
        json={
            "given_name_latin": "Dara",
            "family_name_latin": f"Sok{_tag()}",
            "sex": "male",
            "care_arrangement": "kinship_care",
            "province": "battambang",
            "family_id": family_id,
            "confirm_not_duplicate": True,
        },
        headers=worker.headers,
    )
    assert recorded_by_worker.status_code == 201, recorded_by_worker.text
    mine = recorded_by_worker.json()["id"]
    sibling = await factory.child(org, family_id=uuid.UUID(family_id))
    await factory.child(org, family_id=uuid.UUID(family_id), archived_at=datetime.now(UTC))
    await factory.child(org)  # another household's child
    as_manager = await client.get(path, headers=manager.headers)
    assert as_manager.json()["child_ids"] == [mine, str(sibling)]
    # The caseworker sees the household, but only the children visible to them.
    as_worker = await client.get(path, headers=worker.headers)
    assert as_worker.json()["child_ids"] == [mine]


async def test_list_filters_and_pagination(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    org, headers = tenant_a.organisation_id, tenant_a["case_manager"].headers
    commune = f"Commune {_tag()}"
    poor = await factory.family(
        org, name=f"Household of Yeay Phan {_tag()}", commune=commune, district="Bavel"
    )
    level_2 = await factory.family(
        org, name="Household of Ta_Sok 100%", commune=commune, id_poor_status="level_2"
    )
    elsewhere = await factory.family(
        org, name="Household of Ming Dara", commune=commune, province="kep", district="Kep"
    )

    async def listed(**params: Any) -> list[str]:
        response = await client.get(
            FAMILIES, params={"commune": commune, **params}, headers=headers
        )
        assert response.status_code == 200, response.text
        return _ids(response)

    assert await listed(sort="created_at") == [str(poor), str(level_2), str(elsewhere)]
    assert await listed() == [str(elsewhere), str(level_2), str(poor)]
    assert await listed(province="kep") == [str(elsewhere)]
    assert await listed(district="Bavel", sort="created_at") == [str(poor), str(level_2)]
    assert await listed(id_poor_status="level_2") == [str(level_2)]
    assert await listed(q="YEAY phan") == [str(poor)]
    assert await listed(q="ta_sok 100%") == [str(level_2)]
    assert await listed(q="%") == [str(level_2)]  # a literal %, not a wildcard
    assert await listed(q="_") == [str(level_2)]
    assert await listed(commune="Another commune") == []
    # updated_since: only the household corrected after the others were last changed.
    read = await client.get(f"{FAMILIES}/{poor}", headers=headers)
    corrected = await client.patch(
        f"{FAMILIES}/{poor}",
        json={"id_poor_status": "none"},
        headers={**headers, "If-Match": read.headers["etag"]},
    )
    since = corrected.json()["updated_at"]
    assert await listed(updated_since=since) == [str(poor)]
    assert await listed(sort="-updated_at", limit=1) == [str(poor)]
    # Keyset pagination: every household once, with a Link to the next page.
    first = await client.get(
        FAMILIES, params={"commune": commune, "limit": 2, "sort": "created_at"}, headers=headers
    )
    assert _ids(first) == [str(poor), str(level_2)]
    assert 'rel="next"' in first.headers["link"]
    later = await factory.family(org, commune=commune)  # lands after the cursor
    second = await client.get(
        FAMILIES,
        params={
            "commune": commune,
            "limit": 2,
            "sort": "created_at",
            "cursor": first.json()["next_cursor"],
        },
        headers=headers,
    )
    assert _ids(second) == [str(elsewhere), str(later)]
    assert second.json()["next_cursor"] is None
    wrong_sort = await client.get(
        FAMILIES,
        params={"commune": commune, "sort": "-created_at", "cursor": first.json()["next_cursor"]},
        headers=headers,
    )
    assert error_locs(assert_problem(wrong_sort, 422)) == [["query", "cursor"]]


async def test_reads_and_writes_are_audited(client: httpx.AsyncClient, tenant_a: Tenant) -> None:
    worker, admin = tenant_a["caseworker"], tenant_a["org_admin"]
    created = await _create(client, worker.headers, members=[_member()])
    body = created.json()
    await client.get(f"{FAMILIES}/{body['id']}", headers=worker.headers)
    await client.get(FAMILIES, params={"commune": body["commune"]}, headers=worker.headers)
    await client.get(f"{FAMILIES}/{body['id']}/revisions", headers=worker.headers)
    events = await client.get(
        AUDIT,
        params={"resource_type": "family", "user_id": str(worker.user_id)},
        headers=admin.headers,
    )
    items = events.json()["items"]
    assert [e["action"] for e in items[:4]] == [
        "family.revisions_read",
        "family.list",
        "family.read",
        "family.create",
    ]
    assert items[1]["record_ids"] == [body["id"]]
    assert items[2]["resource_id"] == items[3]["resource_id"] == body["id"]
    assert items[0]["resource_id"] == body["id"]
    members = await client.get(
        AUDIT,
        params={"resource_id": body["members"][0]["id"]},
        headers=admin.headers,
    )
    assert [e["action"] for e in members.json()["items"]] == ["family_member.create"]
    assert body["name"] not in events.text and "Yeay Phan" not in members.text
