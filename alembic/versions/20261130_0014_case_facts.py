"""Case facts: one narrow row per case for the statistics, kept by triggers (issue 12).

The case statistics grouped the organisation's cases joined to their children (and to
`case_concerns` for a grouping by concern) and counted distinct children with
`count(DISTINCT child_id)`, a sort of every group's rows: 1-3 s at 1M cases. `case_facts`
holds, per case, what those statistics group, filter and count by: the case's columns, its
child's (province, district, sex, care arrangement, date of birth), its concerns as an
array, and the two record keys of the network's cell keys (the case's as
`ovc_api.stats.engine._case_key` makes it, the child's). Two flags make distinct counts
cheap:

- `child_sole`: no other row carries this row's child key. Then this row's child has this
  case only (a child's rows all carry its key), so in any table the child is counted once
  and its key summed once: `count(DISTINCT child_id)` is the count of sole rows plus
  `count(DISTINCT child_id)` over the others (few: children with several cases, or a
  colliding key), and `SUM(DISTINCT child_key)` likewise.
- `case_sole`: no other row carries this row's case key (for `SUM(DISTINCT case_key)`).

PostgreSQL only (SQLite keeps the plain statements). The rows are written only by triggers
on `cases`, `children` and `case_concerns`, in the transaction of the write that changes
them: each recomputes the case's row from the tables (a SECURITY DEFINER function owned by
the schema owner, as the look-ups of 0005, since a key's other rows may be another
organisation's) and then the flags of the keys it touched, under a transaction-level
advisory lock per key so that two transactions adding the same key see each other. The
application role may only read it, under the tenant rule; network statistics read it
through the view `ovc_network.case_facts` (active members, no assignee), as the other
network views. The upgrade fills it from the existing cases; downgrade drops all of it.

Revision ID: 0014_case_facts
Revises: 0013_rls_initplans
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

from ovc_api.migration_helpers import enable_tenant_rls

revision: str = "0014_case_facts"
down_revision: str | None = "0013_rls_initplans"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY_RANGE = 256  # ovc_api.stats.perturbation.KEY_RANGE when this was written
ACTIVE = "organisation_id IN (SELECT id FROM public.organisations WHERE active)"
# Advisory lock classes (the two-key form) of a child key and of a case key.
CHILD_LOCK, CASE_LOCK = 1214, 1215

# Fixed-width columns first (cheaper to read a row's later columns), then the text ones.
COLUMNS = """
    case_id uuid PRIMARY KEY,
    organisation_id uuid NOT NULL,
    child_id uuid NOT NULL,
    opened_on date NOT NULL,
    case_key integer NOT NULL,
    child_key integer NOT NULL,
    child_sole boolean NOT NULL DEFAULT true,
    case_sole boolean NOT NULL DEFAULT true,
    opened_month integer NOT NULL,
    closed_on date,
    closed_month integer,
    date_of_birth date,
    age_years integer,
    assigned_to uuid,
    status varchar(16) NOT NULL,
    risk_level varchar(16) NOT NULL,
    referral_source varchar(32) NOT NULL,
    province varchar(32) NOT NULL,
    sex varchar(16) NOT NULL,
    care_arrangement varchar(24) NOT NULL,
    closure_reason varchar(40),
    district varchar(100),
    concerns varchar(40)[] NOT NULL
"""
NAMES = (
    "case_id, organisation_id, child_id, opened_on, case_key, child_key, opened_month,"
    " closed_on, closed_month, date_of_birth, age_years, assigned_to, status, risk_level,"
    " referral_source, province, sex, care_arrangement, closure_reason, district, concerns"
)
# A case's row from the tables (`{where}`: which cases).
# A date's month as one number (year * 12 + month - 1): its quarter is that divided by 3,
# its year divided by 12, each labelled by ovc_api.stats.engine after grouping.
MONTH = "CAST(date_part('year', {day}) * 12 + date_part('month', {day}) - 1 AS integer)"
# `age_years`: the child's completed years when the case opened, as
# ovc_api.ages.age_in_years_sql (NULL without a birth date or with one after the opening).
SOURCE = f"""
    SELECT c.id, c.organisation_id, c.child_id, c.opened_on,
           c.record_key - c.record_key % {KEY_RANGE} + ch.record_key % {KEY_RANGE},
           ch.record_key, {MONTH.format(day="c.opened_on")}, c.closed_on,
           {MONTH.format(day="c.closed_on")}, ch.date_of_birth,
           CASE WHEN ch.date_of_birth IS NULL OR ch.date_of_birth > c.opened_on THEN NULL
                ELSE CAST(date_part('year', age(c.opened_on, ch.date_of_birth)) AS integer)
           END,
           c.assigned_to, c.status, c.risk_level, c.referral_source, ch.province, ch.sex,
           ch.care_arrangement, c.closure_reason, ch.district,
           coalesce((SELECT array_agg(cc.concern ORDER BY cc.concern)
                     FROM public.case_concerns cc WHERE cc.case_id = c.id),
                    '{{}}')::varchar(40)[]
    FROM public.cases c JOIN public.children ch ON ch.id = c.child_id
    WHERE {{where}}
