"""Service facts: one narrow row per service delivered, with what makes distinct counts cheap.

The services statistics (GET /stats/services, /stats/network/services, the certificates and
enrolments of the outcomes, the quarterly report's services by type) count services and
distinct children and families per cell: `count(DISTINCT child_id)`, a sort of every
group's rows (1-5 s at 1M cases). A child has several services, so case_facts' sole flag
does not apply. `service_facts` holds, per delivery, the columns those statistics group and
filter by (type, province, district, date and its month, quarter and year starts), the
record keys of the network's cell keys, and, for each set of the grouping keys type,
province and district (8 sets: `_`, `t`, `p`, `d`, `tp`, `td`, `pd`, `tpd`), the date of
the previous delivery to the same child (`child_prev_<set>`) and to the same family
(`family_prev_<set>`) by the same organisation with the same values of the set's keys, in
the order (delivered_on, id); NULL if none, 'infinity' if the row has no child (family).

A row is then its child's first in a cell exactly when its previous delivery in the cell's
partition is NULL or earlier than the later of the range's `from` and the start of the
row's period (a quarter of the grouping, say): the distinct children of any cell, under any
date range, are a count of rows (see ovc_api.stats.service_facts). Two flags name the rows
for which that is not exact, counted the sorting way: `child_shared` (the child's services
were recorded by more than one organisation, as under a referral, or another child carries
its record key) and `family_shared` (the same for families).

PostgreSQL only (SQLite keeps the plain statements). The rows are written only by triggers
on `service_deliveries`, `children` and `families` (record keys), in the transaction of the
write: each recomputes the delivery's row, then the previous dates of its child's and
family's rows and the flags of their keys, under a transaction-level advisory lock per key
(two transactions serving the same child see each other), as 0014's. The application role
may only read it, under the tenant rule; network statistics read it through the view
`ovc_network.service_facts` (active members, the network's own organisation only, as the
other network views). The upgrade fills it from the existing deliveries with the function
`ovc_service_facts_rebuild()` (schema owner only; bulk loads that skip triggers call it
too); downgrade drops all of it.

Revision ID: 0015_service_facts
Revises: 0014_case_facts
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

from ovc_api.migration_helpers import enable_tenant_rls

revision: str = "0015_service_facts"
down_revision: str | None = "0014_case_facts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = "organisation_id IN (SELECT id FROM public.organisations WHERE active)"
NETWORK_ONLY = (
    "ovc_current_org() IN (SELECT id FROM public.organisations WHERE short_name = 'NETWORK')"
)
# Advisory lock classes (the two-key form) of a child key and of a family key.
CHILD_LOCK, FAMILY_LOCK = 1216, 1217
# The sets of grouping keys a previous date is kept for: t type, p province, d district.
SETS = {
    "_": (),
    "t": ("service_type",),
    "p": ("province",),
    "d": ("district",),
    "tp": ("service_type", "province"),
    "td": ("service_type", "district"),
    "pd": ("province", "district"),
    "tpd": ("service_type", "province", "district"),
}
WHO = ("child", "family")


def _prev_columns(who: str) -> list[str]:
    return [f"{who}_prev_{name}" for name in SETS]


PREV_COLUMNS = [column for who in WHO for column in _prev_columns(who)]
COLUMNS = f"""
    service_id uuid PRIMARY KEY,
    organisation_id uuid NOT NULL,
    child_id uuid,
    family_id uuid,
    delivered_on date NOT NULL,
    month_start date NOT NULL,
    quarter_start date NOT NULL,
    year_start date NOT NULL,
    service_key integer NOT NULL,
    child_key integer,
    family_key integer,
    child_shared boolean NOT NULL DEFAULT false,
    family_shared boolean NOT NULL DEFAULT false,
    {", ".join(f"{c} date" for c in PREV_COLUMNS)},
    service_type varchar(40) NOT NULL,
    province varchar(32) NOT NULL,
    district varchar(100)
