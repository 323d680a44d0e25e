"""Exports: exact CSV and NDJSON, filters, de-identification, who may export, tenancy, audit,
content negotiation, and streaming in batches."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.requests import ClientDisconnect
from starlette.types import Message, Scope

from ovc_api.clock import local_today

from .conftest import Factory, Tenant, system_session
from .helpers import assert_problem, error_locs, recorded_statements

EXPORTS = "/api/v1/exports"
CASES = f"{EXPORTS}/cases"
CHILDREN = f"{EXPORTS}/children"
SERVICES = f"{EXPORTS}/services"
DEIDENTIFIED = {"variant": "deidentified"}
CASE_HEADER = (
    "case_id,child_id,family_id,assigned_to,status,risk_level,concerns,referral_source,"
    "referral_source_detail,opened_on,closed_on,closure_reason,last_contact_on,summary,"
    "given_name_latin,family_name_latin,given_name_khmer,family_name_khmer,sex,date_of_birth,"
    "birth_date_estimated,province,district,commune,village,created_at,updated_at"
)
DEIDENTIFIED_CASE_HEADER = (
    "child_pseudonym,status,risk_level,concerns,referral_source,opened_month,closed_month,"
    "closure_reason,last_contact_month,sex,age_band,province,district"
)
PSEUDONYM = re.compile(r"^[0-9a-f]{16}$")
EVENT_KEYS = (
    "action", "actor_user_id", "resource_type", "resource_id", "record_ids", "case_id", "detail"
)  # fmt: skip


def _today() -> date:
    return local_today()


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _rows(response: httpx.Response) -> list[dict[str, str]]:
    """The data rows, after checking the end line (`# end rows=N`) announces them all."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    text = response.content.decode("utf-8")
    body, end, count = text.rpartition("# end rows=")
    assert end and body.endswith("\r\n") and count.endswith("\r\n"), text[-200:]
    rows = list(csv.DictReader(io.StringIO(body, newline="")))
    assert int(count) == len(rows)
    return rows


