"""Smaller walls (issue 10, section 6): replays re-checked, cross-organisation reads in the
owner's log, network facts for the network only.

- `idempotency_keys.resource_type` / `resource_table` / `resource_id`: the record a
  remembered response shows (its audit name, table and id), so a replay re-checks that the
  caller may still read it and audits the read.
  Keys stored before this revision have none and replay as before until they expire (24 h).
- PostgreSQL: two INSERT policies on `audit_events`, so a read of another organisation's
  record through a widening is also written in the owner's log: the sender of a referral
  reading a service the receiver recorded under it, and a conference participant reading
  the conference (as migration 0004 lets the receiver of a referral log its reads).
- PostgreSQL: the `ovc_network` views (0005, 0007, 0009) show rows only to a transaction bound
  to the network secretariat; without an organisation, or bound to a member, they are empty.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ovc_api.migration_helpers import add_policy, drop_policy

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The sender's transaction may add a row to the receiver's log about a service the receiver
# recorded under one of the sender's referrals (the rows the sender can read).
SENDER_AUDIT = (
    "resource_type = 'service' AND via_referral_id IN (SELECT id FROM referrals "
    "WHERE organisation_id = ovc_current_org() "
    "AND receiving_organisation_id = audit_events.organisation_id) "
    "AND resource_id IN (SELECT id FROM service_deliveries "
    "WHERE referral_id = audit_events.via_referral_id "
    "AND organisation_id = audit_events.organisation_id)"
)
# A participant's transaction may add a row to the organiser's log about that conference.
PARTICIPANT_AUDIT = (
    "resource_type = 'case_conference' AND resource_id IN (SELECT conference_id "
    "FROM conference_participants WHERE organisation_id = ovc_current_org() "
    "AND organiser_organisation_id = audit_events.organisation_id)"
)
ACTIVE = "organisation_id IN (SELECT id FROM public.organisations WHERE active)"
NETWORK_ONLY = (
    "ovc_current_org() IN (SELECT id FROM public.organisations WHERE short_name = 'NETWORK')"
)
# The views as migrations 0007 and 0009 left them (same columns, same order).
NETWORK_VIEWS = {
    "cases": (
        "SELECT id, organisation_id, child_id, status, risk_level, referral_source,"
        " NULL::uuid AS assigned_to, opened_on, closed_on, closure_reason, record_key"
        " FROM public.cases"
    ),
    "children": (
        "SELECT id, organisation_id, province, district, sex, care_arrangement, date_of_birth,"
        " record_key FROM public.children"
    ),
    "case_concerns": "SELECT case_id, organisation_id, concern FROM public.case_concerns",
    "service_deliveries": (
        "SELECT organisation_id, child_id, family_id, service_type, province, district,"
        " delivered_on, record_key FROM public.service_deliveries"
    ),
    "referrals": (
        "SELECT organisation_id, status, created_at, decided_at, closed_at, record_key"
        " FROM public.referrals"
    ),
    "families": "SELECT id, organisation_id, record_key FROM public.families",
    # Alternative care's views, as migration 0009 made them.
    "placements": (
        "SELECT id, organisation_id, child_id, placement_type, started_on, ended_on"
        " FROM public.placements"
    ),
    "tracing_attempts": (
        "SELECT id, organisation_id, child_id, attempted_on, outcome FROM public.tracing_attempts"
    ),
}


def _network_views(condition: str) -> None:
    if not op.get_bind().exec_driver_sql("SELECT to_regnamespace('ovc_network')").scalar():
        return
    for table, body in NETWORK_VIEWS.items():
        op.execute(
            f"CREATE OR REPLACE VIEW ovc_network.{table} WITH (security_barrier) AS "
            f"{body} WHERE {condition}"
        )


def upgrade() -> None:
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resource_type", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("resource_table", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("resource_id", sa.Uuid(), nullable=True))
    if op.get_bind().dialect.name != "postgresql":
        return
    add_policy("audit_events", "sender_audits_referral_services", SENDER_AUDIT, command="INSERT")
    add_policy("audit_events", "participant_audits_conference", PARTICIPANT_AUDIT, command="INSERT")
    _network_views(f"{ACTIVE} AND {NETWORK_ONLY}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _network_views(ACTIVE)
        drop_policy("audit_events", "participant_audits_conference")
        drop_policy("audit_events", "sender_audits_referral_services")
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_column("resource_id")
        batch_op.drop_column("resource_table")
        batch_op.drop_column("resource_type")
