"""One bounded benchmark run of the case list against a database made by bench/generate.py.

Starts `ovc-api serve --workers 2` (production settings, the non-superuser app role, so
authentication, tenant scoping, row-level security and the audit row of every read are all
paid) and the bare reference app (bench/reference_app.py, 2 workers), logs in, then runs wrk
(2 threads, 32 connections, --latency) on 127.0.0.1 for each measurement:

  1. API page 1 of the largest organisation        vs  2. the reference, same page
  3. API page 1000 of the largest organisation     (vs 1: keyset pages cost the same)
  4. API page 1 of the 10,000-case organisation    (vs 1: a tenant's size does not matter)

  5. API GET /api/v1/cases/{id}                    vs  6. the reference, same SQL work
  7. API POST /api/v1/cases/{id}/notes             vs  8. the reference, same SQL work

and, for information (no target), 2, 6 and 8 again doing the API's statements in the
API's transaction (the reference's `&session=`: BEGIN, the credential check with the
tenant settings, the page's or record's read-audit row, COMMIT): what the framework costs
beside the SQL the API's design needs,

and prints requests/s, p50 and p99 with the ratios against the targets. The machine is
noisy (the same commit has given 0.11 and 0.19), so the measurements run in rounds, each
round running every target once in turn (API, reference, API, ... = A B A B), and the
medians over the rounds (at least 3) are reported: drift falls on both sides. Every process
it started is stopped at the end, also on error or Ctrl-C.

    .venv/bin/python bench/run.py --database ovc_bench

`--smoke` checks that the benchmark code still runs (CI does): it generates a 10,000-case
database of its own, runs one round of 2-second measurements, reports, enforces no target,
and drops the database.

The case list is GET /api/v1/cases?limit=50; while it does not exist (404) the run measures
GET /api/v1/children?limit=50 instead (and the reference's /children), and says so.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from statistics import median
from typing import Any, NoReturn

import httpx
import psycopg
from jose import jwt

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

from ovc_api.pagination import encode_cursor

BENCH_DIR = Path(__file__).resolve().parent
PAGE = 50
TARGETS = {  # ratio name: (limit, how the ratio is computed)
    "api_vs_reference": 0.6,  # API req/s >= 0.6 x the reference's
    "page_1_vs_1000": 1.2,  # the faster of the two within 1.2x of the slower
    "small_vs_large_org": 1.3,
    "case_vs_reference": 0.5,  # GET /cases/{id}: API req/s >= 0.5 x the reference's
    "note_vs_reference": 0.5,  # POST /cases/{id}/notes: the same
}
NOTE_TEXT = "Home visit: the child attends school again; the family asked for rice support."


@dataclass(frozen=True)
class Endpoint:
    """What is measured: the API path, its default sort (name, columns), the reference's."""

    path: str
    table: str
    sort: str
    columns: tuple[str, str]
    reference_path: str


CASES = Endpoint("/api/v1/cases", "cases", "-opened_on", ("opened_on", "id"), "/cases")
CHILDREN = Endpoint(
    "/api/v1/children", "children", "-created_at", ("created_at", "id"), "/children"
)


@dataclass
class Result:
    name: str
    url: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # non-2xx responses plus socket errors


class BenchError(Exception):
    pass


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    parser.add_argument("--database", default=DEFAULT_DATABASE)
    parser.add_argument("--app-role", default=DEFAULT_APP_ROLE)
    parser.add_argument("--small-org-cases", type=int, default=10_000)
    parser.add_argument("--duration", type=int, default=12, help="seconds per wrk run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per target")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--repeat",
        "--rounds",
        dest="repeat",
        type=int,
        default=3,
        help="rounds, each running every target once in turn (medians reported; at least 3)",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tooling check: own 10,000-case database, one round of 2 s runs, no targets",
    )
    parser.add_argument("--page", type=int, default=1000, help="the deep page to compare")
    parser.add_argument("--api-port", type=int, default=8100)
    parser.add_argument("--reference-port", type=int, default=8101)
    parser.add_argument(
        "--endpoint", choices=["auto", "cases", "children"], default="auto", help="what to list"
    )
    parser.add_argument("--log-level", default="WARNING", help="the API's OVC_LOG_LEVEL")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)
    if args.smoke:
        suffix = secrets.token_hex(4)
        args.database = f"ovc_bench_smoke_{suffix}"
        args.app_role = f"ovc_bench_smoke_{suffix}"
        args.small_org_cases, args.page = 2_000, 20
        args.duration, args.warmup, args.repeat = 2, 1, 1
        args.threads, args.connections = 1, 4
        args.api_port, args.reference_port = free_port(), free_port()
    elif not 1 <= args.duration <= 60 or args.repeat < 3:
        parser.error("--duration must be 1-60 s and --repeat at least 3 (medians of rounds)")
    return args


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- processes --------------------------------------------------------------------------


