"""Audit storage that lasts: packed ids, monthly partitions, archiving whole months."""

from __future__ import annotations

import gzip
import hashlib
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, LargeBinary, select, text, type_coerce
from sqlalchemy.exc import DBAPIError

from ovc_api.audit import partitions
from ovc_api.audit.archive import sync_engine
from ovc_api.audit.models import AuditEvent
from ovc_api.cli import main
from ovc_api.db import alembic_config
from ovc_api.settings import Settings

from .conftest import Factory, Tenant, make_test_database, use_settings_env

if TYPE_CHECKING:
    from .conftest import TestDatabase

CHILDREN = "/api/v1/children"
EVENTS = AuditEvent.__table__  # type: ignore[attr-defined]


@pytest.fixture
def owner(settings: Settings) -> Iterator[Engine]:
    engine = sync_engine(settings.migration_database_url)
    yield engine
    engine.dispose()


def _system(connection) -> None:  # type: ignore[no-untyped-def]
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT set_config('ovc.system', 'on', true)"))


def _insert_event(owner: Engine, at: datetime, action: str = "case.read") -> uuid.UUID:
    event_id = uuid.uuid4()
    with owner.begin() as connection:
        _system(connection)
        connection.execute(EVENTS.insert().values(id=event_id, at=at, action=action))
    return event_id


async def test_a_list_read_stores_its_ids_packed(
    client, factory: Factory, tenant_a: Tenant, owner: Engine
) -> None:  # type: ignore[no-untyped-def]
    actor = tenant_a["case_manager"]
    first = await factory.child(tenant_a.organisation_id)
    second = await factory.child(tenant_a.organisation_id)
    response = await client.get(CHILDREN, headers=actor.headers)
    assert response.status_code == 200
    listed = [uuid.UUID(i["id"]) for i in response.json()["items"]]
    assert set(listed) == {first, second}
    with owner.begin() as connection:
        _system(connection)
        row = connection.execute(
            select(type_coerce(EVENTS.c.record_ids, LargeBinary))
            .where(
                EVENTS.c.organisation_id == tenant_a.organisation_id,
                EVENTS.c.action == "child.list",
            )
            .order_by(EVENTS.c.at.desc())
            .limit(1)
        ).one()
        if connection.dialect.name == "postgresql":
            kind = connection.execute(
                text(
                    "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                    "WHERE attrelid = 'audit_events'::regclass AND attname = 'record_ids'"
                )
            ).scalar_one()
            assert kind == "uuid[]"
            assert [uuid.UUID(str(i)) for i in row[0]] == listed
        else:
            assert row[0] == b"".join(i.bytes for i in listed)  # 16 bytes an id, in order
    log = await client.get(
        "/api/v1/audit", params={"action": "child.list"}, headers=tenant_a["org_admin"].headers
    )
    assert log.json()["items"][0]["record_ids"] == [str(i) for i in listed]


@pytest.fixture
def fresh_database(tmp_path: Path) -> Iterator[TestDatabase]:
    yield from make_test_database(tmp_path, "audmig")


