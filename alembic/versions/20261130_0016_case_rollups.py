"""Case rollups: `case_facts` pre-grouped by organisation, month and a dimension (issue 12).

`case_facts` (0014) made a case statistic one pass over one narrow row per case, but the
statistics the dashboard asks for most still read every row of the population: 1M for the
network's cases by province and quarter (660 ms), ~560k (case, concern) rows for the cases
by concern and age band, every closed case for the outcomes. Their groups are few: a few
provinces, ten concerns times six age bands, nine closure reasons per organisation and
month. `case_rollups` holds, per organisation, month and group of one of four *grains*,
the sums the statistics need:

- grain 1: month opened x the child's province;
- grain 2: month opened x concern x age band (one row per case and concern);
- grain 3: month opened x age band, the cases with at least one concern (a case once);
- grain 4: month closed x closure reason (NULL as `other`), the closed cases;
- grains 5, 6, 7: month opened x month closed (`until`, NULL while open), alone, x concern
  (a row per case and concern), x the child's province and district: the cases active in
  a quarter (the quarterly report's) are those opened by its last month and not closed
  before its first;
- grain 8: quarter closed (as its first month) x days from opening to closure, the closed
  cases: the medians of days to closure by quarter or year (a median needs every value,
  but per organisation and quarter the values are a few hundred distinct numbers).

Measures (all additive): `cases`; `sole_children` (rows whose `child_sole` is set: each such
child is counted once in any table); `case_keys` (every row's case key), `sole_case_keys`
and `sole_child_keys` (the keys of the rows whose flag is set). A distinct count is then
the sum of the sole part here plus `count(DISTINCT ...)` over the few rows of `case_facts`
without the flag (ovc_api.stats.rollups), exactly as the statements over `case_facts`.

Kept in the writing transaction by a row trigger on `case_facts` itself (which the 0014
triggers write in that transaction): an old row's contribution subtracted, a new one's
added, by INSERT ... ON CONFLICT DO UPDATE. Writers do not queue on one hot row per
organisation and month: each adds to the row of its *slot* (the backend's process id
modulo SLOTS), so two concurrent writers share a row only when their backends share a
slot; a reader sums the slots (a slot's sums may go negative; a group whose cases sum to
zero is no group). The backfill writes slot 0 only.

PostgreSQL only. The application role may only read it under the tenant rule; network
statistics read the view `ovc_network.case_rollups` (active members, in the network's own
transactions only). Also a covering index of the closed cases' dates on `case_facts`, for
the medians of days to closure (read from the index alone). Downgrade drops all of it.

Revision ID: 0016_case_rollups
Revises: 0015_service_facts
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

from ovc_api.migration_helpers import enable_tenant_rls

revision: str = "0016_case_rollups"
down_revision: str | None = "0015_service_facts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SLOTS = 8
ACTIVE = "organisation_id IN (SELECT id FROM public.organisations WHERE active)"
# As migration 0012 bound every network view: a transaction of the network organisation only.
NETWORK_ONLY = (
    "ovc_current_org() IN (SELECT id FROM public.organisations WHERE short_name = 'NETWORK')"
)
DEFINER = "SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp"
GROUP = (
    "grain, organisation_id, month, until, days, province, district, concern, age_band,"
    " closure_reason"
)
MEASURES = "cases, sole_children, case_keys, sole_case_keys, sole_child_keys"
# ovc_api.ages.age_band_of_years_sql when this was written (the bands of AgeBand).
BAND = """CASE WHEN f.age_years IS NULL THEN 'unknown' WHEN f.age_years < 5 THEN '0-4'
    WHEN f.age_years < 10 THEN '5-9' WHEN f.age_years < 15 THEN '10-14'
    WHEN f.age_years < 18 THEN '15-17' ELSE '18+' END"""
# One fact row's measures.
ONE = """1, CASE WHEN f.child_sole THEN 1 ELSE 0 END, f.case_key::bigint,
    CASE WHEN f.case_sole THEN f.case_key ELSE 0 END::bigint,
    CASE WHEN f.child_sole THEN f.child_key ELSE 0 END::bigint"""
# The rollup rows of the facts `{facts}` (one per fact row and grain it counts in).
ROWS = f"""
    SELECT 1, f.organisation_id, f.opened_month, NULL::integer, NULL::integer, f.province,
           NULL, NULL, NULL, NULL, {ONE}
    FROM {{facts}}
    UNION ALL
    SELECT 2, f.organisation_id, f.opened_month, NULL, NULL, NULL, NULL, c.concern, {BAND},
           NULL, {ONE}
    FROM {{facts}} CROSS JOIN LATERAL unnest(f.concerns) AS c(concern)
    UNION ALL
    SELECT 3, f.organisation_id, f.opened_month, NULL, NULL, NULL, NULL, NULL, {BAND}, NULL,
           {ONE}
    FROM {{facts}} WHERE cardinality(f.concerns) > 0
    UNION ALL
    SELECT 4, f.organisation_id, f.closed_month, NULL, NULL, NULL, NULL, NULL, NULL,
           coalesce(f.closure_reason, 'other'), {ONE}
    FROM {{facts}} WHERE f.closed_month IS NOT NULL
    UNION ALL
    SELECT 5, f.organisation_id, f.opened_month, f.closed_month, NULL, NULL, NULL, NULL, NULL,
           NULL, {ONE}
    FROM {{facts}}
    UNION ALL
    SELECT 6, f.organisation_id, f.opened_month, f.closed_month, NULL, NULL, NULL, c.concern,
           NULL, NULL, {ONE}
    FROM {{facts}} CROSS JOIN LATERAL unnest(f.concerns) AS c(concern)
    UNION ALL
    SELECT 7, f.organisation_id, f.opened_month, f.closed_month, NULL, f.province, f.district,
           NULL, NULL, NULL, {ONE}
    FROM {{facts}}
    UNION ALL
    SELECT 8, f.organisation_id, f.closed_month - f.closed_month % 3, NULL,
           f.closed_on - f.opened_on, NULL, NULL, NULL, NULL, NULL, {ONE}
    FROM {{facts}} WHERE f.closed_month IS NOT NULL
