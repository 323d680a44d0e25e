"""Identity walls: API keys answer to a responsible user; network resets are recorded.

- `api_keys.responsible_user_id`: the person a key (a named service account of its
  organisation) answers to; existing keys get their creator.
- `users.password_reset_by_network_at`: when the network administrator last reset the
  user's password, told to the user at their next login.
- PostgreSQL: the network administrator's actions on a member organisation's administrator
  are also written in that organisation's audit log (an INSERT policy for exactly that).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ovc_api.migration_helpers import add_policy, drop_policy

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The network administrator's transaction may add an audit row to a member organisation's
# log only about that organisation's administrators (the users it can see): one of them, or a
# list of them.
NETWORK_AUDIT = (
    "current_setting('ovc.network', true) = 'on' AND resource_type = 'user' AND ("
    "resource_id IN (SELECT id FROM users WHERE users.organisation_id = "
    "audit_events.organisation_id AND users.role = 'org_admin') "
    "OR (resource_id IS NULL AND action = 'user.list' AND organisation_id IN "
    "(SELECT organisation_id FROM users WHERE users.role = 'org_admin')))"
)


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("password_reset_by_network_at", sa.DateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("responsible_user_id", sa.Uuid(), nullable=True))
    op.execute("UPDATE api_keys SET responsible_user_id = created_by")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.alter_column("responsible_user_id", existing_type=sa.Uuid(), nullable=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_api_keys_responsible_user_id_users"),
            "users",
            ["responsible_user_id"],
            ["id"],
        )
        batch_op.create_index(
            batch_op.f("ix_api_keys_responsible_user_id"), ["responsible_user_id"], unique=False
        )
    add_policy("audit_events", "network_audits_member_admins", NETWORK_AUDIT, command="INSERT")


def downgrade() -> None:
    drop_policy("audit_events", "network_audits_member_admins")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_responsible_user_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_api_keys_responsible_user_id_users"), type_="foreignkey"
        )
        batch_op.drop_column("responsible_user_id")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("password_reset_by_network_at")