class Processes:
    """The servers this run started; each in its own process group, stopped by its id."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, command: list[str], env: dict[str, str], cwd: Path) -> None:
        log = (self.log_dir / f"{name}.log").open("wb")
        process = subprocess.Popen(
            command,
            env=env,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.started.append((name, process))

    def check_alive(self) -> None:
        for name, process in self.started:
            if process.poll() is not None:
                raise BenchError(
                    f"{name} exited with {process.returncode}; see {self.log_dir / name}.log"
                )

    def stop(self) -> None:
        for _, process in self.started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for _, process in self.started:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.started.clear()


@contextmanager
def servers(args: argparse.Namespace, db: BenchDatabase, log_dir: Path) -> Iterator[None]:
    processes = Processes(log_dir)

    def interrupted(signum: int, frame: object) -> NoReturn:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupted)
    try:
        api_env = {
            **os.environ,
            "OVC_ENVIRONMENT": "production",
            "OVC_DATABASE_URL": db.app_url,
            "OVC_MIGRATION_DATABASE_URL": db.owner_url,
            "OVC_SECRET_KEY": secrets.token_urlsafe(48),
            "OVC_DATA_DIR": str(log_dir / "data"),
            "OVC_LOG_LEVEL": args.log_level,
            "OVC_ACCESS_TOKEN_MINUTES": "120",
            # wrk sends thousands of requests a minute as one user: a budget no run reaches,
            # so the limiter's per-request cost is measured but never answers 429.
            "OVC_RATE_LIMIT": "10000000/minute",
            "OVC_RATE_LIMIT_BULK": "10000000/minute",
            **{f"OVC_{k.upper()}": str(v) for k, v in PRODUCTION_ARGON2.items()},
        }
        api_env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        venv_bin = Path(sys.executable).parent
        processes.start(
            "api",
            [
                str(venv_bin / "ovc-api"),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(args.api_port),
                "--workers",
                str(args.workers),
            ],
            api_env,
            log_dir,  # no stray .env from the working directory
        )
        reference_env = {**os.environ, "BENCH_REFERENCE_DSN": db.libpq(db.owner_url)}
        processes.start(
            "reference",
            [
                str(venv_bin / "uvicorn"),
                "reference_app:app",
                "--app-dir",
                str(BENCH_DIR),
                "--host",
                "127.0.0.1",
                "--port",
                str(args.reference_port),
                "--workers",
                str(args.workers),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            reference_env,
            log_dir,
        )
        wait_ready(processes, f"http://127.0.0.1:{args.api_port}/readyz")
        wait_ready(processes, f"http://127.0.0.1:{args.reference_port}/healthz")
        yield
    finally:
        processes.stop()
        signal.signal(signal.SIGTERM, previous)


def wait_ready(processes: Processes, url: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        processes.check_alive()
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise BenchError(f"{url} not ready after {timeout:.0f} s")


# --- the database side ------------------------------------------------------------------


@dataclass(frozen=True)
class Org:
    id: str
    short_name: str
    cases: int


def organisations(db: BenchDatabase, small_size: int) -> tuple[Org, Org]:
    """The largest organisation and the one with `small_size` cases (else the smallest)."""
    with db.owner_connection() as conn:
        rows = conn.execute(
            "SELECT o.id, o.short_name, count(*) FROM cases c "
            "JOIN organisations o ON o.id = c.organisation_id GROUP BY 1, 2 ORDER BY 3 DESC"
        ).fetchall()
    if len(rows) < 2:
        raise BenchError(f"{db.name} has fewer than two organisations with cases")
    orgs = [Org(str(i), str(s), int(str(n))) for i, s, n in rows]
    small = next((o for o in orgs if o.cases == small_size), orgs[-1])
    return orgs[0], small


def deep_cursor(db: BenchDatabase, endpoint: Endpoint, org: Org, page: int) -> str:
    """The cursor that the API hands out for page `page`: the sort key of page-1's last row."""
    first, second = endpoint.columns
    with db.owner_connection() as conn:
        row = conn.execute(
            f"SELECT {first}, {second} FROM {endpoint.table} WHERE organisation_id = %s "
            f"ORDER BY {first} DESC, {second} DESC OFFSET %s LIMIT 1",
            (org.id, PAGE * (page - 1) - 1),
        ).fetchone()
    if row is None:
        raise BenchError(f"{org.short_name} has fewer than {PAGE * page} rows in {endpoint.table}")
    return encode_cursor(endpoint.sort, list(row))


