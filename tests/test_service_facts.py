"""`service_facts` (migration 0015) stays exact, and the services statistics read from it
answer as the plain ones do: PostgreSQL only.

Its triggers keep one row per service delivered in the transaction of the write, with the
previous delivery's date per child (family) and set of grouping keys and the flags of the
rows counted the sorting way. After each kind of write (the API's service, correction and
group-event endpoints; direct SQL as a repair or a referral's receiver would write: a
child served by two organisations, two children sharing a record key, a deleted delivery;
two concurrent transactions serving one child) the table must equal what the tables say,
recomputed here from scratch (the oracle), and the statistics must answer the same with
the fast statements (`engine.FAST`) and the plain ones. Then a generated network (children
served in several periods, by several organisations, families shared, keys colliding) is
asked every services statistic both ways, under ranges that cut periods and filters, and
two tables are worked out in Python from the generated records (the raw count itself).
"""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
import psycopg
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from ovc_api.app import create_app
from ovc_api.db import Database
from ovc_api.settings import Settings
from ovc_api.stats import engine
from ovc_api.stats.perturbation import KEY_RANGE
from ovc_api.stats.suppression import Cube, subsets
from ovc_api.stats.tables import cube_table
from ovc_api.webhooks.worker import compact_summaries

from .conftest import Actor, Factory, Rows, own_database_settings
from .helpers import owner_connection

pytestmark = pytest.mark.skipif(
    "postgresql" not in __import__("os").environ.get("OVC_TEST_DATABASE_URL", ""),
    reason="service_facts and its triggers are PostgreSQL's",
)

SERVICES = "/api/v1/services"
GROUP = "/api/v1/services/group-events"
# The sets of grouping keys with previous dates (t type, p province, d district).
SETS = {
    "_": [],
    "t": ["service_type"],
    "p": ["province"],
    "d": ["district"],
    "tp": ["service_type", "province"],
    "td": ["service_type", "district"],
    "pd": ["province", "district"],
    "tpd": ["service_type", "province", "district"],
}


def _previous(who: str) -> str:
    def partition(keys: list[str]) -> str:
        return ", ".join(["s.organisation_id", f"s.{who}_id", *[f"s.{k}" for k in keys]])

    return ", ".join(
        f"CASE WHEN s.{who}_id IS NULL THEN 'infinity'::date ELSE lag(s.delivered_on) OVER"
        f" (PARTITION BY {partition(keys)}"
        f" ORDER BY s.delivered_on, s.id) END::text AS {who}_prev_{name}"
        for name, keys in SETS.items()
    )


def _shared(who: str) -> str:
    table = "children" if who == "child" else "families"
    return (
        f"s.{who}_id IS NOT NULL AND (s.{who}_id IN (SELECT {who}_id FROM service_deliveries"
        f" WHERE {who}_id IS NOT NULL GROUP BY {who}_id HAVING count(DISTINCT organisation_id)"
        f" > 1) OR s.{who}_id IN (SELECT d.{who}_id FROM service_deliveries d"
        f" JOIN {table} x ON x.id = d.{who}_id WHERE x.organisation_id <> d.organisation_id)"
        f" OR k.record_key_{who} IN (SELECT x.record_key FROM service_deliveries d"
        f" JOIN {table} x ON x.id = d.{who}_id"
        f" GROUP BY x.record_key HAVING count(DISTINCT x.id) > 1))"
    )


# What the statistics read, from the tables (the oracle) and from service_facts.
ORACLE = f"""
    SELECT s.id, s.organisation_id, s.child_id, s.family_id, s.delivered_on,
           date_trunc('month', s.delivered_on)::date, date_trunc('quarter', s.delivered_on)::date,
           date_trunc('year', s.delivered_on)::date, s.record_key, k.record_key_child,
           k.record_key_family, {_shared("child")}, {_shared("family")},
           {_previous("child")}, {_previous("family")}, s.service_type, s.province, s.district
    FROM service_deliveries s
    JOIN (SELECT d.id, ch.record_key AS record_key_child, fa.record_key AS record_key_family
          FROM service_deliveries d LEFT JOIN children ch ON ch.id = d.child_id
          LEFT JOIN families fa ON fa.id = d.family_id) k ON k.id = s.id
"""
# As text: psycopg reads no 'infinity' date (a difference would not show).
PREVIOUS = ", ".join(f"{who}_prev_{name}::text" for who in ("child", "family") for name in SETS)
FACTS = f"""
    SELECT service_id, organisation_id, child_id, family_id, delivered_on, month_start,
           quarter_start, year_start, service_key, child_key, family_key, child_shared,
           family_shared, {PREVIOUS}, service_type, province, district
    FROM service_facts
"""
# service_summary's cells (its rows of changes summed) and the same recounted from the facts.
SUMMARY_MODES = {"q": "{prev} < quarter_start", "y": "{prev} < year_start", "a": "false"}
SUMMARY_PARTS = ["count(*)", "sum(service_key)"]
for _who in ("child", "family"):
    for _set in ("_", "t", "p", "tp"):
        for _before in SUMMARY_MODES.values():
            _prev = f"{_who}_prev_{_set}"
            _first = f"NOT {_who}_shared AND ({_prev} IS NULL OR {_before.format(prev=_prev)})"
            SUMMARY_PARTS += [
                f"count(*) FILTER (WHERE {_first})",
                f"coalesce(sum({_who}_key) FILTER (WHERE {_first}), 0)",
            ]
