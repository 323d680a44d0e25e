"""Statistics benchmark: each stats endpoint's time against the same aggregate as raw SQL.

Uses a database made by bench/generate.py (1 million cases over 20 organisations by
default; created on first use), to which it adds, once, what the generator leaves out:
households, about 1.5 services per case and a referral for one case in twenty, all in SQL
with fixed hashes (the same rows every time), and a network analyst.

Each endpoint is called in-process (httpx over ASGI: authentication, the tenant binding,
row-level security, the queries, suppression and JSON are all paid) as the largest
organisation's administrator, or the network analyst; its reference is the same numbers
computed by hand-written SQL over psycopg, as the same non-superuser app role with the same
tenant setting. Warm-up runs first, then API and SQL alternate; medians are reported with
their ratio (target: the API within 1.25x of the SQL). The API's answer is checked against
the SQL's totals.

    .venv/bin/python bench/stats_bench.py                       # ovc_bench_stats, 1M cases
    .venv/bin/python bench/stats_bench.py --cases 100000 --orgs 5 --database ovc_bench_stats_s
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from statistics import median
from typing import Any

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate
from _common import (
    BENCH_PASSWORD,
    DEFAULT_ADMIN_URL,
    DEFAULT_APP_ROLE,
    BenchDatabase,
    login_email,
)

from ovc_api.app import create_app
from ovc_api.settings import Settings
from ovc_api.stats import engine
from ovc_api.stats.perturbation import MAX_PERTURBATION

DEFAULT_DATABASE = "ovc_bench_stats"
EXTRAS = "stats-bench extras v1: households, services, referrals"
TARGET = 1.25
P50_TARGET_MS = 300.0  # issue 12: every dashboard statistic's p50 at 1M cases
SERVICE_TYPES = [
    "emergency_food_package", "counselling", "counselling", "medical_treatment",
    "birth_certificate_support", "id_poor_card_support", "school_enrolment_support",
    "education_support", "education_support", "positive_parenting", "income_generation",
    "kinship_care_support", "family_reunification_support", "case_conference",
]  # fmt: skip
TYPES = len(SERVICE_TYPES)
QUARTER = "'YYYY-\"Q\"Q'"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL, help="a superuser's URL")
    parser.add_argument("--database", default=DEFAULT_DATABASE)
    parser.add_argument("--app-role", default=DEFAULT_APP_ROLE)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--orgs", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each (median)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--only", help="run only the measurements whose name contains this")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument(
        "--plain",
        action="store_true",
        help="the API with the plain statements and PostgreSQL's default settings (the "
        "figures before issue 12's fast statements: ovc_api.stats.engine.FAST off)",
    )
    parser.add_argument(
        "--ab",
        action="store_true",
        help="before/after in one run: the API with the fast statements (engine.FAST) and "
        "with the plain ones, alternating (fast first on even rounds, plain first on odd), "
        "instead of the API against raw SQL",
    )
    return parser.parse_args(argv)


# --- the data -----------------------------------------------------------------------------

EXTRAS_SQL = [
    "SET session_replication_role = replica",  # consistent by construction: no FK triggers
    "SET TIME ZONE 'UTC'",
    # An interrupted earlier load: start again (never TRUNCATE ... CASCADE: cases hang off these).
    "DELETE FROM service_deliveries",
    "DELETE FROM referrals",
    "DELETE FROM families WHERE name = 'Bench household'",
    """
    CREATE TEMP TABLE bench_households ON COMMIT DROP AS
    SELECT c.id AS case_id, c.child_id, c.organisation_id, c.opened_on, c.closed_on,
           ch.province, ch.district, abs(hashtext(c.id::text)) AS h,
           md5(c.organisation_id::text || ':' || ((row_number() OVER (
               PARTITION BY c.organisation_id ORDER BY c.id)) / 2)::text)::uuid AS family_id
    FROM cases c JOIN children ch ON ch.id = c.child_id
    """,
    """
    INSERT INTO families (id, organisation_id, name, id_poor_status, income_sources, province,
                          district, created_at, updated_at, version)
    SELECT DISTINCT ON (family_id) family_id, organisation_id, 'Bench household', 'unknown',
           '[]'::jsonb, province, district, now(), now(), 1
    FROM bench_households ORDER BY family_id
    """,
    f"""
    INSERT INTO service_deliveries (id, organisation_id, case_id, child_id, family_id,
        service_type, delivered_on, province, district, created_at, updated_at, version)
    SELECT md5(h.case_id::text || ':' || g.n)::uuid, h.organisation_id, h.case_id, h.child_id,
           h.family_id,
           (ARRAY{SERVICE_TYPES!r})[1 + abs(hashtext(h.case_id::text || g.n)) % {TYPES}],
           least(coalesce(h.closed_on, current_date),
                 h.opened_on + abs(hashtext(g.n || h.case_id::text)) % 150),
           h.province, h.district, now(), now(), 1
    FROM bench_households h
    CROSS JOIN LATERAL generate_series(1, h.h % 4) AS g(n)
    """,
    """
    CREATE TEMP TABLE bench_orgs ON COMMIT DROP AS
    SELECT id, row_number() OVER (ORDER BY short_name) AS n FROM organisations
    """,
    """
    INSERT INTO referrals (id, organisation_id, receiving_organisation_id, case_id, child_id,
        family_id, services_requested, reason, urgency, consent_given_by, consent_relation,
        consent_given_on, consent_method, status, summary, decided_at, closed_at, created_at,
        updated_at, version)
    SELECT md5(h.case_id::text || ':r')::uuid, h.organisation_id, r.id, h.case_id, h.child_id,
           h.family_id, '["counselling"]'::jsonb, 'Bench referral', 'routine', 'Caregiver',
           'grandmother', h.opened_on, 'verbal', s.status, '{}'::jsonb,
           CASE WHEN s.status <> 'pending' THEN h.opened_on + 5 + time '10:00' END,
           CASE s.status WHEN 'declined' THEN h.opened_on + 5 + time '10:00'
                         WHEN 'withdrawn' THEN h.opened_on + 15 + time '10:00'
                         WHEN 'completed' THEN h.opened_on + 35 + time '10:00' END,
           h.opened_on + 3 + time '09:00', now(), 1
    FROM bench_households h
    JOIN bench_orgs o ON o.id = h.organisation_id
    JOIN bench_orgs r ON r.n = o.n % (SELECT count(*) FROM bench_orgs) + 1
    CROSS JOIN LATERAL (SELECT (ARRAY['pending', 'accepted', 'declined', 'withdrawn',
        'completed', 'completed'])[1 + abs(hashtext(h.case_id::text || 's')) % 6] AS status) s
    WHERE h.h % 20 = 0
    """,
]


def ensure_data(args: argparse.Namespace, db: BenchDatabase) -> None:
    status = generate.main(
        [
            "--admin-url", args.admin_url, "--database", db.name, "--app-role", db.app_role,
            "--cases", str(args.cases), "--orgs", str(args.orgs),
        ]
    )  # fmt: skip
    if status != 0:
        raise SystemExit(status)
    with db.owner_connection() as conn:
        row = conn.execute("SELECT obj_description('service_deliveries'::regclass)").fetchone()
        if row is None or row[0] != EXTRAS:
            started = time.monotonic()
            for statement in EXTRAS_SQL:
                conn.execute(statement)
            generate.rebuild_service_facts(conn)  # loaded without its triggers
            conn.execute(f"COMMENT ON TABLE service_deliveries IS '{EXTRAS}'")
            conn.commit()
            print(f"added households, services, referrals in {time.monotonic() - started:.0f} s")
            conn.autocommit = True
            for table in ("families", "service_deliveries", "referrals", "service_facts"):
                if conn.execute("SELECT to_regclass(%s)", (table,)).fetchone() != (None,):
                    conn.execute(f"VACUUM (ANALYZE) {table}")
        network = conn.execute(
            "SELECT id FROM organisations WHERE short_name = 'NETWORK'"
        ).fetchone()
        if network is None:
            network = conn.execute(
                "INSERT INTO organisations (id, name, short_name, kind, provinces, active, "
                "created_at, updated_at, version) VALUES (gen_random_uuid(), "
                "'OVC Network Secretariat', 'NETWORK', 'other', '[]', true, now(), now(), 1) "
                "RETURNING id"
            ).fetchone()
            conn.execute(
                "INSERT INTO users (id, organisation_id, email, full_name, role, password_hash, "
                "active, must_change_password, password_changed_at, created_at, updated_at, "
                "version) SELECT gen_random_uuid(), %s, %s, 'Network Analyst', "
                "'network_analyst', password_hash, true, false, now(), now(), now(), 1 "
                "FROM users LIMIT 1",
                (network[0], login_email("NETWORK", "analyst")),  # type: ignore[index]
            )
            conn.commit()
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM cases), (SELECT count(*) FROM service_deliveries), "
            "(SELECT count(*) FROM referrals), (SELECT count(*) FROM families)"
        ).fetchone()
    print("database {}: {:,} cases, {:,} services, {:,} referrals, {:,} households".format(
        db.name, *counts  # type: ignore[misc]
    ))  # fmt: skip


# --- the measurements ---------------------------------------------------------------------


def age_band(born: str, on: str) -> str:
    age = f"date_part('year', age({on}, {born}))"
    return (
        f"CASE WHEN {born} IS NULL THEN 'unknown' WHEN {age} < 5 THEN '0-4' "
        f"WHEN {age} < 10 THEN '5-9' WHEN {age} < 15 THEN '10-14' "
        f"WHEN {age} < 18 THEN '15-17' ELSE '18+' END"
    )


def outcome_sql(scope: str, first: date | None = None, last: date | None = None) -> list[str]:
    """The outcomes' aggregates: closures, medians, certificates/enrolments, referrals."""

    def within(column: str) -> str:
        return f" AND {column} BETWEEN '{first}' AND '{last}'" if first and last else ""

    def stamped(column: str) -> str:
        if not (first and last):
            return ""
        after = date.fromordinal(last.toordinal() + 1)
        return f" AND {column} >= '{first}T00:00Z' AND {column} < '{after}T00:00Z'"

    q = f"to_char(closed_on, {QUARTER})"
    sql = [
        f"""SELECT {q} AS q, coalesce(closure_reason, 'other') AS r, count(*),
                   count(DISTINCT child_id)
            FROM cases WHERE {scope} AND closed_on IS NOT NULL{within("closed_on")}
            GROUP BY GROUPING SETS ((q, r), (q), (r), ())""",
        f"""SELECT {q} AS q, percentile_cont(0.5) WITHIN GROUP (ORDER BY closed_on - opened_on)
            FROM cases WHERE {scope} AND closed_on IS NOT NULL{within("closed_on")}
            GROUP BY GROUPING SETS ((q), ())""",
        f"""SELECT to_char(delivered_on, {QUARTER}) AS q, service_type, count(DISTINCT child_id)
            FROM service_deliveries WHERE {scope} AND service_type IN
                ('birth_certificate_support', 'school_enrolment_support'){within("delivered_on")}
            GROUP BY GROUPING SETS ((q, service_type), (service_type))""",
    ]
    for column, extra in (
        ("created_at", ""),
        ("decided_at", " AND decided_at IS NOT NULL AND status <> 'declined'"),
        ("closed_at", " AND closed_at IS NOT NULL AND status = 'completed'"),
    ):
        sql.append(
            f"""SELECT to_char({column} AT TIME ZONE 'UTC', {QUARTER}) AS q, count(*)
                FROM referrals WHERE {scope}{extra}{stamped(column)}
                GROUP BY GROUPING SETS ((q), ())"""
        )
    return sql


