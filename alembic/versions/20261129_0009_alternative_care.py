"""Alternative care: care facilities, placements (periods of care), family tracing,
reintegration plans with monitoring visits, and each organisation's monitoring schedule
(care_settings; every member reads it, as the API allows).

Every child gets a first placement from its recorded `care_arrangement` (as found at intake,
starting on the day the child was recorded): from now on the arrangement is derived from the
open placement. At most one open placement per child (a partial unique index); on PostgreSQL
an exclusion constraint also refuses overlapping periods.

The exclusion constraint needs the `btree_gist` extension (equality on a uuid inside a GiST
index): PostgreSQL's contrib package must be installed on the server. It is a *trusted*
extension (PostgreSQL 13 and later), so the schema owner creates it without being a
superuser when it has CREATE on the database (the database's owner has); otherwise a
superuser runs `CREATE EXTENSION btree_gist` once before `ovc-api migrate`. The downgrade
drops the constraint but leaves the extension: it may have been there before, and other
objects may use it (`DROP EXTENSION btree_gist` by hand if nothing else does).

Row-level security, as in migration 0005: placements, tracing attempts, reintegration plans
and monitoring visits keep the tenant rule; facilities are the network's directory (every
bound member reads them; the operator organisation, or the network administrator in a
transaction bound to the network secretariat, writes them); every member reads each other's
monitoring schedule (care_settings). Network care statistics read the views
`ovc_network.placements` and `ovc_network.tracing_attempts` (the active members' rows, only
the columns the figures count by: no caregiver, reasons, notes or who was sought), readable
as the owner through a SELECT-only policy, like 0005's views; the grant step of
`ovc-api migrate` lets the application role read them.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from ovc_api.migration_helpers import add_policy, disable_tenant_rls, enable_tenant_rls

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "care_facilities",
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("registration_number", sa.String(length=60), nullable=True),
        sa.Column("registered_on", sa.Date(), nullable=True),
        sa.Column("province", sa.String(length=32), nullable=False),
        sa.Column("district", sa.String(length=100), nullable=True),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("transitioning_since", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_care_facilities_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_facilities")),
    )
    with op.batch_alter_table("care_facilities", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_care_facilities_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index("ix_care_facilities_province", ["province", "name"], unique=False)

    op.create_table(
        "tracing_attempts",
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("child_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=True),
        sa.Column("sought", sa.String(length=300), nullable=False),
        sa.Column("method", sa.String(length=24), nullable=False),
        sa.Column("attempted_on", sa.Date(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("notes", sa.String(length=2000), nullable=True),
        sa.Column("recorded_by", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_tracing_attempts_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["child_id"], ["children.id"], name=op.f("fk_tracing_attempts_child_id_children")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_tracing_attempts_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"], ["users.id"], name=op.f("fk_tracing_attempts_recorded_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracing_attempts")),
    )
    with op.batch_alter_table("tracing_attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tracing_attempts_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_tracing_attempts_child_id"), ["child_id"], unique=False
        )
        batch_op.create_index(
            "ix_tracing_attempts_org_child",
            ["organisation_id", "child_id", "attempted_on"],
            unique=False,
        )

    op.create_table(
        "placements",
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("child_id", sa.Uuid(), nullable=False),
        sa.Column("placement_type", sa.String(length=40), nullable=False),
        sa.Column("facility_id", sa.Uuid(), nullable=True),
        sa.Column("caregiver", sa.String(length=200), nullable=True),
        sa.Column("started_on", sa.Date(), nullable=False),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("reason", sa.String(length=1000), nullable=True),
        sa.Column("end_reason", sa.String(length=1000), nullable=True),
        sa.Column("decision_reference", sa.String(length=100), nullable=True),
        sa.Column("recorded_at_intake", sa.Boolean(), nullable=False),
        sa.Column("gatekeeping_decided_by", sa.String(length=24), nullable=True),
        sa.Column("gatekeeping_decided_on", sa.Date(), nullable=True),
        sa.Column("gatekeeping_tracing_id", sa.Uuid(), nullable=True),
        sa.Column("family_care_not_possible_reason", sa.String(length=2000), nullable=True),
        sa.Column("recorded_by", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            "ended_on IS NULL OR ended_on > started_on",
            name=op.f("ck_placements_period_not_reversed"),
        ),
        sa.ForeignKeyConstraint(
            ["child_id"], ["children.id"], name=op.f("fk_placements_child_id_children")
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["care_facilities.id"],
            name=op.f("fk_placements_facility_id_care_facilities"),
        ),
        sa.ForeignKeyConstraint(
            ["gatekeeping_tracing_id"],
            ["tracing_attempts.id"],
            name=op.f("fk_placements_gatekeeping_tracing_id_tracing_attempts"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_placements_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"], ["users.id"], name=op.f("fk_placements_recorded_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_placements")),
    )
    with op.batch_alter_table("placements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_placements_child_id"), ["child_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_placements_facility_id"), ["facility_id"], unique=False
        )
        batch_op.create_index(
            "ix_placements_org_child", ["organisation_id", "child_id", "started_on"], unique=False
        )
        batch_op.create_index(
            "uq_placements_one_open",
            ["child_id"],
            unique=True,
            sqlite_where=sa.text("ended_on IS NULL"),
            postgresql_where=sa.text("ended_on IS NULL"),
        )

    op.create_table(
        "reintegration_plans",
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("child_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("target_placement_type", sa.String(length=40), nullable=False),
        sa.Column("caregiver", sa.String(length=200), nullable=False),
        sa.Column("planned_move_on", sa.Date(), nullable=True),
        sa.Column("readiness", JSON_TYPE, nullable=True),
        sa.Column("preparation_steps", JSON_TYPE, nullable=False),
        sa.Column("support_package", JSON_TYPE, nullable=False),
        sa.Column("moved_on", sa.Date(), nullable=True),
        sa.Column("placement_id", sa.Uuid(), nullable=True),
        sa.Column("re_separated_on", sa.Date(), nullable=True),
        sa.Column("re_separations", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_reintegration_plans_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["child_id"], ["children.id"], name=op.f("fk_reintegration_plans_child_id_children")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_reintegration_plans_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_reintegration_plans_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["placement_id"],
            ["placements.id"],
            name=op.f("fk_reintegration_plans_placement_id_placements"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reintegration_plans")),
    )
    with op.batch_alter_table("reintegration_plans", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reintegration_plans_case_id"), ["case_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_reintegration_plans_child_id"), ["child_id"], unique=False
        )
        batch_op.create_index(
            "ix_reintegration_plans_org_status", ["organisation_id", "status", "id"], unique=False
        )

    op.create_table(
        "monitoring_visits",
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("placement_id", sa.Uuid(), nullable=False),
        sa.Column("months_after_move", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("visited_on", sa.Date(), nullable=True),
        sa.Column("placement_stable", sa.Boolean(), nullable=True),
        sa.Column("notes", sa.String(length=2000), nullable=True),
        sa.Column("visited_by", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_monitoring_visits_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_monitoring_visits_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["placement_id"],
            ["placements.id"],
            name=op.f("fk_monitoring_visits_placement_id_placements"),
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["reintegration_plans.id"],
            name=op.f("fk_monitoring_visits_plan_id_reintegration_plans"),
        ),
        sa.ForeignKeyConstraint(
            ["visited_by"], ["users.id"], name=op.f("fk_monitoring_visits_visited_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_visits")),
    )
    with op.batch_alter_table("monitoring_visits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_monitoring_visits_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            "ix_monitoring_visits_org_status_due",
            ["organisation_id", "status", "due_on"],
            unique=False,
        )
        batch_op.create_index("ix_monitoring_visits_plan", ["plan_id", "due_on"], unique=False)

    op.create_table(
        "care_settings",
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("monitoring_months", JSON_TYPE, nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_care_settings_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("organisation_id", name=op.f("pk_care_settings")),
    )

    _first_placements()
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute(
            "ALTER TABLE placements ADD CONSTRAINT ex_placements_no_overlap EXCLUDE USING gist "
            "(child_id WITH =, daterange(started_on, ended_on) WITH &&)"
        )
    enable_tenant_rls("care_facilities", NETWORK_ADMIN)
    add_policy("care_facilities", "directory_read", "ovc_current_org() IS NOT NULL")
    enable_tenant_rls("placements")
    enable_tenant_rls("tracing_attempts")
    enable_tenant_rls("reintegration_plans")
    enable_tenant_rls("monitoring_visits")
    enable_tenant_rls("care_settings")
    add_policy("care_settings", "members_read_schedules", "ovc_current_org() IS NOT NULL")
    _network_views()


def _network_views() -> None:
    """The care facts network statistics count, as views owned by the schema owner."""
    if op.get_bind().dialect.name != "postgresql" or not _has_network_schema():
        return
    owner = op.get_bind().exec_driver_sql("SELECT quote_ident(current_user)").scalar_one()
    for table, body in NETWORK_VIEWS.items():
        op.execute(
            f"CREATE POLICY owner_reads_network_facts ON {table} FOR SELECT TO {owner} USING (true)"
        )
        op.execute(
            f"CREATE VIEW ovc_network.{table} WITH (security_barrier) AS {body} WHERE {ACTIVE}"
        )


def _has_network_schema() -> bool:
    return bool(op.get_bind().exec_driver_sql("SELECT to_regnamespace('ovc_network')").scalar())


JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
# As for users (0005): the network administrator's widening opens only in a transaction
# bound to the network secretariat; the app role setting `ovc.network` alone opens nothing.
NETWORK_ADMIN = (
    "current_setting('ovc.network', true) = 'on' AND ovc_current_org() IN "
    "(SELECT id FROM organisations WHERE short_name = 'NETWORK')"
)
ACTIVE = "organisation_id IN (SELECT id FROM public.organisations WHERE active)"
# Only what network care figures count, group and filter by.
NETWORK_VIEWS = {
    "placements": (
        "SELECT id, organisation_id, child_id, placement_type, started_on, ended_on"
        " FROM public.placements"
    ),
    "tracing_attempts": (
        "SELECT id, organisation_id, child_id, attempted_on, outcome FROM public.tracing_attempts"
    ),
}
PLACEMENT_OF = {
    "parents": "parents",
    "single_parent": "single_parent",
    "kinship_care": "kinship_care",
    "foster_care": "foster_care",
    "residential_care": "residential_care",
    "independent_living": "supported_independent_living",
    "other": "other",
}


def _first_placements() -> None:
    """Each existing child's recorded arrangement becomes its first, open placement."""
    bind = op.get_bind()
    children = bind.execute(
        sa.text("SELECT id, organisation_id, care_arrangement, created_at FROM children")
    ).all()
    placements = sa.table(
        "placements",
        sa.column("id", sa.Uuid()),
        sa.column("organisation_id", sa.Uuid()),
        sa.column("child_id", sa.Uuid()),
        sa.column("placement_type", sa.String()),
        sa.column("started_on", sa.Date()),
        sa.column("recorded_at_intake", sa.Boolean()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
        sa.column("version", sa.Integer()),
    )
    rows = []
    for child_id, organisation_id, arrangement, created_at in children:
        created = created_at if not isinstance(created_at, str) else _parse(created_at)
        rows.append(
            {
                "id": uuid.uuid4(),
                "organisation_id": _uuid(organisation_id),
                "child_id": _uuid(child_id),
                "placement_type": PLACEMENT_OF.get(arrangement, "other"),
                "started_on": created.date(),
                "recorded_at_intake": True,
                "created_at": created,
                "updated_at": created,
                "version": 1,
            }
        )
    for start in range(0, len(rows), 1000):
        op.bulk_insert(placements, rows[start : start + 1000])


def _uuid(value: object) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _parse(value: str):  # type: ignore[no-untyped-def]
    from datetime import datetime

    return datetime.fromisoformat(value)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in NETWORK_VIEWS:
            op.execute(f"DROP VIEW IF EXISTS ovc_network.{table}")
            op.execute(f"DROP POLICY IF EXISTS owner_reads_network_facts ON {table}")
    for table in (
        "care_facilities",
        "placements",
        "tracing_attempts",
        "reintegration_plans",
        "monitoring_visits",
        "care_settings",
    ):
        disable_tenant_rls(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP POLICY IF EXISTS directory_read ON care_facilities")
        op.execute("DROP POLICY IF EXISTS members_read_schedules ON care_settings")
        op.execute("ALTER TABLE placements DROP CONSTRAINT IF EXISTS ex_placements_no_overlap")
    op.drop_table("care_settings")

    with op.batch_alter_table("monitoring_visits", schema=None) as batch_op:
        batch_op.drop_index("ix_monitoring_visits_plan")
        batch_op.drop_index("ix_monitoring_visits_org_status_due")
        batch_op.drop_index(batch_op.f("ix_monitoring_visits_case_id"))

    op.drop_table("monitoring_visits")
    with op.batch_alter_table("reintegration_plans", schema=None) as batch_op:
        batch_op.drop_index("ix_reintegration_plans_org_status")
        batch_op.drop_index(batch_op.f("ix_reintegration_plans_child_id"))
        batch_op.drop_index(batch_op.f("ix_reintegration_plans_case_id"))

    op.drop_table("reintegration_plans")
    with op.batch_alter_table("placements", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_placements_one_open",
            sqlite_where=sa.text("ended_on IS NULL"),
            postgresql_where=sa.text("ended_on IS NULL"),
        )
        batch_op.drop_index("ix_placements_org_child")
        batch_op.drop_index(batch_op.f("ix_placements_facility_id"))
        batch_op.drop_index(batch_op.f("ix_placements_child_id"))

    op.drop_table("placements")
    with op.batch_alter_table("tracing_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_tracing_attempts_org_child")
        batch_op.drop_index(batch_op.f("ix_tracing_attempts_child_id"))
        batch_op.drop_index(batch_op.f("ix_tracing_attempts_case_id"))

    op.drop_table("tracing_attempts")
    with op.batch_alter_table("care_facilities", schema=None) as batch_op:
        batch_op.drop_index("ix_care_facilities_province")
        batch_op.drop_index(batch_op.f("ix_care_facilities_organisation_id"))

    op.drop_table("care_facilities")
