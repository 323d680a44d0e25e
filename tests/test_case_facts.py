"""`case_facts` (migration 0014) stays exact through every write path: PostgreSQL only.

Its triggers keep one row per case in the transaction of the write. After each kind of
write (the API's child, case, concern, transition and child-edit endpoints; a spreadsheet
import; a child given a second case, which makes its rows no longer sole; two children
sharing a record key) the table must equal what the tables say, recomputed here from
scratch (the oracle: the cases joined to their children and concerns, the flags counted
over the whole table), and the statistics must answer the same with the fast statements
(`engine.FAST`, which read it) and the plain ones (which read the tables).

`case_rollups` (migration 0016), kept by a trigger on `case_facts`, is checked with it: its
slots summed equal `case_facts` grouped again here by each grain.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date
from typing import Any

import httpx
import psycopg
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from ovc_api.app import create_app
from ovc_api.settings import Settings
from ovc_api.stats import engine

from .conftest import Factory, Tenant, own_database_settings
from .helpers import owner_connection
from .test_imports import HEADER, csv_file, row, upload

pytestmark = pytest.mark.skipif(
    "postgresql" not in __import__("os").environ.get("OVC_TEST_DATABASE_URL", ""),
    reason="case_facts and its triggers are PostgreSQL's",
)

CASES = "/api/v1/cases"
CHILDREN = "/api/v1/children"
# What the statistics read, from the tables (the oracle) and from case_facts.
ORACLE = """
    SELECT c.id AS case_id, c.organisation_id, c.child_id, c.opened_on,
           c.record_key - c.record_key % 256 + ch.record_key % 256 AS case_key,
           ch.record_key AS child_key,
           (date_part('year', c.opened_on) * 12 + date_part('month', c.opened_on) - 1)::int,
           c.closed_on,
           (date_part('year', c.closed_on) * 12 + date_part('month', c.closed_on) - 1)::int,
           ch.date_of_birth,
           CASE WHEN ch.date_of_birth IS NULL OR ch.date_of_birth > c.opened_on THEN NULL
                ELSE date_part('year', age(c.opened_on, ch.date_of_birth))::int END AS age_years,
           c.assigned_to, c.status, c.risk_level, c.referral_source, ch.province, ch.sex,
           ch.care_arrangement, c.closure_reason, ch.district,
           coalesce((SELECT array_agg(cc.concern::text ORDER BY cc.concern)
                     FROM case_concerns cc WHERE cc.case_id = c.id), '{}') AS concerns,
           count(*) OVER (PARTITION BY ch.record_key) = 1 AS child_sole,
           count(*) OVER (PARTITION BY c.record_key - c.record_key % 256
                                       + ch.record_key % 256) = 1 AS case_sole
    FROM cases c JOIN children ch ON ch.id = c.child_id
"""
FACTS = """
    SELECT case_id, organisation_id, child_id, opened_on, case_key, child_key, opened_month,
           closed_on, closed_month, date_of_birth, age_years, assigned_to, status, risk_level,
           referral_source, province, sex, care_arrangement, closure_reason, district,
           concerns::text[],
           child_sole, case_sole
    FROM case_facts
