"""The network's case facts are the network's only, as its other views are.

Migration 0012 bound every `ovc_network` view to a transaction of the network organisation;
0014 then added `ovc_network.case_facts` with the active-members condition alone, so any
tenant's transaction (or one bound to none) could read every member's case facts through
it. The view is made again with both conditions; downgrade restores 0014's.

Revision ID: 0017_case_facts_wall
Revises: 0016_case_rollups
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017_case_facts_wall"
down_revision: str | None = "0016_case_rollups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As migrations 0012 and 0014 wrote them (same columns, same order).
ACTIVE = "organisation_id IN (SELECT id FROM public.organisations WHERE active)"
NETWORK_ONLY = (
    "ovc_current_org() IN (SELECT id FROM public.organisations WHERE short_name = 'NETWORK')"
)
CASE_FACTS = (
    "SELECT case_id, organisation_id, child_id, opened_on, case_key, child_key, child_sole,"
    " case_sole, opened_month, closed_on, closed_month, date_of_birth, age_years,"
    " NULL::uuid AS assigned_to, status, risk_level, referral_source, province, sex,"
    " care_arrangement, closure_reason, district, concerns FROM public.case_facts"
)


def _view(condition: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE OR REPLACE VIEW ovc_network.case_facts WITH (security_barrier) AS "
        f"{CASE_FACTS} WHERE {condition}"
    )


def upgrade() -> None:
    _view(f"{ACTIVE} AND {NETWORK_ONLY}")


def downgrade() -> None:
    _view(ACTIVE)
