"""Monthly partitions of `audit_events` on PostgreSQL.

The parent `public.audit_events` is partitioned by range of `at`; each month is a table
`ovc_audit.audit_events_YYYY_MM`, and `ovc_audit.audit_events_default` takes any row no
month exists for yet, so an insert never fails for lack of a partition. The partitions live
in their own schema, on which the application role has no privileges: it reads and writes
through the parent only, where row-level security applies (a partition has no policies).

`ovc-api migrate` and `ovc-api audit partitions` create months ahead; a month created after
rows for it landed in the default partition takes those rows over. All functions take a
synchronous connection of the schema owner, inside the caller's transaction.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import text
from sqlalchemy.engine import Connection

# Every statement here is built from constant table names and dates formatted by this module
# (partition bounds cannot be bind parameters): no caller's text reaches them.
# ruff: noqa: S608

SCHEMA = "ovc_audit"
PARENT = "public.audit_events"
DEFAULT_PARTITION = f"{SCHEMA}.audit_events_default"
MONTHS_AHEAD = 3


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def partition_name(month: date) -> str:
    return f"audit_events_{month.year:04d}_{month.month:02d}"


def _bound(month: date) -> str:
    return f"'{month.isoformat()} 00:00:00+00'"


def is_partitioned(connection: Connection) -> bool:
    if connection.dialect.name != "postgresql":
        return False
    return bool(
        connection.execute(
            text(
                "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
                "WHERE c.oid = to_regclass('public.audit_events')"
            )
        ).first()
    )


def month_partitions(connection: Connection) -> dict[date, str]:
    """The monthly partitions attached to the parent, by first day of their month."""
    rows = connection.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE i.inhparent = to_regclass('public.audit_events') AND n.nspname = :schema"
        ),
        {"schema": SCHEMA},
    ).scalars()
    months = {}
    for name in rows:
        parts = name.removeprefix("audit_events_").split("_")
        if len(parts) == 2 and all(p.isdigit() for p in parts):
            months[date(int(parts[0]), int(parts[1]), 1)] = name
    return months


def create_default_partition(connection: Connection) -> None:
    connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
    connection.execute(text(f"CREATE TABLE {DEFAULT_PARTITION} PARTITION OF {PARENT} DEFAULT"))


def ensure_month(connection: Connection, month: date) -> bool:
    """Create the month's partition if missing (moving its rows out of the default one)."""
    month = month_start(month)
    if month in month_partitions(connection):
        return False
    table = f"{SCHEMA}.{partition_name(month)}"
    low, high = _bound(month), _bound(add_months(month, 1))
    in_range = f"at >= {low} AND at < {high}"
    stranded = connection.execute(
        text(f"SELECT EXISTS (SELECT 1 FROM {DEFAULT_PARTITION} WHERE {in_range})")
    ).scalar_one()
    create = f"CREATE TABLE {table} PARTITION OF {PARENT} FOR VALUES FROM ({low}) TO ({high})"
    if not stranded:
        connection.execute(text(create))
        return True
    # Rows for this month already sit in the default partition: detach it (inserts wait for
    # this transaction), create the month, move the rows, attach the default again.
    connection.execute(text(f"ALTER TABLE {PARENT} DETACH PARTITION {DEFAULT_PARTITION}"))
    connection.execute(text(create))
    connection.execute(
        text(f"INSERT INTO {table} SELECT * FROM {DEFAULT_PARTITION} WHERE {in_range}")
    )
    connection.execute(text(f"DELETE FROM {DEFAULT_PARTITION} WHERE {in_range}"))
    connection.execute(text(f"ALTER TABLE {PARENT} ATTACH PARTITION {DEFAULT_PARTITION} DEFAULT"))
    return True


def ensure_months(connection: Connection, first: date, last: date) -> list[date]:
    """Every month from `first` to `last` (inclusive) has its partition; returns those made."""
    if not is_partitioned(connection):
        return []
    created = []
    month = month_start(first)
    while month <= month_start(last):
        if ensure_month(connection, month):
            created.append(month)
        month = add_months(month, 1)
    return created


def ensure_ahead(
    connection: Connection, today: date, months_ahead: int = MONTHS_AHEAD
) -> list[date]:
    """This month and the next `months_ahead`: run monthly (cron) or with every migrate."""
    this_month = month_start(today)
    return ensure_months(connection, this_month, add_months(this_month, months_ahead))