"""
# case_rollups' sums (over the slots) and the same sums from case_facts (grains of 0016).
ONE = """count(*) AS cases, count(*) FILTER (WHERE child_sole) AS sole_children,
    sum(case_key::bigint) AS case_keys,
    coalesce(sum(case_key::bigint) FILTER (WHERE case_sole), 0) AS sole_case_keys,
    coalesce(sum(child_key::bigint) FILTER (WHERE child_sole), 0) AS sole_child_keys"""
BAND = """CASE WHEN age_years IS NULL THEN 'unknown' WHEN age_years < 5 THEN '0-4'
    WHEN age_years < 10 THEN '5-9' WHEN age_years < 15 THEN '10-14'
    WHEN age_years < 18 THEN '15-17' ELSE '18+' END"""
ROLLUP_ORACLE = f"""
    SELECT 1, organisation_id, opened_month, NULL::int, NULL::int, province::text,
           NULL::text, NULL::text, NULL::text, NULL::text, {ONE}
    FROM case_facts GROUP BY 1, 2, 3, 6
    UNION ALL
    SELECT 2, organisation_id, opened_month, NULL, NULL, NULL, NULL, concern::text, {BAND},
           NULL, {ONE}
    FROM case_facts CROSS JOIN unnest(concerns) AS c(concern) GROUP BY 1, 2, 3, 8, 9
    UNION ALL
    SELECT 3, organisation_id, opened_month, NULL, NULL, NULL, NULL, NULL, {BAND}, NULL, {ONE}
    FROM case_facts WHERE cardinality(concerns) > 0 GROUP BY 1, 2, 3, 9
    UNION ALL
    SELECT 4, organisation_id, closed_month, NULL, NULL, NULL, NULL, NULL, NULL,
           coalesce(closure_reason, 'other'), {ONE}
    FROM case_facts WHERE closed_month IS NOT NULL GROUP BY 1, 2, 3, 10
    UNION ALL
    SELECT 5, organisation_id, opened_month, closed_month, NULL, NULL, NULL, NULL, NULL, NULL,
           {ONE}
    FROM case_facts GROUP BY 1, 2, 3, 4
    UNION ALL
    SELECT 6, organisation_id, opened_month, closed_month, NULL, NULL, NULL, concern::text,
           NULL, NULL, {ONE}
    FROM case_facts CROSS JOIN unnest(concerns) AS c(concern) GROUP BY 1, 2, 3, 4, 8
    UNION ALL
    SELECT 7, organisation_id, opened_month, closed_month, NULL, province::text,
           district::text, NULL, NULL, NULL, {ONE}
    FROM case_facts GROUP BY 1, 2, 3, 4, 6, 7
    UNION ALL
    SELECT 8, organisation_id, closed_month / 3 * 3, NULL, closed_on - opened_on, NULL, NULL,
           NULL, NULL, NULL, {ONE}
    FROM case_facts WHERE closed_month IS NOT NULL GROUP BY 1, 2, 3, 5
"""
ROLLUPS = """
    SELECT grain::int, organisation_id, month, until, days, province::text, district::text,
           concern::text, age_band::text, closure_reason::text, sum(cases), sum(sole_children),
           sum(case_keys), sum(sole_case_keys), sum(sole_child_keys)
    FROM case_rollups GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 HAVING sum(cases) <> 0
"""
# A group whose cases cancelled out over the slots has nothing left in its other sums.
EMPTIED = """
    SELECT 1 FROM case_rollups GROUP BY grain, organisation_id, month, until, days, province,
           district, concern, age_band, closure_reason
    HAVING sum(cases) = 0 AND (sum(sole_children), sum(case_keys), sum(sole_case_keys),
                               sum(sole_child_keys)) <> (0, 0, 0, 0)
