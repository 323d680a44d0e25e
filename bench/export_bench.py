"""Export throughput and memory: GET /api/v1/exports/cases against PostgreSQL's own COPY.

Against a database made by bench/generate.py, for the organisation with the most cases:

  1. the identified CSV export of about --small-rows rows (the most recently opened cases,
     through the `opened_from` filter) and of all its cases, streamed with httpx from
     `ovc-api serve --workers 1` (production settings, the non-superuser app role, so the
     audit row, tenant scoping and row-level security are all paid), in rows per second;
  2. `COPY (<the export's own SELECT>) TO STDOUT WITH (FORMAT csv, HEADER)` through psycopg,
     as the app role bound to the same organisation (row-level security applies), for the
     same rows: the same statement the API runs, compiled from ovc_api.exports.queries;
  3. the server process's peak resident memory (VmHWM from /proc, plus VmRSS sampled every
     20 ms during the export), each size on a freshly started server, so the two peaks can
     be compared: flat means the export holds a batch, not the file.

    .venv/bin/python bench/generate.py --database ovc_bench_exports --cases 1010000 \\
        --orgs 2 --small-org-cases 10000
    .venv/bin/python bench/export_bench.py --database ovc_bench_exports

Targets: API rows/s >= 0.5 x COPY's rows/s; peak RSS with all rows within 1.25 x the peak
with --small-rows rows. Every process started here is stopped at the end (by its process
group id), also on error or Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from statistics import median
from typing import Any, NoReturn

import httpx
import psycopg
from sqlalchemy.dialects import postgresql

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    BENCH_PASSWORD,
    DEFAULT_ADMIN_URL,
    DEFAULT_APP_ROLE,
    DEFAULT_DATABASE,
    PRODUCTION_ARGON2,
    BenchDatabase,
    login_email,
)

from ovc_api.auth.principal import Principal
from ovc_api.auth.scopes import Scope
from ovc_api.cases.filters import CaseFilters
from ovc_api.exports.queries import Variant, case_export

THROUGHPUT_TARGET = 0.5  # API rows/s >= 0.5 x COPY rows/s
FLAT_MEMORY_TARGET = 1.25  # peak RSS, all rows / --small-rows rows


class BenchError(Exception):
    pass


@dataclass(frozen=True)
class Org:
    id: str
    short_name: str
    cases: int


@dataclass(frozen=True)
class Run:
    rows: int
    size: int  # bytes
    seconds: float
    first_row_s: float  # until the first data row (after the header) arrived


@dataclass
class Measurement:
    name: str
    rows: int
    megabytes: float
    seconds: float  # median of the repeats
    first_row_s: float  # median of the repeats

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds


@dataclass
class Memory:
    rows: int
    baseline_hwm_mib: float  # after start-up, login and a warm-up export
    hwm_mib: float  # after the export
    sampled_peak_rss_mib: float  # during the export


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    parser.add_argument("--database", default=DEFAULT_DATABASE)
    parser.add_argument("--app-role", default=DEFAULT_APP_ROLE)
    parser.add_argument("--small-rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each (median reported)")
    parser.add_argument("--port", type=int, default=8110)
    parser.add_argument("--log-level", default="WARNING", help="the API's OVC_LOG_LEVEL")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.small_rows < 1:
        parser.error("--repeat and --small-rows must be positive")
    return args


# --- the database side ------------------------------------------------------------------


def largest_organisation(db: BenchDatabase) -> Org:
    with db.owner_connection() as conn:
        row = conn.execute(
            "SELECT o.id, o.short_name, count(*) FROM cases c "
            "JOIN organisations o ON o.id = c.organisation_id GROUP BY 1, 2 ORDER BY 3 DESC "
            "LIMIT 1"
        ).fetchone()
    if row is None:
        raise BenchError(f"{db.name} has no cases: run bench/generate.py first")
    return Org(str(row[0]), str(row[1]), int(str(row[2])))


def opened_from_for(db: BenchDatabase, org: Org, rows: int) -> date:
    """The opening date from which the organisation has about `rows` cases."""
    with db.owner_connection() as conn:
        row = conn.execute(
            "SELECT opened_on FROM cases WHERE organisation_id = %s "
            "ORDER BY opened_on DESC, id DESC OFFSET %s LIMIT 1",
            (org.id, rows - 1),
        ).fetchone()
    if row is None:
        raise BenchError(f"{org.short_name} has fewer than {rows} cases")
    opened_on = row[0]
    assert isinstance(opened_on, date)
    return opened_on


def export_sql(org: Org, opened_from: date | None) -> str:
    """The API's own statement for the identified case export, as literal SQL."""
    principal = Principal(
        organisation_id=uuid.UUID(org.id),
        scopes=frozenset({Scope.cases_read.value, Scope.cases_all.value}),
    )
    filters = CaseFilters(opened_from=opened_from)
    statement, _ = case_export(principal, Variant.identified, filters)
    dialect = postgresql.psycopg.dialect()  # type: ignore[no-untyped-call]
    return str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


