"""Audit storage that lasts: list reads' ids packed, monthly partitions on PostgreSQL.

`record_ids` becomes `uuid[]` on PostgreSQL (16 bytes an id instead of ~40 as JSON text) and
a blob of packed 16-byte ids on SQLite. On PostgreSQL `audit_events` is rebuilt as a table
partitioned by month of `at` (primary key `(id, at)`, as partitioning requires), with a
default partition and a partition per month from the oldest event to three months ahead
(see ovc_api.audit.partitions). Downgrade rebuilds today's table (ids as JSON text).
Row-level security (flags and every policy on the table, whichever revision added them) is
read from the catalogue and recreated on the rebuilt table, both ways.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from ovc_api.audit import partitions

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
PACKED_IDS = sa.LargeBinary().with_variant(postgresql.ARRAY(postgresql.UUID()), "postgresql")
INDEXES = {
    "ix_audit_events_org_at": ["organisation_id", "at", "id"],
    "ix_audit_events_resource": ["organisation_id", "resource_type", "resource_id", "at"],
    "ix_audit_events_case": ["organisation_id", "case_id", "at"],
}
COLUMNS = (
    "id, organisation_id, at, actor_user_id, actor_api_key_id, action, resource_type, "
    "resource_id, changed_fields, via_referral_id, request_id, client_ip, detail, case_id"
)
BATCH = 1000


def _create_table(name: str, record_ids_type: sa.types.TypeEngine, partitioned: bool) -> None:
    primary_key = ["id", "at"] if partitioned else ["id"]
    options = {"postgresql_partition_by": "RANGE (at)"} if partitioned else {}
    op.create_table(
        name,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_user_id", sa.Uuid(), nullable=True),
        sa.Column("actor_api_key_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("resource_type", sa.String(length=40), nullable=True),
        sa.Column("resource_id", sa.Uuid(), nullable=True),
        sa.Column("changed_fields", JSON_TYPE, nullable=True),
        sa.Column("via_referral_id", sa.Uuid(), nullable=True),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("client_ip", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.String(length=200), nullable=True),
        sa.Column("record_ids", record_ids_type, nullable=True),
        sa.Column("case_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_api_key_id"],
            ["api_keys.id"],
            name="fk_audit_events_actor_api_key_id_api_keys",
        ),
        sa.ForeignKeyConstraint(
            ["actor_user_id"], ["users.id"], name="fk_audit_events_actor_user_id_users"
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name="fk_audit_events_organisation_id_organisations",
        ),
        sa.PrimaryKeyConstraint(*primary_key, name="pk_audit_events"),
        **options,
    )


@dataclass(frozen=True)
class Security:
    """Row-level security of today's table, whoever added it (this revision rebuilds it)."""

    enabled: bool
    forced: bool
    policies: list[str]  # CREATE POLICY statements


def _security() -> Security:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return Security(False, False, [])
    enabled, forced = bind.execute(
        sa.text(
            "SELECT relrowsecurity, relforcerowsecurity FROM pg_class "
            "WHERE oid = 'public.audit_events'::regclass"
        )
    ).one()
    policies = []
    for name, permissive, roles, command, using, check in bind.execute(
        sa.text(
            "SELECT policyname, permissive, roles, cmd, qual, with_check FROM pg_policies "
            "WHERE schemaname = 'public' AND tablename = 'audit_events' ORDER BY policyname"
        )
    ):
        to = ", ".join(r if r == "public" else f'"{r}"' for r in roles)
        statement = f'CREATE POLICY "{name}" ON audit_events AS {permissive} FOR {command} TO {to}'
        if using is not None:
            statement += f" USING ({using})"
        if check is not None:
            statement += f" WITH CHECK ({check})"
        policies.append(statement)
    return Security(bool(enabled), bool(forced), policies)


def _set_aside(old_name: str) -> Security:
    """Rename today's table out of the way (its index names are taken over by the new one)."""
    security = _security()
    for index in INDEXES:
        op.drop_index(index, table_name="audit_events")
    op.rename_table("audit_events", old_name)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE {old_name} RENAME CONSTRAINT pk_audit_events TO pk_{old_name}")
    return security


