"""PostgreSQL row-level security alone keeps tenants apart, even without the app's filter."""

from __future__ import annotations

import os
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ovc_api.db import Database, set_tenant_context
from ovc_api.settings import Settings

from .conftest import Factory, Tenant, system_session
from .matrix_children import NEW_CHILD as CHILD

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


def _permission_denied() -> Any:
    """PostgreSQL's insufficient_privilege (42501): a missing grant or the referral guard."""
    return pytest.raises(DBAPIError, match="InsufficientPrivilege")


async def _as_app_role(
    settings: Settings, organisation_id: uuid.UUID | None, statement: str, **params: Any
) -> Any:
    """One statement as the application role, in its own transaction, with every switch
    it could flip on (ovc.system, ovc.network)."""
    database = Database.from_settings(settings)
    try:
        async with database.session() as session, session.begin():
            await set_tenant_context(session, organisation_id)
            connection = await session.connection()
            await connection.execute(
                text(
                    "SELECT set_config('ovc.system', 'on', true),"
                    " set_config('ovc.network', 'on', true)"
                )
            )
            return await connection.execute(text(statement), params)
    finally:
        await database.engine.dispose()


@pytest.mark.parametrize("table", ["audit_events", "revisions"])
async def test_audit_and_revisions_are_append_only_for_the_app_role(
    settings: Settings, client: httpx.AsyncClient, tenant_a: Tenant, table: str
) -> None:
    org = tenant_a.organisation_id
    # Something in both tables: a child created over HTTP leaves an audit row and a revision.
    created = await client.post(
        "/api/v1/children", json=CHILD, headers=tenant_a["caseworker"].headers
    )
    assert created.status_code == 201, created.text
    child_id = created.json()["id"]
    await client.patch(
        f"/api/v1/children/{child_id}",
        json={"village": "Ou Lmun"},
        headers={**tenant_a["caseworker"].headers, "If-Match": created.headers["ETag"]},
    )
    count = f"SELECT count(*) FROM {table} WHERE organisation_id = :org"
    assert (await _as_app_role(settings, org, count, org=org)).scalar_one() > 0
    with _permission_denied():
        await _as_app_role(settings, org, f"UPDATE {table} SET organisation_id = organisation_id")
    with _permission_denied():
        await _as_app_role(settings, org, f"DELETE FROM {table}")
    with _permission_denied():
        await _as_app_role(settings, org, f"TRUNCATE {table}")


