"""Services, referrals between organisations and case conferences.

Row-level security: each table keeps the tenant rule, plus what consent-scoped sharing
allows, mirroring ovc_api.tenancy: the receiver of a referral reads it (and acts on it); while
it is accepted the receiver may also read (SELECT only) the referred child, family and case;
the sender reads services recorded under its referrals; participants read a conference and
their own action items; every member reads the services directory.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from ovc_api.migration_helpers import (
    add_policy,
    disable_tenant_rls,
    drop_policy,
    enable_tenant_rls,
)

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "organisation_services",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("service_type", sa.String(length=40), nullable=False),
        sa.Column("province", sa.String(length=32), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_organisation_services_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisation_services")),
        sa.UniqueConstraint(
            "organisation_id",
            "service_type",
            "province",
            name=op.f("uq_organisation_services_organisation_id"),
        ),
    )
    with op.batch_alter_table("organisation_services", schema=None) as batch_op:
        batch_op.create_index(
            "ix_organisation_services_lookup", ["service_type", "province"], unique=False
        )

    op.create_table(
        "case_conferences",
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("location", sa.String(length=300), nullable=True),
        sa.Column("agenda", sa.Text(), nullable=True),
        sa.Column("decisions", sa.Text(), nullable=True),
        sa.Column(
            "external_participants",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_conferences_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_case_conferences_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_case_conferences_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_conferences")),
    )
    with op.batch_alter_table("case_conferences", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_conferences_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            "ix_case_conferences_org_held", ["organisation_id", "held_on", "id"], unique=False
        )

    op.create_table(
        "referrals",
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("receiving_organisation_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("child_id", sa.Uuid(), nullable=False),
        sa.Column("family_id", sa.Uuid(), nullable=True),
        sa.Column(
            "services_requested",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=False,
        ),
        sa.Column("reason", sa.String(length=2000), nullable=False),
        sa.Column("urgency", sa.String(length=16), nullable=False),
        sa.Column("consent_given_by", sa.String(length=200), nullable=False),
        sa.Column("consent_relation", sa.String(length=24), nullable=False),
        sa.Column("consent_given_on", sa.Date(), nullable=False),
        sa.Column("consent_method", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "summary", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("decision_reason", sa.String(length=2000), nullable=True),
        sa.Column("decided_by", sa.Uuid(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("receiver_case_id", sa.Uuid(), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_referrals_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["child_id"], ["children.id"], name=op.f("fk_referrals_child_id_children")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_referrals_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["users.id"], name=op.f("fk_referrals_decided_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["family_id"], ["families.id"], name=op.f("fk_referrals_family_id_families")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_referrals_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["receiver_case_id"], ["cases.id"], name=op.f("fk_referrals_receiver_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["receiving_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_referrals_receiving_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referrals")),
    )
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_referrals_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_referrals_child_id"), ["child_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_referrals_family_id"), ["family_id"], unique=False)
        batch_op.create_index(
            "ix_referrals_org_created", ["organisation_id", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_referrals_receiver",
            ["receiving_organisation_id", "status", "created_at"],
            unique=False,
        )

    op.create_table(
        "conference_actions",
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("conference_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("organiser_organisation_id", sa.Uuid(), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("done_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["conference_id"],
            ["case_conferences.id"],
            name=op.f("fk_conference_actions_conference_id_case_conferences"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_conference_actions_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["organiser_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_conference_actions_organiser_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conference_actions")),
    )
    with op.batch_alter_table("conference_actions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_conference_actions_conference", ["conference_id", "due_on", "id"], unique=False
        )
        batch_op.create_index(
            "ix_conference_actions_org_due", ["organisation_id", "done_on", "due_on"], unique=False
        )

    op.create_table(
        "conference_participants",
        sa.Column("conference_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("organiser_organisation_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conference_id"],
            ["case_conferences.id"],
            name=op.f("fk_conference_participants_conference_id_case_conferences"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_conference_participants_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["organiser_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_conference_participants_organiser_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint(
            "conference_id", "organisation_id", name=op.f("pk_conference_participants")
        ),
    )
    with op.batch_alter_table("conference_participants", schema=None) as batch_op:
        batch_op.create_index(
            "ix_conference_participants_org", ["organisation_id", "conference_id"], unique=False
        )

    op.create_table(
        "service_deliveries",
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=True),
        sa.Column("child_id", sa.Uuid(), nullable=True),
        sa.Column("family_id", sa.Uuid(), nullable=True),
        sa.Column("referral_id", sa.Uuid(), nullable=True),
        sa.Column("service_type", sa.String(length=40), nullable=False),
        sa.Column("other_description", sa.String(length=300), nullable=True),
        sa.Column("delivered_on", sa.Date(), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("unit", sa.String(length=40), nullable=True),
        sa.Column("cost", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("province", sa.String(length=32), nullable=False),
        sa.Column("district", sa.String(length=100), nullable=True),
        sa.Column("notes", sa.String(length=2000), nullable=True),
        sa.Column("recorded_by", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_service_deliveries_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["child_id"], ["children.id"], name=op.f("fk_service_deliveries_child_id_children")
        ),
        sa.ForeignKeyConstraint(
            ["family_id"], ["families.id"], name=op.f("fk_service_deliveries_family_id_families")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_service_deliveries_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"], ["users.id"], name=op.f("fk_service_deliveries_recorded_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.id"],
            name=op.f("fk_service_deliveries_referral_id_referrals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_deliveries")),
    )
    with op.batch_alter_table("service_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_service_deliveries_case_id"), ["case_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_service_deliveries_child_id"), ["child_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_service_deliveries_family_id"), ["family_id"], unique=False
        )
        batch_op.create_index(
            "ix_service_deliveries_org_delivered",
            ["organisation_id", "delivered_on", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_service_deliveries_org_type",
            ["organisation_id", "service_type", "delivered_on"],
            unique=False,
        )
        batch_op.create_index(
            "ix_service_deliveries_org_updated",
            ["organisation_id", "updated_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_service_deliveries_referral_id"), ["referral_id"], unique=False
        )

    enable_tenant_rls("referrals", "receiving_organisation_id = ovc_current_org()")
    enable_tenant_rls("organisation_services")
    add_policy("organisation_services", "directory_read", "true")
    enable_tenant_rls("service_deliveries")
    add_policy("service_deliveries", "sender_reads_referral_services", SENT_REFERRAL_SERVICES)
    enable_tenant_rls("conference_participants", "organiser_organisation_id = ovc_current_org()")
    enable_tenant_rls("conference_actions", "organiser_organisation_id = ovc_current_org()")
    enable_tenant_rls("case_conferences")
    add_policy("case_conferences", "participant_reads_conference", PARTICIPANT_CONFERENCES)
    add_policy("audit_events", "receiver_audits_referred_reads", RECEIVER_AUDIT, command="INSERT")
    add_policy(
        "revisions", "receiver_records_referral_history", RECEIVER_REVISION, command="INSERT"
    )
    for table, column in REFERRED_RECORDS.items():
        referred = ACCEPTED_REFERRALS.format(REFERRED_COLUMN[table])
        add_policy(table, "receiver_reads_referred", f"{column} IN ({referred})")


ACCEPTED = (
    "FROM referrals WHERE receiving_organisation_id = ovc_current_org() AND status = 'accepted'"
)
ACCEPTED_REFERRALS = "SELECT {} " + ACCEPTED
REFERRED_RECORDS = {
    "children": "id",
    "families": "id",
    "family_members": "family_id",
    "cases": "id",
    "case_concerns": "case_id",
}
REFERRED_COLUMN = {
    "children": "child_id",
    "families": "family_id",
    "family_members": "family_id",
    "cases": "case_id",
    "case_concerns": "case_id",
}
SENT_REFERRAL_SERVICES = (
    "referral_id IN (SELECT id FROM referrals WHERE organisation_id = ovc_current_org())"
)
PARTICIPANT_CONFERENCES = (
    "id IN (SELECT conference_id FROM conference_participants "
    "WHERE organisation_id = ovc_current_org())"
)
# A read through a referral is logged in the owner's audit log by the receiver.
RECEIVER_AUDIT = (
    "via_referral_id IN (SELECT id FROM referrals "
    "WHERE receiving_organisation_id = ovc_current_org() AND organisation_id = "
    "audit_events.organisation_id)"
)
# Accepting, declining or completing a referral keeps its history in the sender's log.
RECEIVER_REVISION = (
    "resource_type = 'referrals' AND resource_id IN (SELECT id FROM referrals "
    "WHERE receiving_organisation_id = ovc_current_org() "
    "AND organisation_id = revisions.organisation_id)"
)
NEW_TABLES = (
    "referrals",
    "organisation_services",
    "service_deliveries",
    "conference_participants",
    "conference_actions",
    "case_conferences",
)


def downgrade() -> None:
    for table in REFERRED_RECORDS:
        drop_policy(table, "receiver_reads_referred")
    drop_policy("audit_events", "receiver_audits_referred_reads")
    drop_policy("revisions", "receiver_records_referral_history")
    drop_policy("organisation_services", "directory_read")
    drop_policy("service_deliveries", "sender_reads_referral_services")
    drop_policy("case_conferences", "participant_reads_conference")
    for table in NEW_TABLES:
        disable_tenant_rls(table)

    with op.batch_alter_table("service_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_deliveries_referral_id"))
        batch_op.drop_index("ix_service_deliveries_org_updated")
        batch_op.drop_index("ix_service_deliveries_org_type")
        batch_op.drop_index("ix_service_deliveries_org_delivered")
        batch_op.drop_index(batch_op.f("ix_service_deliveries_family_id"))
        batch_op.drop_index(batch_op.f("ix_service_deliveries_child_id"))
        batch_op.drop_index(batch_op.f("ix_service_deliveries_case_id"))

    op.drop_table("service_deliveries")
    with op.batch_alter_table("conference_participants", schema=None) as batch_op:
        batch_op.drop_index("ix_conference_participants_org")

    op.drop_table("conference_participants")
    with op.batch_alter_table("conference_actions", schema=None) as batch_op:
        batch_op.drop_index("ix_conference_actions_org_due")
        batch_op.drop_index("ix_conference_actions_conference")

    op.drop_table("conference_actions")
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.drop_index("ix_referrals_receiver")
        batch_op.drop_index("ix_referrals_org_created")
        batch_op.drop_index(batch_op.f("ix_referrals_family_id"))
        batch_op.drop_index(batch_op.f("ix_referrals_child_id"))
        batch_op.drop_index(batch_op.f("ix_referrals_case_id"))

    op.drop_table("referrals")
    with op.batch_alter_table("case_conferences", schema=None) as batch_op:
        batch_op.drop_index("ix_case_conferences_org_held")
        batch_op.drop_index(batch_op.f("ix_case_conferences_case_id"))

    op.drop_table("case_conferences")
    with op.batch_alter_table("organisation_services", schema=None) as batch_op:
        batch_op.drop_index("ix_organisation_services_lookup")

    op.drop_table("organisation_services")