class Counter:
    """Lines and bytes of a CSV body as it arrives, and when its first data row came."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.lines = self.size = 0
        self.first_row_s = 0.0

    def add(self, data: bytes) -> None:
        self.size += len(data)
        self.lines += data.count(b"\n")
        if not self.first_row_s and self.lines > 1:
            self.first_row_s = time.perf_counter() - self.started

    def done(self) -> Run:
        return Run(self.lines - 1, self.size, time.perf_counter() - self.started, self.first_row_s)


def copy_export(db: BenchDatabase, org: Org, sql: str) -> Run:
    """COPY (...) TO STDOUT as the app role, bound to the organisation (RLS applies)."""
    with psycopg.connect(db.libpq(db.app_url)) as conn:
        conn.execute("SELECT set_config('ovc.org_id', %s, true)", (org.id,))
        counter = Counter()
        with (
            conn.cursor() as cur,
            cur.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER)") as copy,
        ):
            for data in copy:
                counter.add(bytes(data))
        return counter.done()


# --- the server -------------------------------------------------------------------------


@contextmanager
def server(args: argparse.Namespace, db: BenchDatabase, log_dir: Path) -> Iterator[int]:
    """`ovc-api serve --workers 1`: uvicorn serves in this very process (its pid)."""
    env = {
        **os.environ,
        "OVC_ENVIRONMENT": "production",
        "OVC_DATABASE_URL": db.app_url,
        "OVC_MIGRATION_DATABASE_URL": db.owner_url,
        "OVC_SECRET_KEY": secrets.token_urlsafe(48),
        "OVC_DATA_DIR": str(log_dir / "data"),
        "OVC_LOG_LEVEL": args.log_level,
        # Repeated exports as one user: a budget no run reaches (the limiter still runs).
        "OVC_RATE_LIMIT": "10000000/minute",
        "OVC_RATE_LIMIT_BULK": "10000000/minute",
        **{f"OVC_{k.upper()}": str(v) for k, v in PRODUCTION_ARGON2.items()},
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    command = [
        str(Path(sys.executable).parent / "ovc-api"),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(args.port),
        "--workers",
        "1",
    ]
    log = (log_dir / "api.log").open("ab")
    process = subprocess.Popen(
        command, env=env, cwd=log_dir, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise BenchError(f"the API exited with {process.returncode}: see {log_dir}/api.log")
            try:
                if httpx.get(f"http://127.0.0.1:{args.port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise BenchError("the API was not ready after 60 s")
            time.sleep(0.3)
        yield process.pid
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise BenchError(f"no {field} in /proc/{pid}/status")


class RssSampler:
    """The highest VmRSS seen while it runs (a thread polling /proc every 20 ms)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kib = max(self.peak_kib, status_kib(self.pid, "VmRSS"))
            self._stop.wait(0.02)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def login(base: str, email: str) -> dict[str, str]:
    response = httpx.post(
        f"{base}/api/v1/auth/token",
        data={"username": email, "password": BENCH_PASSWORD},
        timeout=30,
    )
    if response.status_code != 200:
        raise BenchError(f"login as {email}: {response.status_code} {response.text[:200]}")
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def api_export(base: str, headers: dict[str, str], params: dict[str, str]) -> Run:
    """One streamed CSV export (the body is counted, not kept)."""
    counter = Counter()
    with httpx.stream(
        "GET", f"{base}/api/v1/exports/cases", params={**params, "format": "csv"},
        headers=headers, timeout=600,
    ) as response:  # fmt: skip
        if response.status_code != 200:
            response.read()
            raise BenchError(f"export: {response.status_code} {response.text[:300]}")
        for chunk in response.iter_raw(1 << 16):
            counter.add(chunk)
    return counter.done()


