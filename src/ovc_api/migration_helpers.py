"""Row-level security DDL shared by migrations.

Each tenant-owned table gets one policy: rows of the organisation the transaction is bound
to (ovc_current_org()), or every row for system work (ovc_is_system()), plus any widening the
application's tenancy rules also allow. FORCE makes the table owner obey it too.

New policies call the two functions as scalar sub-selects, `(SELECT ovc_current_org())`: the
planner makes each an InitPlan, evaluated once per statement, where a bare call is inlined
and evaluated for every row (a `current_setting()` and a cast per row: about twice the time
of a tenant's `count(*)`). Migration 0013 rewrote every policy of 0001-0012 so; migrations
after it pass `once_per_statement=True` to `enable_tenant_rls` and `add_policy` (or use
`per_statement()` on their own SQL). The helpers' default stays the bare form so that
re-running migrations 0001-0012 still produces exactly what they always did.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

from alembic import op

TENANT_RULE = "organisation_id = ovc_current_org() OR ovc_is_system()"

_FUNCTION = r"(?:public\.)?(?:ovc_current_org|ovc_is_system)"
# A call of either tenant function: as a scalar sub-select (as written, or as PostgreSQL
# deparses it: `( SELECT ovc_current_org() AS ovc_current_org)`), or bare (not part of a
# longer name or of another schema's function).
_CALL = re.compile(
    rf"(?P<wrapped>\(\s*SELECT\s+(?P<inner>{_FUNCTION})\(\)(?:\s+AS\s+\w+)?\s*\))"
    rf"|(?<![\w.])(?P<bare>{_FUNCTION})\(\)",
    re.IGNORECASE,
)


def earlier_migration(beside: str, name: str) -> ModuleType:
    """The module of an earlier migration in the same directory as `beside` (a migration's
    `__file__`): the bodies of functions it defined, to extend them or restore them."""
    path = Path(beside).with_name(f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"ovc_migration_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def per_row(expression: str) -> str:
    """`expression` with every tenant-function call bare (the form of migrations 0001-0012)."""
    return _CALL.sub(lambda m: f"{m['inner'] or m['bare']}()", expression)


def per_statement(expression: str) -> str:
    """`expression` with every bare tenant-function call made a scalar sub-select, which the
    planner evaluates once per statement; calls already wrapped are left as they are."""
    return _CALL.sub(lambda m: m["wrapped"] or f"(SELECT {m['bare']}())", expression)


def enable_tenant_rls(
    table: str, widening: str | None = None, *, once_per_statement: bool = False
) -> None:
    """The tenant rule (plus `widening`) on `table`; new migrations pass
    `once_per_statement=True` (see the module's docstring)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    rule = TENANT_RULE if widening is None else f"{TENANT_RULE} OR ({widening})"
    if once_per_statement:
        rule = per_statement(rule)
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
    op.execute(f"CREATE POLICY tenant_isolation ON {table} USING ({rule}) WITH CHECK ({rule})")


def add_policy(
    table: str,
    name: str,
    using: str,
    *,
    command: str = "SELECT",
    once_per_statement: bool = False,
) -> None:
    """A further permissive policy (OR-ed with the tenant rule) for one command.

    Read-only sharing (records referred to another organisation) uses SELECT policies: an
    UPDATE must pass the tenant rule, so the receiver can read but never change them.
    New migrations pass `once_per_statement=True` (see the module's docstring).
    """
    if op.get_bind().dialect.name != "postgresql":
        return
    if once_per_statement:
        using = per_statement(using)
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
# Tables that are no model: written only by the database's own triggers (PostgreSQL).
DATABASE_ONLY_TABLES = frozenset({"case_facts", "service_facts", "service_summary", "case_rollups"})


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Leave database-only indexes and tables out of autogenerate and model comparison."""
    if type_ == "table" and name in DATABASE_ONLY_TABLES:
        return False
    return not (type_ == "index" and name in DATABASE_ONLY_INDEXES)