"""
STATISTICS = [
    ("/api/v1/stats/cases", {}),
    ("/api/v1/stats/cases", {"group_by": "province,quarter"}),
    ("/api/v1/stats/cases", {"group_by": "concern,age_band"}),
    ("/api/v1/stats/cases", {"group_by": "status,risk_level"}),
    ("/api/v1/stats/outcomes", {}),
    ("/api/v1/reports/quarterly", {"year": 2026, "quarter": 1}),
    # Whole months: from case_rollups.
    ("/api/v1/stats/cases", {"group_by": "province,month", "from": "2025-01-01"}),
    ("/api/v1/stats/cases", {"group_by": "concern,age_band,quarter", "to": "2026-12-31"}),
    ("/api/v1/stats/outcomes", {"group_by": "month", "from": "2025-01-01", "to": "2026-12-31"}),
]


@pytest.fixture(scope="module")
def facts_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    yield from own_database_settings(tmp_path_factory, "casefacts")


@pytest_asyncio.fixture(scope="module")
async def world(facts_settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(facts_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield app, http


def assert_exact(settings: Settings) -> int:
    """case_facts is the oracle's rows, row for row, and case_rollups its sums; the number
    of rows."""
    with owner_connection(settings) as conn:
        missing = conn.execute(f"({ORACLE}) EXCEPT ({FACTS})").fetchall()
        extra = conn.execute(f"({FACTS}) EXCEPT ({ORACLE})").fetchall()
        count = conn.execute("SELECT count(*) FROM case_facts").fetchone()
        rollups_missing = conn.execute(f"({ROLLUP_ORACLE}) EXCEPT ({ROLLUPS})").fetchall()
        rollups_extra = conn.execute(f"({ROLLUPS}) EXCEPT ({ROLLUP_ORACLE})").fetchall()
        emptied = conn.execute(EMPTIED).fetchall()
    assert (missing, extra) == ([], [])
    assert (rollups_missing, rollups_extra, emptied) == ([], [], [])
    assert count is not None
    return int(count[0])


async def assert_fast_is_plain(
    client: httpx.AsyncClient, headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for path, params in STATISTICS:
        answers = []
        for fast in (True, False):
            monkeypatch.setattr(engine, "FAST", fast)
            response = await client.get(path, params=params, headers=headers)
            assert response.status_code == 200, response.text
            answers.append(response.json())
        assert answers[0] == answers[1], (path, params)


def _child(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "given_name_latin": "Sreymom",
        "family_name_latin": f"Kim{uuid.uuid4().hex[:6]}",
        "sex": "female",
        "date_of_birth": "2014-06-01",
        "birth_registration": "not_registered",
        "schooling_status": "dropped_out",
        "care_arrangement": "kinship_care",
        "province": "battambang",
        "district": "Bavel",
        "commune": f"Commune {uuid.uuid4().hex[:6]}",
    }
    body.update(changes)
    return body


def _case(child_id: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "child_id": child_id,
        "referral_source": "commune_committee",
        "concerns": ["out_of_school", "left_behind_by_migration"],
        "risk_level": "high",
        "opened_on": "2026-02-03",
    }
    body.update(changes)
    return body


async def test_api_writes_keep_the_facts_exact(
    world: tuple[FastAPI, httpx.AsyncClient],
    facts_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, client = world
    tenant: Tenant = await Factory(app, client).tenant()
    manager, admin = tenant["case_manager"], tenant["org_admin"]
    before = assert_exact(facts_settings)

    # A child and its first case: one sole row.
    child = await client.post(CHILDREN, json=_child(), headers=manager.headers)
    assert child.status_code == 201, child.text
    child_id = child.json()["id"]
    first = await client.post(CASES, json=_case(child_id), headers=manager.headers)
    assert first.status_code == 201, first.text
    assert assert_exact(facts_settings) == before + 1
    with owner_connection(facts_settings) as conn:
        flags = conn.execute(
            "SELECT child_sole, case_sole FROM case_facts WHERE case_id = %s",
            (first.json()["id"],),
        ).fetchone()
    assert flags == (True, True)

    # A second case of the same child: neither of its rows is sole any more.
    second = await client.post(
        CASES,
        json=_case(child_id, opened_on="2025-11-20", concerns=["neglect"], risk_level="low"),
        headers=manager.headers,
    )
    assert second.status_code == 201, second.text
    assert assert_exact(facts_settings) == before + 2
    with owner_connection(facts_settings) as conn:
        sole = conn.execute(
            "SELECT bool_or(child_sole) FROM case_facts WHERE child_id = %s", (child_id,)
        ).fetchone()
    assert sole == (False,)
    await assert_fast_is_plain(client, admin.headers, monkeypatch)

    # The case's concerns and risk change; it moves on in the workflow.
    case_path = f"{CASES}/{first.json()['id']}"
    patched = await client.patch(
        case_path,
        json={"concerns": ["violence", "neglect", "lack_of_food"], "risk_level": "emergency"},
        headers={**manager.headers, "If-Match": first.headers["etag"]},
    )
    assert patched.status_code == 200, patched.text
    moved = await client.post(
        f"{case_path}/transitions", json={"to_status": "assessment"}, headers=manager.headers
    )
    assert moved.status_code in (200, 201), moved.text
    assert_exact(facts_settings)

    # The child moves province and its birth date is corrected: every case's row follows.
    read = await client.get(f"{CHILDREN}/{child_id}", headers=manager.headers)
    edited = await client.patch(
        f"{CHILDREN}/{child_id}",
        json={"province": "pursat", "district": None, "date_of_birth": "2008-01-15"},
        headers={**manager.headers, "If-Match": read.headers["etag"]},
    )
    assert edited.status_code == 200, edited.text
    assert_exact(facts_settings)
    with owner_connection(facts_settings) as conn:
        rows = conn.execute(
            "SELECT province, age_years FROM case_facts WHERE child_id = %s ORDER BY opened_on",
            (child_id,),
        ).fetchall()
    assert rows == [("pursat", 17), ("pursat", 18)]
    await assert_fast_is_plain(client, admin.headers, monkeypatch)


async def test_an_import_keeps_the_facts_exact(
    world: tuple[FastAPI, httpx.AsyncClient],
    facts_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, client = world
    tenant: Tenant = await Factory(app, client).tenant()
    before = assert_exact(facts_settings)
    case = {"referral_source": "commune_committee", "risk_level": "high"}
    lines = [
        row(case_opened_on="2026-01-10", concerns="neglect; lack_of_food", **case),
        row(case_opened_on="2026-02-11", concerns="violence", province="kandal", **case),
        row(
            case_opened_on="2025-12-01",
            concerns="out_of_school",
            date_of_birth="2010-12-31",
            **case,
        ),
        row(),  # a child without a case
    ]
    answer = await upload(
        client, tenant["case_manager"].headers, csv_file(lines, HEADER), mode="commit"
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["created"]["cases"] == 3
    assert assert_exact(facts_settings) == before + 3
    await assert_fast_is_plain(client, tenant["org_admin"].headers, monkeypatch)


async def test_shared_keys_and_direct_writes_keep_the_flags_exact(
    world: tuple[FastAPI, httpx.AsyncClient],
    facts_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Rows written by hand (as a repair or a data load would) and a record key two
    children share, in two organisations: the flags are counted over every organisation;
    a deleted case takes its row and gives the other back its sole flag."""
    app, client = world
    factory = Factory(app, client)
    a, b = await factory.tenant(), await factory.tenant()
    one = await factory.child(a.organisation_id, date_of_birth=date(2012, 2, 29))
    two = await factory.child(b.organisation_id)
    cases = [
        await factory.case(a.organisation_id, child_id=one),
        await factory.case(b.organisation_id, child_id=two),
    ]
    with owner_connection(facts_settings) as conn:
        key = conn.execute("SELECT record_key FROM children WHERE id = %s", (one,)).fetchone()
        assert key is not None
        # Keys never change in the application; the triggers follow even that.
        conn.execute("UPDATE children SET record_key = %s WHERE id = %s", (key[0], two))
    assert_exact(facts_settings)
    with owner_connection(facts_settings) as conn:
        flags = conn.execute(
            "SELECT bool_or(child_sole) FROM case_facts WHERE case_id = ANY(%s)", (cases,)
        ).fetchone()
        assert flags == (False,)
        for table in ("case_concerns", "case_status_changes"):
            conn.execute(f"DELETE FROM {table} WHERE case_id = %s", (cases[1],))
        conn.execute("DELETE FROM cases WHERE id = %s", (cases[1],))
    assert_exact(facts_settings)
    with owner_connection(facts_settings) as conn:
        flags = conn.execute(
            "SELECT child_sole FROM case_facts WHERE case_id = %s", (cases[0],)
        ).fetchone()
    assert flags == (True,)
    await assert_fast_is_plain(client, a["org_admin"].headers, monkeypatch)