def report_sql(org: str, first: date, last: date) -> list[str]:
    start, end = first.isoformat(), last.isoformat()
    scope = f"organisation_id = '{org}'"

    def active(alias: str = "") -> str:
        return (
            f"{alias}organisation_id = '{org}' AND {alias}opened_on <= '{end}' AND "
            f"({alias}closed_on IS NULL OR {alias}closed_on >= '{start}')"
        )

    quarter = f"'{start}' AND '{end}'"
    served = f"{scope} AND delivered_on BETWEEN {quarter}"
    return [
        f"""SELECT count(*), count(*) FILTER (WHERE opened_on >= '{start}'),
                   count(*) FILTER (WHERE closed_on <= '{end}') FROM cases WHERE {active()}""",
        f"""SELECT count(DISTINCT id) FROM (SELECT child_id AS id FROM cases WHERE {active()}
            UNION SELECT child_id FROM service_deliveries WHERE {served}) s""",
        f"""SELECT count(DISTINCT id) FROM (SELECT family_id AS id FROM cases WHERE {active()}
            UNION SELECT family_id FROM service_deliveries WHERE {served}) s""",
        f"""SELECT service_type, count(*), count(DISTINCT child_id), count(DISTINCT family_id)
            FROM service_deliveries WHERE {served} GROUP BY service_type""",
        *outcome_sql(scope, first, last),
        f"""SELECT cc.concern, count(*), count(DISTINCT c.child_id) FROM cases c
            JOIN case_concerns cc ON cc.case_id = c.id WHERE {active("c.")}
            GROUP BY cc.concern""",
        f"""SELECT ch.province, ch.district, count(*), count(DISTINCT c.child_id) FROM cases c
            JOIN children ch ON ch.id = c.child_id WHERE {active("c.")}
            GROUP BY ch.province, ch.district""",
    ]