"""
BASE = (
    "service_id, organisation_id, child_id, family_id, delivered_on, month_start,"
    " quarter_start, year_start, service_key, child_key, family_key, service_type, province,"
    " district"
)
# A delivery's row from the tables (`{where}`: which deliveries), previous dates and flags
# left to be counted: 'infinity' where there is no child (family), else NULL.
SOURCE = """
    SELECT s.id, s.organisation_id, s.child_id, s.family_id, s.delivered_on,
           CAST(date_trunc('month', s.delivered_on) AS date),
           CAST(date_trunc('quarter', s.delivered_on) AS date),
           CAST(date_trunc('year', s.delivered_on) AS date),
           s.record_key, ch.record_key, fa.record_key, s.service_type, s.province, s.district
    FROM public.service_deliveries s
    LEFT JOIN public.children ch ON ch.id = s.child_id
    LEFT JOIN public.families fa ON fa.id = s.family_id
    WHERE {where}
"""


def _lags(who: str) -> str:
    """The previous dates of `who`'s rows, as window functions over the facts."""
    lags = []
    for keys in SETS.values():
        partition = ", ".join(("organisation_id", f"{who}_id", *keys))
        lags.append(
            f"CASE WHEN {who}_id IS NULL THEN 'infinity'::date ELSE lag(delivered_on) OVER "
            f"(PARTITION BY {partition} ORDER BY delivered_on, service_id) END"
        )
    return ", ".join(lags)


TABLES = {"child": "children", "family": "families"}


def _shared(who: str) -> str:
    """Every shared row of `who` flagged: several organisations recorded its services, or
    another than its own, or its key is another's too."""
    return f"""
        UPDATE public.service_facts SET {who}_shared = true
        WHERE {who}_id IN (SELECT {who}_id FROM public.service_facts WHERE {who}_id IS NOT NULL
                           GROUP BY {who}_id HAVING count(DISTINCT organisation_id) > 1)
           OR {who}_id IN (SELECT f.{who}_id FROM public.service_facts f
                           JOIN public.{TABLES[who]} x ON x.id = f.{who}_id
                           WHERE x.organisation_id <> f.organisation_id)
           OR {who}_key IN (SELECT {who}_key FROM public.service_facts
                            WHERE {who}_id IS NOT NULL
                            GROUP BY {who}_key HAVING count(DISTINCT {who}_id) > 1);
    """


def _recount(who: str) -> str:
    """The previous dates of one child's (family's) rows, then the flags of its key's rows."""
    prev = _prev_columns(who)
    counted = ", ".join(f"w.{c}" for c in prev)
    return f"""
        UPDATE public.service_facts f SET ({", ".join(prev)}) = ({counted})
        FROM (SELECT service_id, {_lags(who)} FROM public.service_facts
              WHERE {who}_id = p_id) AS w(service_id, {", ".join(prev)})
        WHERE f.service_id = w.service_id
          AND ({", ".join(f"f.{c}" for c in prev)}) IS DISTINCT FROM
              ({counted});
        IF p_key IS NOT NULL THEN
            UPDATE public.service_facts f SET {who}_shared = k.shared
            FROM (SELECT {who}_id, count(*) OVER () > 1 OR orgs > 1 OR g.foreign AS shared
                  FROM (SELECT f.{who}_id, count(DISTINCT f.organisation_id) AS orgs,
                               bool_or(f.organisation_id <> x.organisation_id) AS foreign
                        FROM public.service_facts f
                        JOIN public.{TABLES[who]} x ON x.id = f.{who}_id
                        WHERE f.{who}_key = p_key
                        GROUP BY f.{who}_id) g) k
            WHERE f.{who}_key = p_key AND f.{who}_id = k.{who}_id
              AND f.{who}_shared IS DISTINCT FROM k.shared;
        END IF;
    """