"""
UPDATED = ", ".join(f"{name.strip()} = EXCLUDED.{name.strip()}" for name in NAMES.split(","))
DEFINER = "SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp"
FUNCTIONS = {
    # The flags of one key's rows, once every transaction adding or removing it earlier
    # has committed (the lock; each statement below sees what they committed).
    "ovc_case_facts_flags(p_child_key integer, p_case_key integer)": f"""
        BEGIN
            IF p_child_key IS NOT NULL THEN
                PERFORM pg_advisory_xact_lock({CHILD_LOCK}, p_child_key);
                UPDATE public.case_facts f SET child_sole = s.sole
                FROM (SELECT count(*) = 1 AS sole FROM public.case_facts
                      WHERE child_key = p_child_key) s
                WHERE f.child_key = p_child_key AND f.child_sole IS DISTINCT FROM s.sole;
            END IF;
            IF p_case_key IS NOT NULL THEN
                PERFORM pg_advisory_xact_lock({CASE_LOCK}, p_case_key);
                UPDATE public.case_facts f SET case_sole = s.sole
                FROM (SELECT count(*) = 1 AS sole FROM public.case_facts
                      WHERE case_key = p_case_key) s
                WHERE f.case_key = p_case_key AND f.case_sole IS DISTINCT FROM s.sole;
            END IF;
        END
    """,
    # One case's row as the tables have it now (none if the case is gone), then the flags
    # of the keys it had and has.
    "ovc_case_facts_refresh(p_case uuid)": f"""
        DECLARE
            previous text := coalesce(current_setting('ovc.system', true), '');
            old_child integer;
            old_case integer;
            new_child integer;
            new_case integer;
        BEGIN
            PERFORM set_config('ovc.system', 'on', true);
            SELECT child_key, case_key INTO old_child, old_case
            FROM public.case_facts WHERE case_id = p_case;
            INSERT INTO public.case_facts ({NAMES})
            {SOURCE.replace("{where}", "c.id = p_case")}
            ON CONFLICT (case_id) DO UPDATE SET {UPDATED}
            RETURNING child_key, case_key INTO new_child, new_case;
            IF new_child IS NULL THEN
                DELETE FROM public.case_facts WHERE case_id = p_case;
            END IF;
            IF old_child IS DISTINCT FROM new_child OR old_case IS DISTINCT FROM new_case THEN
                PERFORM public.ovc_case_facts_flags(old_child, old_case);
            END IF;
            PERFORM public.ovc_case_facts_flags(new_child, new_case);
            PERFORM set_config('ovc.system', previous, true);
        END
    """,
}
CASE_COLUMNS = (
    "organisation_id",
    "child_id",
    "status",
    "risk_level",
    "referral_source",
    "assigned_to",
    "closure_reason",
    "opened_on",
    "closed_on",
    "record_key",
)
CHILD_COLUMNS = (
    "organisation_id",
    "province",
    "district",
    "sex",
    "care_arrangement",
    "date_of_birth",
    "record_key",
)


def _changed(columns: Sequence[str]) -> str:
    return "({}) IS DISTINCT FROM ({})".format(
        ", ".join(f"OLD.{c}" for c in columns), ", ".join(f"NEW.{c}" for c in columns)
    )


TRIGGERS = {
    # table: (function body, trigger events and condition)
    "cases": (
        """
        BEGIN
            IF TG_OP = 'DELETE' THEN
                PERFORM public.ovc_case_facts_refresh(OLD.id);
                RETURN OLD;
            END IF;
            PERFORM public.ovc_case_facts_refresh(NEW.id);
            IF TG_OP = 'UPDATE' AND OLD.id <> NEW.id THEN
                PERFORM public.ovc_case_facts_refresh(OLD.id);
            END IF;
            RETURN NEW;
        END
        """,
        [
            "AFTER INSERT OR DELETE",
            f"AFTER UPDATE FOR EACH ROW WHEN (OLD.id <> NEW.id OR {_changed(CASE_COLUMNS)})",
        ],
    ),
    "children": (
        """
        DECLARE
            one uuid;
        BEGIN
            FOR one IN SELECT id FROM public.cases WHERE child_id IN (OLD.id, NEW.id) LOOP
                PERFORM public.ovc_case_facts_refresh(one);
            END LOOP;
            RETURN NEW;
        END
        """,
        [f"AFTER UPDATE FOR EACH ROW WHEN (OLD.id <> NEW.id OR {_changed(CHILD_COLUMNS)})"],
    ),
    "case_concerns": (
        """
        BEGIN
            IF TG_OP IN ('UPDATE', 'DELETE') THEN
                PERFORM public.ovc_case_facts_refresh(OLD.case_id);
            END IF;
            IF TG_OP IN ('UPDATE', 'INSERT') THEN
                PERFORM public.ovc_case_facts_refresh(NEW.case_id);
            END IF;
            RETURN NULL;
        END
        """,
        ["AFTER INSERT OR UPDATE OR DELETE"],
    ),
}
# The refresh of the cases' rows (in the function) and the trigger functions: SECURITY
# DEFINER, since a key's other rows may be another organisation's.
TRIGGER_FUNCTION = "ovc_case_facts_{table}()"
NETWORK_VIEW = (
    "SELECT case_id, organisation_id, child_id, opened_on, case_key, child_key, child_sole,"
    " case_sole, opened_month, closed_on, closed_month, date_of_birth, age_years,"
    " NULL::uuid AS assigned_to, status, risk_level, referral_source, province, sex,"
    " care_arrangement, closure_reason, district, concerns FROM public.case_facts"
)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    quoted_owner = bind.exec_driver_sql("SELECT quote_ident(current_user)").scalar_one()
    op.execute(f"CREATE TABLE case_facts ({COLUMNS})")
    # Filled in the organisations' order (each tenant's rows together on disk), the flags
    # counted over the whole table at once.
    op.execute(
        f"""
        INSERT INTO case_facts ({NAMES}, child_sole, case_sole)
        SELECT *, count(*) OVER (PARTITION BY child_key) = 1,
               count(*) OVER (PARTITION BY case_key) = 1
        FROM ({SOURCE.replace("{where}", "true")}) AS s({NAMES})
        ORDER BY organisation_id, opened_on
        """
    )
    op.execute("CREATE INDEX ix_case_facts_organisation_id ON case_facts (organisation_id)")
    op.execute("CREATE INDEX ix_case_facts_child_key ON case_facts (child_key)")
    op.execute("CREATE INDEX ix_case_facts_case_key ON case_facts (case_key)")
    # The few rows whose distinct counts are sorted (see ovc_api.stats.engine): found at once.
    op.execute(
        "CREATE INDEX ix_case_facts_shared ON case_facts (organisation_id) "
        "WHERE NOT child_sole OR NOT case_sole"
    )
    op.execute("ANALYZE case_facts")
    enable_tenant_rls("case_facts", once_per_statement=True)
    op.execute(
        f"CREATE POLICY owner_reads_network_facts ON case_facts FOR SELECT "
        f"TO {quoted_owner} USING (true)"
    )
    for signature, body in FUNCTIONS.items():
        op.execute(
            f"CREATE FUNCTION {signature} RETURNS void LANGUAGE plpgsql {DEFINER} AS $$ {body} $$"
        )
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
    for table, (body, events) in TRIGGERS.items():
        function = TRIGGER_FUNCTION.format(table=table)
        op.execute(
            f"CREATE FUNCTION {function} RETURNS trigger LANGUAGE plpgsql {DEFINER} AS $$ {body} $$"
        )
        for i, event in enumerate(events):
            op.execute(
                f"CREATE TRIGGER ovc_case_facts_{i} {_event(event)} ON {table}"
                f"{_rest(event)} EXECUTE FUNCTION {function}"
            )
    op.execute(
        "CREATE VIEW ovc_network.case_facts WITH (security_barrier) AS "
        f"{NETWORK_VIEW} WHERE {ACTIVE}"
    )


def _event(event: str) -> str:
    """The events of a trigger spec ("AFTER UPDATE FOR EACH ROW WHEN (...)": "AFTER UPDATE")."""
    return event.split(" FOR EACH ROW")[0]


def _rest(event: str) -> str:
    """What follows the table: FOR EACH ROW and the condition, if any."""
    _, _, condition = event.partition(" FOR EACH ROW")
    return f" FOR EACH ROW{condition}"


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP VIEW IF EXISTS ovc_network.case_facts")
    for table, (_, events) in TRIGGERS.items():
        for i in range(len(events)):
            op.execute(f"DROP TRIGGER IF EXISTS ovc_case_facts_{i} ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS {TRIGGER_FUNCTION.format(table=table)}")
    for signature in reversed(list(FUNCTIONS)):
        op.execute(f"DROP FUNCTION IF EXISTS {signature}")
    op.execute("DROP TABLE IF EXISTS case_facts")