@dataclass
class Measure:
    name: str
    path: str
    params: dict[str, str]
    sql: list[str]
    network: bool = False
    check: Callable[[dict[str, Any], list[list[tuple[Any, ...]]]], None] | None = None
    api_ms: list[float] = field(default_factory=list)
    sql_ms: list[float] = field(default_factory=list)


def totals_match(
    *names: str, within: int = 0
) -> Callable[[dict[str, Any], list[list[tuple[Any, ...]]]], None]:
    """The API's totals equal the SQL's grand-total row (the last of a GROUPING SETS), or
    are `within` of it (network figures are perturbed)."""

    def check(body: dict[str, Any], results: list[list[tuple[Any, ...]]]) -> None:
        keys = len(results[0][0]) - len(names)
        grand = next(row for row in results[0] if all(v is None for v in row[:keys]))
        got = tuple(body["totals"][n] for n in names)
        want = tuple(int(v) for v in grand[-len(names) :])
        if any(abs(g - w) > within for g, w in zip(got, want, strict=True)):
            raise AssertionError(f"API totals {got} != SQL {want} (within {within})")

    return check


def measures(org: str, year: int, quarter: int) -> list[Measure]:
    scope = f"organisation_id = '{org}'"
    network = "organisation_id IN (SELECT id FROM organisations WHERE active)"
    start = date(year, 3 * quarter - 2, 1)
    end = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
    last = date.fromordinal(end.toordinal() - 1)
    closed_year = f"'{year - 1}-01-01' AND '{year - 1}-12-31'"
    cases = totals_match("cases", "children")
    return [
        Measure(
            "cases (totals)",
            "/api/v1/stats/cases",
            {},
            [f"SELECT count(*), count(DISTINCT child_id) FROM cases WHERE {scope}"],
            check=totals_match("cases", "children"),
        ),
        Measure(
            "cases by province, quarter",
            "/api/v1/stats/cases",
            {"group_by": "province,quarter"},
            [
                f"""SELECT ch.province, to_char(c.opened_on, {QUARTER}) AS quarter, count(*),
                           count(DISTINCT c.child_id)
                    FROM cases c JOIN children ch ON ch.id = c.child_id WHERE c.{scope}
                    GROUP BY GROUPING SETS ((ch.province, quarter), ())"""
            ],
            check=cases,
        ),
        Measure(
            "cases by concern, age band",
            "/api/v1/stats/cases",
            {"group_by": "concern,age_band"},
            [
                f"""SELECT cc.concern, {age_band("ch.date_of_birth", "c.opened_on")} AS band,
                           count(DISTINCT c.id), count(DISTINCT c.child_id)
                    FROM cases c JOIN case_concerns cc ON cc.case_id = c.id
                    JOIN children ch ON ch.id = c.child_id WHERE c.{scope}
                    GROUP BY GROUPING SETS ((cc.concern, band), ())"""
            ],
            check=cases,
        ),
        Measure(
            "cases closed in a year by status, month",
            "/api/v1/stats/cases",
            {
                "group_by": "status,month",
                "period_of": "closed",
                "from": f"{year - 1}-01-01",
                "to": f"{year - 1}-12-31",
            },
            [
                f"""SELECT status, to_char(closed_on, 'YYYY-MM') AS month, count(*),
                           count(DISTINCT child_id)
                    FROM cases WHERE {scope} AND closed_on BETWEEN {closed_year}
                    GROUP BY GROUPING SETS ((status, month), ())"""
            ],
            check=cases,
        ),
        Measure(
            "services by type, quarter",
            "/api/v1/stats/services",
            {"group_by": "service_type,quarter"},
            [
                f"""SELECT service_type, to_char(delivered_on, {QUARTER}) AS quarter, count(*),
                           count(DISTINCT child_id), count(DISTINCT family_id)
                    FROM service_deliveries WHERE {scope}
                    GROUP BY GROUPING SETS ((service_type, quarter), ())"""
            ],
            check=totals_match("services", "children", "families"),
        ),
        Measure("outcomes by quarter", "/api/v1/stats/outcomes", {}, outcome_sql(scope)),
        Measure(
            f"quarterly report {year}-Q{quarter}",
            "/api/v1/reports/quarterly",
            {"year": str(year), "quarter": str(quarter)},
            report_sql(org, start, last),
        ),
        Measure(
            "network cases by province, quarter",
            "/api/v1/stats/network/cases",
            {"group_by": "province,quarter"},
            [
                f"""SELECT ch.province, to_char(c.opened_on, {QUARTER}) AS quarter, count(*),
                           count(DISTINCT c.child_id)
                    FROM cases c JOIN children ch ON ch.id = c.child_id WHERE c.{network}
                    GROUP BY GROUPING SETS ((ch.province, quarter), (ch.province), (quarter),
                                            ())"""
            ],
            network=True,
            check=totals_match("cases", "children", within=MAX_PERTURBATION),
        ),
        Measure(
            "network services by type",
            "/api/v1/stats/network/services",
            {"group_by": "service_type"},
            [
                f"""SELECT service_type, count(*), count(DISTINCT child_id),
                           count(DISTINCT family_id)
                    FROM service_deliveries WHERE {network}
                    GROUP BY GROUPING SETS ((service_type), ())"""
            ],
            network=True,
            check=totals_match("services", "children", "families", within=MAX_PERTURBATION),
        ),
        Measure(
            "network outcomes by quarter",
            "/api/v1/stats/network/outcomes",
            {},
            outcome_sql(network),
            network=True,
        ),
    ]


