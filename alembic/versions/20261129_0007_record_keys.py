"""Permanent random record keys for the cell-key perturbation of network statistics.

Each counted record (cases, children, families, services delivered, referrals) gets a
`record_key`: a random integer in [0, 2^31), drawn once and never changed. A network cell's
key is the sum of its records' keys modulo 256, so the same set of records always draws the
same noise (see ovc_api.stats.perturbation). Existing rows get their own random key; new
rows get one from the model (and from the server default, for rows inserted by hand).

On PostgreSQL network statistics read the `ovc_network` views (migration 0005): they get
the key column too, and a view of families (id and key only) joins the services' families.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEYED_TABLES = ("cases", "children", "families", "service_deliveries", "referrals")
# Evaluated per row, also for the rows that exist when the column is added.
POSTGRES_RANDOM = "(floor(random() * 2147483648))::integer"
SQLITE_RANDOM = "(random() & 2147483647)"
ACTIVE = "organisation_id IN (SELECT id FROM public.organisations WHERE active)"
# The views of migration 0005 (the same columns, in the same order), then the record key.
NETWORK_VIEWS = {
    "cases": (
        "SELECT id, organisation_id, child_id, status, risk_level, referral_source,"
        " NULL::uuid AS assigned_to, opened_on, closed_on, closure_reason{key} FROM public.cases"
    ),
    "children": (
        "SELECT id, organisation_id, province, district, sex, care_arrangement, date_of_birth"
        "{key} FROM public.children"
    ),
    "service_deliveries": (
        "SELECT organisation_id, child_id, family_id, service_type, province, district,"
        " delivered_on{key} FROM public.service_deliveries"
    ),
    "referrals": (
        "SELECT organisation_id, status, created_at, decided_at, closed_at{key}"
        " FROM public.referrals"
    ),
}
FAMILIES_VIEW = "SELECT id, organisation_id, record_key FROM public.families"


def _network_views(key: str) -> None:
    for table, body in NETWORK_VIEWS.items():
        op.execute(f"DROP VIEW IF EXISTS ovc_network.{table}")
        op.execute(
            f"CREATE VIEW ovc_network.{table} WITH (security_barrier) AS "
            f"{body.format(key=key)} WHERE {ACTIVE}"
        )


def _has_network_schema() -> bool:
    return bool(op.get_bind().exec_driver_sql("SELECT to_regnamespace('ovc_network')").scalar())


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # A volatile default makes PostgreSQL rewrite the table, drawing one value per row.
        for table in KEYED_TABLES:
            op.add_column(
                table,
                sa.Column(
                    "record_key",
                    sa.Integer(),
                    server_default=sa.text(POSTGRES_RANDOM),
                    nullable=False,
                ),
            )
        if _has_network_schema():
            _network_views(", record_key")
            # The views read as their owner, which row-level security binds too (as in 0005).
            owner = op.get_bind().exec_driver_sql("SELECT quote_ident(current_user)").scalar()
            op.execute(
                "CREATE POLICY owner_reads_network_facts ON families FOR SELECT "
                f"TO {owner} USING (true)"
            )
            op.execute(
                "CREATE VIEW ovc_network.families WITH (security_barrier) AS "
                f"{FAMILIES_VIEW} WHERE {ACTIVE}"
            )
        return
    # SQLite cannot add a column with an expression default: the table is rebuilt, and the
    # copy of the existing rows draws the default once per row.
    for table in KEYED_TABLES:
        with op.batch_alter_table(table, recreate="always") as batch_op:
            batch_op.add_column(
                sa.Column(
                    "record_key",
                    sa.Integer(),
                    server_default=sa.text(SQLITE_RANDOM),
                    nullable=False,
                )
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql" and _has_network_schema():
        op.execute("DROP VIEW IF EXISTS ovc_network.families")
        op.execute("DROP POLICY IF EXISTS owner_reads_network_facts ON families")
        _network_views("")
    for table in KEYED_TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("record_key")
