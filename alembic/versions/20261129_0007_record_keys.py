"""Permanent random record keys for the cell-key perturbation of network statistics.

Each counted record (cases, children, families, services delivered, referrals) gets a
`record_key`: a random integer in [0, 2^31), drawn once and never changed. A network cell's
key is the sum of its records' keys modulo 256, so the same set of records always draws the
same noise (see ovc_api.stats.perturbation). Existing rows get their own random key; new
rows get one from the model (and from the server default, for rows inserted by hand).

Revision ID: 0007
Revises: 0004
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEYED_TABLES = ("cases", "children", "families", "service_deliveries", "referrals")
# Evaluated per row, also for the rows that exist when the column is added.
POSTGRES_RANDOM = "(floor(random() * 2147483648))::integer"
SQLITE_RANDOM = "(random() & 2147483647)"


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
    for table in KEYED_TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("record_key")
