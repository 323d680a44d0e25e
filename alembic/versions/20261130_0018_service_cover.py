"""Service facts: whether the delivery's child (family) has a case of the organisation then.

The quarterly report counts the children (families) supported in a quarter: those with an
active case, and those served in the quarter without one. The second part looked every
served child up among the organisation's active cases (a hash of ~100k active cases, or a
probe per served child: 250-300 ms each at 1M cases). `service_facts` now says, per row
and for its child and its family, what the cases of the row's organisation were on the day
of the delivery (`child_cover`, `family_cover`):

- 1: a case of the child (family) was open that day (opened on or before it, not closed
  before it): the child is then one of the quarter's active cases' children;
- 2: the child (family) has no case of the organisation at all: it has no active case in
  any quarter;
- 0: anything else (a case at other times only), or not known: looked up as before.

A quarter's served children without an active case are then the rows not 1 whose child has
no case (2) or, for the few 0 rows, no active case looked up (ovc_api.reports.quarterly).
0 is always a safe value (it only costs the look-up); 1 and 2 are kept exact: the 0015
functions that count one child's (family's) rows again under its advisory lock now also
compute the covers of those rows, and a row trigger on `cases` (its organisation, child,
family or dates changed; inserted; deleted) calls them for the case's old and new child
and family, under the same locks (a service written and a case written concurrently for
one child: the later of the two, after the lock, sees the other's rows). The rebuild
function computes the covers in its one INSERT.

Also a covering index of case_rollups' grain 8 (quarter closed x days to closure): the
medians of days to closure read its 128k rows (1M cases, 20 organisations) from the index
alone instead of scanning the whole table (551k rows) for them.

PostgreSQL only. The network's view of service_facts lists its columns: unchanged.
Downgrade restores 0015's functions and drops the columns, the trigger and the index.

Revision ID: 0018_service_cover
Revises: 0017_case_facts_wall
Create Date: 2026-11-30
"""

from collections.abc import Sequence
from types import ModuleType

from alembic import op

from ovc_api.migration_helpers import earlier_migration

revision: str = "0018_service_cover"
down_revision: str | None = "0017_case_facts_wall"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHO = {"child": "children", "family": "families"}
DEFINER = "SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp"
REBUILD = "ovc_service_facts_rebuild()"
TRIGGER_FUNCTION = "ovc_service_cover_cases()"
DAYS_INDEX = "ix_case_rollups_closed_days"
DAYS_INDEXED = "(organisation_id, month, days) INCLUDE (cases) WHERE grain = 8"
CASE_COLUMNS = ("organisation_id", "child_id", "family_id", "opened_on", "closed_on")


def _migration_0015() -> ModuleType:
    """0015's module: its functions' bodies, extended here and restored on downgrade."""
    return earlier_migration(__file__, "20261130_0015_service_facts")


def cover(row: str, who: str) -> str:
    """The cover of a service_facts row `row` for its child or family (see above)."""
    same = f"c.organisation_id = {row}.organisation_id AND c.{who}_id = {row}.{who}_id"
    return f"""CASE WHEN {row}.{who}_id IS NULL THEN 0
        WHEN EXISTS (SELECT 1 FROM public.cases c WHERE {same}
                     AND c.opened_on <= {row}.delivered_on
                     AND (c.closed_on IS NULL OR c.closed_on >= {row}.delivered_on)) THEN 1
        WHEN NOT EXISTS (SELECT 1 FROM public.cases c WHERE {same}) THEN 2
        ELSE 0 END"""


def _recount(body: str, who: str) -> str:
    """0015's body of ovc_service_facts_<who>(p_id, p_key), then the covers of the rows."""
    head, end, tail = body.rpartition("END")
    covers = f"""
            UPDATE public.service_facts f SET {who}_cover = {cover("f", who)}
            WHERE f.{who}_id = p_id AND f.{who}_cover IS DISTINCT FROM {cover("f", who)};
        """
    return f"{head}{covers}{end}{tail}"


