"""The second wall cannot be opened from inside: no switch the application role can flip.

Before this revision the application role could `set_config('ovc.system', 'on')` and read
every tenant. Now (PostgreSQL only; SQLite has no second wall):

- `ovc_is_system()` is true only for the schema owner (the role running this migration) with
  the switch on: the app role setting `ovc.system` changes nothing.
- The look-ups that run before a tenant is known are `SECURITY DEFINER` functions owned by
  the schema owner, with a fixed `search_path`, each returning one organisation id for a
  credential: an account's organisation by e-mail (login), a refresh token's by its digest,
  an API key's by prefix *and* secret digest. The application then binds the transaction to
  that organisation and reads the rest under row-level security.
- Network statistics read the schema `ovc_network`: views owned by the schema owner over
  the active member organisations' case facts, with no names, notes or contacts. They are
  the only rows of other organisations the app role can read, and they read as the owner
  through a SELECT-only policy for the owner on those five tables.
- The network administrator's view of organisations' administrators (`ovc.network`)
  opens only in a transaction bound to the network secretariat.
- Anonymous audit events (a failed login for an unknown address) may be inserted with no
  organisation; nobody's rows are readable through that.
- A referral's parties and subject never change after sending, the sender is the only one
  who creates it, for its own case, child and family; the receiver may change only the
  status columns (a trigger, since both parties write through the same role). Likewise a
  conference's participants and action items are added only by its organiser, for its own
  conference (a participant row is what opens a conference to another organisation).

Grants (append-only audit and revision tables, EXECUTE and the `ovc_network` views) are in
the grant step of `ovc-api migrate` (alembic/env.py), so they follow new tables and
partitions.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

from ovc_api.migration_helpers import enable_tenant_rls

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFINER = "SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp"
# The look-ups run as the owner, whom row-level security binds too (FORCE): each opens the
# owner's switch around its one query and puts the caller's value back, so an ordinary,
# non-superuser owner finds the account. (A `SET ovc.system` clause on the function would
# need a superuser to create it; the switch opens nothing to the app role either way.)
LOOKUP_BODY = """
DECLARE
    previous text := coalesce(current_setting('ovc.system', true), '');
    found uuid;
BEGIN
    PERFORM set_config('ovc.system', 'on', true);
    {query} INTO found;
    PERFORM set_config('ovc.system', previous, true);
    RETURN found;
