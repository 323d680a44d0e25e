"""The outbox (change feed and webhooks) and webhook subscriptions, deliveries and attempts.

`events` holds one row per organisation told of a change, written in the change's own
transaction. Its `position` is the commit order: on PostgreSQL a deferred constraint trigger
numbers each row at COMMIT under a transaction-level advisory lock (commits that wrote
events take their numbers one after another, and a number is visible only once every lower
one is), so a reader resuming "after N" never misses a row of a transaction that was still
running when N was handed out. On SQLite (one writer at a time) a row takes the next number
at insert.

Row-level security (PostgreSQL): every table is a tenant table. A row of `events` may be
written for another organisation only where the application may tell it: the other party of
a referral the writer is party to, or the other party of a conference action (its organiser
and the organisation it is assigned to). The numbering trigger and `ovc_webhook_work()`
(the organisations that have webhook work due: ids only, for the worker, which then reads
each one bound to it) are SECURITY DEFINER functions of the schema owner.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from ovc_api.migration_helpers import add_policy, disable_tenant_rls, enable_tenant_rls

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
SEQUENCE_TYPE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TABLES = ("webhook_attempts", "webhook_deliveries", "webhook_subscriptions", "events")
DEFINER = "SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp"
# One lock for every commit that wrote events (any number; this one is the outbox's).
POSITION_LOCK = 7_254_110_011
POSITION_FUNCTION = f"""
CREATE OR REPLACE FUNCTION ovc_event_position() RETURNS trigger
LANGUAGE plpgsql {DEFINER} AS $$
DECLARE
    previous text := coalesce(current_setting('ovc.system', true), '');
BEGIN
    PERFORM pg_advisory_xact_lock({POSITION_LOCK});
    PERFORM set_config('ovc.system', 'on', true);
    UPDATE public.events SET position = nextval('public.events_position_seq')
        WHERE id = NEW.id;
    PERFORM set_config('ovc.system', previous, true);
    RETURN NULL;
END $$
"""
WORK_FUNCTION = f"""
CREATE OR REPLACE FUNCTION ovc_webhook_work(p_now timestamptz) RETURNS SETOF uuid
LANGUAGE plpgsql VOLATILE {DEFINER} AS $$
DECLARE
    previous text := coalesce(current_setting('ovc.system', true), '');
BEGIN
    PERFORM set_config('ovc.system', 'on', true);
    RETURN QUERY
        SELECT e.organisation_id FROM public.events e
            WHERE e.webhook_pending AND e.position IS NOT NULL
        UNION
        SELECT d.organisation_id FROM public.webhook_deliveries d
            WHERE d.status = 'pending' AND d.next_attempt_at <= p_now;
    PERFORM set_config('ovc.system', previous, true);
END $$
"""
# Another organisation's row: only the other party of the writer's referral, or the other
# party of a conference action (its organiser, the organisation it is assigned to).
COUNTERPART_EVENTS = """
    (resource_type = 'referral' AND EXISTS (
        SELECT 1 FROM public.referrals r WHERE r.id = events.resource_id
        AND ovc_current_org() IN (r.organisation_id, r.receiving_organisation_id)
        AND events.organisation_id IN (r.organisation_id, r.receiving_organisation_id)))
    OR (resource_type = 'conference_action' AND EXISTS (
        SELECT 1 FROM public.conference_actions a WHERE a.id = events.resource_id
        AND ovc_current_org() IN (a.organisation_id, a.organiser_organisation_id)
        AND events.organisation_id IN (a.organisation_id, a.organiser_organisation_id)))
"""


def _org_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["organisation_id"],
        ["organisations.id"],
        name=f"fk_{table}_organisation_id_organisations",
    )


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=60), nullable=False),
        sa.Column("change", sa.String(length=10), nullable=False),
        sa.Column("resource_type", sa.String(length=40), nullable=False),
        sa.Column("resource_id", sa.Uuid(), nullable=False),
        sa.Column("owner_organisation_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("position", SEQUENCE_TYPE, nullable=True),
        sa.Column("webhook_pending", sa.Boolean(), nullable=False),
        _org_fk("events"),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
    )
    op.create_index("ix_events_feed", "events", ["organisation_id", "position"])
    op.create_index("ix_events_position", "events", ["position"])
    op.create_index("ix_events_webhook_pending", "events", ["webhook_pending", "organisation_id"])
    op.create_table(
        "webhook_subscriptions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=True),
        sa.Column("event_types", JSON_TYPE, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.String(length=300), nullable=True),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("secret_encrypted", sa.String(length=300), nullable=False),
        sa.Column("previous_secret_encrypted", sa.String(length=300), nullable=True),
        sa.Column("previous_secret_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("secret_rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _org_fk("webhook_subscriptions"),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name="fk_webhook_subscriptions_created_by_users"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_subscriptions"),
    )
    op.create_index(
        "ix_webhook_subscriptions_organisation_id", "webhook_subscriptions", ["organisation_id"]
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("subscription_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=True),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=60), nullable=False),
        sa.Column("payload", JSON_TYPE, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("response_code", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _org_fk("webhook_deliveries"),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["webhook_subscriptions.id"],
            name="fk_webhook_deliveries_subscription_id_webhook_subscriptions",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_deliveries"),
    )
    op.create_index(
        "ix_webhook_deliveries_due",
        "webhook_deliveries",
        ["organisation_id", "status", "next_attempt_at"],
    )
    op.create_index(
        "ix_webhook_deliveries_subscription",
        "webhook_deliveries",
        ["subscription_id", "created_at", "id"],
    )
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("delivery_id", sa.Uuid(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column("response_code", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=300), nullable=True),
        _org_fk("webhook_attempts"),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["webhook_deliveries.id"],
            name="fk_webhook_attempts_delivery_id_webhook_deliveries",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_attempts"),
    )
    op.create_index("ix_webhook_attempts_delivery", "webhook_attempts", ["delivery_id", "attempt"])
    if op.get_bind().dialect.name != "postgresql":
        op.execute(
            "CREATE TRIGGER event_position AFTER INSERT ON events FOR EACH ROW "
            "WHEN NEW.position IS NULL BEGIN UPDATE events SET position = "
            "(SELECT coalesce(max(position), 0) + 1 FROM events) WHERE id = NEW.id; END"
        )
        return
    for table in TABLES:
        enable_tenant_rls(table)
    add_policy("events", "counterpart_events", COUNTERPART_EVENTS, command="INSERT")
    op.execute("CREATE SEQUENCE events_position_seq AS bigint")
    op.execute(POSITION_FUNCTION)
    op.execute("REVOKE ALL ON FUNCTION ovc_event_position() FROM PUBLIC")
    op.execute(
        "CREATE CONSTRAINT TRIGGER event_position AFTER INSERT ON events "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ovc_event_position()"
    )
    op.execute(WORK_FUNCTION)
    op.execute("REVOKE ALL ON FUNCTION ovc_webhook_work(timestamptz) FROM PUBLIC")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS event_position ON events")
        op.execute("DROP FUNCTION IF EXISTS ovc_event_position()")
        op.execute("DROP FUNCTION IF EXISTS ovc_webhook_work(timestamptz)")
        op.execute("DROP SEQUENCE IF EXISTS events_position_seq")
        op.execute("DROP POLICY IF EXISTS counterpart_events ON events")
        for table in TABLES:
            disable_tenant_rls(table)
    else:
        op.execute("DROP TRIGGER IF EXISTS event_position")
    for table in TABLES:
        op.drop_table(table)
