"""Row-level security evaluated once per statement, not once per row (issue 12).

PostgreSQL inlines `ovc_current_org()` and `ovc_is_system()` (SQL functions, STABLE) into
each policy and evaluates them for every row it filters: a `current_setting()` and a cast
per row, which made a tenant's `count(*)` of its cases about twice the owner's. Written as
scalar sub-selects, `(SELECT ovc_current_org())`, each becomes an InitPlan evaluated once
per statement (the settings are transaction-local and constant within a statement).

Every policy of the schema is rewritten so, whichever revision added it: its USING and
WITH CHECK as PostgreSQL stores them (`pg_policies`), every call wrapped exactly once (one
already wrapped, as PostgreSQL deparses it, is left as it is). ALTER POLICY keeps the
policy's name, command, roles and permissiveness. Downgrade writes every call bare again:
the policies read back exactly as before. Migrations after this one create their policies
in the wrapped form (`once_per_statement=True` in `ovc_api.migration_helpers`).

Only policies change: the `ovc_network` views and the triggers call the functions as they
did. SQLite has no row-level security: nothing to do.

Revision ID: 0013_rls_initplans
Revises: 0012
Create Date: 2026-11-30
"""

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

from ovc_api.migration_helpers import per_row, per_statement

revision: str = "0013_rls_initplans"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "public"


def _rewrite(transform: Callable[[str], str]) -> None:
    """ALTER every policy of the schema whose USING or WITH CHECK `transform` changes."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    quote = bind.dialect.identifier_preparer.quote
    policies = bind.execute(
        sa.text(
            "SELECT tablename, policyname, qual, with_check FROM pg_policies "
            "WHERE schemaname = :schema ORDER BY tablename, policyname"
        ),
        {"schema": SCHEMA},
    ).all()
    for table, name, using, check in policies:
        clauses = []
        if using is not None and transform(using) != using:
            clauses.append(f"USING ({transform(using)})")
        if check is not None and transform(check) != check:
            clauses.append(f"WITH CHECK ({transform(check)})")
        if clauses:
            target = f"{quote(name)} ON {quote(SCHEMA)}.{quote(table)}"
            op.execute(sa.text(f"ALTER POLICY {target} {' '.join(clauses)}"))


def upgrade() -> None:
    _rewrite(per_statement)


def downgrade() -> None:
    _rewrite(per_row)
