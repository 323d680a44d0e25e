"""Row-level security DDL shared by migrations.

Each tenant-owned table gets one policy: rows of the organisation the transaction is bound
to (ovc_current_org()), or every row for system work (ovc_is_system()), plus any widening the
application's tenancy rules also allow. FORCE makes the table owner obey it too.
"""

from __future__ import annotations

from alembic import op

TENANT_RULE = "organisation_id = ovc_current_org() OR ovc_is_system()"


def enable_tenant_rls(table: str, widening: str | None = None) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    rule = TENANT_RULE if widening is None else f"{TENANT_RULE} OR ({widening})"
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
    op.execute(f"CREATE POLICY tenant_isolation ON {table} USING ({rule}) WITH CHECK ({rule})")


def add_policy(table: str, name: str, using: str, *, command: str = "SELECT") -> None:
    """A further permissive policy (OR-ed with the tenant rule) for one command.

    Read-only sharing (records referred to another organisation) uses SELECT policies: an
    UPDATE must pass the tenant rule, so the receiver can read but never change them.
    """
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"DROP POLICY IF EXISTS {name} ON {table}")
    clause = "WITH CHECK" if command == "INSERT" else "USING"
    op.execute(f"CREATE POLICY {name} ON {table} FOR {command} {clause} ({using})")


def drop_policy(table: str, name: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"DROP POLICY IF EXISTS {name} ON {table}")


def disable_tenant_rls(table: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
    op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")


# Indexes Alembic's model comparison cannot express (PostgreSQL operator classes).
DATABASE_ONLY_INDEXES = frozenset({"ix_children_search_trgm"})


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Leave database-only indexes out of autogenerate and model comparison."""
    return not (type_ == "index" and name in DATABASE_ONLY_INDEXES)
