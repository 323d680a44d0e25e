"""Spreadsheet import: the template, a dry run reporting every row's errors (and duplicates
by the duplicate check's rule), an all-or-nothing commit through the services (audited,
once per file), large files as a job with progress, limits, tenancy."""

from __future__ import annotations

import csv
import io
import os
import uuid
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest
import pytest_asyncio
from fastapi import FastAPI

from ovc_api.app import create_app
from ovc_api.settings import Settings

from .conftest import Factory, Tenant, TestDatabase, make_settings
from .helpers import assert_problem

IMPORTS = "/api/v1/imports"
HEADER = [
    "given_name_latin",
    "family_name_latin",
    "given_name_khmer",
    "sex",
    "date_of_birth",
    "care_arrangement",
    "province",
    "commune",
    "household",
    "case_opened_on",
    "referral_source",
    "concerns",
    "risk_level",
    "confirm_not_duplicate",
]


def row(**values: str) -> list[str]:
    base = {
        "given_name_latin": f"Dara{uuid.uuid4().hex[:6]}",
        "family_name_latin": "Sok",
        "sex": "male",
        "date_of_birth": "2016-05-02",
        "care_arrangement": "kinship_care",
        "province": "battambang",
        "commune": f"Commune {uuid.uuid4().hex[:6]}",
    }
    base.update(values)
    return [base.get(name, "") for name in HEADER]