def test_migration_packs_and_unpacks_existing_ids(fresh_database: TestDatabase) -> None:
    config = alembic_config(fresh_database.owner_url, fresh_database.app_url)
    # The revision before this one (0004 today; whatever the chain puts before it later).
    before = ScriptDirectory.from_config(config).get_revision("0008").down_revision
    assert isinstance(before, str)
    command.upgrade(config, before)
    engine = sync_engine(fresh_database.owner_url)
    security_before = _row_security(engine)
    ids = [uuid.uuid4() for _ in range(3)]
    listed, single = uuid.uuid4(), uuid.uuid4()
    at = datetime(2025, 2, 14, 9, 30, tzinfo=UTC)
    try:
        with engine.begin() as connection:
            _system(connection)
            # The table as revision 0004 had it: ids as JSON text.
            old = sa.table(
                "audit_events",
                sa.column("id", sa.Uuid()),
                sa.column("at", sa.DateTime(timezone=True)),
                sa.column("action", sa.String()),
                sa.column("record_ids", sa.JSON()),
            )
            connection.execute(
                old.insert(),
                [
                    {
                        "id": listed,
                        "at": at,
                        "action": "case.list",
                        "record_ids": [str(i) for i in ids],
                    },
                    {"id": single, "at": at, "action": "case.read", "record_ids": None},
                ],
            )
        command.upgrade(config, "0008")
        if fresh_database.is_postgres:
            # Every policy and flag on the table survives the rebuild, whoever added it
            # (compared at this revision: later ones may add policies of their own).
            assert _row_security(engine) == security_before
        command.upgrade(config, "head")
        with engine.begin() as connection:
            _system(connection)
            rows = dict(
                connection.execute(
                    select(EVENTS.c.id, type_coerce(EVENTS.c.record_ids, LargeBinary))
                ).all()
            )
            if connection.dialect.name == "postgresql":
                assert [uuid.UUID(str(i)) for i in rows[listed]] == ids
                # The old event landed in its month's partition, and months ahead exist.
                months = partitions.month_partitions(connection)
                assert date(2025, 2, 1) in months
                this_month = partitions.month_start(datetime.now(UTC).date())
                assert partitions.add_months(this_month, 3) in months
                stored = connection.execute(
                    text(f"SELECT count(*) FROM {partitions.SCHEMA}.audit_events_2025_02")
                ).scalar_one()
                assert stored == 2
            else:
                assert rows[listed] == b"".join(i.bytes for i in ids)
            assert rows[single] is None
        command.downgrade(config, before)
        assert _row_security(engine) == security_before
        with engine.begin() as connection:
            _system(connection)
            rows = dict(connection.execute(sa.select(old.c.id, old.c.record_ids)).all())
            assert rows[listed] == [str(i) for i in ids]
            assert rows[single] is None
    finally:
        engine.dispose()


def _row_security(engine: Engine) -> object:
    with engine.begin() as connection:
        if connection.dialect.name != "postgresql":
            return None
        flags = connection.execute(
            text(
                "SELECT relrowsecurity, relforcerowsecurity FROM pg_class "
                "WHERE oid = 'public.audit_events'::regclass"
            )
        ).one()
        policies = connection.execute(
            text(
                "SELECT policyname, permissive, roles::text, cmd, qual, with_check "
                "FROM pg_policies WHERE tablename = 'audit_events' ORDER BY policyname"
            )
        ).all()
        return tuple(flags), [tuple(p) for p in policies]


# --- PostgreSQL: partitions ------------------------------------------------------------

postgres_only = pytest.mark.skipif(
    not Settings().database_url.startswith("postgresql")
    and not __import__("os").environ.get("OVC_TEST_DATABASE_URL"),
    reason="partitioning is PostgreSQL's",
)


@postgres_only
def test_an_insert_without_its_month_lands_in_the_default_partition_and_moves_later(
    owner: Engine,
) -> None:
    far = datetime(2041, 7, 3, 12, 0, tzinfo=UTC)
    event_id = _insert_event(owner, far)
    with owner.begin() as connection:
        _system(connection)
        in_default = connection.execute(
            text(f"SELECT count(*) FROM {partitions.DEFAULT_PARTITION} WHERE id = :id"),
            {"id": event_id},
        ).scalar_one()  # PostgreSQL only: psycopg binds UUIDs
        assert in_default == 1
        assert partitions.ensure_months(connection, date(2041, 7, 1), date(2041, 7, 1))
    with owner.begin() as connection:
        _system(connection)
        moved = connection.execute(
            text(f"SELECT count(*) FROM {partitions.SCHEMA}.audit_events_2041_07 WHERE id = :id"),
            {"id": event_id},
        ).scalar_one()
        left = connection.execute(
            text(f"SELECT count(*) FROM {partitions.DEFAULT_PARTITION} WHERE id = :id"),
            {"id": event_id},
        ).scalar_one()
        assert (moved, left) == (1, 0)
        connection.execute(text(f"DROP TABLE {partitions.SCHEMA}.audit_events_2041_07"))