# A new row's previous dates until counted: 'infinity' where it has no child (family).
NO_PREVIOUS = ", ".join(
    f"CASE WHEN s.{c.split('_')[0]}_id IS NULL THEN 'infinity'::date END" for c in PREV_COLUMNS
)
# --- the network's summary: service_facts summed per organisation, type, province, quarter --
# Network statistics group by type, province, organisation kind and quarter or year, over
# a whole quarter, a whole year or all time; each of their first-row conditions is then one
# of three per set of keys (see ovc_api.stats.engine): the previous delivery before the
# row's quarter (`q`), before its year (`y`), or none (`a`). `service_summary` holds those
# counts and their key sums per cell, as rows of changes: a row trigger on service_facts
# inserts the difference each changed row makes (no row is updated, so writers never wait
# for each other), and readers sum the rows of a cell.
# `ovc_service_summary_compact()` merges each cell's rows into one.
SUMMARY_SETS = {
    "_": (),
    "t": ("service_type",),
    "p": ("province",),
    "tp": ("service_type", "province"),
}
MODES = {
    "q": "{prev} < quarter_start",
    "y": "{prev} < year_start",
    "a": "false",
}
CELL = ("organisation_id", "service_type", "province", "quarter_start", "year_start")


def _summary_measures() -> dict[str, str]:
    """Each column of the summary: what one service_facts row adds to it."""
    measures = {"services": "1", "service_key": "service_key"}
    for who in WHO:
        for name in SUMMARY_SETS:
            prev = f"{who}_prev_{name}"
            for mode, before in MODES.items():
                first = f"NOT {who}_shared AND ({prev} IS NULL OR {before.format(prev=prev)})"
                column = f"{who}_{name}_{mode}"
                measures[column] = f"CASE WHEN {first} THEN 1 ELSE 0 END"
                measures[f"{column}_key"] = f"CASE WHEN {first} THEN {who}_key ELSE 0 END"
    return measures


SUMMARY_MEASURES = _summary_measures()
SUMMARY_COLUMNS = (
    "organisation_id uuid NOT NULL, service_type varchar(40) NOT NULL,"
    " province varchar(32) NOT NULL, quarter_start date NOT NULL, year_start date NOT NULL, "
    + ", ".join(f"{name} bigint NOT NULL" for name in SUMMARY_MEASURES)
)


def _summed(rows: str, sign: str) -> str:
    """The summary's columns of a set of service_facts rows, per cell, times `sign`."""
    measures = ", ".join(f"{sign} * ({m}) AS {n}" for n, m in SUMMARY_MEASURES.items())
    return f"SELECT {', '.join(CELL)}, {measures} FROM {rows}"


SUMMARY_INSERT = (
    f"INSERT INTO public.service_summary ({', '.join(CELL)}, {', '.join(SUMMARY_MEASURES)})"
)
SUMMARY_TOTALS = ", ".join(f"sum({n})" for n in SUMMARY_MEASURES)
SUMMARY_NONZERO = " OR ".join(f"sum({n}) <> 0" for n in SUMMARY_MEASURES)


def _summary_change() -> str:
    """The row trigger's body: the summary's change of one service_facts row's change (a
    row of differences per cell it leaves or enters; none where nothing it counts moved)."""

    def of(record: str, sign: str) -> str:
        return _summed(f"(SELECT {record}.*) AS r", sign)

    def insert(rows: str) -> str:
        return (
            f"{SUMMARY_INSERT} SELECT {', '.join(CELL)}, {SUMMARY_TOTALS} FROM ({rows}) AS d"
            f" GROUP BY {', '.join(CELL)} HAVING {SUMMARY_NONZERO};"
        )

    return f"""
        BEGIN
            IF TG_OP = 'INSERT' THEN
                {insert(of("NEW", "1"))}
            ELSIF TG_OP = 'DELETE' THEN
                {insert(of("OLD", "-1"))}
            ELSE
                {insert(of("NEW", "1") + " UNION ALL " + of("OLD", "-1"))}
            END IF;
            RETURN NULL;
        END
    """


