"""PostgreSQL row-level security alone keeps tenants apart, even without the app's filter."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ovc_api.db import Database, set_tenant_context
from ovc_api.settings import Settings

from .conftest import Tenant

pytestmark = pytest.mark.skipif(
    not os.environ.get("OVC_TEST_DATABASE_URL"), reason="row-level security is PostgreSQL's"
)
TENANT_TABLES = ["users", "api_keys", "auth_sessions", "refresh_tokens", "audit_events"]


async def test_app_role_neither_owns_tables_nor_bypasses_rls(settings: Settings) -> None:
    database = Database.from_settings(settings)
    try:
        async with database.engine.connect() as conn:
            role = (
                await conn.execute(
                    text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
                )
            ).one()
            assert tuple(role) == (False, False)
            owned = (
                await conn.execute(
                    text(
                        "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' "
                        "AND tableowner = current_user"
                    )
                )
            ).scalar_one()
            assert owned == 0
            may_delete = (
                await conn.execute(
                    text("SELECT has_table_privilege(current_user, 'users', 'DELETE')")
                )
            ).scalar_one()
            assert may_delete is False
    finally:
        await database.engine.dispose()


async def test_rls_alone_hides_other_tenants_rows(
    settings: Settings, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    database = Database.from_settings(settings)
    try:
        async with database.session() as session, session.begin():
            await set_tenant_context(session, tenant_a.organisation_id)
            connection = await session.connection()
            for table in TENANT_TABLES:
                # No WHERE clause at all: the application-level filter is bypassed.
                orgs = {
                    row[0]
                    for row in await connection.execute(
                        text(f"SELECT DISTINCT organisation_id FROM {table}")
                    )
                }
                assert orgs <= {tenant_a.organisation_id}, table
            users = (await connection.execute(text("SELECT count(*) FROM users"))).scalar_one()
            assert users == len(tenant_a.actors)
        async with database.session() as session, session.begin():
            await set_tenant_context(session, None)
            connection = await session.connection()
            for table in TENANT_TABLES:
                count = (
                    await connection.execute(text(f"SELECT count(*) FROM {table}"))
                ).scalar_one()
                assert count == 0, f"{table} visible without a tenant"
        with pytest.raises(DBAPIError, match="row-level security"):
            async with database.session() as session, session.begin():
                await set_tenant_context(session, tenant_a.organisation_id)
                connection = await session.connection()
                await connection.execute(
                    text(
                        "INSERT INTO audit_events (id, organisation_id, at, action) "
                        "VALUES (:id, :org, now(), 'forged')"
                    ),
                    {"id": uuid.uuid4(), "org": tenant_b.organisation_id},
                )
    finally:
        await database.engine.dispose()