END
"""
LOOKUPS = {
    "ovc_login_organisation(p_email text)": (
        "SELECT organisation_id FROM public.users WHERE email = p_email"
    ),
    "ovc_refresh_token_organisation(p_digest text)": (
        "SELECT organisation_id FROM public.refresh_tokens WHERE token_digest = p_digest"
    ),
    "ovc_api_key_organisation(p_prefix text, p_digest text)": (
        "SELECT organisation_id FROM public.api_keys "
        "WHERE prefix = p_prefix AND secret_digest = p_digest"
    ),
}
ACTIVE = "organisation_id IN (SELECT id FROM public.organisations WHERE active)"
# Only what the network aggregates group, filter and count by.
NETWORK_VIEWS = {
    "cases": (
        "SELECT id, organisation_id, child_id, status, risk_level, referral_source,"
        " NULL::uuid AS assigned_to, opened_on, closed_on, closure_reason FROM public.cases"
    ),
    "children": (
        "SELECT id, organisation_id, province, district, sex, care_arrangement, date_of_birth"
        " FROM public.children"
    ),
    "case_concerns": "SELECT case_id, organisation_id, concern FROM public.case_concerns",
    "service_deliveries": (
        "SELECT organisation_id, child_id, family_id, service_type, province, district,"
        " delivered_on FROM public.service_deliveries"
    ),
    "referrals": (
        "SELECT organisation_id, status, created_at, decided_at, closed_at FROM public.referrals"
    ),
}
# The network administrator sees organisations' administrators: only in a transaction bound
# to the network secretariat, never with no organisation bound.
OLD_USERS_WIDENING = "role = 'org_admin' AND current_setting('ovc.network', true) = 'on'"
USERS_WIDENING = (
    f"{OLD_USERS_WIDENING} AND ovc_current_org() IN "
    "(SELECT id FROM organisations WHERE short_name = 'NETWORK')"
)
OLD_IS_SYSTEM = "SELECT coalesce(current_setting('ovc.system', true), '') = 'on'"
# Columns the receiving organisation may change: the workflow's, nothing it could widen.
RECEIVER_COLUMNS = (
    "status",
    "decision_reason",
    "decided_by",
    "decided_at",
    "closed_at",
    "receiver_case_id",
    "updated_at",
    "version",
)
FROZEN_COLUMNS = (
    "id",
    "organisation_id",
    "receiving_organisation_id",
    "case_id",
    "child_id",
    "family_id",
    "created_at",
    "created_by",
)


def _is_system(body: str) -> None:
    op.execute(
        f"CREATE OR REPLACE FUNCTION ovc_is_system() RETURNS boolean "
        f"LANGUAGE sql STABLE PARALLEL SAFE AS $$ {body} $$"
    )


def _referral_guard() -> str:
    frozen = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in FROZEN_COLUMNS)
    others = "(to_jsonb(NEW) - ARRAY[{0}]) IS DISTINCT FROM (to_jsonb(OLD) - ARRAY[{0}])".format(
        ", ".join(f"'{c}'" for c in RECEIVER_COLUMNS)
    )
    return f"""
        CREATE OR REPLACE FUNCTION ovc_referral_guard() RETURNS trigger
        LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
        BEGIN
            IF ovc_is_system() THEN
                RETURN NEW;
            END IF;
            IF TG_OP = 'INSERT' THEN
                IF NEW.organisation_id IS DISTINCT FROM ovc_current_org()
                   OR NEW.receiving_organisation_id = NEW.organisation_id
                   OR NOT EXISTS (SELECT 1 FROM public.cases WHERE id = NEW.case_id
                                  AND child_id = NEW.child_id
                                  AND organisation_id = NEW.organisation_id)
                   OR (NEW.family_id IS NOT NULL AND NOT EXISTS (
                        SELECT 1 FROM public.families WHERE id = NEW.family_id
                        AND organisation_id = NEW.organisation_id)) THEN
                    RAISE EXCEPTION 'a referral is sent by its own organisation, for its own case'
                        USING ERRCODE = 'insufficient_privilege';
                END IF;
                RETURN NEW;
            END IF;
            IF {frozen} THEN
                RAISE EXCEPTION 'a referral''s parties and subject never change'
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF OLD.organisation_id IS DISTINCT FROM ovc_current_org() AND {others} THEN
                RAISE EXCEPTION 'the receiving organisation changes only a referral''s status'
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            RETURN NEW;
        END $$
    """


# A conference's participants and action items are added by its organiser, for its own
# conference: a participant row is what lets an organisation read a conference.
CONFERENCE_LINKS = ("conference_participants", "conference_actions")
CONFERENCE_GUARD = """
    CREATE OR REPLACE FUNCTION ovc_conference_link_guard() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
    BEGIN
        IF ovc_is_system() THEN
            RETURN NEW;
        END IF;
        IF TG_OP = 'UPDATE' AND (NEW.conference_id IS DISTINCT FROM OLD.conference_id
           OR NEW.organisation_id IS DISTINCT FROM OLD.organisation_id
           OR NEW.organiser_organisation_id IS DISTINCT FROM OLD.organiser_organisation_id) THEN
            RAISE EXCEPTION 'a conference link never moves'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF TG_OP = 'INSERT' AND (NEW.organiser_organisation_id IS DISTINCT FROM ovc_current_org()
           OR NOT EXISTS (SELECT 1 FROM public.case_conferences WHERE id = NEW.conference_id
                          AND organisation_id = NEW.organiser_organisation_id)) THEN
            RAISE EXCEPTION 'only a conference''s organiser adds to it'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
    END $$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    owner = op.get_bind().exec_driver_sql("SELECT quote_literal(current_user)").scalar_one()
    quoted_owner = op.get_bind().exec_driver_sql("SELECT quote_ident(current_user)").scalar_one()
    _is_system(f"{OLD_IS_SYSTEM} AND current_user = {owner}")
    enable_tenant_rls("users", USERS_WIDENING)
    for signature, body in LOOKUPS.items():
        op.execute(
            f"CREATE OR REPLACE FUNCTION {signature} RETURNS uuid "
            f"LANGUAGE plpgsql VOLATILE {DEFINER} AS $$ {LOOKUP_BODY.format(query=body)} $$"
        )
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
    op.execute("CREATE SCHEMA IF NOT EXISTS ovc_network")
    op.execute("REVOKE ALL ON SCHEMA ovc_network FROM PUBLIC")
    for table, body in NETWORK_VIEWS.items():
        op.execute(
            f"CREATE POLICY owner_reads_network_facts ON {table} FOR SELECT "
            f"TO {quoted_owner} USING (true)"
        )
        op.execute(
            f"CREATE VIEW ovc_network.{table} WITH (security_barrier) AS {body} WHERE {ACTIVE}"
        )
    op.execute(
        "CREATE POLICY anonymous_events ON audit_events FOR INSERT "
        "WITH CHECK (organisation_id IS NULL)"
    )
    op.execute(_referral_guard())
    op.execute("REVOKE ALL ON FUNCTION ovc_referral_guard() FROM PUBLIC")
    op.execute(
        "CREATE TRIGGER referral_guard BEFORE INSERT OR UPDATE ON referrals "
        "FOR EACH ROW EXECUTE FUNCTION ovc_referral_guard()"
    )
    op.execute(CONFERENCE_GUARD)
    op.execute("REVOKE ALL ON FUNCTION ovc_conference_link_guard() FROM PUBLIC")
    for table in CONFERENCE_LINKS:
        op.execute(
            f"CREATE TRIGGER conference_link_guard BEFORE INSERT OR UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION ovc_conference_link_guard()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in CONFERENCE_LINKS:
        op.execute(f"DROP TRIGGER IF EXISTS conference_link_guard ON {table}")
    op.execute("DROP FUNCTION IF EXISTS ovc_conference_link_guard()")
    op.execute("DROP TRIGGER IF EXISTS referral_guard ON referrals")
    op.execute("DROP FUNCTION IF EXISTS ovc_referral_guard()")
    op.execute("DROP POLICY IF EXISTS anonymous_events ON audit_events")
    for table in NETWORK_VIEWS:
        op.execute(f"DROP VIEW IF EXISTS ovc_network.{table}")
        op.execute(f"DROP POLICY IF EXISTS owner_reads_network_facts ON {table}")
    op.execute("DROP SCHEMA IF EXISTS ovc_network")
    for signature in LOOKUPS:
        op.execute(f"DROP FUNCTION IF EXISTS {signature}")
    enable_tenant_rls("users", OLD_USERS_WIDENING)
    _is_system(OLD_IS_SYSTEM)