def csv_file(rows: list[list[str]], header: list[str] = HEADER) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def xlsx_file(rows: list[list[Any]], header: list[str]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(header)
    for line in rows:
        sheet.append(line)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


async def upload(
    client: httpx.AsyncClient,
    actor_headers: dict[str, str],
    content: bytes,
    *,
    mode: str = "validate",
    name: str = "children.csv",
) -> httpx.Response:
    return await client.post(
        IMPORTS,
        params={"mode": mode},
        files={"file": (name, content)},
        headers=actor_headers,
    )


async def children_named(client: httpx.AsyncClient, tenant: Tenant, name: str) -> list[Any]:
    answer = await client.get(
        "/api/v1/children", params={"q": name}, headers=tenant["case_manager"].headers
    )
    assert answer.status_code == 200, answer.text
    items: list[Any] = answer.json()["items"]
    return items


# --- the template ------------------------------------------------------------------------


async def test_template_has_english_and_khmer_headers(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    headers = tenant_a["caseworker"].headers
    answer = await client.get(f"{IMPORTS}/template", headers=headers)
    assert answer.status_code == 200, answer.text
    workbook = openpyxl.load_workbook(io.BytesIO(answer.content))
    header = next(workbook["children"].iter_rows(values_only=True))
    assert header[0] == "given_name_latin / នាមខ្លួន (ឡាតាំង)"
    assert "sex / ភេទ" in header
    described = [r[0] for r in workbook["columns"].iter_rows(values_only=True)]
    assert "case_opened_on" in described
    as_csv = await client.get(f"{IMPORTS}/template", params={"format": "csv"}, headers=headers)
    assert as_csv.text.startswith("\ufeffgiven_name_latin / នាមខ្លួន (ឡាតាំង),")
    assert_problem(await client.get(f"{IMPORTS}/template"), 401)


async def test_the_filled_in_template_imports(client: httpx.AsyncClient, tenant_a: Tenant) -> None:
    headers = tenant_a["case_manager"].headers
    template = await client.get(f"{IMPORTS}/template", headers=headers)
    workbook = openpyxl.load_workbook(io.BytesIO(template.content))
    header = list(next(workbook["children"].iter_rows(values_only=True)))
    values = {"given_name_khmer": "សុភា", "sex": "female", "care_arrangement": "parents"}
    values["province"] = "kampot"
    line = [values.get(str(cell).split(" / ")[0]) for cell in header]
    answer = await upload(
        client, headers, xlsx_file([line], [str(h) for h in header]), name="t.xlsx"
    )
    assert answer.status_code == 201, answer.text
    assert (answer.json()["status"], answer.json()["errors"]) == ("validated", [])


# --- dry run --------------------------------------------------------------------------------


async def test_dry_run_reports_every_rows_errors_and_writes_nothing(
    client: httpx.AsyncClient, factory: Factory, tenant_a: Tenant
) -> None:
    recorded = await factory.child(
        tenant_a.organisation_id,
        given_name_latin="Sophal",
        family_name_latin="Keo",
        date_of_birth=date(2014, 1, 9),
        commune="Kdol Tahen",
    )
    marker = f"Vanna{uuid.uuid4().hex[:6]}"
    rows = [
        row(given_name_latin=marker),  # 2: fine
        row(sex="boy"),  # 3
        row(province=""),  # 4
        row(date_of_birth="2016-13-40"),  # 5
        # 6: likely duplicate of a recorded child (same rule as POST /children)
        row(
            given_name_latin="Sophal",
            family_name_latin="Keo",
            date_of_birth="2014-06-01",
            commune="kdol tahen",
        ),
        row(case_opened_on="2026-01-05", concerns="neglect;hunger"),  # 7
        row(given_name_latin="", family_name_latin="Only"),  # 8
        # 9: the duplicate confirmed
        row(
            given_name_latin="Sophal",
            family_name_latin="Keo",
            date_of_birth="2014-06-01",
            commune="Kdol Tahen",
            confirm_not_duplicate="yes",
        ),
    ]
    answer = await upload(client, tenant_a["case_manager"].headers, csv_file(rows))
    assert answer.status_code == 201, answer.text
    job = answer.json()
    assert (job["mode"], job["status"], job["total_rows"]) == ("validate", "validated", 8)
    found = {(e["row"], e["column"]) for e in job["errors"]}
    assert found == {
        (3, "sex"),
        (4, "province"),
        (5, "date_of_birth"),
        (6, "given_name_latin"),
        (7, "referral_source"),
        (7, "concerns"),
        (7, "risk_level"),
        (8, "given_name_latin"),
    }
    duplicate = next(e for e in job["errors"] if e["row"] == 6)
    assert duplicate["duplicates"] == [str(recorded)]
    assert job["error_count"] == len(job["errors"])
    assert job["created"]["children"] == 0
    assert await children_named(client, tenant_a, marker) == []


async def test_the_same_child_twice_in_a_file_is_reported(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    same = row()
    answer = await upload(client, tenant_a["caseworker"].headers, csv_file([same, same]))
    errors = answer.json()["errors"]
    assert [(e["row"], e["message"]) for e in errors] == [(3, "the same child as row 2")]


async def test_unknown_and_missing_columns_are_reported_on_row_1(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    content = csv_file([["Dara", "x"]], header=["given_name_latin", "shoe_size"])
    errors = (await upload(client, tenant_a["caseworker"].headers, content)).json()["errors"]
    assert {(e["row"], e["column"]) for e in errors} == {
        (1, "shoe_size"),
        (1, "sex"),
        (1, "care_arrangement"),
        (1, "province"),
    }


# --- commit --------------------------------------------------------------------------------


async def test_commit_records_everything_through_the_services_once(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    marker = f"Bopha{uuid.uuid4().hex[:6]}"
    header = [*HEADER, "id_poor_status"]
    household = f"Household of Yeay {marker}"
    lines = [
        [*row(given_name_latin=marker, household=household), "level_1"],
        [
            *row(
                given_name_latin=f"{marker}b",
                household=household,
                case_opened_on="2026-02-03",
                referral_source="commune_committee",
                concerns="left_behind_by_migration; lack_of_food",
                risk_level="high",
            ),
            "level_1",
        ],
    ]
    # Khmer headers work as well as English ones.
    header[header.index("sex")] = "ភេទ"
    content = xlsx_file(lines, header)
    headers = tenant_a["case_manager"].headers
    answer = await upload(client, headers, content, mode="commit", name="caseload.xlsx")
    assert answer.status_code == 201, answer.text
    job = answer.json()
    assert (job["status"], job["errors"], job["file_format"]) == ("committed", [], "xlsx")
    assert {k: job["created"][k] for k in ("children", "families", "cases")} == {
        "children": 2,
        "families": 1,
        "cases": 1,
    }
    children = await children_named(client, tenant_a, marker)
    assert len(children) == 2
    assert len({c["family_id"] for c in children}) == 1
    family = await client.get(f"/api/v1/families/{children[0]['family_id']}", headers=headers)
    assert (family.json()["name"], family.json()["id_poor_status"]) == (household, "level_1")
    cases = await client.get(
        "/api/v1/cases", params={"child_id": job["created"]["child_ids"][1]}, headers=headers
    )
    assert [c["risk_level"] for c in cases.json()["items"]] == ["high"]
    # Audited: each record by its service, and the import itself.
    audit = await client.get(
        "/api/v1/audit",
        params={"action": "import.commit"},
        headers=tenant_a["org_admin"].headers,
    )
    assert audit.status_code == 200, audit.text
    assert [e["resource_id"] for e in audit.json()["items"]] == [job["id"]]
    created = await client.get(
        "/api/v1/audit",
        params={"action": "child.create"},
        headers=tenant_a["org_admin"].headers,
    )
    assert set(job["created"]["child_ids"]) <= {e["resource_id"] for e in created.json()["items"]}
    # The same file again: the first job, nothing recorded twice.
    again = await upload(client, headers, content, mode="commit", name="again.xlsx")
    assert (again.status_code, again.json()["id"]) == (200, job["id"])
    assert len(await children_named(client, tenant_a, marker)) == 2


async def test_a_commit_with_any_error_records_nothing(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    marker = f"Kosal{uuid.uuid4().hex[:6]}"
    rows = [row(given_name_latin=marker), row(given_name_latin=f"{marker}x", sex="?")]
    headers = tenant_a["case_manager"].headers
    answer = await upload(client, headers, csv_file(rows), mode="commit")
    job = answer.json()
    assert (answer.status_code, job["status"]) == (201, "failed")
    assert [(e["row"], e["column"]) for e in job["errors"]] == [(3, "sex")]
    assert await children_named(client, tenant_a, marker) == []
    # Fixed, the file commits.
    rows[1] = row(given_name_latin=f"{marker}x")
    fixed = await upload(client, headers, csv_file(rows), mode="commit")
    assert fixed.json()["status"] == "committed"
    assert len(await children_named(client, tenant_a, marker)) == 2


async def test_a_rule_only_the_service_knows_rolls_back_every_row(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    """A case opened before the child's birth passes the row checks; the cases service
    refuses it while committing, and the rows recorded before it are rolled back."""
    marker = f"Thida{uuid.uuid4().hex[:6]}"
    rows = [
        row(given_name_latin=marker),
        row(
            given_name_latin=f"{marker}y",
            date_of_birth="2016-05-02",
            case_opened_on="2015-01-01",
            referral_source="community",
            concerns="neglect",
            risk_level="low",
        ),
    ]
    headers = tenant_a["case_manager"].headers
    # The dry run rehearses the commit and rolls it back: it finds the same refusal.
    dry = (await upload(client, headers, csv_file(rows))).json()
    assert (dry["status"], dry["created"]["children"]) == ("validated", 0)
    assert [(e["row"], e["column"]) for e in dry["errors"]] == [(3, "case_opened_on")]
    answer = await upload(client, headers, csv_file(rows), mode="commit")
    job = answer.json()
    assert job["status"] == "failed", job
    assert [(e["row"], e["column"]) for e in job["errors"]] == [(3, "case_opened_on")]
    assert await children_named(client, tenant_a, marker) == []


async def test_a_clean_dry_run_records_and_audits_nothing(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    marker = f"Chenda{uuid.uuid4().hex[:6]}"
    household = f"Household {marker}"
    rows = [
        row(given_name_latin=marker, household=household),
        row(
            given_name_latin=f"{marker}z",
            household=household,
            case_opened_on="2026-01-05",
            referral_source="community",
            concerns="neglect",
            risk_level="low",
        ),
    ]
    dry = (await upload(client, tenant_a["case_manager"].headers, csv_file(rows))).json()
    assert (dry["status"], dry["errors"], dry["processed_rows"]) == ("validated", [], 2)
    assert await children_named(client, tenant_a, marker) == []
    families = await client.get(
        "/api/v1/families", params={"q": marker}, headers=tenant_a["case_manager"].headers
    )
    assert families.status_code == 200, families.text
    assert families.json()["items"] == []
    audit = await client.get(
        "/api/v1/audit", params={"action": "import.commit"}, headers=tenant_a["org_admin"].headers
    )
    assert dry["id"] not in {e["resource_id"] for e in audit.json()["items"]}


async def test_a_child_recorded_while_the_rows_were_checked_refuses_the_commit(
    client: httpx.AsyncClient,
    factory: Factory,
    tenant_a: Tenant,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The duplicate check runs again in the commit's own transaction."""
    from ovc_api.imports import service

    marker = f"Malis{uuid.uuid4().hex[:6]}"
    commune = f"Commune {marker}"
    checked = service.check_rows
    recorded: list[uuid.UUID] = []

    async def check_then_someone_records(*args: Any) -> Any:
        outcome = await checked(*args)
        recorded.append(
            await factory.child(
                tenant_a.organisation_id,
                given_name_latin=marker,
                family_name_latin="Sok",
                given_name_khmer=None,
                family_name_khmer=None,
                date_of_birth=date(2016, 5, 2),
                commune=commune,
            )
        )
        return outcome

    monkeypatch.setattr(service, "check_rows", check_then_someone_records)
    rows = [row(given_name_latin=marker, commune=commune)]
    answer = await upload(client, tenant_a["case_manager"].headers, csv_file(rows), mode="commit")
    job = answer.json()
    assert job["status"] == "failed", job
    assert [(e["row"], e["column"], e["duplicates"]) for e in job["errors"]] == [
        (2, "given_name_latin", [str(recorded[0])])
    ]
    assert [c["id"] for c in await children_named(client, tenant_a, marker)] == [str(recorded[0])]


# --- access ---------------------------------------------------------------------------------


async def test_another_organisations_import_is_404(
    client: httpx.AsyncClient, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    answer = await upload(client, tenant_a["caseworker"].headers, csv_file([row()]))
    job_id = answer.json()["id"]
    own = await client.get(f"{IMPORTS}/{job_id}", headers=tenant_a["case_manager"].headers)
    assert own.json()["id"] == job_id
    assert_problem(
        await client.get(f"{IMPORTS}/{job_id}", headers=tenant_b["org_admin"].headers), 404
    )
    assert_problem(
        await client.get(f"{IMPORTS}/{uuid.uuid4()}", headers=tenant_b["org_admin"].headers), 404
    )


async def test_who_may_import(client: httpx.AsyncClient, tenant_a: Tenant) -> None:
    content = csv_file([row()])
    assert_problem(await client.post(IMPORTS, files={"file": ("x.csv", content)}), 401)
    assert_problem(await upload(client, tenant_a["analyst"].headers, content), 403)


async def test_bad_files_are_422_and_json_is_415(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    headers = tenant_a["caseworker"].headers
    body = assert_problem(await upload(client, headers, b"PK\x03\x04garbage", name="x.xlsx"), 422)
    assert "XLSX" in body["detail"]
    assert_problem(await upload(client, headers, b"\xff\xfe\x00bad", name="x.csv"), 422)
    assert_problem(await upload(client, headers, b"", name="x.csv"), 422)
    assert_problem(await client.post(IMPORTS, json={"rows": []}, headers=headers), 415)


# --- limits and large files (an app with small limits) -------------------------------------


@pytest_asyncio.fixture
async def small_limits(
    test_database: TestDatabase, settings: Settings, tmp_path: Path
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    assert settings.database_url  # the session's database, already migrated
    limited = make_settings(
        test_database,
        tmp_path,
        import_max_rows=5,
        import_max_bytes=4096,
        import_background_rows=2,
    )
    app = create_app(limited)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield app, http


async def test_limits_are_413_and_422(small_limits: tuple[FastAPI, httpx.AsyncClient]) -> None:
    app, http = small_limits
    tenant = await Factory(app, http).tenant()
    headers = tenant["caseworker"].headers
    too_many = assert_problem(await upload(http, headers, csv_file([row() for _ in range(6)])), 422)
    assert "at most 5 rows" in too_many["detail"]
    big = csv_file([row(given_name_latin="x" * 90, family_name_latin="y" * 90) for _ in range(5)])
    big += b"," * 5000
    assert_problem(await upload(http, headers, big), 413)


async def test_large_files_run_as_a_job_with_progress(
    small_limits: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, http = small_limits
    tenant = await Factory(app, http).tenant()
    headers = tenant["case_manager"].headers
    answer = await upload(http, headers, csv_file([row() for _ in range(3)]), mode="commit")
    assert answer.status_code == 202, answer.text
    assert answer.headers["location"] == f"{IMPORTS}/{answer.json()['id']}"
    assert answer.json()["status"] == "queued"
    # The job ran after the response (in this process); any worker reads its row.
    progress = await http.get(answer.headers["location"], headers=headers)
    job = progress.json()
    assert (job["status"], job["processed_rows"], job["created"]["children"]) == (
        "committed",
        3,
        3,
    )


async def test_an_api_key_imports_children_but_cannot_open_cases(
    client: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    created = await client.post(
        "/api/v1/api-keys",
        # cases:all: a key sees the households it records only with it (the API's own rule).
        json={"label": "sync", "scopes": ["cases:read", "cases:write", "cases:all"]},
        headers=tenant_a["org_admin"].headers,
    )
    assert created.status_code == 201, created.text
    key = {"Authorization": f"Bearer {created.json()['key']}"}
    marker = f"Rithy{uuid.uuid4().hex[:6]}"
    plain = csv_file([row(given_name_latin=marker, household=f"Household {marker}")])
    done = await upload(client, key, plain, mode="commit")
    assert (done.status_code, done.json()["status"]) == (201, "committed"), done.text
    with_case = csv_file(
        [
            row(
                case_opened_on="2026-01-05",
                referral_source="community",
                concerns="neglect",
                risk_level="low",
            )
        ]
    )
    refused = (await upload(client, key, with_case, mode="commit")).json()
    assert refused["status"] == "failed"
    assert [(e["row"], e["column"]) for e in refused["errors"]] == [(2, "assigned_to")]


@pytest.mark.skipif(
    not os.environ.get("OVC_TEST_DATABASE_URL"), reason="row-level security is PostgreSQL's"
)
async def test_rls_alone_hides_another_organisations_import_jobs(
    settings: Settings, factory: Factory, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    """The second wall: with no WHERE clause at all, the app role reads its own jobs only,
    and cannot write one for another organisation."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from ovc_api.db import Database, set_tenant_context

    own = await factory.import_job(tenant_a.organisation_id)
    await factory.import_job(tenant_b.organisation_id)
    database = Database.from_settings(settings)
    try:
        async with database.session() as session, session.begin():
            await set_tenant_context(session, tenant_a.organisation_id)
            connection = await session.connection()
            rows = await connection.execute(text("SELECT id, organisation_id FROM import_jobs"))
            seen = {(row[0], row[1]) for row in rows}
            assert (own, tenant_a.organisation_id) in seen
            assert {org for _, org in seen} == {tenant_a.organisation_id}
        with pytest.raises(DBAPIError, match="row-level security"):
            async with database.session() as session, session.begin():
                await set_tenant_context(session, tenant_a.organisation_id)
                connection = await session.connection()
                await connection.execute(
                    text("UPDATE import_jobs SET organisation_id = :org WHERE id = :id"),
                    {"org": tenant_b.organisation_id, "id": own},
                )
    finally:
        await database.engine.dispose()