def _finish(security: Security) -> None:
    for index, columns in INDEXES.items():
        op.create_index(index, "audit_events", columns, unique=False)
    if op.get_bind().dialect.name != "postgresql":
        return
    if security.enabled:
        op.execute("ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY")
    if security.forced:
        op.execute("ALTER TABLE audit_events FORCE ROW LEVEL SECURITY")
    for statement in security.policies:
        op.execute(statement)


def _copy_sqlite(source: str, convert: object) -> None:
    """Row by row in batches (SQLite has no unhex() before 3.41): ids converted in Python."""
    bind = op.get_bind()
    rows = bind.execute(sa.text(f"SELECT {COLUMNS}, record_ids FROM {source}")).fetchall()
    names = [c.strip() for c in COLUMNS.split(",")] + ["record_ids"]
    insert = sa.text(
        f"INSERT INTO audit_events ({', '.join(names)}) "
        f"VALUES ({', '.join(':' + n for n in names)})"
    )
    for start in range(0, len(rows), BATCH):
        batch = [dict(zip(names, row, strict=True)) for row in rows[start : start + BATCH]]
        for values in batch:
            values["record_ids"] = convert(values["record_ids"])  # type: ignore[operator]
        if batch:
            bind.execute(insert, batch)


def _pack(value: object) -> bytes | None:
    if value is None:
        return None
    ids = json.loads(value) if isinstance(value, str) else value
    if not isinstance(ids, list):
        return None
    return b"".join(uuid.UUID(str(i)).bytes for i in ids)


def _unpack(value: object) -> str | None:
    if value is None:
        return None
    raw = bytes(value)  # type: ignore[call-overload]
    return json.dumps([str(uuid.UUID(bytes=raw[i : i + 16])) for i in range(0, len(raw), 16)])


def upgrade() -> None:
    bind = op.get_bind()
    is_postgres = bind.dialect.name == "postgresql"
    security = _set_aside("audit_events_unpacked")
    _create_table("audit_events", PACKED_IDS, partitioned=is_postgres)
    if not is_postgres:
        _copy_sqlite("audit_events_unpacked", _pack)
    else:
        connection = bind
        partitions.create_default_partition(connection)
        today = datetime.now(UTC).date()
        oldest = connection.execute(sa.text("SELECT min(at) FROM audit_events_unpacked")).scalar()
        first = partitions.add_months(partitions.month_start(today), -1)
        if oldest is not None:
            first = min(first, partitions.month_start(oldest.astimezone(UTC).date()))
        last = partitions.add_months(partitions.month_start(today), partitions.MONTHS_AHEAD)
        partitions.ensure_months(connection, first, last)
        op.execute(
            f"INSERT INTO audit_events ({COLUMNS}, record_ids) SELECT {COLUMNS}, "
            "CASE WHEN jsonb_typeof(record_ids) = 'array' THEN ARRAY("
            "SELECT e::uuid FROM jsonb_array_elements_text(record_ids) WITH ORDINALITY "
            "AS t(e, n) ORDER BY n) END FROM audit_events_unpacked"
        )
    op.drop_table("audit_events_unpacked")
    _finish(security)


def downgrade() -> None:
    bind = op.get_bind()
    is_postgres = bind.dialect.name == "postgresql"
    security = _set_aside("audit_events_partitioned")
    _create_table("audit_events", JSON_TYPE, partitioned=False)
    if not is_postgres:
        _copy_sqlite("audit_events_partitioned", _unpack)
    else:
        op.execute(
            f"INSERT INTO audit_events ({COLUMNS}, record_ids) SELECT {COLUMNS}, "
            "to_jsonb(record_ids::text[]) FROM audit_events_partitioned"
        )
    op.drop_table("audit_events_partitioned")
    if is_postgres:
        op.execute(f"DROP SCHEMA IF EXISTS {partitions.SCHEMA} CASCADE")
    _finish(security)
