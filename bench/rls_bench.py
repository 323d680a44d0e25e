"""Row-level security per row or once per statement (migration 0013): tenant reads timed both ways.

Copies a generated database (`generate.py`, default `ovc_bench`; the template is only read)
to a scratch one, migrates the copy, then alternates its policies between the form of
migration 0012 (tenant functions called bare, evaluated for every row) and 0013 (scalar
sub-selects, one InitPlan per statement) with Alembic's downgrade/upgrade, timing in each
round, as the non-superuser app role bound to the largest organisation (the app's
`set_config` settings, and the statistics' `SET LOCAL`s for the statistic):

- `SELECT count(*) FROM cases` (row-level security alone decides the rows);
- the same with the application's own `WHERE organisation_id = ...`;
- cases by province and quarter, as `stats_bench.py`'s raw SQL for
  `GET /stats/cases?group_by=province,quarter`.

Medians of `--repeat` rounds (before and after alternate, so drift falls on both sides).
The copy is dropped at the end unless `--keep`.

    .venv/bin/python bench/rls_bench.py                  # ovc_bench -> ovc_bench_rls, 5 rounds
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from statistics import median

import psycopg
from alembic import command
from alembic.script import ScriptDirectory

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_ADMIN_URL, DEFAULT_APP_ROLE, BenchDatabase

from ovc_api.db import alembic_config
from ovc_api.stats.engine import STATS_SETTINGS

REVISION = "0013_rls_initplans"
QUARTER = "'YYYY-\"Q\"Q'"


def queries(org: str) -> dict[str, tuple[str, bool]]:
    """name -> (SQL, whether it runs with the statistics' settings)."""
    return {
        "count(*) of cases, RLS alone": ("SELECT count(*) FROM cases", False),
        "count(*) of cases, app's WHERE": (
            f"SELECT count(*) FROM cases WHERE organisation_id = '{org}'",
            False,
        ),
        "cases by province, quarter": (
            f"""SELECT ch.province, to_char(c.opened_on, {QUARTER}) AS quarter, count(*),
                       count(DISTINCT c.child_id)
                FROM cases c JOIN children ch ON ch.id = c.child_id
                WHERE c.organisation_id = '{org}'
                GROUP BY GROUPING SETS ((ch.province, quarter), ())""",
            True,
        ),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL, help="a superuser's URL")
    parser.add_argument("--template", default="ovc_bench", help="generated database (read)")
    parser.add_argument("--database", default="ovc_bench_rls", help="the scratch copy")
    parser.add_argument("--app-role", default=DEFAULT_APP_ROLE)
    parser.add_argument("--org", default="BENCH01", help="short name of the bound organisation")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="do not drop the copy")
    return parser.parse_args(argv)


def copy_template(db: BenchDatabase, template: str) -> None:
    """CREATE DATABASE ... TEMPLATE: refused while anyone is connected to the template, so
    retried for a few minutes."""
    for attempt in range(6):
        try:
            with db.admin_connection() as conn:
                conn.execute(f'CREATE DATABASE "{db.name}" TEMPLATE "{template}"')
            return
        except psycopg.errors.ObjectInUse:
            if attempt == 5:
                raise
            print(f"{template} is in use; retrying in 60 s", flush=True)
            time.sleep(60)


def timed(db: BenchDatabase, org: str, sql: str, tuned: bool) -> tuple[float, bool]:
    """Milliseconds of `sql` as the app role bound to `org`, and whether its plan has an
    InitPlan (the policies' settings read once)."""
    with psycopg.connect(db.libpq(db.app_url)) as conn:
        conn.execute(
            "SELECT set_config('ovc.org_id', %s, true), set_config('ovc.system', 'off', true),"
            " set_config('ovc.network', 'off', true)",
            (org,),
        )
        for name, value in STATS_SETTINGS.items() if tuned else ():
            conn.execute("SELECT set_config(%s, %s, true)", (name, value))
        plan = "\n".join(str(r[0]) for r in conn.execute(f"EXPLAIN {sql}"))
        started = time.perf_counter()
        conn.execute(sql).fetchall()
        elapsed = (time.perf_counter() - started) * 1000
        conn.rollback()
    return elapsed, "InitPlan" in plan


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    db = BenchDatabase(args.admin_url, args.database, args.app_role)
    copy_template(db, args.template)
    try:
        config = alembic_config(db.owner_url, db.app_url)
        before = ScriptDirectory.from_config(config).get_revision(REVISION).down_revision
        assert isinstance(before, str)
        command.upgrade(config, REVISION)
        with db.owner_connection() as conn:
            row = conn.execute(
                "SELECT id::text FROM organisations WHERE short_name = %s", (args.org,)
            ).fetchone()
        assert row is not None, f"no organisation {args.org}"
        org = str(row[0])
        sql = queries(org)
        for statement, tuned in sql.values():  # warm the cache
            timed(db, org, statement, tuned)
        times: dict[tuple[str, str], list[float]] = {}
        plans: dict[tuple[str, str], bool] = {}
        for round_ in range(args.repeat):
            for state, revision in (("before", before), ("after", REVISION)):
                if revision == before:
                    command.downgrade(config, before)
                else:
                    command.upgrade(config, REVISION)
                for name, (statement, tuned) in sql.items():
                    ms, initplan = timed(db, org, statement, tuned)
                    times.setdefault((name, state), []).append(ms)
                    plans[(name, state)] = initplan
            print(f"round {round_ + 1}/{args.repeat} done", flush=True)
        print(f"\n{args.org} ({org}), medians of {args.repeat} rounds, ms")
        print("| query | before (0012: per row) | after (0013: InitPlan) | after/before |")
        print("|---|---:|---:|---:|")
        for name in sql:
            b, a = median(times[(name, "before")]), median(times[(name, "after")])
            print(f"| {name} | {b:,.1f} | {a:,.1f} | {a / b:.2f} |")
        for (name, state), initplan in plans.items():
            print(f"  {state:6} {name}: InitPlan in plan: {initplan}")
        for key, values in times.items():
            print(f"  {key}: {', '.join(f'{v:.0f}' for v in values)}")
    finally:
        if not args.keep:
            with db.admin_connection() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(main())