def open_case(db: BenchDatabase, org: Org) -> tuple[str, str, str]:
    """An open case of the organisation (its id and opening date) and its administrator's
    user id: the single-record GET and the note POST use them."""
    with db.owner_connection() as conn:
        row = conn.execute(
            "SELECT c.id, c.opened_on::text, u.id FROM cases c JOIN users u "
            "ON u.organisation_id = c.organisation_id AND u.email = %s "
            "WHERE c.organisation_id = %s AND c.status <> 'closed' "
            "ORDER BY c.opened_on, c.id LIMIT 1",
            (login_email(org.short_name), org.id),
        ).fetchone()
    if row is None:
        raise BenchError(f"{org.short_name} has no open case")
    return str(row[0]), str(row[1]), str(row[2])


# --- HTTP and wrk -----------------------------------------------------------------------


def login(base: str, email: str) -> str:
    response = httpx.post(
        f"{base}/api/v1/auth/token",
        data={"username": email, "password": BENCH_PASSWORD},
        timeout=30,
    )
    if response.status_code != 200:
        raise BenchError(f"login as {email}: {response.status_code} {response.text[:200]}")
    return str(response.json()["access_token"])


def login_session(token: str) -> str:
    """The login (auth session) id a bearer token carries: the reference's credential check
    reads it as the API does (no verification needed, the API issued it)."""
    return str(jwt.get_unverified_claims(token)["sid"])


