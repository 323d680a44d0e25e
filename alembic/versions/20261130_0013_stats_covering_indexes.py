"""Statistics read narrow indexes instead of whole rows (issue 12): covering indexes.

Each statistic reads, for one organisation (or every active member), a handful of a case's,
a child's or a service's columns. These PostgreSQL indexes hold exactly those columns
(`INCLUDE`), so the statistics' scans are index-only scans of a few dozen bytes per row
instead of heap scans of whole rows (names, summaries, timestamps). The answers do not
change: only where PostgreSQL reads them from. SQLite keeps its tables as they are (no
INCLUDE; its statistics read the tables as before).

No new table: row-level security is unchanged (an index is read under its table's
policies).

Revision ID: 0013_stats
Revises: 0012
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013_stats"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# name -> definition (names also in ovc_api.migration_helpers.STATS_INDEXES, which keeps
# them out of the model comparison: SQLAlchemy models cannot say INCLUDE portably)
STATS_INDEXES = {
    "ix_cases_stats": "cases (organisation_id, opened_on) INCLUDE (closed_on, id, child_id,"
    " status, risk_level, closure_reason, record_key, family_id)",
    "ix_children_stats": "children (organisation_id, id) INCLUDE (province, district, sex,"
    " care_arrangement, date_of_birth, record_key)",
    "ix_service_deliveries_stats": "service_deliveries (organisation_id, delivered_on)"
    " INCLUDE (service_type, child_id, family_id, province, district, record_key)",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, definition in STATS_INDEXES.items():
        op.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {definition}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in STATS_INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