def _rebuild(m15: ModuleType) -> str:
    """0015's rebuild with the covers computed in its INSERT."""
    body: str = m15.FUNCTIONS[REBUILD]
    rest = body[body.index(m15._shared("child")) :]
    prev = ", ".join(m15.PREV_COLUMNS)
    return f"""
        DECLARE
            previous text := coalesce(current_setting('ovc.system', true), '');
        BEGIN
            PERFORM set_config('ovc.system', 'on', true);
            DELETE FROM public.service_facts;
            INSERT INTO public.service_facts ({m15.BASE}, {prev}, child_shared, family_shared,
                                              child_cover, family_cover)
            SELECT {m15.BASE}, {m15._lags("child")}, {m15._lags("family")}, false, false,
                   {cover("s", "child")}, {cover("s", "family")}
            FROM ({m15.SOURCE.replace("{where}", "true")}) AS s({m15.BASE})
            ORDER BY organisation_id, delivered_on;
            {rest}"""


def _functions(m15: ModuleType, *, covered: bool) -> dict[str, str]:
    bodies: dict[str, str] = {}
    for who in WHO:
        signature = f"ovc_service_facts_{who}(p_id uuid, p_key integer)"
        body: str = m15.FUNCTIONS[signature]
        bodies[signature] = _recount(body, who) if covered else body
    bodies[REBUILD] = _rebuild(m15) if covered else m15.FUNCTIONS[REBUILD]
    return bodies


def _replace(bodies: dict[str, str]) -> None:
    for signature, body in bodies.items():
        op.execute(
            f"CREATE OR REPLACE FUNCTION {signature} RETURNS void LANGUAGE plpgsql {DEFINER}"
            f" AS $$ {body} $$"
        )
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")


def _counted_again(record: str) -> str:
    """The case trigger's calls for the child and family of OLD or NEW."""
    return "\n".join(
        f"PERFORM public.ovc_service_facts_{who}({record}.{who}_id,"
        f" (SELECT x.record_key FROM public.{table} x WHERE x.id = {record}.{who}_id));"
        for who, table in WHO.items()
    )


TRIGGER_BODY = f"""
    DECLARE
        previous text := coalesce(current_setting('ovc.system', true), '');
    BEGIN
        PERFORM set_config('ovc.system', 'on', true);
        IF TG_OP <> 'INSERT' THEN
            {_counted_again("OLD")}
        END IF;
        IF TG_OP <> 'DELETE' THEN
            {_counted_again("NEW")}
        END IF;
        PERFORM set_config('ovc.system', previous, true);
        RETURN NULL;
    END
"""
CHANGED = "({}) IS DISTINCT FROM ({})".format(
    ", ".join(f"OLD.{c}" for c in CASE_COLUMNS), ", ".join(f"NEW.{c}" for c in CASE_COLUMNS)
)
TRIGGERS = {
    "ovc_service_cover_0": "AFTER INSERT OR DELETE ON cases FOR EACH ROW",
    "ovc_service_cover_1": f"AFTER UPDATE ON cases FOR EACH ROW WHEN ({CHANGED})",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    m15 = _migration_0015()
    for who in WHO:
        op.execute(f"ALTER TABLE service_facts ADD COLUMN {who}_cover smallint NOT NULL DEFAULT 0")
    _replace(_functions(m15, covered=True))
    op.execute(
        f"CREATE FUNCTION {TRIGGER_FUNCTION} RETURNS trigger LANGUAGE plpgsql {DEFINER}"
        f" AS $$ {TRIGGER_BODY} $$"
    )
    op.execute(f"REVOKE ALL ON FUNCTION {TRIGGER_FUNCTION} FROM PUBLIC")
    for name, spec in TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {spec} EXECUTE FUNCTION {TRIGGER_FUNCTION}")
    op.execute(f"SELECT {REBUILD}")
    op.execute("ANALYZE service_facts")
    op.execute(f"CREATE INDEX {DAYS_INDEX} ON case_rollups {DAYS_INDEXED}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"DROP INDEX IF EXISTS {DAYS_INDEX}")
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON cases")
    op.execute(f"DROP FUNCTION IF EXISTS {TRIGGER_FUNCTION}")
    _replace(_functions(_migration_0015(), covered=False))
    for who in WHO:
        op.execute(f"ALTER TABLE service_facts DROP COLUMN IF EXISTS {who}_cover")