CELL = "organisation_id, service_type, province, quarter_start, year_start"
SUMMARY_ORACLE = f"SELECT {CELL}, {', '.join(SUMMARY_PARTS)} FROM service_facts GROUP BY {CELL}"
SUMMARY_COLUMNS = ["services", "service_key"] + [
    f"{who}_{name}_{mode}{suffix}"
    for who in ("child", "family")
    for name in ("_", "t", "p", "tp")
    for mode in SUMMARY_MODES
    for suffix in ("", "_key")
]
SUMMARY = (
    f"SELECT {CELL}, {', '.join(f'sum({c})' for c in SUMMARY_COLUMNS)} FROM service_summary"
    f" GROUP BY {CELL} HAVING sum(services) <> 0"
)


# Migration 0018: each delivery's cover, for its child and its family, from the tables: 1 if
# a case of the delivery's organisation and child (family) was open on its day, 2 if the
# child (family) has no case of that organisation, else 0.
def _cover(who: str) -> str:
    same = f"c.organisation_id = s.organisation_id AND c.{who}_id = s.{who}_id"
    return (
        f"CASE WHEN s.{who}_id IS NULL THEN 0 WHEN EXISTS (SELECT 1 FROM cases c WHERE {same}"
        " AND s.delivered_on BETWEEN c.opened_on AND coalesce(c.closed_on, 'infinity'))"
        f" THEN 1 WHEN EXISTS (SELECT 1 FROM cases c WHERE {same}) THEN 0 ELSE 2 END"
    )


COVER_ORACLE = f"SELECT s.id, {_cover('child')}, {_cover('family')} FROM service_deliveries s"
COVERS = "SELECT service_id, child_cover, family_cover FROM service_facts"
STATISTICS = [
    ("/api/v1/stats/services", {}),
    ("/api/v1/stats/services", {"group_by": "service_type,quarter"}),
    ("/api/v1/stats/services", {"group_by": "district,month", "from": "2026-01-15"}),
    ("/api/v1/stats/outcomes", {}),
    ("/api/v1/reports/quarterly", {"year": 2026, "quarter": 1}),
]


@pytest.fixture(scope="module")
def facts_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    yield from own_database_settings(tmp_path_factory, "servicefacts")