SUMMARY_FUNCTION = "ovc_service_summary_change()"
DEFINER = "SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp"
LOCKS = {"child": CHILD_LOCK, "family": FAMILY_LOCK}
FUNCTIONS = {
    **{
        # One child's (family's) rows counted again, once every transaction changing its
        # key's rows earlier has committed (the lock; each statement below sees them).
        f"ovc_service_facts_{who}(p_id uuid, p_key integer)": f"""
        BEGIN
            IF p_id IS NULL THEN
                RETURN;
            END IF;
            PERFORM pg_advisory_xact_lock({LOCKS[who]}, coalesce(p_key, 0));
            {_recount(who)}
        END
        """
        for who in WHO
    },
    # One delivery's row as the tables have it now (none if it is gone), then its old and
    # new child's and family's rows.
    "ovc_service_facts_refresh(p_service uuid)": f"""
        DECLARE
            previous text := coalesce(current_setting('ovc.system', true), '');
            old_child uuid;
            old_child_key integer;
            old_family uuid;
            old_family_key integer;
            new_child uuid;
            new_child_key integer;
            new_family uuid;
            new_family_key integer;
            found_row boolean;
        BEGIN
            PERFORM set_config('ovc.system', 'on', true);
            SELECT child_id, child_key, family_id, family_key
            INTO old_child, old_child_key, old_family, old_family_key
            FROM public.service_facts WHERE service_id = p_service;
            INSERT INTO public.service_facts ({BASE}, {", ".join(PREV_COLUMNS)},
                                              child_shared, family_shared)
            SELECT *, {NO_PREVIOUS},
                   false, false
            FROM ({SOURCE.replace("{where}", "s.id = p_service")}) AS s({BASE})
            ON CONFLICT (service_id) DO UPDATE SET
                {", ".join(f"{c.strip()} = EXCLUDED.{c.strip()}" for c in BASE.split(","))},
                {", ".join(f"{c} = EXCLUDED.{c}" for c in PREV_COLUMNS)},
                child_shared = false, family_shared = false
            RETURNING true, child_id, child_key, family_id, family_key
            INTO found_row, new_child, new_child_key, new_family, new_family_key;
            IF found_row IS NULL THEN
                DELETE FROM public.service_facts WHERE service_id = p_service;
            END IF;
            IF old_child IS DISTINCT FROM new_child
               OR old_child_key IS DISTINCT FROM new_child_key THEN
                PERFORM public.ovc_service_facts_child(old_child, old_child_key);
            END IF;
            PERFORM public.ovc_service_facts_child(new_child, new_child_key);
            IF old_family IS DISTINCT FROM new_family
               OR old_family_key IS DISTINCT FROM new_family_key THEN
                PERFORM public.ovc_service_facts_family(old_family, old_family_key);
            END IF;
            PERFORM public.ovc_service_facts_family(new_family, new_family_key);
            PERFORM set_config('ovc.system', previous, true);
        END
    """,
    # Every row again from the tables (the upgrade; bulk loads that skipped the triggers).
    "ovc_service_facts_rebuild()": f"""
        DECLARE
            previous text := coalesce(current_setting('ovc.system', true), '');
        BEGIN
            PERFORM set_config('ovc.system', 'on', true);
            DELETE FROM public.service_facts;
            INSERT INTO public.service_facts ({BASE}, {", ".join(PREV_COLUMNS)},
                                              child_shared, family_shared)
            SELECT {BASE}, {_lags("child")}, {_lags("family")}, false, false
            FROM ({SOURCE.replace("{where}", "true")}) AS s({BASE})
            ORDER BY organisation_id, delivered_on;
            {_shared("child")}
            {_shared("family")}
            DELETE FROM public.service_summary;
            {SUMMARY_INSERT}
            SELECT {", ".join(CELL)}, {SUMMARY_TOTALS}
            FROM ({_summed("public.service_facts", "1")}) AS d
            GROUP BY {", ".join(CELL)};
            PERFORM set_config('ovc.system', previous, true);
        END
    """,
    # Each cell's rows of changes merged into one (any time: the rows it merges are those
    # its statement sees; a concurrent writer's rows stay as they are).
    "ovc_service_summary_compact()": f"""
        DECLARE
            previous text := coalesce(current_setting('ovc.system', true), '');
        BEGIN
            PERFORM set_config('ovc.system', 'on', true);
            WITH gone AS (DELETE FROM public.service_summary RETURNING *)
            {SUMMARY_INSERT}
            SELECT {", ".join(CELL)}, {SUMMARY_TOTALS} FROM gone
            GROUP BY {", ".join(CELL)} HAVING {SUMMARY_NONZERO};
            PERFORM set_config('ovc.system', previous, true);
        END
    """,
}
SERVICE_COLUMNS = (
    "organisation_id",
    "child_id",
    "family_id",
    "service_type",
    "delivered_on",
    "province",
    "district",
    "record_key",
)