# --- running ------------------------------------------------------------------------------


async def login(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    response = await client.post(
        "/api/v1/auth/token", data={"username": email, "password": BENCH_PASSWORD}
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def run_sql(conn: psycopg.Connection[Any], statements: list[str]) -> list[list[tuple[Any, ...]]]:
    return [conn.execute(sql).fetchall() for sql in statements]


async def run(args: argparse.Namespace, db: BenchDatabase) -> list[Measure]:
    with db.owner_connection() as conn:
        org_row = conn.execute(
            "SELECT o.id, o.short_name FROM organisations o JOIN cases c "
            "ON c.organisation_id = o.id GROUP BY o.id ORDER BY count(*) DESC LIMIT 1"
        ).fetchone()
        latest = conn.execute("SELECT max(opened_on) FROM cases").fetchone()
    assert org_row is not None and latest is not None
    org_id, short_name = str(org_row[0]), str(org_row[1])
    newest = latest[0]
    assert isinstance(newest, date)
    # The last complete quarter before the newest case: a full quarter of activity.
    quarter = (newest.month - 1) // 3
    year = newest.year if quarter else newest.year - 1
    quarter = quarter or 4
    settings = Settings(
        database_url=db.app_url,
        migration_database_url=db.owner_url,
        secret_key=secrets.token_urlsafe(48),
        data_dir=Path("/tmp/ovc-stats-bench"),
        log_level="WARNING",
        access_token_minutes=120,
    )
    app = create_app(settings)
    selected = [m for m in measures(org_id, year, quarter) if not args.only or args.only in m.name]
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", timeout=600
        ) as client:
            admin = await login(client, login_email(short_name))
            analyst = await login(client, login_email("NETWORK", "analyst"))
            with (
                psycopg.connect(db.libpq(db.app_url), autocommit=True) as sql_org,
                # The raw network figures read every organisation: only the schema owner may.
                psycopg.connect(db.libpq(db.owner_url), autocommit=True) as sql_network,
            ):
                sql_org.execute("SELECT set_config('ovc.org_id', %s, false)", (org_id,))
                sql_network.execute("SELECT set_config('ovc.system', 'on', false)")
                print(
                    f"\n{short_name} (the largest organisation) and the network; report "
                    f"{year}-Q{quarter}; {args.warmup} warm-up + {args.repeat} timed runs each"
                )
                for m in selected:
                    conn = sql_network if m.network else sql_org
                    headers = analyst if m.network else admin
                    if args.ab:
                        await run_ab(client, m, headers, args)
                        continue
                    for i in range(args.warmup + args.repeat):
                        started = time.perf_counter()
                        response = await client.get(m.path, params=m.params, headers=headers)
                        api = (time.perf_counter() - started) * 1000
                        response.raise_for_status()
                        started = time.perf_counter()
                        results = run_sql(conn, m.sql)
                        raw = (time.perf_counter() - started) * 1000
                        if i == 0 and m.check is not None:
                            m.check(response.json(), results)
                        if i >= args.warmup:
                            m.api_ms.append(api)
                            m.sql_ms.append(raw)
                    report_line(m)
    return selected


async def run_ab(
    client: httpx.AsyncClient, m: Measure, headers: dict[str, str], args: argparse.Namespace
) -> None:
    """--ab: the same request with engine.FAST on (api_ms) and off (sql_ms), alternating;
    the two answers must be identical."""
    settings = dict(engine.STATS_SETTINGS)
    for i in range(args.warmup + args.repeat):
        bodies = {}
        for fast in (True, False) if i % 2 == 0 else (False, True):
            engine.FAST = fast
            started = time.perf_counter()
            response = await client.get(m.path, params=m.params, headers=headers)
            elapsed = (time.perf_counter() - started) * 1000
            response.raise_for_status()
            bodies[fast] = response.json()
            if i >= args.warmup:
                (m.api_ms if fast else m.sql_ms).append(elapsed)
        if bodies[True] != bodies[False]:
            raise AssertionError(f"{m.name}: the fast and plain answers differ")
    engine.FAST, engine.STATS_SETTINGS = True, settings
    fast, plain = median(m.api_ms), median(m.sql_ms)
    p50 = "ok" if fast <= P50_TARGET_MS else f"ABOVE {P50_TARGET_MS:.0f} ms"
    print(
        f"  {m.name:<40} fast p50 {fast:8.1f} ms ({p50})   plain p50 {plain:8.1f} ms"
        f"  {fast / plain:5.2f}x",
        flush=True,
    )


def report_line(m: Measure) -> None:
    api, raw = median(m.api_ms), median(m.sql_ms)
    ratio = api / raw
    verdict = "ok" if ratio <= TARGET else f"ABOVE {TARGET}x"
    p50 = "ok" if api <= P50_TARGET_MS else f"ABOVE {P50_TARGET_MS:.0f} ms"
    queries = f"{len(m.sql)} quer{'y' if len(m.sql) == 1 else 'ies'}"
    print(
        f"  {m.name:<40} API p50 {api:8.1f} ms ({p50})   SQL {raw:8.1f} ms ({queries:<10})"
        f"  {ratio:5.2f}x  {verdict}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.plain:
        engine.FAST = False
        engine.STATS_SETTINGS = {}
    db = BenchDatabase(args.admin_url, args.database, args.app_role)
    ensure_data(args, db)
    results = asyncio.run(run(args, db))
    if args.json:
        args.json.write_text(
            json.dumps(
                [
                    {
                        "name": m.name,
                        "path": m.path,
                        "params": m.params,
                        # --ab: api_ms is the fast statements', sql_ms the plain ones'
                        "api_ms": round(median(m.api_ms), 1),
                        "sql_ms": round(median(m.sql_ms), 1),
                        "ab": args.ab,
                        "ratio": round(median(m.api_ms) / median(m.sql_ms), 2),
                        "p50_within_target": median(m.api_ms) <= P50_TARGET_MS,
                    }
                    for m in results
                ],
                indent=2,
            )
        )
    if args.ab:
        slow = [m.name for m in results if median(m.api_ms) > P50_TARGET_MS]
        print(f"\n{len(results) - len(slow)} of {len(results)} at p50 <= {P50_TARGET_MS:.0f} ms")
        return 0
    above = [m.name for m in results if median(m.api_ms) / median(m.sql_ms) > TARGET]
    slow = [m.name for m in results if median(m.api_ms) > P50_TARGET_MS]
    print(f"\n{len(results) - len(above)} of {len(results)} within {TARGET}x of raw SQL")
    print(f"{len(results) - len(slow)} of {len(results)} at p50 <= {P50_TARGET_MS:.0f} ms")
    return 1 if above else 0


if __name__ == "__main__":
    raise SystemExit(main())
