"""Bytes an audited list read of 50 rows costs on PostgreSQL, before and after migration 0008.

Run by hand (not a test): creates two scratch databases on a PostgreSQL server (default the
one of OVC_TEST_DATABASE_URL, as a superuser), migrates one to 0004 (ids as JSON text) and
one to head (ids as uuid[], partitioned by month), inserts the same N list-read events in
each and prints the column, row and table-plus-index bytes per event. Drops both at the end.

    .venv/bin/python bench/audit_size.py --events 20000
"""

from __future__ import annotations

import argparse
import json
import os
import uuid
from datetime import UTC, datetime, timedelta

from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from ovc_api.db import alembic_config

ROWS_PER_PAGE = 50


def _insert(engine, events: list[dict[str, object]], as_json: bool) -> None:  # type: ignore[no-untyped-def]
    ids = "CAST(:ids AS jsonb)" if as_json else "CAST(:ids AS uuid[])"
    statement = text(
        "INSERT INTO audit_events (id, organisation_id, at, actor_user_id, action, "
        "resource_type, request_id, client_ip, record_ids) VALUES (:id, :org, :at, :user, "
        f"'case.list', 'case', :request_id, '203.0.113.7', {ids})"
    )
    with engine.begin() as connection:
        connection.execute(text("SELECT set_config('ovc.system', 'on', true)"))
        org, user = uuid.uuid4(), uuid.uuid4()
        connection.execute(
            text(
                "INSERT INTO organisations (id, name, short_name, kind, provinces, active, "
                "created_at, updated_at, version) VALUES (:id, 'Bench NGO', 'BENCH', 'ngo', "
                "'[]', true, now(), now(), 1)"
            ),
            {"id": org},
        )
        connection.execute(
            text(
                "INSERT INTO users (id, organisation_id, email, full_name, role, password_hash, "
                "active, must_change_password, password_changed_at, created_at, updated_at, "
                "version) VALUES (:id, :org, 'b@example.org', 'B', 'caseworker', 'x', true, "
                "false, now(), now(), now(), 1)"
            ),
            {"id": user, "org": org},
        )
        rows = []
        for event in events:
            page = event["ids"]
            value = (
                json.dumps([str(i) for i in page])
                if as_json
                else "{" + ",".join(str(i) for i in page) + "}"
            )
            rows.append({**event, "org": org, "user": user, "ids": value})
        connection.execute(statement, rows)
        connection.execute(text("ANALYZE audit_events"))


def _measure(engine) -> dict[str, float]:  # type: ignore[no-untyped-def]
    with engine.begin() as connection:
        connection.execute(text("SELECT set_config('ovc.system', 'on', true)"))
        count, column, row = connection.execute(
            text(
                "SELECT count(*), avg(pg_column_size(record_ids)), avg(pg_column_size(e.*)) "
                "FROM audit_events e"
            )
        ).one()
        total = connection.execute(
            text(
                "SELECT coalesce((SELECT sum(pg_total_relation_size(relid)) "
                "FROM pg_partition_tree('audit_events')), 0) + "
                "pg_total_relation_size('audit_events')"
            )
        ).scalar_one()
        return {
            "events": count,
            "record_ids bytes/event": float(column),
            "row bytes/event": float(row),
            "table+indexes bytes/event": float(total) / count,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--admin-url", default=os.environ.get("OVC_TEST_DATABASE_URL"))
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args()
    if not args.admin_url:
        raise SystemExit("set OVC_TEST_DATABASE_URL or pass --admin-url (a superuser)")
    admin_url = make_url(args.admin_url).set(drivername="postgresql+psycopg")
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    start = datetime.now(UTC) - timedelta(days=20)
    events = [
        {
            "id": uuid.uuid4(),
            "at": start + timedelta(seconds=i * 60),
            "request_id": uuid.uuid4().hex,
            "ids": [uuid.uuid4() for _ in range(ROWS_PER_PAGE)],
        }
        for i in range(args.events)
    ]
    results = {}
    for label, revision in (("before (0004, JSON text)", "0004"), ("after (0008, uuid[])", "head")):
        name = f"ovc_audit_size_{uuid.uuid4().hex[:8]}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = admin_url.set(database=name).render_as_string(hide_password=False)
        engine = create_engine(url)
        try:
            command.upgrade(alembic_config(url), revision)
            _insert(engine, events, as_json=revision == "0004")
            results[label] = _measure(engine)
        finally:
            engine.dispose()
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    print(f"{'':28} " + " ".join(f"{k:>26}" for k in next(iter(results.values()))))
    for label, figures in results.items():
        print(f"{label:28} " + " ".join(f"{v:>26,.0f}" for v in figures.values()))


if __name__ == "__main__":
    main()