def _changed(columns: Sequence[str]) -> str:
    return "({}) IS DISTINCT FROM ({})".format(
        ", ".join(f"OLD.{c}" for c in columns), ", ".join(f"NEW.{c}" for c in columns)
    )


def _of(who: str) -> str:
    """The trigger body of `children` or `families`: their deliveries' rows again."""
    return f"""
        DECLARE
            one uuid;
        BEGIN
            FOR one IN SELECT id FROM public.service_deliveries
                       WHERE {who}_id IN (OLD.id, NEW.id) LOOP
                PERFORM public.ovc_service_facts_refresh(one);
            END LOOP;
            RETURN NEW;
        END
    """


# A child's (family's) columns the facts follow: its key, and its organisation (a delivery
# by another is shared).
OWNER_COLUMNS = ("organisation_id", "record_key")
TRIGGERS = {
    # table: (function body, trigger events and condition)
    "service_deliveries": (
        """
        BEGIN
            IF TG_OP = 'DELETE' THEN
                PERFORM public.ovc_service_facts_refresh(OLD.id);
                RETURN OLD;
            END IF;
            PERFORM public.ovc_service_facts_refresh(NEW.id);
            IF TG_OP = 'UPDATE' AND OLD.id <> NEW.id THEN
                PERFORM public.ovc_service_facts_refresh(OLD.id);
            END IF;
            RETURN NEW;
        END
        """,
        [
            "AFTER INSERT OR DELETE",
            f"AFTER UPDATE FOR EACH ROW WHEN (OLD.id <> NEW.id OR {_changed(SERVICE_COLUMNS)})",
        ],
    ),
    "children": (
        _of("child"),
        [f"AFTER UPDATE FOR EACH ROW WHEN (OLD.id <> NEW.id OR {_changed(OWNER_COLUMNS)})"],
    ),
    "families": (
        _of("family"),
        [f"AFTER UPDATE FOR EACH ROW WHEN (OLD.id <> NEW.id OR {_changed(OWNER_COLUMNS)})"],
    ),
}
TRIGGER_FUNCTION = "ovc_service_facts_{table}()"
NETWORK_VIEW = (
    f"SELECT service_id, organisation_id, child_id, family_id, delivered_on, month_start,"
    f" quarter_start, year_start, service_key, child_key, family_key, child_shared,"
    f" family_shared, {', '.join(PREV_COLUMNS)}, service_type, province, district"
    f" FROM public.service_facts WHERE {ACTIVE} AND {NETWORK_ONLY}"
)


