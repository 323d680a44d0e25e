"""Alembic environment: async engine, naming convention, and grants for the app role.

Migrations run as the schema owner (OVC_MIGRATION_DATABASE_URL). On PostgreSQL the
application's own role (the user of OVC_DATABASE_URL) is then granted what it needs and
no more: it never owns tables, so row-level security always applies to it, and it gets
DELETE only on bookkeeping tables (and replaced concern rows, whose history is kept). The
audit log and record history are append-only for it (also every partition of them, found
again at each run), and it may call the pre-tenant look-up functions and read the
`ovc_network` views of migration 0005.
"""

from __future__ import annotations

import asyncio
import logging

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url

import ovc_api.models  # noqa: F401  (registers every table on the metadata)
from ovc_api.db import create_engine, metadata
from ovc_api.migration_helpers import include_object
from ovc_api.settings import Settings

config = context.config
logger = logging.getLogger("alembic.env")

# Rows in these tables are expired or consumed, not case data: the app may delete them.
# Rows the app may delete: expired throttles and idempotency keys, a directory entry an
# organisation no longer offers, and a case's replaced concern rows (the previous set is
# kept in `revisions`). No other case data is ever deleted.
DELETABLE_TABLES = (
    "login_throttle",
    "idempotency_keys",
    "organisation_services",
    "case_concerns",
)
# Kept by the database's own triggers (migrations 0014-0016): the app only reads them.
READ_ONLY_TABLES = ("case_facts", "service_facts", "service_summary", "case_rollups")
# History the app only appends to and reads: never UPDATE, DELETE or TRUNCATE, neither on
# the table nor on any partition of it (partitions are found at each migrate).
APPEND_ONLY_TABLES = ("audit_events", "revisions")
# Pre-tenant look-ups (SECURITY DEFINER, owned by the schema owner): the app may call them.
LOOKUP_FUNCTIONS = (
    "ovc_login_organisation(text)",
    "ovc_refresh_token_organisation(text)",
    "ovc_api_key_organisation(text, text)",
    # The webhook worker's: which organisations have deliveries due (ids only).
    "ovc_webhook_work(timestamptz)",
    # The worker's housekeeping: merges service_summary's rows of changes (same sums).
    "ovc_service_summary_compact()",
)


def _urls() -> tuple[str, str | None]:
    url = config.attributes.get("database_url")
    if url:
        return url, config.attributes.get("app_database_url")
    settings = Settings()
    return settings.migration_database_url, settings.database_url


def _grant_app_role(connection: Connection, app_url: str | None) -> None:
    if not app_url or connection.dialect.name != "postgresql":
        return
    app_user = make_url(app_url).username
    owner = connection.execute(text("SELECT current_user")).scalar_one()
    if not app_user or app_user == owner:
        return
    exists = connection.execute(
        text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": app_user}
    ).first()
    if not exists:
        raise RuntimeError(
            f'the application role "{app_user}" does not exist: create it with '
            f"CREATE ROLE \"{app_user}\" LOGIN PASSWORD '...' NOSUPERUSER NOBYPASSRLS"
        )
    role = connection.dialect.identifier_preparer.quote(app_user)
    connection.execute(text(f"GRANT USAGE ON SCHEMA public TO {role}"))
    connection.execute(
        text(f"GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO {role}")
    )
    connection.execute(text(f"REVOKE INSERT, UPDATE ON alembic_version FROM {role}"))
    for table in READ_ONLY_TABLES:
        if connection.dialect.has_table(connection, table):
            connection.execute(text(f"REVOKE INSERT, UPDATE ON {table} FROM {role}"))
    connection.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}"))
    for table in DELETABLE_TABLES:
        if connection.dialect.has_table(connection, table):
            connection.execute(text(f"GRANT DELETE ON {table} TO {role}"))
    for relation in _append_only_relations(connection):
        connection.execute(text(f"REVOKE UPDATE, DELETE, TRUNCATE ON {relation} FROM {role}"))
    for function in LOOKUP_FUNCTIONS:
        if connection.execute(text("SELECT to_regprocedure(:f)"), {"f": function}).scalar():
            connection.execute(text(f"GRANT EXECUTE ON FUNCTION {function} TO {role}"))
    if connection.execute(text("SELECT to_regnamespace('ovc_network')")).scalar():
        connection.execute(text(f"GRANT USAGE ON SCHEMA ovc_network TO {role}"))
        connection.execute(text(f"GRANT SELECT ON ALL TABLES IN SCHEMA ovc_network TO {role}"))


def _append_only_relations(connection: Connection) -> list[str]:
    """The append-only tables and every partition under them, at any depth."""
    rows = connection.execute(
        text(
            """
            WITH RECURSIVE tree(oid) AS (
                SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = 'public' AND c.relname = ANY(:tables)
                UNION SELECT i.inhrelid FROM pg_inherits i JOIN tree t ON i.inhparent = t.oid
            )
            SELECT oid::regclass::text FROM tree
            """
        ),
        {"tables": list(APPEND_ONLY_TABLES)},
    )
    return [row[0] for row in rows]


def _run(connection: Connection, app_url: str | None) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
        include_object=include_object,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Row-level security is forced on the owner too; migrations see every tenant.
            connection.execute(text("SELECT set_config('ovc.system', 'on', true)"))
        context.run_migrations()
        _grant_app_role(connection, app_url)


async def _run_online() -> None:
    url, app_url = _urls()
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run, app_url)
            await connection.commit()
    finally:
        await engine.dispose()


def _run_offline() -> None:
    url, _ = _urls()
    context.configure(url=url, target_metadata=metadata, literal_binds=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    _run_offline()
else:
    asyncio.run(_run_online())
