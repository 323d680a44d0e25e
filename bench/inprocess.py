"""In-process cost per request of the hot reads and of a small write.

Sequential requests through httpx over ASGI (no server, no network, no wrk): the figure is
the API's own CPU per request (`time.process_time` of this process, which also runs the
event loop and psycopg) and its wall time, with the statements each request sends to
PostgreSQL. Production settings (argon2, JSON logs at WARNING), the non-superuser app role
(row-level security applies), the largest organisation's administrator.

The database is made by `generate.py` with the households, services and referrals
`stats_bench.py` adds (same SQL), on first use. To measure another tree's code with this
script, put its `src` first: `PYTHONPATH=/path/to/other/src .venv/bin/python bench/inprocess.py`.

    .venv/bin/python bench/inprocess.py --database ovc_bench_inprocess --cases 100000 --orgs 3
    .venv/bin/python bench/generate.py --database ovc_bench_inprocess --drop    # clean up
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Any

import httpx
from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent))
import stats_bench
from _common import (
    BENCH_PASSWORD,
    DEFAULT_ADMIN_URL,
    DEFAULT_APP_ROLE,
    PRODUCTION_ARGON2,
    BenchDatabase,
    login_email,
)

import ovc_api
from ovc_api.app import create_app
from ovc_api.settings import Settings

DEFAULT_DATABASE = "ovc_bench_inprocess"
API = "/api/v1"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL, help="a superuser's URL")
    parser.add_argument("--database", default=DEFAULT_DATABASE)
    parser.add_argument("--app-role", default=DEFAULT_APP_ROLE)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--orgs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per round")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3, help="rounds over every target (median)")
    parser.add_argument("--only", help="measure only the targets whose name contains this")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    return parser.parse_args(argv)


@dataclass
class Target:
    name: str
    method: str
    path: str
    body: dict[str, Any] | None = None
    cpu_ms: list[float] = field(default_factory=list)
    wall_ms: list[float] = field(default_factory=list)
    statements: int = 0


def targets(db: BenchDatabase) -> tuple[list[Target], str]:
    """The largest organisation's records the requests read (and the open case noted on)."""
    with db.owner_connection() as conn:

        def one(sql: str, *params: Any) -> Any:
            row = conn.execute(sql, params).fetchone()
            if row is None:
                raise SystemExit(f"no row for: {sql}")
            return row

        org, short = one(
            "SELECT o.id, o.short_name FROM organisations o JOIN cases c "
            "ON c.organisation_id = o.id GROUP BY o.id ORDER BY count(*) DESC LIMIT 1"
        )
        case, opened = one(
            "SELECT id, opened_on::text FROM cases WHERE organisation_id = %s "
            "AND status <> 'closed' ORDER BY opened_on, id LIMIT 1",
            org,
        )
        ids = {
            table: one(f"SELECT id FROM {table} WHERE organisation_id = %s LIMIT 1", org)[0]
            for table in ("children", "families", "service_deliveries", "referrals")
        }
    page = "?limit=50"
    listed = [
        Target("GET /cases?limit=50", "GET", f"{API}/cases{page}"),
        Target("GET /cases/{id}", "GET", f"{API}/cases/{case}"),
        Target("GET /children?limit=50", "GET", f"{API}/children{page}"),
        Target("GET /children/{id}", "GET", f"{API}/children/{ids['children']}"),
        Target("GET /families?limit=50", "GET", f"{API}/families{page}"),
        Target("GET /families/{id}", "GET", f"{API}/families/{ids['families']}"),
        Target("GET /services?limit=50", "GET", f"{API}/services{page}"),
        Target("GET /services/{id}", "GET", f"{API}/services/{ids['service_deliveries']}"),
        Target("GET /referrals?limit=50", "GET", f"{API}/referrals{page}"),
        Target("GET /referrals/{id}", "GET", f"{API}/referrals/{ids['referrals']}"),
        Target("GET /tasks?scope=organisation", "GET", f"{API}/tasks?scope=organisation"),
        Target(
            "POST /cases/{id}/notes",
            "POST",
            f"{API}/cases/{case}/notes",
            {"noted_on": opened, "text": "Home visit: the child is at school (bench)."},
        ),
    ]
    return listed, str(short)