def choose_endpoint(base: str, token: str, wanted: str) -> Endpoint:
    if wanted != "auto":
        return CASES if wanted == "cases" else CHILDREN
    response = httpx.get(
        f"{base}{CASES.path}?limit={PAGE}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    if response.status_code == 200:
        return CASES
    if response.status_code in (404, 405):
        print(f"GET {CASES.path} answers {response.status_code}: measuring {CHILDREN.path}")
        return CHILDREN
    raise BenchError(f"GET {CASES.path}: {response.status_code} {response.text[:200]}")


def check_page(url: str, headers: dict[str, str]) -> None:
    response = httpx.get(url, headers=headers, timeout=30)
    if response.status_code != 200 or len(response.json()["items"]) != PAGE:
        raise BenchError(f"GET {url}: {response.status_code} {response.text[:300]}")


def check_one(url: str, headers: dict[str, str], case_id: str) -> None:
    response = httpx.get(url, headers=headers, timeout=30)
    if response.status_code != 200 or response.json()["id"] != case_id:
        raise BenchError(f"GET {url}: {response.status_code} {response.text[:300]}")


def check_note(url: str, headers: dict[str, str], body: dict[str, Any]) -> None:
    response = httpx.post(url, headers=headers, json=body, timeout=30)
    if response.status_code != 201 or response.json()["text"] != body["text"]:
        raise BenchError(f"POST {url}: {response.status_code} {response.text[:300]}")


UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _duration_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise BenchError(f"cannot read wrk's latency {text!r}")
    return float(match[1]) * UNITS_MS[match[2]]


def parse_wrk(output: str) -> tuple[float, float, float, int, int]:
    """Requests/s, p50 and p99 (ms), requests done and errors, from `wrk --latency`."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    done = re.search(r"(\d+) requests in", output)
    if not (rps and p50 and p99 and done):
        raise BenchError(f"cannot parse wrk's output:\n{output}")
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output))
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if sockets:
        errors += sum(int(n) for n in sockets.groups())
    return float(rps[1]), _duration_ms(p50[1]), _duration_ms(p99[1]), int(done[1]), errors


def wrk(
    args: argparse.Namespace,
    url: str,
    headers: dict[str, str],
    seconds: int,
    script: Path | None = None,
) -> str:
    command = [
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "--latency",
    ]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    if script is not None:
        command += ["-s", str(script)]
    done = subprocess.run(
        [*command, url], capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


# name, URL, headers, and a wrk script (a POST's method and body) or None
Target = tuple[str, str, dict[str, str], Path | None]


def post_script(directory: Path, name: str, body: dict[str, Any]) -> Path:
    """A wrk Lua script that POSTs `body` as JSON."""
    path = directory / f"{name}.lua"
    path.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(json.dumps(body))}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    return path


def measure_rounds(args: argparse.Namespace, targets: dict[str, Target]) -> dict[str, list[Result]]:
    """Every target once per round, in turn (A B A B ...), after one warm-up each."""
    for _name, url, headers, script in targets.values():
        wrk(args, url, headers, args.warmup, script)
    results: dict[str, list[Result]] = {key: [] for key in targets}
    for round_number in range(1, args.repeat + 1):
        print(f"  round {round_number}/{args.repeat}", flush=True)
        for key, (name, url, headers, script) in targets.items():
            output = wrk(args, url, headers, args.duration, script)
            rps, p50, p99, requests, errors = parse_wrk(output)
            results[key].append(Result(name, url, rps, p50, p99, requests, errors))
            print(
                f"    {name:<42} {rps:>9,.0f} req/s  p50 {p50:7.2f} ms  p99 {p99:7.2f} ms",
                flush=True,
            )
            if errors:
                print(f"    !! {errors} errors (non-2xx or socket) in {requests} requests")
    return results


def summarise(results: list[Result]) -> Result:
    first = results[0]
    return Result(
        first.name,
        first.url,
        median(r.requests_per_s for r in results),
        median(r.p50_ms for r in results),
        median(r.p99_ms for r in results),
        sum(r.requests for r in results),
        sum(r.errors for r in results),
    )


# --- the run ----------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise BenchError("wrk is not installed: apt-get update && apt-get install -y wrk")
    db = BenchDatabase(args.admin_url, args.database, args.app_role)
    large, small = organisations(db, args.small_org_cases)
    api = f"http://127.0.0.1:{args.api_port}"
    reference = f"http://127.0.0.1:{args.reference_port}"
    log_dir = Path(tempfile.mkdtemp(prefix="ovc-bench-"))
    print(f"database {db.name}: largest {large.short_name} ({large.cases:,} cases), "
          f"small {small.short_name} ({small.cases:,}); server logs in {log_dir}")  # fmt: skip
    with servers(args, db, log_dir):
        large_auth = {"Authorization": f"Bearer {login(api, login_email(large.short_name))}"}
        small_auth = {"Authorization": f"Bearer {login(api, login_email(small.short_name))}"}
        endpoint = choose_endpoint(api, large_auth["Authorization"][7:], args.endpoint)
        page = min(args.page, large.cases // PAGE)
        cursor = deep_cursor(db, endpoint, large, page)
        urls = {
            "api_page_1": f"{api}{endpoint.path}?limit={PAGE}",
            "reference_page_1": f"{reference}{endpoint.reference_path}?org={large.id}",
            "api_deep_page": f"{api}{endpoint.path}?limit={PAGE}&cursor={cursor}",
        }
        for url in urls.values():
            check_page(url, large_auth)
        case_id, opened_on, user_id = open_case(db, large)
        login_id = login_session(large_auth["Authorization"][7:])
        as_the_api = f"org={large.id}&user={user_id}&session={login_id}"
        urls["reference_page_1_same"] = f"{reference}{endpoint.reference_path}?{as_the_api}"
        if endpoint is CASES:
            check_page(urls["reference_page_1_same"], {})
        check_page(urls["api_page_1"], small_auth)
        case_urls = {
            "api_case": f"{api}/api/v1/cases/{case_id}",
            "reference_case": f"{reference}/cases/{case_id}?org={large.id}&user={user_id}",
            "api_note": f"{api}/api/v1/cases/{case_id}/notes",
            "reference_note": f"{reference}/cases/{case_id}/notes?org={large.id}&user={user_id}",
            "reference_case_same": f"{reference}/cases/{case_id}?{as_the_api}",
            "reference_note_same": f"{reference}/cases/{case_id}/notes?{as_the_api}",
        }
        note = {"noted_on": opened_on, "text": NOTE_TEXT}
        check_one(case_urls["api_case"], large_auth, case_id)
        check_one(case_urls["reference_case"], {}, case_id)
        check_note(case_urls["api_note"], large_auth, note)
        check_note(case_urls["reference_note"], {}, note)
        check_one(case_urls["reference_case_same"], {}, case_id)
        check_note(case_urls["reference_note_same"], {}, note)
        note_script = post_script(log_dir, "note", note)
        print(f"measuring {endpoint.path} (wrk -t{args.threads} -c{args.connections} "
              f"-d{args.duration}s --latency, {args.repeat} round(s))")  # fmt: skip
        same: dict[str, Target] = {
            "reference_case_same": ("reference GET, the API's statements",
                                    case_urls["reference_case_same"], {}, None),
            "reference_note_same": ("reference POST, the API's statements",
                                    case_urls["reference_note_same"], {}, note_script),
        }  # fmt: skip
        if endpoint is CASES:
            same["reference_page_1_same"] = (
                "reference page 1, the API's statements",
                urls["reference_page_1_same"],
                {},
                None,
            )
        measured = measure_rounds(
            args,
            {
                "api_page_1": (
                    f"API page 1, {large.short_name}",
                    urls["api_page_1"],
                    large_auth,
                    None,
                ),
                "reference_page_1": (
                    f"reference page 1, {large.short_name}",
                    urls["reference_page_1"],
                    {},
                    None,
                ),
                "api_deep_page": (
                    f"API page {page}, {large.short_name}",
                    urls["api_deep_page"],
                    large_auth,
                    None,
                ),
                "api_small_org": (
                    f"API page 1, {small.short_name}",
                    urls["api_page_1"],
                    small_auth,
                    None,
                ),
                "api_case": ("API GET /cases/{id}", case_urls["api_case"], large_auth, None),
                "reference_case": ("reference GET /cases/{id}", case_urls["reference_case"], {},
                                   None),
                "api_note": ("API POST /cases/{id}/notes", case_urls["api_note"], large_auth,
                             note_script),
                "reference_note": ("reference POST /cases/{id}/notes",
                                   case_urls["reference_note"], {}, note_script),
                **same,
            },
        )  # fmt: skip
    results = {key: summarise(value) for key, value in measured.items()}
    if args.smoke:  # no speed targets, but the code under measurement must answer correctly
        broken = [r.name for r in results.values() if r.errors or not r.requests]
        if broken:
            raise BenchError(f"errors or no completed request: {', '.join(broken)}")
    api_rps = results["api_page_1"].requests_per_s

    def spread(a: float, b: float) -> float:
        return max(a, b) / min(a, b) if min(a, b) > 0 else float("inf")

    ratios = {
        "api_vs_reference": api_rps / max(results["reference_page_1"].requests_per_s, 1e-9),
        "page_1_vs_1000": spread(api_rps, results["api_deep_page"].requests_per_s),
        "small_vs_large_org": spread(api_rps, results["api_small_org"].requests_per_s),
        "case_vs_reference": results["api_case"].requests_per_s
        / max(results["reference_case"].requests_per_s, 1e-9),
        "note_vs_reference": results["api_note"].requests_per_s
        / max(results["reference_note"].requests_per_s, 1e-9),
    }
    for name, api_key in (("page_1", "api_page_1"), ("case", "api_case"), ("note", "api_note")):
        if f"reference_{name}_same" in results:  # information: no target
            ratios[f"{name}_vs_same_statements"] = results[api_key].requests_per_s / max(
                results[f"reference_{name}_same"].requests_per_s, 1e-9
            )
    report(endpoint, large, small, page, results, ratios, enforce=not args.smoke)
    return {
        "endpoint": endpoint.path,
        "database": db.name,
        "large_org": asdict(large),
        "small_org": asdict(small),
        "deep_page": page,
        "settings": {
            "duration_s": args.duration,
            "connections": args.connections,
            "threads": args.threads,
            "workers": args.workers,
            "repeat": args.repeat,
        },
        "results": {k: asdict(v) for k, v in results.items()},
        "ratios": ratios,
    }


def report(
    endpoint: Endpoint,
    large: Org,
    small: Org,
    page: int,
    results: dict[str, Result],
    ratios: dict[str, float],
    *,
    enforce: bool = True,
) -> None:
    print(f"\nResults: GET {endpoint.path}?limit={PAGE} (medians)")
    print(f"  {'measurement':<44} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for result in results.values():
        print(
            f"  {result.name:<44} {result.requests_per_s:>9,.0f} {result.p50_ms:>8.2f} "
            f"{result.p99_ms:>8.2f} {result.errors:>7}"
        )
    checks = [
        ("API / reference req/s", ratios["api_vs_reference"], ">=", TARGETS["api_vs_reference"]),
        (f"page 1 vs page {page} (req/s spread)", ratios["page_1_vs_1000"], "<=",
         TARGETS["page_1_vs_1000"]),
        (f"{small.cases:,} vs {large.cases:,}-case org (req/s spread)",
         ratios["small_vs_large_org"], "<=", TARGETS["small_vs_large_org"]),
        ("GET /cases/{id}: API / reference req/s", ratios["case_vs_reference"], ">=",
         TARGETS["case_vs_reference"]),
        ("POST /cases/{id}/notes: API / reference", ratios["note_vs_reference"], ">=",
         TARGETS["note_vs_reference"]),
    ]  # fmt: skip
    print(f"\n  {'ratio':<44} {'value':>9} {'target':>8}  verdict")
    for label, value, op, target in checks:
        ok = value >= target if op == ">=" else value <= target
        verdict = ("PASS" if ok else "FAIL") if enforce else "(smoke: not enforced)"
        print(f"  {label:<44} {value:>9.2f} {op + ' ' + str(target):>8}  {verdict}")
    informative = [
        ("list: API / reference with its statements", "page_1_vs_same_statements"),
        ("GET: API / reference with its statements", "case_vs_same_statements"),
        ("POST: API / reference with its statements", "note_vs_same_statements"),
    ]
    for label, key in informative:
        if key in ratios:
            print(f"  {label:<44} {ratios[key]:>9.2f} {'-':>8}  (information)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        outcome = smoke(args) if args.smoke else run(args)
    except (BenchError, psycopg.Error, httpx.HTTPError) as exc:
        print(f"bench: error: {str(exc).strip().splitlines()[-1]}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench: interrupted; servers stopped", file=sys.stderr)
        return 130
    if args.json:
        args.json.write_text(json.dumps(outcome, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0


def smoke(args: argparse.Namespace) -> dict[str, Any]:
    """Generate a small database of its own, run once, and drop it whatever happens."""
    import generate

    common = ["--admin-url", args.admin_url, "--database", args.database]
    common += ["--app-role", args.app_role]
    try:
        if generate.main([*common, "--cases", "10000", "--orgs", "3", "--small-org-cases",
                          str(args.small_org_cases)]) != 0:  # fmt: skip
            raise BenchError("generating the smoke database failed")
        return run(args)
    finally:
        generate.main([*common, "--drop"])


if __name__ == "__main__":
    raise SystemExit(main())