def _lines(response: httpx.Response) -> list[dict[str, Any]]:
    """The data lines, after checking the end line (`{"_end":true,"rows":N}`)."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-ndjson"
    text = response.content.decode("utf-8")
    assert text.endswith("\n")
    *lines, end = [json.loads(line) for line in text.split("\n")[:-1]]
    assert end == {"_end": True, "rows": len(lines)}
    return lines


async def _two_cases(factory: Factory, tenant: Tenant) -> dict[str, uuid.UUID]:
    """A case of a child with names in both scripts, and an older closed case of another."""
    org = tenant.organisation_id
    family = await factory.family(org)
    child = await factory.child(org, family_id=family)
    at = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)
    first = await factory.case(
        org,
        child_id=child,
        family_id=family,
        concerns=("lack_of_food", "left_behind_by_migration"),
        assigned_to=tenant["caseworker"].user_id,
        summary='Grandmother said "no", then\nagreed, later',
        created_at=at,
        updated_at=at,
    )
    other_child = await factory.child(
        org,
        given_name_latin=None,
        family_name_latin=None,
        given_name_khmer="សុខា",
        family_name_khmer="ចាន់",
        sex="male",
        date_of_birth=None,
        birth_date_estimated=True,
        province="pursat",
        district=None,
        commune=None,
        village=None,
    )
    second = await factory.case(
        org,
        child_id=other_child,
        concerns=("neglect",),
        status="closed",
        risk_level="high",
        referral_source="community",
        referral_source_detail="Village chief",
        opened_on=date(2025, 6, 1),
        closed_on=date(2025, 12, 1),
        closure_reason="kinship_care",
        last_contact_on=date(2025, 11, 30),
        created_at=datetime(2025, 6, 1, 8, 0, tzinfo=UTC),
        updated_at=datetime(2025, 12, 1, 10, 15, 30, 120000, tzinfo=UTC),
    )
    return {
        "family": family,
        "child": child,
        "first": first,
        "other_child": other_child,
        "second": second,
    }


async def test_identified_case_csv_is_exact_and_khmer_names_round_trip(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    ids = await _two_cases(factory, tenant_a)
    worker = tenant_a["caseworker"].user_id
    response = await client.get(CASES, headers=tenant_a["case_manager"].headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="cases-{_today():%Y%m%d}.csv"'
    )
    assert response.content.startswith(b"case_id,")  # UTF-8 without a byte-order mark
    expected = (
        f"{CASE_HEADER}\r\n"
        f"{ids['second']},{ids['other_child']},,,closed,high,neglect,community,Village chief,"
        "2025-06-01,2025-12-01,kinship_care,2025-11-30,,,,សុខា,ចាន់,male,,true,pursat,,,,"
        "2025-06-01T08:00:00Z,2025-12-01T10:15:30.120000Z\r\n"
        f"{ids['first']},{ids['child']},{ids['family']},{worker},intake,medium,"
        "left_behind_by_migration;lack_of_food,provincial_social_affairs,,2026-01-15,,,,"
        '"Grandmother said ""no"", then\nagreed, later",Sreyneang,Chhun,ស្រីនាង,ឈុន,female,'
        "2015-03-01,false,battambang,Bavel,Kdol Tahen,Ou Lmun,"
        "2026-01-15T09:30:00Z,2026-01-15T09:30:00Z\r\n"
        "# end rows=2\r\n"
    )
    assert response.content.decode("utf-8") == expected
    parsed = _rows(response)
    assert [(r["given_name_khmer"], r["family_name_khmer"]) for r in parsed] == [
        ("សុខា", "ចាន់"),
        ("ស្រីនាង", "ឈុន"),
    ]
    assert parsed[1]["summary"] == 'Grandmother said "no", then\nagreed, later'


async def test_ndjson_lines_parse_with_the_csv_columns(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    ids = await _two_cases(factory, tenant_a)
    headers = tenant_a["org_admin"].headers
    response = await client.get(CASES, params={"format": "ndjson"}, headers=headers)
    assert response.headers["content-disposition"] == (
        f'attachment; filename="cases-{_today():%Y%m%d}.ndjson"'
    )
    lines = _lines(response)
    assert [list(line) for line in lines] == [CASE_HEADER.split(",")] * 2
    assert lines[1] == {
        "case_id": str(ids["first"]),
        "child_id": str(ids["child"]),
        "family_id": str(ids["family"]),
        "assigned_to": str(tenant_a["caseworker"].user_id),
        "status": "intake",
        "risk_level": "medium",
        "concerns": ["left_behind_by_migration", "lack_of_food"],
        "referral_source": "provincial_social_affairs",
        "referral_source_detail": None,
        "opened_on": "2026-01-15",
        "closed_on": None,
        "closure_reason": None,
        "last_contact_on": None,
        "summary": 'Grandmother said "no", then\nagreed, later',
        "given_name_latin": "Sreyneang",
        "family_name_latin": "Chhun",
        "given_name_khmer": "ស្រីនាង",
        "family_name_khmer": "ឈុន",
        "sex": "female",
        "date_of_birth": "2015-03-01",
        "birth_date_estimated": False,
        "province": "battambang",
        "district": "Bavel",
        "commune": "Kdol Tahen",
        "village": "Ou Lmun",
        "created_at": "2026-01-15T09:30:00Z",
        "updated_at": "2026-01-15T09:30:00Z",
    }
    assert "ស្រីនាង".encode() in response.content  # not \u-escaped
    assert (lines[0]["case_id"], lines[0]["birth_date_estimated"]) == (str(ids["second"]), True)
    # The Accept header chooses too; `format=` wins over it.
    by_accept = await client.get(CASES, headers={**headers, "Accept": "application/x-ndjson"})
    assert _lines(by_accept) == lines
    overridden = await client.get(
        CASES, params={"format": "csv"}, headers={**headers, "Accept": "application/x-ndjson"}
    )
    assert [r["case_id"] for r in _rows(overridden)] == [str(ids["second"]), str(ids["first"])]


async def test_the_list_filters_apply(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    ids = await _two_cases(factory, tenant_a)
    headers = tenant_a["case_manager"].headers
    first, second = str(ids["first"]), str(ids["second"])
    expectations: list[tuple[dict[str, str], list[str]]] = [
        ({}, [second, first]),
        ({"status": "intake"}, [first]),
        ({"status": "closed"}, [second]),
        ({"status": "review"}, []),
        ({"risk_level": "high"}, [second]),
        ({"concern": "lack_of_food"}, [first]),
        ({"concern": "neglect"}, [second]),
        ({"assigned_to": str(tenant_a["caseworker"].user_id)}, [first]),
        ({"child_id": str(ids["other_child"])}, [second]),
        ({"province": "pursat"}, [second]),
        ({"district": "Bavel"}, [first]),
        ({"opened_from": "2026-01-01"}, [first]),
        ({"opened_to": "2025-12-31"}, [second]),
        ({"opened_from": "2025-06-01", "opened_to": "2026-01-15"}, [second, first]),
        ({"q": "sreyn"}, [first]),
        ({"q": "ចាន់"}, [second]),
        ({"updated_since": "2026-01-01T00:00:00Z"}, [first]),
    ]
    for params, expected in expectations:
        response = await client.get(CASES, params=params, headers=headers)
        assert [r["case_id"] for r in _rows(response)] == expected, params
    child_rows = await client.get(CHILDREN, params={"sex": "male"}, headers=headers)
    assert [r["child_id"] for r in _rows(child_rows)] == [str(ids["other_child"])]
    for params, loc in [
        ({"opened_from": "2026-02-01", "opened_to": "2026-01-01"}, ["query", "opened_from"]),
        ({"status": "pending"}, ["query", "status"]),
        ({"province": "mars"}, ["query", "province"]),
        ({"district": "x" * 101}, ["query", "district"]),
        ({"variant": "anonymous"}, ["query", "variant"]),
        ({"opened_from": "2026-02-30"}, ["query", "opened_from"]),
    ]:
        response = await client.get(CASES, params=params, headers=headers)
        assert loc in error_locs(assert_problem(response, 422)), params
    wrong_range = await client.get(
        SERVICES,
        params={"delivered_from": "2026-02-01", "delivered_to": "2026-01-01"},
        headers=headers,
    )
    assert ["query", "delivered_from"] in error_locs(assert_problem(wrong_range, 422))


async def test_deidentified_cases_drop_identity_and_band_ages_at_opening(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    org = tenant_a.organisation_id
    child = await factory.child(org)  # born 2015-03-01, names in both scripts, a village
    adult = await factory.child(org, date_of_birth=date(2008, 1, 15), sex="male")
    unknown = await factory.child(org, date_of_birth=None, district=None)
    opened = [
        (child, date(2020, 2, 29)),  # 4 years old
        (child, date(2020, 3, 1)),  # 5 on the day
        (adult, date(2026, 1, 14)),  # 17
        (adult, date(2026, 1, 15)),  # 18 on the day
        (unknown, date(2026, 2, 1)),
    ]
    case_ids = [
        await factory.case(org, child_id=who, opened_on=day, concerns=("violence", "neglect"))
        for who, day in opened
    ]
    analyst = tenant_a["analyst"]
    response = await client.get(CASES, params=DEIDENTIFIED, headers=analyst.headers)
    assert response.headers["content-disposition"] == (
        f'attachment; filename="cases-deidentified-{_today():%Y%m%d}.csv"'
    )
    text = response.content.decode("utf-8")
    assert text.split("\r\n")[0] == DEIDENTIFIED_CASE_HEADER
    rows = _rows(response)
    pseudonyms = [row.pop("child_pseudonym") for row in rows]
    assert all(PSEUDONYM.match(p) for p in pseudonyms)
    assert pseudonyms[0] == pseudonyms[1] != pseudonyms[2] == pseudonyms[3] != pseudonyms[4]
    common = {
        "status": "intake",
        "risk_level": "medium",
        "concerns": "neglect;violence",
        "referral_source": "provincial_social_affairs",
        "closed_month": "",
        "closure_reason": "",
        "last_contact_month": "",
        "province": "battambang",
    }
    # Months, not days: beside the district, an exact date can point at one child.
    assert rows == [
        {**common, "opened_month": "2020-02", "sex": "female", "age_band": "0-4",
         "district": "Bavel"},
        {**common, "opened_month": "2020-03", "sex": "female", "age_band": "5-9",
         "district": "Bavel"},
        {**common, "opened_month": "2026-01", "sex": "male", "age_band": "15-17",
         "district": "Bavel"},
        {**common, "opened_month": "2026-01", "sex": "male", "age_band": "18+",
         "district": "Bavel"},
        {**common, "opened_month": "2026-02", "sex": "female", "age_band": "unknown",
         "district": ""},
    ]  # fmt: skip
    for secret in ("Sreyneang", "Chhun", "ស្រីនាង", "ឈុន", "Ou Lmun", "Kdol Tahen", "2015-03-01",
                   "2008-01-15", "2020-02-29", "2026-01-14", "2026-01-15", "2026-02-01",
                   *map(str, [child, adult, unknown, *case_ids])):  # fmt: skip
        assert secret not in text
    # A new export, a new key: pseudonyms link rows of one export only.
    again = await client.get(
        CASES, params={**DEIDENTIFIED, "format": "ndjson"}, headers=analyst.headers
    )
    lines = _lines(again)
    assert lines[0]["concerns"] == ["neglect", "violence"]
    assert lines[0]["opened_month"] == "2020-02" and "opened_on" not in lines[0]
    assert PSEUDONYM.match(lines[0]["child_pseudonym"])
    assert lines[0]["child_pseudonym"] not in pseudonyms
    manager = await client.get(CASES, params=DEIDENTIFIED, headers=tenant_a["org_admin"].headers)
    assert len(_rows(manager)) == 5


async def test_deidentified_children_band_todays_age_and_carry_no_id(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    org = tenant_a.organisation_id
    today = _today()
    births = [
        _years_before(today, 16),
        _years_before(today, 18),
        _years_before(today, 18) + timedelta(days=1),
        None,
        date(2015, 3, 1),
    ]
    ids = [await factory.child(org, date_of_birth=born) for born in births]
    response = await client.get(CHILDREN, params=DEIDENTIFIED, headers=tenant_a["analyst"].headers)
    text = response.content.decode("utf-8")
    profile = {
        "sex": "female",
        "birth_registration": "not_registered",
        "disability": "none",
        "schooling_status": "enrolled",
        "care_arrangement": "kinship_care",
        "province": "battambang",
        "district": "Bavel",
    }
    expected_bands = ["15-17", "18+", "15-17", "unknown", age_band_of(date(2015, 3, 1), today)]
    assert _rows(response) == [{**profile, "age_band": band} for band in expected_bands]
    assert text.split("\r\n")[0] == (
        "sex,age_band,birth_registration,disability,schooling_status,care_arrangement,"
        "province,district"
    )
    for secret in ("Sreyneang", "ស្រីនាង", "Ou Lmun", "Kdol Tahen", *map(str, ids)):
        assert secret not in text
    # Identified: the same fields as the children's own endpoint (without the organisation).
    identified = _lines(
        await client.get(
            CHILDREN, params={"format": "ndjson"}, headers=tenant_a["case_manager"].headers
        )
    )
    assert [line["child_id"] for line in identified] == [str(i) for i in ids]
    read = await client.get(f"/api/v1/children/{ids[0]}", headers=tenant_a["case_manager"].headers)
    own = read.json()
    del own["organisation_id"]
    own["child_id"] = own.pop("id")
    assert identified[0] == own


def age_band_of(born: date, on: date) -> str:
    age = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    return "0-4" if age < 5 else "5-9" if age < 10 else "10-14" if age < 15 else "15-17"


async def test_services_export_identified_and_deidentified(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    org = tenant_a.organisation_id
    manager = tenant_a["case_manager"]
    case_id = await factory.case(org)
    family_id = await factory.family(org)
    bodies = [
        {
            "case_id": str(case_id),
            "service_type": "emergency_food_package",
            "delivered_on": "2026-01-20",
            "quantity": "1",
            "unit": "package",
            "cost": "25.5",
            "currency": "USD",
            "notes": "Rice and oil for Sreyneang's household",
        },
        {"case_id": str(case_id), "service_type": "counselling", "delivered_on": "2026-02-03"},
        {"family_id": str(family_id), "service_type": "positive_parenting",
         "delivered_on": "2026-03-10"},
    ]  # fmt: skip
    created = []
    for body in bodies:
        response = await client.post("/api/v1/services", json=body, headers=manager.headers)
        assert response.status_code == 201, response.text
        created.append(response.json())
    lines = _lines(await client.get(SERVICES, params={"format": "ndjson"}, headers=manager.headers))
    expected = []
    for service in created:
        del service["organisation_id"]
        service["service_id"] = service.pop("id")
        expected.append({**service, "recorded_by": str(manager.user_id)})
    assert lines == expected
    assert lines[0]["cost"] == "25.50"
    filtered = await client.get(
        SERVICES,
        params={"service_type": "counselling", "delivered_from": "2026-02-01"},
        headers=manager.headers,
    )
    assert [r["service_id"] for r in _rows(filtered)] == [created[1]["service_id"]]
    by_family = await client.get(
        SERVICES, params={"family_id": str(family_id)}, headers=manager.headers
    )
    assert [r["service_id"] for r in _rows(by_family)] == [created[2]["service_id"]]
    response = await client.get(SERVICES, params=DEIDENTIFIED, headers=tenant_a["analyst"].headers)
    rows = _rows(response)
    assert rows[0]["child_pseudonym"] == rows[1]["child_pseudonym"]
    assert PSEUDONYM.match(rows[0]["child_pseudonym"])
    assert [{k: v for k, v in r.items() if k != "child_pseudonym"} for r in rows] == [
        {"service_type": "emergency_food_package", "delivered_month": "2026-01",
         "quantity": "1.00", "unit": "package", "cost": "25.50", "currency": "USD",
         "province": "battambang", "district": "Bavel", "under_referral": "false"},
        {"service_type": "counselling", "delivered_month": "2026-02", "quantity": "",
         "unit": "", "cost": "", "currency": "", "province": "battambang",
         "district": "Bavel", "under_referral": "false"},
        {"service_type": "positive_parenting", "delivered_month": "2026-03", "quantity": "",
         "unit": "", "cost": "", "currency": "", "province": "battambang",
         "district": "Bavel", "under_referral": "false"},
    ]  # fmt: skip
    assert rows[2]["child_pseudonym"] == ""
    assert "Sreyneang" not in response.text and str(case_id) not in response.text
    assert "2026-01-20" not in response.text  # the month of delivery only


async def test_who_may_export(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    await factory.case(tenant_a.organisation_id, assigned_to=tenant_a["caseworker"].user_id)
    worker, analyst = tenant_a["caseworker"], tenant_a["analyst"]
    for path in (CASES, CHILDREN, SERVICES):
        for params in ({}, DEIDENTIFIED):
            body = assert_problem(
                await client.get(path, params=params, headers=worker.headers), 403
            )
            assert "cases:all" in body["detail"]
        refused = assert_problem(await client.get(path, headers=analyst.headers), 403)
        assert refused["detail"] == (
            "Exports with names need the scopes cases:read and cases:all: "
            "ask for variant=deidentified (no names, ages as bands)"
        )
        allowed = await client.get(path, params=DEIDENTIFIED, headers=analyst.headers)
        assert allowed.status_code == 200, allowed.text
    # The analyst's export covers the organisation, not "cases assigned to the analyst".
    assert len(_rows(await client.get(CASES, params=DEIDENTIFIED, headers=analyst.headers))) == 1


async def test_deidentified_exports_refuse_filters_that_single_children_out(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    for role in ("analyst", "case_manager"):
        headers = tenant_a[role].headers
        for path, name, value in [
            (CASES, "q", "Sreyneang"),
            (CASES, "child_id", str(uuid.uuid4())),
            (CHILDREN, "q", "Chhun"),
            (CHILDREN, "commune", "Kdol Tahen"),
            (CHILDREN, "family_id", str(uuid.uuid4())),
            (SERVICES, "case_id", str(uuid.uuid4())),
            (SERVICES, "family_id", str(uuid.uuid4())),
            (SERVICES, "referral_id", str(uuid.uuid4())),
        ]:
            response = await client.get(path, params={**DEIDENTIFIED, name: value}, headers=headers)
            body = assert_problem(response, 422)
            assert error_locs(body) == [["query", name]], (path, name)


async def test_other_organisations_and_shared_records_never_appear(
    client: httpx.AsyncClient, tenant_a: Tenant, tenant_b: Tenant, factory: Factory
) -> None:
    mine = await _two_cases(factory, tenant_a)
    b = tenant_b.organisation_id
    b_child = await factory.child(b, given_name_latin="Bopha", given_name_khmer="បុប្ផា")
    b_case = await factory.case(b, child_id=b_child)
    shared = await factory.sharing(b, b_case, b_child, tenant_a.organisation_id, status="accepted")
    a_manager, b_manager = tenant_a["case_manager"], tenant_b["case_manager"]
    # Tenant A (the receiver) may read the referred case itself, and records a service under
    # the referral, which tenant B (the sender) sees in its list.
    referred = await client.get(f"/api/v1/cases/{b_case}", headers=a_manager.headers)
    assert referred.status_code == 200
    under_referral = await client.post(
        "/api/v1/services",
        json={
            "referral_id": str(shared["referral_id"]),
            "service_type": "counselling",
            "delivered_on": "2026-01-25",
        },
        headers=a_manager.headers,
    )
    assert under_referral.status_code == 201, under_referral.text
    a_service = under_referral.json()["id"]
    b_list = await client.get("/api/v1/services", params={"limit": 200}, headers=b_manager.headers)
    assert a_service in [s["id"] for s in b_list.json()["items"]]

    for variant in ({}, DEIDENTIFIED):
        a_cases = await client.get(CASES, params=variant, headers=a_manager.headers)
        a_children = await client.get(CHILDREN, params=variant, headers=a_manager.headers)
        for text in (a_cases.text, a_children.text):
            assert "Bopha" not in text and "បុប្ផា" not in text and str(b_child) not in text
        assert len(_rows(a_cases)) == 2 and len(_rows(a_children)) == 2
    assert [r["case_id"] for r in _rows(await client.get(CASES, headers=a_manager.headers))] == [
        str(mine["second"]),
        str(mine["first"]),
    ]
    # Services: each organisation exports the services it delivered, never the other's.
    a_services = _rows(await client.get(SERVICES, headers=a_manager.headers))
    assert [(r["service_id"], r["referral_id"]) for r in a_services] == [
        (a_service, str(shared["referral_id"]))
    ]
    b_services = _rows(await client.get(SERVICES, headers=b_manager.headers))
    assert [r["service_id"] for r in b_services] == [str(shared["service_id"])]
    b_deidentified = _rows(
        await client.get(SERVICES, params=DEIDENTIFIED, headers=tenant_b["analyst"].headers)
    )
    assert [(r["service_type"], r["under_referral"]) for r in b_deidentified] == [
        ("emergency_food_package", "false")
    ]
    b_cases = _rows(await client.get(CASES, headers=b_manager.headers))
    assert [r["case_id"] for r in b_cases] == [str(b_case)]


async def _export_events(client: httpx.AsyncClient, tenant: Tenant) -> list[dict[str, Any]]:
    response = await client.get(
        "/api/v1/audit", params={"limit": 200}, headers=tenant["org_admin"].headers
    )
    assert response.status_code == 200, response.text
    return [
        {key: event[key] for key in EVENT_KEYS}
        for event in response.json()["items"]
        if event["action"].endswith(".export")
    ]


async def test_each_export_is_audited_once_without_ids(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    await _two_cases(factory, tenant_a)
    manager, analyst = tenant_a["case_manager"], tenant_a["analyst"]
    identified = await client.get(
        CASES, params={"status": "intake", "q": "Sreyneang"}, headers=manager.headers
    )
    assert len(_rows(identified)) == 1
    deidentified = await client.get(
        CHILDREN,
        params={**DEIDENTIFIED, "province": "pursat", "format": "ndjson"},
        headers=analyst.headers,
    )
    assert len(_lines(deidentified)) == 1
    services = await client.get(
        SERVICES, params={"delivered_from": "2026-01-01"}, headers=manager.headers
    )
    assert _rows(services) == []
    # Refused requests export nothing and leave no export event.
    assert_problem(await client.get(CASES, headers=analyst.headers), 403)
    assert_problem(await client.get(CASES, params={"format": "xml"}, headers=manager.headers), 406)
    none = {"resource_id": None, "record_ids": None, "case_id": None}
    assert await _export_events(client, tenant_a) == [
        {"action": "service.export", "actor_user_id": str(manager.user_id),
         "resource_type": "service", "detail": "variant=identified format=csv "
         "delivered_from=2026-01-01", **none},
        {"action": "child.export", "actor_user_id": str(analyst.user_id),
         "resource_type": "child", "detail": "variant=deidentified format=ndjson "
         "province=pursat", **none},
        {"action": "case.export", "actor_user_id": str(manager.user_id),
         "resource_type": "case", "detail": "variant=identified format=csv status=intake q",
         **none},
    ]  # fmt: skip


async def test_unacceptable_formats_answer_406(client: httpx.AsyncClient, tenant_a: Tenant) -> None:
    headers = tenant_a["case_manager"].headers
    for path in (CASES, CHILDREN, SERVICES):
        for params, extra in [
            ({"format": "xml"}, {}),
            ({"format": "json"}, {}),
            ({}, {"Accept": "application/xml"}),
            ({}, {"Accept": "application/json"}),
        ]:
            response = await client.get(path, params=params, headers={**headers, **extra})
            body = assert_problem(response, 406)
            assert "csv" in body["detail"] and "ndjson" in body["detail"]
        anything = await client.get(path, headers={**headers, "Accept": "*/*"})
        assert anything.headers["content-type"] == "text/csv; charset=utf-8"


# --- streaming ----------------------------------------------------------------------------


async def _many_cases(app: FastAPI, organisation_id: uuid.UUID, count: int) -> None:
    """`count` cases (and children) in one transaction: the factory's one-by-one is slow."""
    from ovc_api.cases.models import Case
    from ovc_api.children.models import Child

    async with system_session(app) as session:
        children = [
            Child(
                organisation_id=organisation_id,
                given_name_latin=f"Child{n}",
                given_name_khmer="ស្រីនាង",
                search_text=f"child{n}",
                sex="female",
                care_arrangement="parents",
                province="kampot",
            )
            for n in range(count)
        ]
        session.add_all(children)
        await session.flush()  # no relationship orders the inserts: children first
        session.add_all(
            Case(
                organisation_id=organisation_id,
                child_id=child.id,
                referral_source="community",
                risk_level="low",
                opened_on=date(2024, 1, 1) + timedelta(days=n % 600),
            )
            for n, child in enumerate(children)
        )