@pytest_asyncio.fixture(scope="module")
async def world(facts_settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(facts_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield app, http


def assert_exact(settings: Settings) -> int:
    """service_facts is the oracle's rows, row for row; the number of rows."""
    with owner_connection(settings) as conn:
        missing = conn.execute(f"({ORACLE}) EXCEPT ({FACTS})").fetchall()
        extra = conn.execute(f"({FACTS}) EXCEPT ({ORACLE})").fetchall()
        count = conn.execute("SELECT count(*) FROM service_facts").fetchone()
        assert (missing, extra) == ([], [])
        missing = conn.execute(f"({SUMMARY_ORACLE}) EXCEPT ({SUMMARY})").fetchall()
        extra = conn.execute(f"({SUMMARY}) EXCEPT ({SUMMARY_ORACLE})").fetchall()
        assert (missing, extra) == ([], [])
        missing = conn.execute(f"({COVER_ORACLE}) EXCEPT ({COVERS})").fetchall()
        extra = conn.execute(f"({COVERS}) EXCEPT ({COVER_ORACLE})").fetchall()
        assert (missing, extra) == ([], [])
    assert count is not None
    return int(count[0])


async def assert_fast_is_plain(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    statistics: list[tuple[str, dict[str, Any]]] = STATISTICS,
) -> list[dict[str, Any]]:
    found = []
    for path, params in statistics:
        answers = []
        for fast in (True, False):
            monkeypatch.setattr(engine, "FAST", fast)
            response = await client.get(path, params=params, headers=headers)
            assert response.status_code == 200, response.text
            answers.append(response.json())
        assert answers[0] == answers[1], (path, params)
        found.append(answers[0])
    return found


def _service(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"service_type": "counselling", "delivered_on": "2026-02-02"}
    body.update({k: str(v) if isinstance(v, uuid.UUID) else v for k, v in fields.items()})
    return body


async def test_api_writes_keep_the_facts_exact(
    world: tuple[FastAPI, httpx.AsyncClient],
    facts_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, client = world
    factory = Factory(app, client)
    tenant = await factory.tenant()
    org, manager = tenant.organisation_id, tenant["case_manager"].headers
    admin = tenant["org_admin"].headers
    before = assert_exact(facts_settings)
    case_id = await factory.case(org)
    family_id = await factory.family(org)

    # Three services to one child in two quarters, one to its family only.
    created = []
    for body in (
        _service(case_id=case_id, delivered_on="2026-02-02"),
        _service(case_id=case_id, delivered_on="2026-01-20"),
        _service(case_id=case_id, delivered_on="2026-04-03", service_type="medical_treatment"),
        _service(family_id=family_id, delivered_on="2026-01-05"),
    ):
        response = await client.post(SERVICES, json=body, headers=manager)
        assert response.status_code == 201, response.text
        created.append(response)
    assert assert_exact(facts_settings) == before + 4
    with owner_connection(facts_settings) as conn:
        prev = conn.execute(
            "SELECT delivered_on, child_prev__, child_prev_t FROM service_facts"
            " WHERE organisation_id = %s AND child_id IS NOT NULL ORDER BY delivered_on",
            (org,),
        ).fetchall()
    assert prev == [
        (date(2026, 1, 20), None, None),
        (date(2026, 2, 2), date(2026, 1, 20), date(2026, 1, 20)),
        (date(2026, 4, 3), date(2026, 2, 2), None),
    ]
    await assert_fast_is_plain(client, admin, monkeypatch)

    # A correction moves the first delivery after the others.
    first = created[0]
    fixed = await client.patch(
        f"{SERVICES}/{first.json()['id']}",
        json={"delivered_on": "2026-05-01"},
        headers={**manager, "If-Match": first.headers["etag"]},
    )
    assert fixed.status_code == 200, fixed.text
    assert_exact(facts_settings)
    await assert_fast_is_plain(client, admin, monkeypatch)

    # A group event: several children and a family at once.
    other = await factory.case(org)
    rows = [{"case_id": str(case_id)}, {"case_id": str(other)}, {"family_id": str(family_id)}]
    event = {"service_type": "birth_certificate_support", "delivered_on": "2026-03-10"}
    response = await client.post(
        GROUP,
        json={**event, "rows": rows},
        headers={**manager, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert response.status_code in (201, 207), response.text
    assert assert_exact(facts_settings) == before + 7
    await assert_fast_is_plain(client, admin, monkeypatch)


async def test_direct_writes_shared_children_and_keys_keep_the_facts_exact(
    world: tuple[FastAPI, httpx.AsyncClient],
    facts_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Rows written by hand: another organisation serving a child (as under a referral),
    two children sharing a record key, a family's key changed, a delivery deleted (its
    child's rows no longer shared)."""
    app, client = world
    factory = Factory(app, client)
    a, b = await factory.tenant(), await factory.tenant()
    one = await factory.child(a.organisation_id)
    two = await factory.child(b.organisation_id)
    family = await factory.family(a.organisation_id)
    insert = (
        "INSERT INTO service_deliveries (created_at, updated_at, version, id, organisation_id,"
        " child_id, family_id, service_type, delivered_on, province, district) VALUES (now(),"
        " now(), 1, %s, %s, %s, %s, %s, %s, 'battambang', %s) RETURNING id"
    )
    with owner_connection(facts_settings) as conn:
        ids = []
        for org, child, family_id, kind, day, district in (
            (a.organisation_id, one, family, "counselling", date(2026, 1, 4), "Bavel"),
            (a.organisation_id, one, None, "counselling", date(2026, 2, 4), None),
            (b.organisation_id, one, family, "medical_treatment", date(2026, 2, 9), "Bavel"),
            (b.organisation_id, two, None, "counselling", date(2026, 3, 1), None),
        ):
            service = uuid.uuid4()
            conn.execute(insert, (service, org, child, family_id, kind, day, district))
            ids.append(service)
    assert_exact(facts_settings)
    with owner_connection(facts_settings) as conn:
        shared = conn.execute(
            "SELECT bool_and(child_shared), bool_and(family_shared) FROM service_facts"
            " WHERE child_id = %s AND family_id IS NOT NULL",
            (one,),
        ).fetchone()
        assert shared == (True, True)  # served by a and b
        key = conn.execute("SELECT record_key FROM children WHERE id = %s", (one,)).fetchone()
        assert key is not None
        conn.execute("UPDATE children SET record_key = %s WHERE id = %s", (key[0], two))
        conn.execute("UPDATE families SET record_key = record_key + 1 WHERE id = %s", (family,))
    assert_exact(facts_settings)
    with owner_connection(facts_settings) as conn:
        shared = conn.execute(
            "SELECT bool_and(child_shared) FROM service_facts WHERE child_id = %s", (two,)
        ).fetchone()
        assert shared == (True,)  # its key is the first child's too
        conn.execute("DELETE FROM service_deliveries WHERE id = %s", (ids[2],))
        conn.execute("UPDATE children SET record_key = record_key + 1 WHERE id = %s", (two,))
    assert_exact(facts_settings)
    with owner_connection(facts_settings) as conn:
        shared = conn.execute(
            "SELECT bool_or(child_shared) FROM service_facts WHERE child_id IN (%s, %s)",
            (one, two),
        ).fetchone()
    assert shared == (False,)
    for tenant in (a, b):
        await assert_fast_is_plain(client, tenant["org_admin"].headers, monkeypatch)
    # The summary's rows of changes merged: one row per cell, the same sums.
    with owner_connection(facts_settings) as conn:
        conn.execute("SELECT ovc_service_summary_compact()")
        counted = conn.execute(
            f"SELECT (SELECT count(*) FROM service_summary), (SELECT count(*) FROM ({SUMMARY}) s)"
        ).fetchone()
    assert counted is not None and counted[0] == counted[1]
    assert_exact(facts_settings)


async def test_the_app_role_only_reads_its_own_facts(
    world: tuple[FastAPI, httpx.AsyncClient], facts_settings: Settings
) -> None:
    """Row-level security: the application role sees its organisation's rows only, and
    writes none (only the triggers, as the schema owner, do)."""
    app, client = world
    factory = Factory(app, client)
    a, b = await factory.tenant(), await factory.tenant()
    for tenant in (a, b):
        case_id = await factory.case(tenant.organisation_id)
        response = await client.post(
            SERVICES, json=_service(case_id=case_id), headers=tenant["case_manager"].headers
        )
        assert response.status_code == 201, response.text
    url = make_url(facts_settings.database_url).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute("SELECT set_config('ovc.org_id', %s, false)", (str(a.organisation_id),))
        seen = conn.execute("SELECT DISTINCT organisation_id FROM service_facts").fetchall()
        assert seen == [(a.organisation_id,)]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE service_facts SET child_shared = true")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM service_facts")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT ovc_service_facts_rebuild()")
        for statement in ("DELETE FROM service_summary", "UPDATE service_summary SET services = 0"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)


async def test_the_worker_merges_the_summary_as_the_app_role(
    world: tuple[FastAPI, httpx.AsyncClient], facts_settings: Settings
) -> None:
    """`ovc-api worker`'s housekeeping: the summary's rows of changes become one row per
    cell, as the application role, and every sum (so every statistic) stays what it was."""
    app, client = world
    factory = Factory(app, client)
    tenant = await factory.tenant()
    case_id = await factory.case(tenant.organisation_id)
    for day in (3, 4, 5):
        response = await client.post(
            SERVICES,
            json=_service(case_id=case_id, delivered_on=f"2026-02-0{day}"),
            headers=tenant["case_manager"].headers,
        )
        assert response.status_code == 201, response.text
    counts = f"SELECT (SELECT count(*) FROM service_summary), (SELECT count(*) FROM ({SUMMARY}) s)"
    with owner_connection(facts_settings) as conn:
        before = conn.execute(counts).fetchone()
    assert before is not None and before[0] > before[1]  # rows of changes to merge
    database = Database.from_settings(facts_settings)
    try:
        assert await compact_summaries(database) is True
    finally:
        await database.engine.dispose()
    with owner_connection(facts_settings) as conn:
        after = conn.execute(counts).fetchone()
    assert after is not None and after[0] == after[1] == before[1]
    assert_exact(facts_settings)


async def test_two_transactions_serving_a_child_at_once_both_see_it(
    world: tuple[FastAPI, httpx.AsyncClient], facts_settings: Settings
) -> None:
    """A child's rows are counted again under a lock of its key: a second transaction
    serving the same child waits for the first to end, then counts its row too."""
    app, client = world
    factory = Factory(app, client)
    org = await factory.organisation()
    child = await factory.child(org)
    insert = (
        "INSERT INTO service_deliveries (created_at, updated_at, version, id, organisation_id,"
        " child_id, service_type, delivered_on, province) VALUES (now(), now(), 1,"
        " gen_random_uuid(), %s, %s, 'counselling', %s, 'kandal')"
    )
    with owner_connection(facts_settings) as first, owner_connection(facts_settings) as second:
        first.execute("BEGIN")
        first.execute(insert, (org, child, date(2026, 1, 9)))
        second.execute("BEGIN")
        waiting = threading.Thread(
            target=second.execute, args=(insert, (org, child, date(2026, 1, 5)))
        )
        waiting.start()
        waiting.join(timeout=1.0)
        assert waiting.is_alive()  # waits for the first transaction's lock of the key
        first.execute("COMMIT")
        waiting.join(timeout=30)
        assert not waiting.is_alive()
        second.execute("COMMIT")
    assert_exact(facts_settings)
    with owner_connection(facts_settings) as conn:
        prev = conn.execute(
            "SELECT array_agg(child_prev__ ORDER BY delivered_on) FROM service_facts"
            " WHERE child_id = %s",
            (child,),
        ).fetchone()
    assert prev == ([None, date(2026, 1, 5)],)


def _covers(settings: Settings, *services: uuid.UUID) -> list[tuple[int, int]]:
    with owner_connection(settings) as conn:
        return [
            tuple(
                conn.execute(  # type: ignore[misc]
                    "SELECT child_cover, family_cover FROM service_facts WHERE service_id = %s",
                    (service,),
                ).fetchone()
                or ()
            )
            for service in services
        ]


REPORTS = [("/api/v1/reports/quarterly", {"year": 2026, "quarter": q}) for q in (1, 2, 3)]


async def test_covers_follow_the_cases(
    world: tuple[FastAPI, httpx.AsyncClient],
    facts_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Migration 0018: a delivery's cover of its child and family follows the cases of its
    organisation (opened, closed earlier, moved to another child and family, deleted), and
    the quarterly report's children and families supported, which read it, stay the plain
    answer: the union of the active cases' and the served ids."""
    app, client = world
    factory = Factory(app, client)
    tenant = await factory.tenant()
    org, admin = tenant.organisation_id, tenant["org_admin"].headers
    child, other = await factory.child(org), await factory.child(org)
    family = await factory.family(org)
    insert = (
        "INSERT INTO service_deliveries (created_at, updated_at, version, id, organisation_id,"
        " child_id, family_id, service_type, delivered_on, province) VALUES (now(), now(), 1,"
        " gen_random_uuid(), %s, %s, %s, 'counselling', %s, 'kandal') RETURNING id"
    )
    with owner_connection(facts_settings) as conn:
        served = [
            conn.execute(insert, (org, child, family, day)).fetchone()[0]  # type: ignore[index]
            for day in (date(2026, 1, 10), date(2026, 2, 20), date(2026, 5, 5))
        ]
    assert _covers(facts_settings, *served) == [(2, 2)] * 3  # no case at all
    assert_exact(facts_settings)
    await assert_fast_is_plain(client, admin, monkeypatch, REPORTS)

    # A case of the child from 15 January (the factory's): the later deliveries covered.
    case_id = await factory.case(org, child_id=child)
    assert _covers(facts_settings, *served) == [(0, 2), (1, 2), (1, 2)]
    assert_exact(facts_settings)
    await assert_fast_is_plain(client, admin, monkeypatch, REPORTS)

    with owner_connection(facts_settings) as conn:
        # Closed before the last delivery, then given the family.
        conn.execute("UPDATE cases SET closed_on = '2026-03-31' WHERE id = %s", (case_id,))
        assert _covers(facts_settings, *served) == [(0, 2), (1, 2), (0, 2)]
        conn.execute("UPDATE cases SET family_id = %s WHERE id = %s", (family, case_id))
        assert _covers(facts_settings, *served) == [(0, 0), (1, 1), (0, 0)]
    assert_exact(facts_settings)
    await assert_fast_is_plain(client, admin, monkeypatch, REPORTS)

    with owner_connection(facts_settings) as conn:
        # Moved to another child (a repair), then deleted.
        conn.execute("UPDATE cases SET child_id = %s WHERE id = %s", (other, case_id))
        assert _covers(facts_settings, *served) == [(2, 0), (2, 1), (2, 0)]
        assert_exact(facts_settings)
        await assert_fast_is_plain(client, admin, monkeypatch, REPORTS)
        for table in ("case_status_changes", "case_concerns"):
            conn.execute(f"DELETE FROM {table} WHERE case_id = %s", (case_id,))
        conn.execute("DELETE FROM cases WHERE id = %s", (case_id,))
    assert _covers(facts_settings, *served) == [(2, 2)] * 3
    assert_exact(facts_settings)
    await assert_fast_is_plain(client, admin, monkeypatch, REPORTS)


async def test_a_case_closed_while_its_child_is_served_leaves_exact_covers(
    world: tuple[FastAPI, httpx.AsyncClient], facts_settings: Settings
) -> None:
    """A delivery written while another transaction closes the child's case: the second
    to take the child's lock waits for the first, then sees it (a cover never says a case
    was open when the committed case says otherwise)."""
    app, client = world
    factory = Factory(app, client)
    org = await factory.organisation()
    child = await factory.child(org)
    case_id = await factory.case(org, child_id=child)
    insert = (
        "INSERT INTO service_deliveries (created_at, updated_at, version, id, organisation_id,"
        " child_id, service_type, delivered_on, province) VALUES (now(), now(), 1,"
        " gen_random_uuid(), %s, %s, 'counselling', '2026-03-01', 'kandal')"
    )
    close = "UPDATE cases SET closed_on = '2026-02-01' WHERE id = %s"
    for first_sql, first_args, second_sql, second_args in (
        (insert, (org, child), close, (case_id,)),
        (close, (case_id,), insert, (org, child)),
    ):
        with owner_connection(facts_settings) as conn:
            conn.execute("UPDATE cases SET closed_on = NULL WHERE id = %s", (case_id,))
        with owner_connection(facts_settings) as one, owner_connection(facts_settings) as two:
            one.execute("BEGIN")
            one.execute(first_sql, first_args)
            two.execute("BEGIN")
            waiting = threading.Thread(target=two.execute, args=(second_sql, second_args))
            waiting.start()
            waiting.join(timeout=1.0)
            assert waiting.is_alive()  # waits for the first transaction's lock of the child
            one.execute("COMMIT")
            waiting.join(timeout=30)
            assert not waiting.is_alive()
            two.execute("COMMIT")
        assert_exact(facts_settings)
    with owner_connection(facts_settings) as conn:
        covers = conn.execute(
            "SELECT array_agg(child_cover) FROM service_facts WHERE child_id = %s", (child,)
        ).fetchone()
    assert covers == ([0, 0],)


# --- a generated network: every services statistic, fast and plain ---------------------

PROVINCES = ["battambang", "pursat", "kandal"]
DISTRICTS = ["Bavel", "Moung", None]
TYPES = [
    "birth_certificate_support",
    "school_enrolment_support",
    "counselling",
    "emergency_food_package",
]
START = date(2025, 1, 1)


@dataclass
class Generated:
    client: httpx.AsyncClient
    admin: Actor  # org_admin of organisation a
    analyst: Actor
    org: uuid.UUID
    rows: Rows
    active: set[uuid.UUID]
    kinds: dict[uuid.UUID, str]


def generate(rows: Rows, orgs: list[uuid.UUID], rnd: random.Random) -> None:
    """Children served 1-6 times over two years (some by a second organisation), families
    served with and without a child, and record keys two children (families) share."""
    from ovc_api.children.models import Child
    from ovc_api.families.models import Family
    from ovc_api.services.models import ServiceDelivery

    for org in orgs:
        families = [rows.family(org) for _ in range(8)]
        for i in range(40):
            child = rows.child(org, rnd.choice(PROVINCES))
            for _ in range(rnd.choice([1, 1, 2, 3, 4, 6])):
                by = rnd.choice(orgs) if i % 7 == 0 else org  # another's: a referral's
                rows.records.append(
                    ServiceDelivery(
                        organisation_id=by,
                        child_id=None if rnd.random() < 0.08 else child,
                        family_id=rnd.choice([*families, None]),
                        service_type=rnd.choice(TYPES),
                        delivered_on=START + timedelta(days=rnd.randrange(0, 700)),
                        province=rnd.choice(PROVINCES),
                        district=rnd.choice(DISTRICTS),
                    )
                )
    kids = [r for r in rows.records if isinstance(r, Child)]
    kids[1].record_key = kids[0].record_key
    kids[-1].record_key = kids[0].record_key  # another organisation's
    homes = [r for r in rows.records if isinstance(r, Family)]
    homes[2].record_key = homes[-2].record_key


@pytest.fixture(scope="module")
def gen_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    yield from own_database_settings(tmp_path_factory, "servicegen")


@pytest_asyncio.fixture(scope="module")
async def gen(gen_settings: Settings) -> AsyncIterator[Generated]:
    app: FastAPI = create_app(gen_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            factory = Factory(app, http)
            a, b = await factory.organisation(), await factory.organisation(kind="government")
            c = await factory.organisation(active=False)
            rows = Rows()
            generate(rows, [a, b, c], random.Random(15))
            await rows.save(app)
            admin = await factory.user(a, "org_admin")
            network = await factory.network_admin()
            analyst = await factory.user(network.organisation_id, "network_analyst")
            assert_exact(gen_settings)
            active = {a, b, network.organisation_id}
            kinds = {a: "ngo", b: "government"}
            yield Generated(http, admin, analyst, a, rows, active, kinds)


ORGANISATION = [
    ("/api/v1/stats/services", {}),
    ("/api/v1/stats/services", {"from": "2025-02-14", "to": "2026-01-20"}),
    ("/api/v1/stats/services", {"group_by": "service_type,quarter"}),
    ("/api/v1/stats/services", {"group_by": "service_type,quarter", "from": "2025-05-17"}),
    ("/api/v1/stats/services", {"group_by": "province,month", "to": "2026-02-11"}),
    ("/api/v1/stats/services", {"group_by": "district,year", "from": "2025-03-03"}),
    ("/api/v1/stats/services", {"group_by": "service_type,province,district,quarter"}),
    ("/api/v1/stats/services", {"group_by": "year", "service_type": "counselling"}),
    ("/api/v1/stats/services", {"group_by": "quarter", "province": ["pursat", "kandal"]}),
    (
        "/api/v1/stats/services",
        {"group_by": "province,year", "province": ["pursat", "kandal"], "from": "2025-06-09"},
    ),
    ("/api/v1/stats/services", {"group_by": "service_type", "district": "Bavel"}),
    ("/api/v1/stats/outcomes", {}),
    ("/api/v1/stats/outcomes", {"group_by": "month", "from": "2025-04-12", "to": "2026-03-31"}),
    ("/api/v1/stats/outcomes", {"group_by": "year", "from": "2025-08-30"}),
    ("/api/v1/reports/quarterly", {"year": 2025, "quarter": 3}),
    ("/api/v1/reports/quarterly", {"year": 2026, "quarter": 1}),
    ("/api/v1/reports/quarterly", {"year": 2026, "quarter": 4}),
]
NETWORK = [
    ("/api/v1/stats/network/services", {}),
    ("/api/v1/stats/network/services", {"group_by": "service_type"}),
    ("/api/v1/stats/network/services", {"group_by": "service_type,province,quarter"}),
    ("/api/v1/stats/network/services", {"group_by": "organisation_kind,year,province"}),
    (
        "/api/v1/stats/network/services",
        {"group_by": "province,quarter", "from": "2025-01-01", "to": "2025-12-31"},
    ),
    (
        "/api/v1/stats/network/services",
        {"group_by": "organisation_kind", "service_type": "counselling", "province": "pursat"},
    ),
    (
        "/api/v1/stats/network/services",
        {"group_by": "service_type", "from": "2025-04-01", "to": "2025-06-30"},
    ),
    ("/api/v1/stats/network/outcomes", {}),
    ("/api/v1/stats/network/outcomes", {"group_by": "year"}),
]


@pytest.mark.parametrize(("path", "params"), ORGANISATION)
async def test_organisation_services_fast_and_plain_agree(
    gen: Generated, monkeypatch: pytest.MonkeyPatch, path: str, params: dict[str, Any]
) -> None:
    await assert_fast_is_plain(gen.client, gen.admin.headers, monkeypatch, [(path, params)])


@pytest.mark.parametrize(("path", "params"), NETWORK)
async def test_network_services_fast_and_plain_agree(
    gen: Generated, monkeypatch: pytest.MonkeyPatch, path: str, params: dict[str, Any]
) -> None:
    (body,) = await assert_fast_is_plain(
        gen.client, gen.analyst.headers, monkeypatch, [(path, params)]
    )
    assert body["rows"]


def served(gen: Generated, orgs: set[uuid.UUID]) -> list[dict[str, Any]]:
    """One row per service delivered by `orgs`, as the raw statistics count them."""
    from ovc_api.children.models import Child
    from ovc_api.families.models import Family
    from ovc_api.services.models import ServiceDelivery

    # The network reads an inactive member's child (family) without its key.
    keys = {
        r.id: r.record_key
        for r in gen.rows.records
        if isinstance(r, Child | Family) and r.organisation_id in gen.active
    }
    return [
        {
            "child_id": r.child_id,
            "family_id": r.family_id,
            "service_type": r.service_type,
            "province": r.province,
            "organisation_kind": gen.kinds.get(r.organisation_id),
            "quarter": f"{r.delivered_on.year}-Q{(r.delivered_on.month - 1) // 3 + 1}",
            "service_key": r.record_key,
            "child_key": keys.get(r.child_id),
            "family_key": keys.get(r.family_id),
        }
        for r in gen.rows.records
        if isinstance(r, ServiceDelivery) and r.organisation_id in orgs
    ]


def python_cube(rows: list[dict[str, Any]], levels: list[tuple[str, ...]]) -> Cube:
    cube: Cube = {}
    for level in levels:
        groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        for row in rows:
            groups.setdefault(tuple(row[k] for k in level), []).append(row)
        cube[level] = {
            key: {
                "services": len(cell),
                "children": len({r["child_id"] for r in cell} - {None}),
                "families": len({r["family_id"] for r in cell} - {None}),
                "services_key": sum(r["service_key"] for r in cell) % KEY_RANGE,
                # SUM(DISTINCT key): a key once, however many records carry it
                "children_key": sum({r["child_key"] for r in cell} - {None}) % KEY_RANGE,
                "families_key": sum({r["family_key"] for r in cell} - {None}) % KEY_RANGE,
            }
            for key, cell in sorted(
                groups.items(), key=lambda item: [(v is None, str(v)) for v in item[0]]
            )
        }
    return cube


async def test_organisation_services_are_the_raw_count(
    gen: Generated, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = ["service_type", "quarter"]
    (body,) = await assert_fast_is_plain(
        gen.client,
        gen.admin.headers,
        monkeypatch,
        [("/api/v1/stats/services", {"group_by": ",".join(keys)})],
    )
    cube = python_cube(served(gen, {gen.org}), [tuple(keys), ()])
    table = cube_table(cube, keys, ["services", "children", "families"])
    assert body["rows"] == table.rows
    assert body["totals"] == table.totals
    # Children served in several quarters: fewer children in the totals than in the rows.
    assert body["totals"]["children"] < sum(row["children"] for row in body["rows"])


@pytest.mark.parametrize("keys", [["service_type", "quarter"], ["province", "organisation_kind"]])
async def test_network_services_are_the_raw_count(
    gen: Generated, monkeypatch: pytest.MonkeyPatch, keys: list[str]
) -> None:
    (body,) = await assert_fast_is_plain(
        gen.client,
        gen.analyst.headers,
        monkeypatch,
        [("/api/v1/stats/network/services", {"group_by": ",".join(keys)})],
    )
    rows = served(gen, gen.active)
    cube = python_cube(rows, subsets(keys))
    table = cube_table(cube, keys, ["services", "children", "families"], threshold=5)
    assert body["rows"] == table.rows
    assert body["totals"] == table.totals


def _copies(conn: psycopg.Connection[Any], table: str, overrides: dict[str, str]) -> str:
    """An INSERT of `table` whose rows copy the template row `t` but for `overrides`
    (column: SQL expression over `t` and the generated row `g`)."""
    columns = [
        name
        for (name,) in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public'"
            " AND table_name = %s AND is_generated = 'NEVER' ORDER BY ordinal_position",
            (table,),
        ).fetchall()
    ]
    values = ", ".join(overrides.get(name, f"t.{name}") for name in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) SELECT {values}"


async def test_one_transaction_writing_more_keys_than_the_lock_table_holds(
    world: tuple[FastAPI, httpx.AsyncClient], facts_settings: Settings
) -> None:
    """A transaction writing thousands of cases (an import commits up to 20,000 rows in one)
    keeps the facts exact: the triggers' per-key locks must not each take an entry of the
    server's shared lock table (max_locks_per_transaction x max_connections, 6,400 by
    default, with some slack), or it fails with "out of shared memory" (53200). 7,000
    children with a case and a delivery each in one transaction: three keys a case (its
    child's in case_facts and in service_facts, its own), 21,000 locks. Their dates spread
    over ten years, as an import's (the rollups' rows of one month written 7,000 times in
    one transaction would make it slow: each change walks the row's versions)."""
    from .test_case_facts import assert_exact as assert_cases_exact

    app, client = world
    factory = Factory(app, client)
    org = await factory.organisation()
    template_child = await factory.child(org)
    template_case = await factory.case(org, child_id=template_child)
    many = 7000
    with owner_connection(facts_settings) as conn:
        table_size = conn.execute(
            "SELECT current_setting('max_locks_per_transaction')::int"
            " * (current_setting('max_connections')::int"
            " + current_setting('max_prepared_transactions')::int)"
        ).fetchone()
        assert table_size is not None and table_size[0] < 3 * many
        service = conn.execute(
            "INSERT INTO service_deliveries (created_at, updated_at, version, id,"
            " organisation_id, child_id, service_type, delivered_on, province) VALUES (now(),"
            " now(), 1, gen_random_uuid(), %s, %s, 'counselling', '2026-02-03', 'kandal')"
            " RETURNING id",
            (org, template_child),
        ).fetchone()
        assert service is not None
        key = "(floor(random() * 2147483647))::int"
        children = _copies(conn, "children", {"id": "g.child", "record_key": key})
        day = "DATE '2016-01-01' + g.n %% 3650"
        cases = _copies(
            conn,
            "cases",
            {"id": "g.case_id", "child_id": "g.child", "record_key": key, "opened_on": day},
        )
        services = _copies(
            conn,
            "service_deliveries",
            {"id": "g.service", "child_id": "g.child", "record_key": key, "delivered_on": day},
        )
        conn.execute(
            "CREATE TEMP TABLE g AS SELECT gen_random_uuid() AS child,"
            " gen_random_uuid() AS case_id, gen_random_uuid() AS service, n"
            " FROM generate_series(1, %s) n",
            (many,),
        )
        with conn.transaction():
            conn.execute(f"{children} FROM children t, g WHERE t.id = %s", (template_child,))
            conn.execute(f"{cases} FROM cases t, g WHERE t.id = %s", (template_case,))
            conn.execute(f"{services} FROM service_deliveries t, g WHERE t.id = %s", (service[0],))
    assert assert_cases_exact(facts_settings) >= many
    assert assert_exact(facts_settings) >= many