"""
TYPED = f"""SELECT grain::smallint, organisation_id, month, until, days,
    province::varchar(32), district::varchar(100), concern::varchar(40),
    age_band::varchar(16), closure_reason::varchar(40), {MEASURES}
    FROM ({ROWS}) AS s({GROUP}, {MEASURES})"""
COLUMNS = """
    grain smallint NOT NULL,
    organisation_id uuid NOT NULL,
    month integer NOT NULL,
    until integer,
    days integer,
    slot smallint NOT NULL DEFAULT 0,
    cases bigint NOT NULL,
    sole_children bigint NOT NULL,
    case_keys bigint NOT NULL,
    sole_case_keys bigint NOT NULL,
    sole_child_keys bigint NOT NULL,
    province varchar(32),
    district varchar(100),
    concern varchar(40),
    age_band varchar(16),
    closure_reason varchar(40)
"""
ADDED = ", ".join(f"{m} = r.{m} + EXCLUDED.{m}" for m in MEASURES.split(", "))
SIGNED = ", ".join(f"sum(sign * {m})" for m in MEASURES.split(", "))
FUNCTIONS = {
    # What a fact row's change (p_old to p_new, either NULL for an insert or a delete) adds
    # to the rows of this backend's slot: the new row's contributions less the old one's,
    # so the groups of a grain the change does not touch (a concern added leaves the
    # province's, the closure's and the spans' rows) are not written at all.
    "ovc_case_rollups_apply(p_old public.case_facts, p_new public.case_facts)": f"""
        BEGIN
            INSERT INTO public.case_rollups AS r ({GROUP}, slot, {MEASURES})
            SELECT {GROUP}, pg_backend_pid() % {SLOTS}, {SIGNED}
            FROM (
                SELECT 1 AS sign, n.*
                FROM ({TYPED.replace("{facts}", "(SELECT (p_new).*) AS f")}) AS n
                WHERE p_new.case_id IS NOT NULL
                UNION ALL
                SELECT -1, o.*
                FROM ({TYPED.replace("{facts}", "(SELECT (p_old).*) AS f")}) AS o
                WHERE p_old.case_id IS NOT NULL
            ) AS change
            GROUP BY {GROUP}
            HAVING ({SIGNED}) <> (0, 0, 0, 0, 0)
            ON CONFLICT ({GROUP}, slot) DO UPDATE SET {ADDED};
        END
    """,
}
TRIGGER_FUNCTION = "ovc_case_rollups_case_facts()"
TRIGGER_BODY = """
    DECLARE
        previous text := coalesce(current_setting('ovc.system', true), '');
    BEGIN
        PERFORM set_config('ovc.system', 'on', true);
        IF TG_OP = 'INSERT' THEN
            PERFORM public.ovc_case_rollups_apply(NULL, NEW);
        ELSIF TG_OP = 'UPDATE' THEN
            PERFORM public.ovc_case_rollups_apply(OLD, NEW);
        ELSE
            PERFORM public.ovc_case_rollups_apply(OLD, NULL);
        END IF;
        PERFORM set_config('ovc.system', previous, true);
        RETURN NULL;
    END