async def _call(
    app: FastAPI, path: str, query: str, token: str, send_fails: bool = False
) -> list[Message]:
    """Run the app as a server would (ASGI 2.4), keeping every message it sends.

    httpx's ASGI transport joins the body parts into one, so it cannot show streaming.
    `send_fails`: the client hangs up as soon as the response starts.
    """
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [(b"host", b"test"), (b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("test", 80),
    }
    sent: list[Message] = []
    requested = False

    async def receive() -> Message:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the client never hangs up
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        if send_fails and message["type"] == "http.response.body":
            raise OSError("connection reset by peer")
        sent.append(message)

    await app(scope, receive, send)
    return sent


async def test_exports_stream_in_batches_of_rows(
    app: FastAPI, client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    await _many_cases(app, tenant_a.organisation_id, 1500)
    token = tenant_a["case_manager"].token
    for query, fmt in [("", "csv"), ("format=ndjson&variant=deidentified", "ndjson")]:
        messages = await _call(app, CASES, query, token)
        start, *bodies = messages
        assert start["type"] == "http.response.start" and start["status"] == 200
        assert [m["more_body"] for m in bodies] == [True] * (len(bodies) - 1) + [False]
        lines = [m["body"].count(b"\n") for m in bodies]
        # One chunk per batch of the server-side cursor (1000 rows), not a write per row and
        # not the whole file: [header,] 1000 rows, 500 rows, the end line with the count,
        # the end of the body.
        assert lines == ([1] if fmt == "csv" else []) + [1000, 500, 1, 0], fmt
    joined = b"".join(m["body"] for m in (await _call(app, CASES, "", token))[1:])
    assert len(_rows(httpx.Response(200, content=joined, headers={
        "content-type": "text/csv; charset=utf-8"}))) == 1500  # fmt: skip


async def test_the_audit_row_survives_a_client_that_hangs_up(
    app: FastAPI, client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    await _many_cases(app, tenant_a.organisation_id, 1200)
    manager = tenant_a["case_manager"]
    with pytest.raises(ClientDisconnect):
        await _call(app, CASES, "province=kampot", manager.token, send_fails=True)
    assert await _export_events(client, tenant_a) == [
        {"action": "case.export", "actor_user_id": str(manager.user_id), "resource_type": "case",
         "resource_id": None, "record_ids": None, "case_id": None,
         "detail": "variant=identified format=csv province=kampot"}
    ]  # fmt: skip
    # The streaming session was released: the next export works.
    assert len(_rows(await client.get(CASES, headers=manager.headers))) == 1200


async def test_spreadsheet_formulas_in_cells_are_defused(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    """A name or village typed as a formula must not run when the CSV is opened in Excel."""
    await factory.child(
        tenant_a.organisation_id,
        given_name_latin='=HYPERLINK("http://evil.example","click")',
        family_name_latin="+Sok",
        village="@Ou Lmun",
        province="mondulkiri",
    )
    response = await client.get(
        CHILDREN, params={"province": "mondulkiri"}, headers=tenant_a["case_manager"].headers
    )
    [row] = [r for r in _rows(response) if r["family_name_latin"] == "'+Sok"]
    assert row["given_name_latin"] == '\'=HYPERLINK("http://evil.example","click")'
    assert row["village"] == "'@Ou Lmun"
    ndjson = await client.get(
        CHILDREN,
        params={"province": "mondulkiri", "format": "ndjson"},
        headers=tenant_a["case_manager"].headers,
    )
    # NDJSON is for programs, not spreadsheets: values stay exactly as recorded.
    assert [line["family_name_latin"] for line in _lines(ndjson)] == ["+Sok"]


# --- PostgreSQL: the rows come through COPY ----------------------------------------------


def test_copy_rows_read_back_as_the_driver_s_values() -> None:
    """COPY's text format (tab-separated, `\\N` for NULL, backslash escapes) read back as
    the cursor would have given the columns: text as it is, booleans, ids and dates."""
    from ovc_api.exports.copying import CopyPlan
    from ovc_api.exports.shapes import copied_bool

    plan = CopyPlan("", {}, ((1, copied_bool), (2, uuid.UUID), (3, date.fromisoformat)))
    parse = plan.parser("utf-8")
    some = uuid.uuid4()
    escaped = "tab\\there, back\\\\slash, \\\\N, line\\nend\\r"
    line = f"{escaped}\tt\t{some}\t2026-01-02\t\\N\tស្រីនាង\n".encode()
    assert parse(line) == [
        "tab\there, back\\slash, \\N, line\nend\r",
        True,
        some,
        date(2026, 1, 2),
        None,
        "ស្រីនាង",
    ]
    assert parse(b"plain\tf\t\\N\t\\N\t\t\n") == ["plain", False, None, None, "", ""]


async def test_awkward_text_is_exported_as_it_was_written(
    app: FastAPI, client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    """Tabs, backslashes, a literal `\\N`, line ends and an empty string: exported as the
    API stores them, in CSV and NDJSON (on PostgreSQL through COPY's escapes; an empty
    string stays an empty cell, not a NULL, in NDJSON)."""
    summary = 'tab\there, back\\slash, \\N, "quoted"\r\nnext line'
    await factory.case(tenant_a.organisation_id, summary=summary, referral_source_detail="")
    headers = tenant_a["case_manager"].headers
    with recorded_statements(app) as sent:
        (row,) = _rows(await client.get(CASES, headers=headers))
    assert row["summary"] == summary and row["referral_source_detail"] == ""
    if app.state.database.is_postgres:  # the rows came through COPY, not a cursor
        assert any(statement.startswith("COPY (") for statement in sent), sent
    lines = (await client.get(CASES, params={"format": "ndjson"}, headers=headers)).text
    first = json.loads(lines.splitlines()[0])
    assert first["summary"] == summary and first["referral_source_detail"] == ""


async def test_filter_values_never_reach_the_copy_s_text(
    app: FastAPI,
    client: httpx.AsyncClient,
    tenant_a: Tenant,
    factory: Factory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """COPY takes no bind parameters. Values merged into its text as literals would be
    written, a searched child's name with them, to PostgreSQL's own log with the statement
    when it fails or the client leaves midway. The values travel as bind parameters of a
    statement of their own; the COPY names them."""
    from ovc_api import wire

    ids = await _two_cases(factory, tenant_a)
    sent: list[str] = []
    copy_out = wire.copy_out

    def recording(raw: Any, query: str, batch_rows: int) -> Any:
        sent.append(query)
        return copy_out(raw, query, batch_rows)

    monkeypatch.setattr(wire, "copy_out", recording)
    headers = tenant_a["case_manager"].headers
    for fmt in ("csv", "ndjson"):
        params = {"q": "Sreyneang", "opened_from": "2026-01-01", "format": fmt}
        response = await client.get(CASES, params=params, headers=headers)
        assert response.status_code == 200, response.text
        assert str(ids["first"]) in response.text and str(ids["second"]) not in response.text
    if app.state.database.is_postgres:
        assert len(sent) == 2
        for query in sent:
            assert "reyneang" not in query.lower() and "2026-01-01" not in query
            assert str(tenant_a.organisation_id) not in query
