"""The facts' per-key locks as row locks: a transaction may write any number of keys.

The triggers of 0014 (`case_facts`), 0015 and 0018 (`service_facts`) count a key's rows
again under a transaction-level advisory lock of the key (`pg_advisory_xact_lock(class,
key)`), so that two transactions writing the same key see each other. Every advisory lock
held takes one entry of the server's shared lock table until COMMIT, and that table holds
max_locks_per_transaction x (max_connections + max_prepared_transactions) entries for the
whole server (6,400 by default). An import commits up to 20,000 rows (a child, a family and
a case each) in one transaction: three to four keys a row, so it failed with "out of shared
memory" (53200), and while it ran it could take the slots every other transaction needs.

A key is now locked as a row: `ovc_locks.fact_keys` holds a row per (class, key) ever
locked, and a trigger takes the key's row lock with one INSERT ... ON CONFLICT DO UPDATE
... WHERE false (inserted if new, else locked and left unchanged: the row writes no new
version). Row locks are kept in the rows themselves, not in the lock table (a waiter takes
one lock entry while it waits), so a transaction may lock any number of keys; the locks are
held until COMMIT or ROLLBACK as before, on the same keys, so writers of the same key still
wait for each other and writers of other keys never do (a lock of a bucket of keys, instead,
would have made a large import hold every bucket: every other writer waiting for it, and
deadlocking with it when taking two buckets in the other order). Costs: a row per key ever
written (a few tens of bytes; the keys of the records written since this migration), and a
key's first lock writes its row.

The table lives in its own schema, owned by the schema owner, to which the application
role has no access (alembic/env.py grants it the tables of `public` only): only the
triggers' SECURITY DEFINER functions lock keys. PostgreSQL only. Downgrade restores 0018's
functions (0014's flags function) and drops the schema.

Revision ID: 0019_fact_key_locks
Revises: 0018_service_cover
Create Date: 2026-11-30
"""

import re
from collections.abc import Sequence

from alembic import op

from ovc_api.migration_helpers import earlier_migration

revision: str = "0019_fact_key_locks"
down_revision: str | None = "0018_service_cover"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFINER = "SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp"
SCHEMA = "ovc_locks"
TABLE = f"{SCHEMA}.fact_keys"
# `PERFORM pg_advisory_xact_lock(<class>, <key>);` as 0014 and 0015 wrote it.
ADVISORY = re.compile(r"PERFORM pg_advisory_xact_lock\((\d+), ([^;]+)\);")
FLAGS = "ovc_case_facts_flags(p_child_key integer, p_case_key integer)"


def _row_lock(match: re.Match[str]) -> str:
    """The row lock of the key an advisory lock took (until the transaction ends)."""
    lock_class, key = match.group(1), match.group(2)
    return (
        f"INSERT INTO {TABLE} (lock_class, lock_key) VALUES ({lock_class}, {key})"
        " ON CONFLICT (lock_class, lock_key)"
        " DO UPDATE SET lock_key = EXCLUDED.lock_key WHERE false;"
    )


def _bodies() -> dict[str, str]:
    """The functions that lock keys, as 0018 left them: 0014's flags, 0018's recounts."""
    m14 = earlier_migration(__file__, "20261130_0014_case_facts")
    m18 = earlier_migration(__file__, "20261130_0018_service_cover")
    bodies = {FLAGS: m14.FUNCTIONS[FLAGS]}
    for signature, body in m18._functions(m18._migration_0015(), covered=True).items():
        if ADVISORY.search(body):
            bodies[signature] = body
    return bodies


def _locked(bodies: dict[str, str]) -> dict[str, str]:
    locked = {signature: ADVISORY.sub(_row_lock, body) for signature, body in bodies.items()}
    for signature, body in locked.items():
        assert "pg_advisory" not in body and TABLE in body, signature
    return locked


def _replace(bodies: dict[str, str]) -> None:
    for signature, body in bodies.items():
        op.execute(
            f"CREATE OR REPLACE FUNCTION {signature} RETURNS void LANGUAGE plpgsql {DEFINER}"
            f" AS $$ {body} $$"
        )
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"CREATE SCHEMA {SCHEMA}")
    op.execute(f"REVOKE ALL ON SCHEMA {SCHEMA} FROM PUBLIC")
    op.execute(
        f"CREATE TABLE {TABLE} (lock_class integer, lock_key integer,"
        " PRIMARY KEY (lock_class, lock_key))"
    )
    _replace(_locked(_bodies()))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _replace(_bodies())
    op.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