"""
# The columns of case_facts a rollup row depends on.
USED = (
    "organisation_id",
    "opened_month",
    "closed_month",
    "province",
    "district",
    "concerns",
    "age_years",
    "closure_reason",
    "closed_on",
    "opened_on",
    "case_key",
    "child_key",
    "child_sole",
    "case_sole",
)
CHANGED = "({}) IS DISTINCT FROM ({})".format(
    ", ".join(f"OLD.{c}" for c in USED), ", ".join(f"NEW.{c}" for c in USED)
)
TRIGGERS = [
    "AFTER INSERT OR DELETE ON case_facts FOR EACH ROW",
    f"AFTER UPDATE ON case_facts FOR EACH ROW WHEN ({CHANGED})",
]


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    quoted_owner = bind.exec_driver_sql("SELECT quote_ident(current_user)").scalar_one()
    op.execute(f"CREATE TABLE case_rollups ({COLUMNS})")
    op.execute(
        f"""
        INSERT INTO case_rollups ({GROUP}, {MEASURES})
        SELECT {GROUP}, sum(cases), sum(sole_children), sum(case_keys), sum(sole_case_keys),
               sum(sole_child_keys)
        FROM ({TYPED.replace("{facts}", "public.case_facts AS f")}) AS s
        GROUP BY {GROUP}
        ORDER BY grain, organisation_id, month
        """
    )
    # The trigger's conflict target; NULL (a grain's unused dimension) equal to NULL.
    op.execute(
        f"CREATE UNIQUE INDEX ux_case_rollups ON case_rollups ({GROUP}, slot) NULLS NOT DISTINCT"
    )
    op.execute("ANALYZE case_rollups")
    enable_tenant_rls("case_rollups", once_per_statement=True)
    op.execute(
        f"CREATE POLICY owner_reads_network_rollups ON case_rollups FOR SELECT "
        f"TO {quoted_owner} USING (true)"
    )
    for signature, body in FUNCTIONS.items():
        op.execute(
            f"CREATE FUNCTION {signature} RETURNS void LANGUAGE plpgsql {DEFINER} AS $$ {body} $$"
        )
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
    op.execute(
        f"CREATE FUNCTION {TRIGGER_FUNCTION} RETURNS trigger LANGUAGE plpgsql {DEFINER} "
        f"AS $$ {TRIGGER_BODY} $$"
    )
    for i, spec in enumerate(TRIGGERS):
        op.execute(
            f"CREATE TRIGGER ovc_case_rollups_{i} {spec} EXECUTE FUNCTION {TRIGGER_FUNCTION}"
        )
    op.execute(
        "CREATE VIEW ovc_network.case_rollups WITH (security_barrier) AS "
        f"SELECT grain, organisation_id, month, until, days, slot, {MEASURES}, province, district,"
        f" concern, age_band, closure_reason FROM public.case_rollups"
        f" WHERE {ACTIVE} AND {NETWORK_ONLY}"
    )
    # The medians of days to closure: the closed cases' dates from the index alone.
    op.execute(
        "CREATE INDEX ix_case_facts_closed ON case_facts (organisation_id, closed_month) "
        "INCLUDE (opened_on, closed_on) WHERE closed_on IS NOT NULL"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_case_facts_closed")
    op.execute("DROP VIEW IF EXISTS ovc_network.case_rollups")
    for i in range(len(TRIGGERS)):
        op.execute(f"DROP TRIGGER IF EXISTS ovc_case_rollups_{i} ON case_facts")
    op.execute(f"DROP FUNCTION IF EXISTS {TRIGGER_FUNCTION}")
    for signature in FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {signature}")
    op.execute("DROP TABLE IF EXISTS case_rollups")