async def test_the_app_role_only_reads_its_own_facts(
    world: tuple[FastAPI, httpx.AsyncClient], facts_settings: Settings
) -> None:
    """Row-level security: the application role sees its organisation's rows only, and
    writes none (only the triggers, as the schema owner, do)."""
    app, client = world
    factory = Factory(app, client)
    a, b = await factory.tenant(), await factory.tenant()
    for tenant in (a, b):
        await factory.case(tenant.organisation_id)
    url = make_url(facts_settings.database_url).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute("SELECT set_config('ovc.org_id', %s, false)", (str(a.organisation_id),))
        seen = conn.execute("SELECT DISTINCT organisation_id FROM case_facts").fetchall()
        assert seen == [(a.organisation_id,)]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE case_facts SET status = 'closed'")


async def test_two_transactions_giving_a_child_cases_at_once_both_see_it(
    world: tuple[FastAPI, httpx.AsyncClient], facts_settings: Settings
) -> None:
    """The flags of a key are counted under a lock of the key: a second transaction adding
    a case to the same child waits for the first to end, then counts its row too."""
    app, client = world
    factory = Factory(app, client)
    org = await factory.organisation()
    child = await factory.child(org)
    insert = (
        "INSERT INTO cases (created_at, updated_at, version, id, organisation_id, child_id,"
        " referral_source, risk_level, status, opened_on) VALUES (now(), now(), 1,"
        " gen_random_uuid(), %s, %s, 'community', 'low', 'intake', '2026-01-05')"
    )
    with owner_connection(facts_settings) as first, owner_connection(facts_settings) as second:
        first.execute("BEGIN")
        first.execute(insert, (org, child))
        second.execute("BEGIN")
        waiting = threading.Thread(target=second.execute, args=(insert, (org, child)))
        waiting.start()
        waiting.join(timeout=1.0)
        assert waiting.is_alive()  # waits for the first transaction's lock of the key
        first.execute("COMMIT")
        waiting.join(timeout=30)
        assert not waiting.is_alive()
        second.execute("COMMIT")
    assert_exact(facts_settings)
    with owner_connection(facts_settings) as conn:
        flags = conn.execute(
            "SELECT array_agg(child_sole) FROM case_facts WHERE child_id = %s", (child,)
        ).fetchone()
    assert flags == ([False, False],)


