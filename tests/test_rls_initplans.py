"""Row-level security reads the tenant settings once per statement (migration 0013).

A policy that calls `ovc_current_org()` or `ovc_is_system()` bare has them inlined and
evaluated for every row; as scalar sub-selects they are InitPlans, evaluated once.
"""

from __future__ import annotations

import os

import pytest
from sqlalchemy import text

from ovc_api.db import Database, set_tenant_context
from ovc_api.migration_helpers import per_row, per_statement
from ovc_api.settings import Settings

from .conftest import Tenant

postgres_only = pytest.mark.skipif(
    not os.environ.get("OVC_TEST_DATABASE_URL"), reason="row-level security is PostgreSQL's"
)
FUNCTIONS = ("ovc_current_org()", "ovc_is_system()")


def _bare_calls(expression: str) -> int:
    """Calls of the tenant functions not written as a scalar sub-select."""
    return sum(expression.count(call) - expression.count(f"SELECT {call}") for call in FUNCTIONS)


def test_per_statement_wraps_every_call_once_and_per_row_undoes_it() -> None:
    rule = "organisation_id = ovc_current_org() OR ovc_is_system()"
    wrapped = per_statement(rule)
    assert wrapped == "organisation_id = (SELECT ovc_current_org()) OR (SELECT ovc_is_system())"
    assert per_statement(wrapped) == wrapped
    assert per_row(wrapped) == rule
    # As PostgreSQL deparses a wrapped call: left alone, and unwrapped by per_row.
    deparsed = (
        "((organisation_id = ( SELECT ovc_current_org() AS ovc_current_org)) OR ovc_is_system())"
    )
    assert per_statement(deparsed) == (
        "((organisation_id = ( SELECT ovc_current_org() AS ovc_current_org))"
        " OR (SELECT ovc_is_system()))"
    )
    assert per_row(deparsed) == "((organisation_id = ovc_current_org()) OR ovc_is_system())"
    # Other functions, even with a similar name, are not touched.
    other = "my_ovc_current_org() = x.ovc_is_system()"
    assert per_statement(other) == per_row(other) == other


@postgres_only
async def test_no_policy_calls_the_tenant_functions_per_row(settings: Settings) -> None:
    database = Database.from_settings(settings, owner=True)
    try:
        async with database.engine.connect() as conn:
            policies = (
                await conn.execute(
                    text(
                        "SELECT tablename, policyname, qual, with_check FROM pg_policies "
                        "WHERE schemaname = 'public'"
                    )
                )
            ).all()
    finally:
        await database.engine.dispose()
    calling = 0
    for table, name, using, check in policies:
        for expression in (using, check):
            if expression is None:
                continue
            assert _bare_calls(expression) == 0, (table, name, expression)
            calling += any(f"SELECT {call}" in expression for call in FUNCTIONS)
    assert calling >= 40  # every tenant table's rule and the widenings: not vacuous


@postgres_only
@pytest.mark.parametrize("table", ["cases", "children", "service_deliveries", "audit_events"])
async def test_tenant_scoped_count_reads_the_settings_once(
    settings: Settings, tenant_a: Tenant, table: str
) -> None:
    """As the application role, bound to an organisation: the policies' function calls are
    InitPlans, and no scan filters each row through `current_setting()`."""
    database = Database.from_settings(settings)
    try:
        async with database.session() as session, session.begin():
            await set_tenant_context(session, tenant_a.organisation_id)
            connection = await session.connection()
            plan = "\n".join(
                row[0]
                for row in await connection.execute(
                    text(f"EXPLAIN (COSTS OFF) SELECT count(*) FROM {table}")
                )
            )
    finally:
        await database.engine.dispose()
    assert "InitPlan" in plan, plan
    # A bare call would be inlined into the scan's filter: `NULLIF(current_setting(...`.
    assert "current_setting" not in plan, plan
