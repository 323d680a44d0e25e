"""PostgreSQL row-level security alone keeps tenants apart, even without the app's filter."""

from __future__ import annotations

import os
import uuid

import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ovc_api.db import Database, set_tenant_context
from ovc_api.settings import Settings

from .conftest import Factory, Tenant, system_session

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


async def test_rls_alone_shares_referred_records_read_only_while_accepted(
    settings: Settings, app: FastAPI, factory: Factory, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    """Receiver B reads A's referred child only while the referral is accepted, never writes
    it; a third organisation never sees it. No application filter is involved."""
    org_a = tenant_a.organisation_id
    child_id = await factory.child(org_a)
    case_id = await factory.case(org_a, child_id=child_id)
    third = await factory.organisation()
    ids = await factory.sharing(org_a, case_id, child_id, tenant_b.organisation_id)
    database = Database.from_settings(settings)

    async def visible_to(org: uuid.UUID) -> tuple[int, int, int]:
        async with database.session() as session, session.begin():
            await set_tenant_context(session, org)
            conn = await session.connection()
            children = (
                await conn.execute(
                    text("SELECT count(*) FROM children WHERE id = :id"), {"id": child_id}
                )
            ).scalar_one()
            cases = (
                await conn.execute(
                    text("SELECT count(*) FROM cases WHERE id = :id"), {"id": case_id}
                )
            ).scalar_one()
            updated = (
                await conn.execute(
                    text("UPDATE children SET village = 'changed' WHERE id = :id"), {"id": child_id}
                )
            ).rowcount
            return children, cases, updated

    async def set_status(status: str) -> None:
        async with system_session(app) as session:
            await (await session.connection()).execute(
                text("UPDATE referrals SET status = :s WHERE id = :id"),
                {"s": status, "id": ids["referral_id"]},
            )

    try:
        assert await visible_to(tenant_b.organisation_id) == (0, 0, 0)  # pending
        await set_status("accepted")
        assert await visible_to(tenant_b.organisation_id) == (1, 1, 0)  # read, never write
        assert await visible_to(third) == (0, 0, 0)
        await set_status("completed")
        assert await visible_to(tenant_b.organisation_id) == (0, 0, 0)
        assert (await visible_to(org_a))[:2] == (1, 1)
    finally:
        await database.engine.dispose()