async def test_system_switch_opens_nothing_to_the_app_role(
    settings: Settings, factory: Factory, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    """Without a tenant the app role reads no tenant's row, ovc.system on or not; with one it
    reads only that tenant's rows. Every table under row-level security is tried."""
    for tenant in (tenant_a, tenant_b):
        child = await factory.child(tenant.organisation_id)
        case = await factory.case(tenant.organisation_id, child_id=child)
        await factory.casework(tenant.organisation_id, case)
    third = await factory.organisation()
    child = await factory.child(tenant_a.organisation_id)
    case = await factory.case(tenant_a.organisation_id, child_id=child)
    await factory.sharing(tenant_a.organisation_id, case, child, third)
    tables = [
        row[0]
        for row in await _as_app_role(
            settings,
            None,
            "SELECT relname FROM pg_class JOIN pg_namespace n ON n.oid = relnamespace "
            "WHERE nspname = 'public' AND relkind IN ('r', 'p') AND relrowsecurity",
        )
    ]
    assert {"children", "cases", "users", "referrals", "audit_events"} <= set(tables)
    # Read by every bound member on purpose (test_care covers who writes them): the care
    # facilities directory and the organisations' monitoring schedules.
    await factory.facility(tenant_a.organisation_id)
    shared = {"care_facilities", "care_settings"}
    for table in tables:
        statement = f"SELECT count(*) FROM {table}"
        assert (await _as_app_role(settings, None, statement)).scalar_one() == 0, table
        if table in shared:
            continue
        statement = f"SELECT DISTINCT organisation_id FROM {table}"
        seen = {row[0] for row in await _as_app_role(settings, tenant_b.organisation_id, statement)}
        assert seen <= {tenant_b.organisation_id}, table


async def test_pre_tenant_lookups_answer_one_organisation_for_a_credential(
    settings: Settings, tenant_a: Tenant
) -> None:
    actor = tenant_a["caseworker"]
    found = await _as_app_role(settings, None, "SELECT ovc_login_organisation(:e)", e=actor.email)
    assert found.scalar_one() == tenant_a.organisation_id
    unknown = "SELECT ovc_login_organisation('nobody@example.org')"
    assert (await _as_app_role(settings, None, unknown)).scalar_one() is None
    forged = "SELECT ovc_api_key_organisation('000000000000', 'x')"
    assert (await _as_app_role(settings, None, forged)).scalar_one() is None


async def test_network_views_hold_no_names_or_free_notes(settings: Settings) -> None:
    columns = {
        row[0]
        for row in await _as_app_role(
            settings,
            None,
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'ovc_network'",
        )
    }
    assert columns, "the ovc_network views are missing"
    assert not {c for c in columns if "name" in c or c in {"village", "commune", "reason"}}


async def test_referral_receiver_changes_only_the_status(
    settings: Settings, factory: Factory, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    """The receiver of an accepted referral cannot point it at another child (which it would
    then read), re-own it or edit what the sender wrote; the sender cannot re-point it either,
    and nobody forges a referral of another organisation's case."""
    org_a, org_b = tenant_a.organisation_id, tenant_b.organisation_id
    child = await factory.child(org_a)
    case = await factory.case(org_a, child_id=child)
    other_child = await factory.child(org_a, given_name_latin="Dara")
    ids = await factory.sharing(org_a, case, child, org_b, status="accepted")
    referral = {"id": ids["referral_id"]}
    update = "UPDATE referrals SET {} WHERE id = :id"
    for change, params in [
        ("child_id = :other", {"other": other_child}),
        ("organisation_id = :b", {"b": org_b}),
        ("receiving_organisation_id = :a", {"a": org_a}),
        ("reason = 'rewritten'", {}),
        ("summary = '{}'::json", {}),
    ]:
        with _permission_denied():
            await _as_app_role(settings, org_b, update.format(change), **referral, **params)
    with _permission_denied():
        await _as_app_role(
            settings, org_a, update.format("child_id = :other"), **referral, other=other_child
        )
    done = await _as_app_role(
        settings,
        org_b,
        update.format("status = 'completed', closed_at = now(), version = version + 1"),
        **referral,
    )
    assert done.rowcount == 1
    with _permission_denied():
        await _as_app_role(
            settings,
            org_b,
            "INSERT INTO referrals (id, organisation_id, receiving_organisation_id, case_id,"
            " child_id, services_requested, reason, urgency, consent_given_by,"
            " consent_relation, consent_given_on, consent_method, status, summary, created_at,"
            " updated_at, version) VALUES (:id, :a, :b, :case, :child, '[]', 'x', 'routine',"
            " 'x', 'mother', '2026-01-01', 'verbal', 'accepted', '{}', now(), now(), 1)",
            id=uuid.uuid4(),
            a=org_a,
            b=org_b,
            case=case,
            child=other_child,
        )


async def test_nobody_joins_another_organisations_conference(
    settings: Settings, factory: Factory, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    """A participant row opens a conference to its organisation: only the organiser adds
    them, to its own conference, and a link never moves."""
    org_a, org_b = tenant_a.organisation_id, tenant_b.organisation_id
    child = await factory.child(org_a)
    case = await factory.case(org_a, child_id=child)
    third = await factory.organisation()
    ids = await factory.sharing(org_a, case, child, third)
    conference = {"conference": ids["conference_id"]}
    for organiser in (org_b, org_a):
        with _permission_denied():
            await _as_app_role(
                settings,
                org_b,
                "INSERT INTO conference_participants (conference_id, organisation_id,"
                " organiser_organisation_id) VALUES (:conference, :b, :organiser)",
                **conference,
                b=org_b,
                organiser=organiser,
            )
    read = "SELECT count(*) FROM case_conferences WHERE id = :conference"
    assert (await _as_app_role(settings, org_b, read, **conference)).scalar_one() == 0
    with _permission_denied():
        await _as_app_role(
            settings,
            org_a,
            "UPDATE conference_participants SET organisation_id = :b"
            " WHERE conference_id = :conference",
            **conference,
            b=org_b,
        )


def test_lookups_work_when_the_schema_owner_is_no_superuser(tmp_path: Any) -> None:
    """The README's production set-up: an ordinary owner role (row-level security applies to
    it too, FORCE) and the app role. The pre-tenant look-ups run as that owner and must still
    find the account (they found nothing, so every login answered 401, found by
    bench/faults.py; the tests' own owner is a superuser, which hid it)."""
    from sqlalchemy import create_engine as create_sync_engine
    from sqlalchemy.engine import make_url

    from ovc_api.db import run_migrations

    from .conftest import make_settings

    admin_url = make_url(os.environ["OVC_TEST_DATABASE_URL"]).set(drivername="postgresql+psycopg")
    suffix = uuid.uuid4().hex[:10]
    db_name, owner, app = f"ovc_test_owner_{suffix}", f"ovc_own_{suffix}", f"ovc_app_{suffix}"
    admin = create_sync_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{owner}" LOGIN NOSUPERUSER NOBYPASSRLS'))
        conn.execute(text(f'CREATE ROLE "{app}" LOGIN NOSUPERUSER NOBYPASSRLS'))
        conn.execute(text(f'CREATE DATABASE "{db_name}" OWNER "{owner}"'))
    base = admin_url.set(database=db_name)
    owner_url = base.set(username=owner, password=None)
    app_url = base.set(username=app, password=None)
    try:
        from .conftest import TestDatabase

        database = TestDatabase(
            owner_url=owner_url.render_as_string(hide_password=False),
            app_url=app_url.render_as_string(hide_password=False),
        )
        run_migrations(make_settings(database, tmp_path))
        org_id, email = uuid.uuid4(), f"admin-{suffix}@owner.example.org"
        owner_engine = create_sync_engine(owner_url)
        with owner_engine.begin() as conn:
            conn.execute(text("SELECT set_config('ovc.system', 'on', true)"))
            conn.execute(
                text(
                    "INSERT INTO organisations (id, name, short_name, kind, provinces, active,"
                    " created_at, updated_at, version) VALUES (:id, 'Owner test NGO', :short,"
                    " 'ngo', '[]', true, now(), now(), 1)"
                ),
                {"id": org_id, "short": f"OWN{suffix[:5]}".upper()},
            )
            conn.execute(
                text(
                    "INSERT INTO users (id, organisation_id, email, full_name, role,"
                    " password_hash, active, must_change_password, password_changed_at,"
                    " created_at, updated_at, version) VALUES (:id, :org, :email,"
                    " 'Owner test admin', 'org_admin', 'x', true, false, now(), now(), now(), 1)"
                ),
                {"id": uuid.uuid4(), "org": org_id, "email": email},
            )
        owner_engine.dispose()
        app_engine = create_sync_engine(app_url)
        with app_engine.connect() as conn:
            found = conn.execute(text("SELECT ovc_login_organisation(:e)"), {"e": email})
            assert found.scalar_one() == org_id
            # ...and the app role still cannot open the owner's switch.
            conn.execute(text("SELECT set_config('ovc.system', 'on', false)"))
            assert conn.execute(text("SELECT count(*) FROM users")).scalar_one() == 0
        app_engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{app}"'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{owner}"'))
        admin.dispose()