async def test_writers_of_one_organisation_and_month_do_not_queue_on_its_rollups(
    world: tuple[FastAPI, httpx.AsyncClient], facts_settings: Settings
) -> None:
    """case_rollups: two transactions adding cases of the same organisation, month,
    province and concern add to the rows of their own slots (backend process ids apart),
    so neither waits for the other; the sums are exact after both commit, and after a
    writer rolls back."""
    app, client = world
    factory = Factory(app, client)
    org = await factory.organisation()
    children = [await factory.child(org) for _ in range(3)]
    insert = (
        "WITH c AS (INSERT INTO cases (created_at, updated_at, version, id, organisation_id,"
        " child_id, referral_source, risk_level, status, opened_on) VALUES (now(), now(), 1,"
        " gen_random_uuid(), %s, %s, 'community', 'low', 'intake', '2026-02-05') RETURNING id)"
        " INSERT INTO case_concerns SELECT id, 'neglect', %s FROM c"
    )

    def slot(conn: psycopg.Connection[Any]) -> int:
        row = conn.execute("SELECT pg_backend_pid() % 8").fetchone()
        assert row is not None
        return int(row[0])

    # Two backends of different slots (a new connection is tried until one differs; the
    # server is shared, so never many at once).
    first, second = owner_connection(facts_settings), owner_connection(facts_settings)
    connections = [first, second]
    try:
        for _ in range(50):
            if slot(first) != slot(second):
                break
            second.close()
            second = owner_connection(facts_settings)
            connections.append(second)
        assert slot(first) != slot(second)
        first.execute("BEGIN")
        first.execute(insert, (org, children[0], org))
        second.execute("BEGIN")
        writing = threading.Thread(target=second.execute, args=(insert, (org, children[1], org)))
        writing.start()
        writing.join(timeout=10)
        assert not writing.is_alive()  # did not wait for the first transaction
        second.execute("COMMIT")
        first.execute("COMMIT")
        assert_exact(facts_settings)
        first.execute("BEGIN")
        first.execute(insert, (org, children[2], org))
        first.execute("ROLLBACK")
    finally:
        for conn in connections:
            conn.close()
    assert_exact(facts_settings)
    with owner_connection(facts_settings) as conn:
        row = conn.execute(
            "SELECT sum(cases) FROM case_rollups WHERE organisation_id = %s AND grain = 2",
            (org,),
        ).fetchone()
    assert row == (2,)