NETWORK_SUMMARY = f"SELECT * FROM public.service_summary WHERE {ACTIVE} AND {NETWORK_ONLY}"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    quoted_owner = bind.exec_driver_sql("SELECT quote_ident(current_user)").scalar_one()
    op.execute(f"CREATE TABLE service_facts ({COLUMNS})")
    op.execute(f"CREATE TABLE service_summary ({SUMMARY_COLUMNS})")
    for signature, body in FUNCTIONS.items():
        op.execute(
            f"CREATE FUNCTION {signature} RETURNS void LANGUAGE plpgsql {DEFINER} AS $$ {body} $$"
        )
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
    op.execute("SELECT ovc_service_facts_rebuild()")
    # The organisation's rows by date (statistics of a range), of a type (the outcomes'
    # certificates and enrolments), the keys and ids the triggers count again, and the few
    # shared rows whose distinct counts are sorted.
    op.execute(
        "CREATE INDEX ix_service_facts_org_delivered ON service_facts "
        "(organisation_id, delivered_on)"
    )
    op.execute(
        "CREATE INDEX ix_service_facts_org_type ON service_facts "
        "(organisation_id, service_type, delivered_on)"
    )
    for who in WHO:
        op.execute(f"CREATE INDEX ix_service_facts_{who}_id ON service_facts ({who}_id)")
        op.execute(f"CREATE INDEX ix_service_facts_{who}_key ON service_facts ({who}_key)")
    op.execute(
        "CREATE INDEX ix_service_facts_shared ON service_facts (organisation_id, delivered_on) "
        "WHERE child_shared OR family_shared"
    )
    op.execute("ANALYZE service_facts")
    op.execute("CREATE INDEX ix_service_summary_cell ON service_summary (organisation_id)")
    op.execute("ANALYZE service_summary")
    for table in ("service_facts", "service_summary"):
        enable_tenant_rls(table, once_per_statement=True)
        op.execute(
            f"CREATE POLICY owner_reads_network_facts ON {table} FOR SELECT "
            f"TO {quoted_owner} USING (true)"
        )
    op.execute(
        f"CREATE FUNCTION {SUMMARY_FUNCTION} RETURNS trigger LANGUAGE plpgsql {DEFINER} AS $$ "
        f"{_summary_change()} $$"
    )
    op.execute(
        "CREATE TRIGGER ovc_service_summary_change AFTER INSERT OR UPDATE OR DELETE"
        f" ON service_facts FOR EACH ROW EXECUTE FUNCTION {SUMMARY_FUNCTION}"
    )
    for table, (body, events) in TRIGGERS.items():
        function = TRIGGER_FUNCTION.format(table=table)
        op.execute(
            f"CREATE FUNCTION {function} RETURNS trigger LANGUAGE plpgsql {DEFINER} AS $$ {body} $$"
        )
        for i, event in enumerate(events):
            op.execute(
                f"CREATE TRIGGER ovc_service_facts_{i} {_event(event)} ON {table}"
                f"{_rest(event)} EXECUTE FUNCTION {function}"
            )
    if bind.exec_driver_sql("SELECT to_regnamespace('ovc_network')").scalar():
        op.execute(
            f"CREATE VIEW ovc_network.service_facts WITH (security_barrier) AS {NETWORK_VIEW}"
        )
        op.execute(
            f"CREATE VIEW ovc_network.service_summary WITH (security_barrier) AS {NETWORK_SUMMARY}"
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
    op.execute("DROP VIEW IF EXISTS ovc_network.service_summary")
    op.execute("DROP VIEW IF EXISTS ovc_network.service_facts")
    op.execute("DROP TRIGGER IF EXISTS ovc_service_summary_change ON service_facts")
    op.execute(f"DROP FUNCTION IF EXISTS {SUMMARY_FUNCTION}")
    for table, (_, events) in TRIGGERS.items():
        for i in range(len(events)):
            op.execute(f"DROP TRIGGER IF EXISTS ovc_service_facts_{i} ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS {TRIGGER_FUNCTION.format(table=table)}")
    for signature in reversed(list(FUNCTIONS)):
        op.execute(f"DROP FUNCTION IF EXISTS {signature}")
    op.execute("DROP TABLE IF EXISTS service_facts")
    op.execute("DROP TABLE IF EXISTS service_summary")