# --- the run ----------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    db = BenchDatabase(args.admin_url, args.database, args.app_role)
    org = largest_organisation(db)
    small_from = opened_from_for(db, org, min(args.small_rows, org.cases))
    sizes = {"small": {"opened_from": small_from.isoformat()}, "all": {}}
    log_dir = Path(tempfile.mkdtemp(prefix="ovc-export-bench-"))
    base = f"http://127.0.0.1:{args.port}"
    print(f"database {db.name}: {org.short_name} has {org.cases:,} cases; "
          f"small export: opened_from={small_from}; server log in {log_dir}")  # fmt: skip
    api: dict[str, Measurement] = {}
    copy: dict[str, Measurement] = {}
    memory: dict[str, Memory] = {}
    for key, params in sizes.items():
        with server(args, db, log_dir) as pid:
            headers = login(base, login_email(org.short_name))
            api_export(base, headers, {"opened_from": date.today().isoformat()})  # warm-up
            baseline = status_kib(pid, "VmHWM")
            runs = []
            for attempt in range(args.repeat):
                with RssSampler(pid) as sampler:
                    run = api_export(base, headers, params)
                hwm, peak = status_kib(pid, "VmHWM") / 1024, sampler.peak_kib / 1024
                if attempt == 0:
                    memory[key] = Memory(run.rows, baseline / 1024, hwm, peak)
                runs.append(run)
                show("API ", key, run, f"  VmHWM {hwm:6.1f} MiB  sampled RSS peak {peak:6.1f} MiB")
            api[key] = measurement(f"API {key}", runs)
        sql = export_sql(org, small_from if key == "small" else None)
        runs = []
        for _ in range(args.repeat):
            runs.append(run := copy_export(db, org, sql))
            show("COPY", key, run)
        copy[key] = measurement(f"COPY {key}", runs)
    report(api, copy, memory)
    return {
        "database": db.name,
        "organisation": asdict(org),
        "small_opened_from": small_from.isoformat(),
        "repeat": args.repeat,
        "api": {k: {**asdict(v), "rows_per_s": v.rows_per_s} for k, v in api.items()},
        "copy": {k: {**asdict(v), "rows_per_s": v.rows_per_s} for k, v in copy.items()},
        "memory": {k: asdict(v) for k, v in memory.items()},
    }


def show(what: str, key: str, run: Run, extra: str = "") -> None:
    print(f"  {what} {key:<5} {run.rows:>9,} rows {run.size / 2**20:6.1f} MiB {run.seconds:6.2f} s"
          f" (first row {run.first_row_s:5.2f} s) {run.rows / run.seconds:>8,.0f} rows/s{extra}",
          flush=True)  # fmt: skip


def measurement(name: str, runs: list[Run]) -> Measurement:
    return Measurement(
        name,
        runs[0].rows,
        runs[0].size / 2**20,
        median(r.seconds for r in runs),
        median(r.first_row_s for r in runs),
    )


def report(
    api: dict[str, Measurement], copy: dict[str, Measurement], memory: dict[str, Memory]
) -> None:
    print("\nResults (medians): identified CSV export of the largest organisation's cases")
    print(f"  {'':<6} {'rows':>9} {'API rows/s':>11} {'COPY rows/s':>12} {'API/COPY':>9}"
          f" {'1st row API/COPY s':>19} {'API/COPY MiB':>13} {'peak RSS MiB':>13}"
          f" {'VmHWM MiB':>10}")  # fmt: skip
    for key in api:
        ratio = api[key].rows_per_s / copy[key].rows_per_s
        first = f"{api[key].first_row_s:.2f} / {copy[key].first_row_s:.2f}"
        sizes = f"{api[key].megabytes:.1f} / {copy[key].megabytes:.1f}"
        peak, hwm = memory[key].sampled_peak_rss_mib, memory[key].hwm_mib
        print(f"  {key:<6} {api[key].rows:>9,} {api[key].rows_per_s:>11,.0f}"
              f" {copy[key].rows_per_s:>12,.0f} {ratio:>9.2f} {first:>19} {sizes:>13}"
              f" {peak:>13.1f} {hwm:>10.1f}")  # fmt: skip
    ratio = api["all"].rows_per_s / copy["all"].rows_per_s
    growth = memory["all"].hwm_mib / memory["small"].hwm_mib
    print(f"\n  API / COPY rows/s (all rows)       {ratio:6.2f}  target >= {THROUGHPUT_TARGET}"
          f"  {'PASS' if ratio >= THROUGHPUT_TARGET else 'FAIL'}")  # fmt: skip
    print(f"  VmHWM all rows / small export       {growth:6.2f}  target <= {FLAT_MEMORY_TARGET}"
          f"  {'PASS' if growth <= FLAT_MEMORY_TARGET else 'FAIL'}"
          f"  (baselines after warm-up: {memory['small'].baseline_hwm_mib:.1f} and"
          f" {memory['all'].baseline_hwm_mib:.1f} MiB)")  # fmt: skip


def _interrupted(signum: int, frame: object) -> NoReturn:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _interrupted)
    try:
        outcome = run(args)
    except BenchError as exc:
        print(f"export bench: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("export bench: interrupted; server stopped", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    if args.json:
        args.json.write_text(json.dumps(outcome, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
