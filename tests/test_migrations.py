"""Alembic alone changes the schema: the chain runs both ways and matches the models."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

import ovc_api.models  # noqa: F401
from ovc_api.db import alembic_config, head_revision, metadata
from ovc_api.migration_helpers import include_object, per_row

from .conftest import make_test_database


def _sync(url: str) -> str:
    parsed = make_url(url)
    driver = "sqlite" if parsed.drivername.startswith("sqlite") else "postgresql+psycopg"
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


# Rows written as the schema owner straight into the tables, for the PostgreSQL migration
# tests of the trigger-kept tables (0014 on): each test's own rows before and after its
# migration.
STAMP = "'2026-01-01 00:00:00', '2026-01-01 00:00:00', 1"


def _organisation_row(conn, org: uuid.UUID, short: str = "N") -> None:  # type: ignore[no-untyped-def]
    conn.execute(
        text(
            "INSERT INTO organisations (created_at, updated_at, version, id, name,"
            f" short_name, kind, provinces, active) VALUES ({STAMP}, :id, :short, :short,"
            " 'ngo', '[]', true)"
        ),
        {"id": org, "short": short},
    )


def _child_row(conn, child: uuid.UUID, org: uuid.UUID, born: str | None = None) -> None:  # type: ignore[no-untyped-def]
    conn.execute(
        text(
            "INSERT INTO children (created_at, updated_at, version, id, organisation_id,"
            " search_text, sex, date_of_birth, birth_date_estimated, birth_registration,"
            " disability, schooling_status, care_arrangement, province) VALUES"
            f" ({STAMP}, :id, :org, 'x', 'female', :born, false, 'registered', 'none',"
            " 'enrolled', 'kinship_care', 'kandal')"
        ),
        {"id": child, "org": org, "born": born},
    )


def _family_row(conn, family: uuid.UUID, org: uuid.UUID) -> None:  # type: ignore[no-untyped-def]
    conn.execute(
        text(
            "INSERT INTO families (created_at, updated_at, version, id, organisation_id,"
            " name, id_poor_status, income_sources, province) VALUES"
            f" ({STAMP}, :id, :org, 'Household', 'unknown', '[]', 'kandal')"
        ),
        {"id": family, "org": org},
    )


def _case_row(  # type: ignore[no-untyped-def]
    conn,
    case: uuid.UUID,
    org: uuid.UUID,
    child: uuid.UUID,
    *,
    opened: str = "2026-01-05",
    closed: str | None = None,
    concerns: Sequence[str] = (),
) -> None:
    conn.execute(
        text(
            "INSERT INTO cases (created_at, updated_at, version, id, organisation_id,"
            " child_id, referral_source, risk_level, status, opened_on, closed_on) VALUES"
            f" ({STAMP}, :id, :org, :child, 'community', 'low', 'intake', :opened, :closed)"
        ),
        {"id": case, "org": org, "child": child, "opened": opened, "closed": closed},
    )
    for concern in concerns:
        conn.execute(
            text("INSERT INTO case_concerns VALUES (:case, :concern, :org)"),
            {"case": case, "concern": concern, "org": org},
        )


def _service_row(  # type: ignore[no-untyped-def]
    conn, org: uuid.UUID, child: uuid.UUID | None, family: uuid.UUID | None, day: str
) -> None:
    conn.execute(
        text(
            "INSERT INTO service_deliveries (created_at, updated_at, version, id,"
            " organisation_id, child_id, family_id, service_type, delivered_on, province)"
            f" VALUES ({STAMP}, :id, :org, :child, :family, 'counselling', :day, 'kandal')"
        ),
        {"id": uuid.uuid4(), "org": org, "child": child, "family": family, "day": day},
    )


@pytest.fixture
def fresh_database(tmp_path: Path):  # type: ignore[no-untyped-def]
    yield from make_test_database(tmp_path, "mig")


def test_upgrade_downgrade_upgrade_and_models_match(fresh_database) -> None:  # type: ignore[no-untyped-def]
    config = alembic_config(fresh_database.owner_url, fresh_database.app_url)
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    engine = create_engine(_sync(fresh_database.owner_url))
    try:
        with engine.connect() as conn:
            leftover = set(inspect(conn).get_table_names()) - {"alembic_version"}
            assert leftover == set(), f"downgrade left tables behind: {leftover}"
        command.upgrade(config, "head")
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "include_object": include_object}
            )
            assert context.get_current_revision() == head_revision()
            diff = compare_metadata(context, metadata)
            assert diff == [], f"models and migrations differ: {diff}"
    finally:
        engine.dispose()


def test_record_keys_are_drawn_for_existing_rows_and_new_ones(fresh_database) -> None:  # type: ignore[no-untyped-def]
    """Migration 0007: rows that exist get a random record key each (not one shared value),
    and a row inserted without one gets its own from the server default."""
    config = alembic_config(fresh_database.owner_url, fresh_database.app_url)
    command.upgrade(config, "0004")
    engine = create_engine(_sync(fresh_database.owner_url))
    postgres = fresh_database.is_postgres
    org = uuid.uuid4()

    def ident(value: uuid.UUID) -> str:
        return str(value) if postgres else value.hex

    def insert_families(conn, count: int) -> None:  # type: ignore[no-untyped-def]
        if postgres:  # the owner obeys row-level security too: bind it to the organisation
            conn.execute(text("SELECT set_config('ovc.org_id', :org, true)"), {"org": str(org)})
        for _ in range(count):
            conn.execute(
                text(
                    "INSERT INTO families (created_at, updated_at, version, id, organisation_id,"
                    " name, id_poor_status, income_sources, province) VALUES ('2026-01-01"
                    " 00:00:00', '2026-01-01 00:00:00', 1, :id, :org, 'Household', 'unknown',"
                    " '[]', 'kandal')"
                ),
                {"id": ident(uuid.uuid4()), "org": ident(org)},
            )

    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO organisations (created_at, updated_at, version, id, name,"
                    " short_name, kind, provinces, active) VALUES ('2026-01-01 00:00:00',"
                    " '2026-01-01 00:00:00', 1, :id, 'NGO', 'N', 'ngo', '[]', true)"
                ),
                {"id": ident(org)},
            )
            insert_families(conn, 40)
        command.upgrade(config, "head")
        with engine.begin() as conn:
            insert_families(conn, 10)
            keys = [row[0] for row in conn.execute(text("SELECT record_key FROM families"))]
        assert len(keys) == 50
        assert all(0 <= key < 2**31 for key in keys)
        assert len(set(keys)) >= 45  # 31-bit random values: collisions are vanishingly rare
    finally:
        engine.dispose()


def test_rls_initplans_wrap_every_policy_call_and_downgrade_restores_them(
    fresh_database,  # type: ignore[no-untyped-def]
) -> None:
    """Migration 0013: every policy's calls of the tenant functions become scalar
    sub-selects (name, command, roles and permissiveness kept), and downgrade gives back the
    policies exactly as the revision before left them."""
    if not fresh_database.is_postgres:
        pytest.skip("row-level security is PostgreSQL's")
    config = alembic_config(fresh_database.owner_url, fresh_database.app_url)
    before = ScriptDirectory.from_config(config).get_revision("0013_rls_initplans").down_revision
    assert isinstance(before, str)
    engine = create_engine(_sync(fresh_database.owner_url))

    def policies() -> dict[tuple[str, str], tuple[object, ...]]:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT tablename, policyname, permissive, roles::text, cmd, qual,"
                    " with_check FROM pg_policies WHERE schemaname = 'public'"
                )
            )
            return {(row[0], row[1]): tuple(row[2:]) for row in rows}

    try:
        command.upgrade(config, before)
        bare = policies()
        calls = ("ovc_current_org()", "ovc_is_system()")
        assert sum(any(c in str(p) for c in calls) for p in bare.values()) >= 40
        command.upgrade(config, "0013_rls_initplans")
        wrapped = policies()
        assert wrapped.keys() == bare.keys()
        for key, (permissive, roles, cmd, using, check) in wrapped.items():
            assert (permissive, roles, cmd) == bare[key][:3], key
            for expression, old in ((using, bare[key][3]), (check, bare[key][4])):
                assert (expression is None) == (old is None), key
                if expression is None:
                    continue
                for call in calls:
                    assert expression.count(call) == expression.count(f"SELECT {call}"), key
                assert per_row(expression) == old, key
        command.downgrade(config, before)
        assert policies() == bare
    finally:
        engine.dispose()


def test_case_facts_are_filled_from_existing_cases_and_downgrade_removes_them(
    fresh_database,  # type: ignore[no-untyped-def]
) -> None:
    """Migration 0014: the facts of the cases that exist (a child with two cases: not sole),
    exactly as the tables say; downgrade drops the table, its view, functions and triggers
    (cases are written as before), and upgrading again fills it again."""
    if not fresh_database.is_postgres:
        pytest.skip("case_facts is PostgreSQL's")
    from .test_case_facts import FACTS, ORACLE

    config = alembic_config(fresh_database.owner_url, fresh_database.app_url)
    command.upgrade(config, "0013_rls_initplans")
    engine = create_engine(_sync(fresh_database.owner_url))
    org, children = uuid.uuid4(), [uuid.uuid4(), uuid.uuid4()]

    def add_case(conn, child: uuid.UUID, concerns: list[str]) -> None:  # type: ignore[no-untyped-def]
        _case_row(conn, uuid.uuid4(), org, child, concerns=concerns)

    def exact(conn) -> int:  # type: ignore[no-untyped-def]
        assert conn.execute(text(f"({ORACLE}) EXCEPT ({FACTS})")).all() == []
        assert conn.execute(text(f"({FACTS}) EXCEPT ({ORACLE})")).all() == []
        return int(conn.execute(text("SELECT count(*) FROM case_facts")).scalar_one())

    try:
        with engine.begin() as conn:
            conn.execute(text("SELECT set_config('ovc.system', 'on', true)"))
            _organisation_row(conn, org)
            for child, born in zip(children, ("2015-03-01", None), strict=True):
                _child_row(conn, child, org, born)
            add_case(conn, children[0], ["neglect", "lack_of_food"])
            add_case(conn, children[0], [])
            add_case(conn, children[1], ["violence"])
        command.upgrade(config, "head")
        with engine.begin() as conn:
            conn.execute(text("SELECT set_config('ovc.system', 'on', true)"))
            assert exact(conn) == 3
            sole = conn.execute(text("SELECT count(*) FROM case_facts WHERE child_sole"))
            assert sole.scalar_one() == 1
        command.downgrade(config, "0013_rls_initplans")
        with engine.begin() as conn:
            conn.execute(text("SELECT set_config('ovc.system', 'on', true)"))
            left = conn.execute(
                text(
                    "SELECT to_regclass('case_facts'), to_regclass('ovc_network.case_facts'),"
                    " (SELECT count(*) FROM pg_proc WHERE proname LIKE 'ovc_case_facts%'),"
                    " (SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'ovc_case_facts%')"
                )
            ).one()
            assert tuple(left) == (None, None, 0, 0)
            add_case(conn, children[1], ["neglect"])  # no trigger left to fail
        command.upgrade(config, "head")
        with engine.begin() as conn:
            conn.execute(text("SELECT set_config('ovc.system', 'on', true)"))
            assert exact(conn) == 4
    finally:
        engine.dispose()


def test_service_facts_are_filled_from_existing_deliveries_and_downgrade_removes_them(
    fresh_database,  # type: ignore[no-untyped-def]
) -> None:
    """Migration 0015: the facts of the services that exist (a child served twice, one by a
    second organisation: shared; a family-only delivery), exactly as the tables say;
    downgrade drops the table, its view, functions and triggers (services are written as
    before), and upgrading again fills it again."""
    if not fresh_database.is_postgres:
        pytest.skip("service_facts is PostgreSQL's")
    from .test_service_facts import FACTS, ORACLE

    config = alembic_config(fresh_database.owner_url, fresh_database.app_url)
    command.upgrade(config, "0014_case_facts")
    engine = create_engine(_sync(fresh_database.owner_url))
    orgs, child, family = [uuid.uuid4(), uuid.uuid4()], uuid.uuid4(), uuid.uuid4()

    def exact(conn) -> int:  # type: ignore[no-untyped-def]
        assert conn.execute(text(f"({ORACLE}) EXCEPT ({FACTS})")).all() == []
        assert conn.execute(text(f"({FACTS}) EXCEPT ({ORACLE})")).all() == []
        return int(conn.execute(text("SELECT count(*) FROM service_facts")).scalar_one())

    try:
        with engine.begin() as conn:
            conn.execute(text("SELECT set_config('ovc.system', 'on', true)"))
            for org in orgs:
                _organisation_row(conn, org, org.hex[:8])
            _child_row(conn, child, orgs[0])
            _family_row(conn, family, orgs[0])
            _service_row(conn, orgs[0], child, family, "2026-01-05")
            _service_row(conn, orgs[0], child, None, "2026-02-05")
            _service_row(conn, orgs[0], None, family, "2026-03-05")
        command.upgrade(config, "head")
        with engine.begin() as conn:
            conn.execute(text("SELECT set_config('ovc.system', 'on', true)"))
            assert exact(conn) == 3
            previous = conn.execute(
                text(
                    "SELECT array_agg(child_prev__::text ORDER BY delivered_on) FROM service_facts"
                )
            ).scalar_one()
            assert previous == [None, "2026-01-05", "infinity"]
            _service_row(conn, orgs[1], child, None, "2026-04-01")  # a second organisation's
            assert exact(conn) == 4
            shared = conn.execute(
                text("SELECT count(*) FROM service_facts WHERE child_shared")
            ).scalar_one()
            assert shared == 3
        command.downgrade(config, "0014_case_facts")
        with engine.begin() as conn:
            conn.execute(text("SELECT set_config('ovc.system', 'on', true)"))
            left = conn.execute(
                text(
                    "SELECT to_regclass('service_facts'), to_regclass('ovc_network.service_facts'),"
                    " to_regclass('service_summary'), to_regclass('ovc_network.service_summary'),"
                    " (SELECT count(*) FROM pg_proc WHERE proname LIKE 'ovc_service_facts%'),"
                    " (SELECT count(*) FROM pg_proc WHERE proname LIKE 'ovc_service_summary%'),"
                    " (SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'ovc_service_%')"
                )
            ).one()
            assert tuple(left) == (None, None, None, None, 0, 0, 0)
            _service_row(conn, orgs[0], child, family, "2026-05-01")  # no trigger left to fail
        command.upgrade(config, "head")
        with engine.begin() as conn:
            conn.execute(text("SELECT set_config('ovc.system', 'on', true)"))
            assert exact(conn) == 5
    finally:
        engine.dispose()


def test_service_covers_are_filled_and_downgrade_restores_0015s_functions(
    fresh_database,  # type: ignore[no-untyped-def]
) -> None:
    """Migration 0018: the covers of the deliveries that exist (covered by a case, before
    it, a family with no case), exactly as the tables say; downgrade to 0017 drops the
    columns, the trigger on cases and its function, and gives the functions 0015's bodies
    back (services and cases are written as before); upgrading again fills them again."""
    if not fresh_database.is_postgres:
        pytest.skip("service_facts is PostgreSQL's")
    from .test_service_facts import COVER_ORACLE, COVERS, FACTS, ORACLE

    config = alembic_config(fresh_database.owner_url, fresh_database.app_url)
    command.upgrade(config, "0017_case_facts_wall")
    engine = create_engine(_sync(fresh_database.owner_url))
    org, child, family, case = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    def covers(conn) -> list[tuple[int, int]]:  # type: ignore[no-untyped-def]
        assert conn.execute(text(f"({ORACLE}) EXCEPT ({FACTS})")).all() == []
        assert conn.execute(text(f"({COVER_ORACLE}) EXCEPT ({COVERS})")).all() == []
        assert conn.execute(text(f"({COVERS}) EXCEPT ({COVER_ORACLE})")).all() == []
        found = conn.execute(
            text(
                "SELECT child_cover, family_cover FROM service_facts"
                " ORDER BY delivered_on, child_id NULLS LAST"
            )
        ).all()
        return [tuple(row) for row in found]

    try:
        with engine.begin() as conn:
            conn.execute(text("SELECT set_config('ovc.system', 'on', true)"))
            _organisation_row(conn, org)
            _child_row(conn, child, org)
            _family_row(conn, family, org)
            _case_row(conn, case, org, child, opened="2026-01-15")
            # Before the case; a family without the case open:
            _service_row(conn, org, child, family, "2026-01-05")
            _service_row(conn, org, child, None, "2026-02-05")
            _service_row(conn, org, None, family, "2026-03-05")
        command.upgrade(config, "head")
        with engine.begin() as conn:
            conn.execute(text("SELECT set_config('ovc.system', 'on', true)"))
            assert covers(conn) == [(0, 2), (1, 0), (0, 2)]
            conn.execute(
                text("UPDATE cases SET family_id = :f WHERE id = :c"), {"f": family, "c": case}
            )
            assert covers(conn) == [(0, 0), (1, 0), (0, 1)]
        command.downgrade(config, "0017_case_facts_wall")
        with engine.begin() as conn:
            conn.execute(text("SELECT set_config('ovc.system', 'on', true)"))
            left = conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM information_schema.columns WHERE table_name ="
                    " 'service_facts' AND column_name LIKE '%_cover'),"
                    " (SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'ovc_service_cover%'),"
                    " (SELECT count(*) FROM pg_proc WHERE proname LIKE 'ovc_service_cover%'),"
                    " (SELECT count(*) FROM pg_indexes"
                    "  WHERE indexname = 'ix_case_rollups_closed_days'),"
                    " (SELECT count(*) FROM pg_proc WHERE proname LIKE 'ovc_service_facts%'"
                    "  AND prosrc LIKE '%_cover%')"
                )
            ).one()
            assert tuple(left) == (0, 0, 0, 0, 0)
            _service_row(conn, org, child, family, "2026-05-01")  # written as before
            conn.execute(
                text("UPDATE cases SET closed_on = '2026-04-30' WHERE id = :c"), {"c": case}
            )
            assert conn.execute(text(f"({ORACLE}) EXCEPT ({FACTS})")).all() == []
        command.upgrade(config, "head")
        with engine.begin() as conn:
            conn.execute(text("SELECT set_config('ovc.system', 'on', true)"))
            assert covers(conn) == [(0, 0), (1, 0), (0, 1), (0, 0)]
    finally:
        engine.dispose()


def test_case_rollups_are_filled_from_the_facts_and_downgrade_removes_them(
    fresh_database,  # type: ignore[no-untyped-def]
) -> None:
    """Migration 0016: the rollups of the cases that exist (a child with two cases: its
    rows not sole), exactly as case_facts grouped again says; downgrade to 0014 drops the
    table, its view, functions, trigger and index (case_facts is kept as it was, writes go
    on), and upgrading again fills it again."""
    if not fresh_database.is_postgres:
        pytest.skip("case_rollups is PostgreSQL's")
    from .test_case_facts import EMPTIED, ROLLUP_ORACLE, ROLLUPS

    config = alembic_config(fresh_database.owner_url, fresh_database.app_url)
    command.upgrade(config, "0014_case_facts")
    engine = create_engine(_sync(fresh_database.owner_url))
    org, children = uuid.uuid4(), [uuid.uuid4(), uuid.uuid4()]

    def add_case(conn, child: uuid.UUID, concerns: list[str], closed: str | None) -> None:  # type: ignore[no-untyped-def]
        _case_row(conn, uuid.uuid4(), org, child, closed=closed, concerns=concerns)

    def exact(conn) -> int:  # type: ignore[no-untyped-def]
        assert conn.execute(text(f"({ROLLUP_ORACLE}) EXCEPT ({ROLLUPS})")).all() == []
        assert conn.execute(text(f"({ROLLUPS}) EXCEPT ({ROLLUP_ORACLE})")).all() == []
        assert conn.execute(text(EMPTIED)).all() == []
        return int(
            conn.execute(text("SELECT sum(cases) FROM case_rollups WHERE grain = 1")).scalar_one()
        )

    try:
        with engine.begin() as conn:
            conn.execute(text("SELECT set_config('ovc.system', 'on', true)"))
            _organisation_row(conn, org)
            for child, born in zip(children, ("2015-03-01", None), strict=True):
                _child_row(conn, child, org, born)
            add_case(conn, children[0], ["neglect", "lack_of_food"], "2026-04-02")
            add_case(conn, children[0], [], None)
            add_case(conn, children[1], ["violence"], None)
        command.upgrade(config, "head")
        with engine.begin() as conn:
            conn.execute(text("SELECT set_config('ovc.system', 'on', true)"))
            assert exact(conn) == 3
        command.downgrade(config, "0014_case_facts")
        with engine.begin() as conn:
            conn.execute(text("SELECT set_config('ovc.system', 'on', true)"))
            left = conn.execute(
                text(
                    "SELECT to_regclass('case_rollups'), to_regclass('ovc_network.case_rollups'),"
                    " to_regclass('ix_case_facts_closed'),"
                    " (SELECT count(*) FROM pg_proc WHERE proname LIKE 'ovc_case_rollups%'),"
                    " (SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'ovc_case_rollups%')"
                )
            ).one()
            assert tuple(left) == (None, None, None, 0, 0)
            add_case(conn, children[1], ["neglect"], "2026-02-01")  # no trigger left to fail
            facts = conn.execute(text("SELECT count(*) FROM case_facts")).scalar_one()
            assert facts == 4
        command.upgrade(config, "head")
        with engine.begin() as conn:
            conn.execute(text("SELECT set_config('ovc.system', 'on', true)"))
            assert exact(conn) == 4
    finally:
        engine.dispose()


def test_fact_key_locks_are_row_locks_and_downgrade_restores_0018s_functions(
    fresh_database,  # type: ignore[no-untyped-def]
) -> None:
    """Migration 0019: the facts' triggers lock their keys as rows of `ovc_locks.fact_keys`
    (no advisory lock left in them), a schema the application role cannot use; writes fill
    it; downgrade to 0018 gives the functions 0018's exact bodies back and drops the schema
    (cases are written as before); upgrading again locks rows again."""
    if not fresh_database.is_postgres:
        pytest.skip("the facts' triggers are PostgreSQL's")
    config = alembic_config(fresh_database.owner_url, fresh_database.app_url)
    command.upgrade(config, "0018_service_cover")
    engine = create_engine(_sync(fresh_database.owner_url))
    app_user = make_url(fresh_database.app_url).username
    org = uuid.uuid4()
    sources = (
        "SELECT proname, prosrc FROM pg_proc WHERE proname IN ('ovc_case_facts_flags',"
        " 'ovc_service_facts_child', 'ovc_service_facts_family') ORDER BY proname"
    )
    advisory = (
        "SELECT count(*) FROM pg_proc WHERE proname LIKE 'ovc_%_facts_%'"
        " AND prosrc LIKE '%pg_advisory%'"
    )

    def write_case(conn) -> None:  # type: ignore[no-untyped-def]
        child = uuid.uuid4()
        _child_row(conn, child, org)
        _case_row(conn, uuid.uuid4(), org, child, opened="2026-01-15")

    try:
        with engine.begin() as conn:
            conn.execute(text("SELECT set_config('ovc.system', 'on', true)"))
            _organisation_row(conn, org)
            before = conn.execute(text(sources)).all()
            assert len(before) == 3
            assert conn.execute(text(advisory)).scalar_one() == 3
        command.upgrade(config, "head")
        with engine.begin() as conn:
            conn.execute(text("SELECT set_config('ovc.system', 'on', true)"))
            assert conn.execute(text(advisory)).scalar_one() == 0
            usable = conn.execute(
                text("SELECT has_schema_privilege(:role, 'ovc_locks', 'USAGE')"),
                {"role": app_user},
            ).scalar_one()
            assert usable is False
            write_case(conn)
            locked = conn.execute(
                text("SELECT array_agg(DISTINCT lock_class) FROM ovc_locks.fact_keys")
            ).scalar_one()
            assert sorted(locked) == [1214, 1215, 1216]  # the child's, the case's; service's
        command.downgrade(config, "0018_service_cover")
        with engine.begin() as conn:
            conn.execute(text("SELECT set_config('ovc.system', 'on', true)"))
            assert conn.execute(text(sources)).all() == before
            gone = conn.execute(text("SELECT to_regnamespace('ovc_locks')")).scalar()
            assert gone is None
            write_case(conn)  # written as before
            counted = conn.execute(text("SELECT count(*) FROM case_facts")).scalar_one()
            assert counted == 2
        command.upgrade(config, "head")
        with engine.begin() as conn:
            conn.execute(text("SELECT set_config('ovc.system', 'on', true)"))
            write_case(conn)
            assert conn.execute(text("SELECT count(*) FROM ovc_locks.fact_keys")).scalar_one() == 3
    finally:
        engine.dispose()