@postgres_only
def test_the_app_role_reaches_partitions_only_through_the_parent(settings: Settings) -> None:
    engine = sync_engine(settings.database_url)
    try:
        with pytest.raises(DBAPIError, match="permission denied"), engine.begin() as connection:
            connection.execute(text(f"SELECT count(*) FROM {partitions.DEFAULT_PARTITION}"))
    finally:
        engine.dispose()


# --- archiving --------------------------------------------------------------------------


def test_the_archive_event_goes_to_the_network_secretariat() -> None:
    from ovc_api.audit.archive import NETWORK_SHORT_NAME
    from ovc_api.users.bootstrap import NETWORK_ORGANISATION

    assert NETWORK_ORGANISATION["short_name"] == NETWORK_SHORT_NAME


def test_archive_refuses_part_months_and_the_retention_period(
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_settings_env(monkeypatch, settings)
    out = tmp_path / "archive.ndjson"
    assert main(["audit", "archive", "--before", "2010-01-15", "--out", str(out)]) == 1
    assert "first day of a month" in capsys.readouterr().err
    recent = partitions.add_months(partitions.month_start(date.today()), -12)
    assert main(["audit", "archive", "--before", recent.isoformat(), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "retention period" in err and "--force" in err
    monkeypatch.setenv("OVC_AUDIT_RETENTION_YEARS", "0")
    assert main(["audit", "archive", "--before", "2010-01-01", "--out", str(out)]) == 1
    assert "audit_retention_years" in capsys.readouterr().err  # at least one year is kept
    assert not out.exists()


def test_archive_exports_whole_months_removes_them_and_is_audited(
    settings: Settings,
    owner: Engine,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_settings_env(monkeypatch, settings)
    with owner.begin() as connection:
        _system(connection)
        # Two archived months get partitions of their own; one event sits in the default.
        partitions.ensure_months(connection, date(2012, 3, 1), date(2012, 4, 1))
    old = [
        _insert_event(owner, datetime(2011, 12, 31, 23, 59, tzinfo=UTC)),
        _insert_event(owner, datetime(2012, 3, 10, 8, 0, tzinfo=UTC)),
        _insert_event(owner, datetime(2012, 4, 30, 23, 59, 59, tzinfo=UTC)),
    ]
    kept = _insert_event(owner, datetime(2012, 5, 1, 0, 0, tzinfo=UTC))
    out = tmp_path / "audit-before-2012-05.ndjson.gz"
    code = main(
        ["audit", "archive", "--before", "2012-05-01", "--out", str(out), "--operator", "ops-a"]
    )
    assert code == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    lines = [json.loads(line) for line in gzip.decompress(out.read_bytes()).splitlines()]
    assert [uuid.UUID(line["id"]) for line in lines] == old
    assert lines[0]["at"] == "2011-12-31T23:59:00Z"
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    assert digest in printed
    with owner.begin() as connection:
        _system(connection)
        remaining = set(
            connection.execute(
                select(EVENTS.c.id).where(EVENTS.c.at < datetime(2012, 6, 1, tzinfo=UTC))
            ).scalars()
        )
        assert remaining == {kept}
        event = connection.execute(
            select(EVENTS.c.detail, EVENTS.c.organisation_id)
            .where(EVENTS.c.action == "audit.archive")
            .order_by(EVENTS.c.at.desc())
            .limit(1)
        ).one()
        assert event.detail == f"before=2012-05-01 events=3 sha256={digest} by=ops-a"
        if connection.dialect.name == "postgresql":
            months = partitions.month_partitions(connection)
            assert date(2012, 3, 1) not in months and date(2012, 4, 1) not in months
            assert "audit_events_2012_03" in printed
    # Nothing is overwritten: the same file again is refused.
    assert main(["audit", "archive", "--before", "2012-05-01", "--out", str(out)]) == 1
    assert "exists" in capsys.readouterr().err