async def measure(args: argparse.Namespace, db: BenchDatabase) -> list[Target]:
    chosen, short = targets(db)
    chosen = [t for t in chosen if not args.only or args.only in t.name]
    settings = Settings(
        environment="production",
        database_url=db.app_url,
        migration_database_url=db.owner_url,
        secret_key=secrets.token_urlsafe(48),
        data_dir=Path("/tmp/ovc-inprocess-bench"),
        log_level="WARNING",
        access_token_minutes=120,
        rate_limit="10000000/minute",
        rate_limit_bulk="10000000/minute",
        **PRODUCTION_ARGON2,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        engine = app.state.database.engine.sync_engine
        sent: list[str] = []

        def count(*args: Any) -> None:
            sent.append(args[2])

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            response = await client.post(
                f"{API}/auth/token",
                data={"username": login_email(short), "password": BENCH_PASSWORD},
            )
            response.raise_for_status()
            headers = {"Authorization": f"Bearer {response.json()['access_token']}"}

            async def call(target: Target) -> None:
                response = await client.request(
                    target.method, target.path, json=target.body, headers=headers
                )
                if response.status_code >= 300:
                    raise SystemExit(f"{target.name}: {response.status_code} {response.text}")

            for target in chosen:
                for _ in range(args.warmup):
                    await call(target)
                event.listen(engine, "before_cursor_execute", count)
                sent.clear()
                await call(target)
                event.remove(engine, "before_cursor_execute", count)
                target.statements = len(sent)
            for _ in range(args.rounds):
                for target in chosen:
                    cpu, wall = time.process_time(), time.perf_counter()
                    for _ in range(args.requests):
                        await call(target)
                    target.cpu_ms.append((time.process_time() - cpu) * 1000 / args.requests)
                    target.wall_ms.append((time.perf_counter() - wall) * 1000 / args.requests)
    return chosen


# stats_bench's referrals carry an empty consent summary (its statistics never read it);
# the API's referral reads need one as `send_referral` writes it.
SUMMARIES = """
UPDATE referrals r SET summary = jsonb_build_object(
    'child_first_name', ch.given_name_latin, 'age', 10, 'sex', ch.sex,
    'province', ch.province, 'district', ch.district,
    'concerns', '["neglect"]'::jsonb, 'services_requested', r.services_requested)
FROM children ch WHERE ch.id = r.child_id AND r.summary = '{}'::jsonb
"""


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    db = BenchDatabase(args.admin_url, args.database, args.app_role)
    stats_bench.ensure_data(args, db)
    with db.owner_connection() as conn:
        conn.execute("SET LOCAL session_replication_role = replica")  # no guard triggers
        conn.execute(SUMMARIES)
        conn.commit()
    with open("/proc/loadavg") as f:
        before = " ".join(f.read().split()[:3])
    results = asyncio.run(measure(args, db))
    with open("/proc/loadavg") as f:
        after = " ".join(f.read().split()[:3])
    print(f"\novc_api from {Path(ovc_api.__file__).parent}; load average {before} -> {after}")
    print(f"{args.rounds} rounds x {args.requests} requests (after {args.warmup} of warm-up)")
    print(f"{'request':34} {'CPU ms':>8} {'wall ms':>8} {'statements':>10}")
    for t in results:
        print(f"{t.name:34} {median(t.cpu_ms):8.2f} {median(t.wall_ms):8.2f} {t.statements:10d}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "load_average": [before, after],
                    "results": [
                        {
                            "name": t.name,
                            "cpu_ms": median(t.cpu_ms),
                            "wall_ms": median(t.wall_ms),
                            "statements": t.statements,
                            "rounds_cpu_ms": t.cpu_ms,
                        }
                        for t in results
                    ],
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
