"""A fault harness, run by hand (not a test, not in CI): writes through database faults.

It starts its OWN PostgreSQL (initdb into a temporary directory, its own port and socket
directory; never the machine's shared server), migrates it as the owner, serves the API with
`ovc-api serve --workers 2` as a separate application role, and drives writes from ~16
concurrent clients: `POST /api/v1/children`, each with an `Idempotency-Key`, retrying the
same key after any failure. Meanwhile it

  1. restarts PostgreSQL (`pg_ctl restart -m fast`),
  2. stops it for 10 s, then starts it again,
  3. kills one API worker (SIGKILL),

and prints, per phase, the status counts, 500s and connections dropped without a response,
then acknowledged vs stored rows, duplicates, recovery times, and how many server log lines
carry a generated child's name (must be none). Everything is bounded in time and count; it
stops by itself and removes what it created (`--keep` keeps the directory with the logs).

    .venv/bin/python bench/faults.py            # about 2 minutes
    .venv/bin/python bench/faults.py --json /tmp/faults.json

Run as root, PostgreSQL runs as the `postgres` OS user (initdb refuses root).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import random
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

PROJECT = Path(__file__).resolve().parents[1]
OVC_API = str(Path(sys.executable).with_name("ovc-api"))
CHILDREN = "/api/v1/children"
NAME_PREFIX = "Zorv"  # every generated given name starts with it: grep-able in the logs
PASSWORD = "Faults-Harness-" + secrets.token_hex(6)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- our own PostgreSQL -------------------------------------------------------------------


class Postgres:
    """A throw-away cluster: its own data directory, port and socket directory."""

    def __init__(self, root: Path, bin_dir: Path, os_user: str | None) -> None:
        self.root = root
        self.data = root / "pgdata"
        self.sockets = root / "sockets"
        self.log = root / "postgres.log"
        self.bin = bin_dir
        self.os_user = os_user
        self.port = free_port()

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin / tool), *args]
        if self.os_user:
            command = ["runuser", "-u", self.os_user, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=check, timeout=120)

    def init(self) -> None:
        self.sockets.mkdir(parents=True)
        if self.os_user:
            shutil.chown(self.root, self.os_user)
            shutil.chown(self.sockets, self.os_user)
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
            "--no-sync", "--locale=C.UTF-8",
        )  # fmt: skip

    def _options(self) -> str:
        return (
            f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 "
            "-c max_connections=100 -c shared_buffers=64MB"
        )

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                  "-o", self._options(), "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop",
                  check=False)  # fmt: skip

    def restart(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-m", "fast", "-w",
                  "-t", "60", "-o", self._options(), "restart")  # fmt: skip

    def url(self, user: str, database: str = "ovc", driver: str = "postgresql+psycopg") -> str:
        return f"{driver}://{user}@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str) -> None:
        with psycopg.connect(
            self.url("postgres", "postgres", "postgresql"), autocommit=True
        ) as connection:
            connection.execute(sql)  # type: ignore[arg-type]


# --- the load -----------------------------------------------------------------------------


@dataclass
class Stats:
    phase: str = "setup"
    phases: list[str] = field(default_factory=list)
    statuses: dict[str, collections.Counter[str]] = field(
        default_factory=lambda: collections.defaultdict(collections.Counter)
    )
    acked: dict[str, str] = field(default_factory=dict)  # key -> given name
    ack_times: list[float] = field(default_factory=list)
    abandoned: int = 0
    attempted_names: set[str] = field(default_factory=set)
    failures: dict[str, str] = field(default_factory=dict)  # status -> first answer
    ready_log: list[tuple[float, int]] = field(default_factory=list)

    def count(self, outcome: str) -> None:
        self.statuses[self.phase][outcome] += 1


def child_body(given: str, family: str) -> dict[str, Any]:
    return {
        "given_name_latin": given,
        "family_name_latin": family,
        "sex": random.choice(["female", "male"]),
        "date_of_birth": "2015-04-01",
        "birth_date_estimated": True,
        "care_arrangement": "kinship_care",
        "province": "battambang",
        "district": "Bavel",
        "commune": "Kdol Tahen",
        "village": "Ou Lmun",
        "confirm_not_duplicate": True,
    }


def random_name() -> str:
    letters = "".join(random.choices(string.ascii_lowercase, k=10))
    return NAME_PREFIX + letters


async def client_loop(
    base: str, token: str, family: str, stats: Stats, stop: asyncio.Event, give_up_after: float
) -> None:
    """One client, one connection: new keys until told to stop, each retried until stored."""
    timeout = httpx.Timeout(15.0, connect=5.0)
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, timeout=timeout, limits=limits) as http:
        while not stop.is_set():
            key, given = str(uuid.uuid4()), random_name()
            body = child_body(given, family)  # the same body on every retry of this key
            stats.attempted_names.add(given)
            started = time.monotonic()
            while True:
                outcome, retry_after = await _post_once(http, headers, key, body, stats)
                if outcome in ("201", "200"):
                    stats.acked[key] = given
                    stats.ack_times.append(time.monotonic())
                    break
                if outcome.startswith("4") and outcome not in ("409", "429", "408"):
                    break  # a client error: retrying cannot help (reported in the table)
                if time.monotonic() - started > give_up_after:
                    stats.abandoned += 1
                    break
                await asyncio.sleep(min(retry_after, 1.0) + random.uniform(0, 0.1))


async def _post_once(
    http: httpx.AsyncClient,
    headers: dict[str, str],
    key: str,
    body: dict[str, Any],
    stats: Stats,
) -> tuple[str, float]:
    try:
        response = await http.post(
            CHILDREN,
            json=body,
            headers={**headers, "Idempotency-Key": key},
        )
    except httpx.ConnectError:
        outcome = "connect-error"
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
        outcome = "no-response"  # the connection closed without an answer
    except httpx.TimeoutException:
        outcome = "timeout"
    else:
        outcome = str(response.status_code)
        if response.status_code not in (200, 201):
            stats.failures.setdefault(outcome, response.text[:160])
        stats.count(outcome)
        retry = response.headers.get("Retry-After", "")
        return outcome, float(retry) if retry.isdigit() else 0.2
    stats.count(outcome)
    return outcome, 0.2


async def readiness_loop(base: str, stats: Stats, stop: asyncio.Event) -> None:
    """/readyz every 100 ms: when the API noticed the outage and the recovery."""
    async with httpx.AsyncClient(base_url=base, timeout=2.0) as http:
        while not stop.is_set():
            try:
                status = (await http.get("/readyz")).status_code
            except httpx.HTTPError:
                status = 0
            stats.ready_log.append((time.monotonic(), status))
            await asyncio.sleep(0.1)


# --- orchestration ------------------------------------------------------------------------


def worker_pids(master: int) -> list[int]:
    """The serve master's worker processes (not multiprocessing's resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat[1]) == master and "resource_tracker" not in cmdline:
            found.append(int(entry.name))
    return sorted(found)


async def wait_http(base: str, path: str, deadline: float) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=2.0) as http:
        while time.monotonic() < deadline:
            try:
                if (await http.get(path)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{path} did not answer 200 in time")


async def login(http: httpx.AsyncClient, email: str, password: str) -> str:
    response = await http.post("/api/v1/auth/token", data={"username": email, "password": password})
    response.raise_for_status()
    return str(response.json()["access_token"])


async def set_up_caseworker(base: str, admin_email: str) -> str:
    """Network admin -> an organisation and its admin -> a caseworker's token."""
    async with httpx.AsyncClient(base_url=base, timeout=30.0) as http:
        admin = {"Authorization": f"Bearer {await login(http, admin_email, PASSWORD)}"}
        tag = secrets.token_hex(3)
        org = await http.post(
            "/api/v1/organisations",
            json={"name": f"Fault NGO {tag}", "short_name": f"F{tag}", "kind": "ngo",
                  "provinces": ["battambang"]},
            headers=admin,
        )  # fmt: skip
        org.raise_for_status()
        org_admin_email = f"orgadmin.{tag}@faults.example"
        created = await http.post(
            "/api/v1/users",
            json={"email": org_admin_email, "full_name": "Fault admin", "role": "org_admin",
                  "password": PASSWORD, "organisation_id": org.json()["id"]},
            headers=admin,
        )  # fmt: skip
        created.raise_for_status()
        org_admin = {"Authorization": f"Bearer {await login(http, org_admin_email, PASSWORD)}"}
        worker_email = f"worker.{tag}@faults.example"
        created = await http.post(
            "/api/v1/users",
            json={"email": worker_email, "full_name": "Fault worker", "role": "caseworker",
                  "password": PASSWORD},
            headers=org_admin,
        )  # fmt: skip
        created.raise_for_status()
        return await login(http, worker_email, PASSWORD)


@dataclass
class Recovery:
    label: str
    database_back: float
    first_ack_after: float | None = None
    ready_503_after: float | None = None
    ready_200_after: float | None = None


def measure_recovery(stats: Stats, recovery: Recovery, fault_at: float) -> None:
    later = [t for t in stats.ack_times if t >= recovery.database_back]
    recovery.first_ack_after = min(later) - recovery.database_back if later else None
    down = [t for t, s in stats.ready_log if t >= fault_at and s != 200]
    recovery.ready_503_after = down[0] - fault_at if down else None
    up = [t for t, s in stats.ready_log if t >= recovery.database_back and s == 200]
    recovery.ready_200_after = up[0] - recovery.database_back if up else None


async def run_load(
    args: argparse.Namespace,
    pg: Postgres,
    base: str,
    token: str,
    server: subprocess.Popen[bytes],
    stats: Stats,
    family: str,
) -> list[Recovery]:
    stop_clients, stop_ready = asyncio.Event(), asyncio.Event()
    clients = [
        asyncio.create_task(client_loop(base, token, family, stats, stop_clients, args.give_up))
        for _ in range(args.clients)
    ]
    ready = asyncio.create_task(readiness_loop(base, stats, stop_ready))
    recoveries: list[Recovery] = []

    def phase(name: str) -> None:
        stats.phase = name
        stats.phases.append(name)
        print(f"  {time.strftime('%H:%M:%S')} phase: {name}", flush=True)

    try:
        phase("steady")
        await asyncio.sleep(args.steady)

        phase("restart")
        fault_at = time.monotonic()
        await asyncio.to_thread(pg.restart)
        restart = Recovery("restart", time.monotonic())
        await asyncio.sleep(args.after)
        measure_recovery(stats, restart, fault_at)
        recoveries.append(restart)

        phase(f"stop {args.outage:g}s")
        fault_at = time.monotonic()
        await asyncio.to_thread(pg.stop, "fast")
        await asyncio.sleep(args.outage)
        await asyncio.to_thread(pg.start)
        outage = Recovery(f"stop {args.outage:g}s", time.monotonic())
        await asyncio.sleep(args.after)
        measure_recovery(stats, outage, fault_at)
        recoveries.append(outage)

        phase("kill worker")
        workers = worker_pids(server.pid)
        if workers:
            os.kill(workers[0], signal.SIGKILL)
            print(f"    killed worker {workers[0]} of {workers}", flush=True)
        await asyncio.sleep(args.after)
        print(f"    workers now {worker_pids(server.pid)}", flush=True)

        phase("steady again")
        await asyncio.sleep(args.steady)
        phase("drain")
    finally:
        stop_clients.set()
        _, pending = await asyncio.wait(clients, timeout=args.give_up + 20)
        for task in pending:
            task.cancel()
        stop_ready.set()
        await asyncio.wait([ready], timeout=5)
    return recoveries


def stored_names(pg: Postgres, family: str) -> collections.Counter[str]:
    with psycopg.connect(pg.url("ovc_owner", "ovc", "postgresql")) as connection:
        connection.execute("SELECT set_config('ovc.system', 'on', false)")
        rows = connection.execute(
            "SELECT given_name_latin FROM children WHERE family_name_latin = %s", (family,)
        ).fetchall()
    return collections.Counter(row[0] for row in rows)


def grep_log(path: Path, family: str) -> tuple[int, int, list[str]]:
    """Lines carrying a generated name (any case: search keys are lower-cased), the log's
    size, a few samples. Every generated given name starts with NAME_PREFIX."""
    needles = (NAME_PREFIX.lower(), family.lower())
    hits, samples = 0, []
    text = path.read_text(errors="replace") if path.exists() else ""
    for line in text.splitlines():
        lowered = line.lower()
        if any(needle in lowered for needle in needles):
            hits += 1
            if len(samples) < 3:
                at = lowered.find(NAME_PREFIX.lower())
                samples.append(line[max(0, at - 80) : at + 60] if at >= 0 else line[:140])
    return hits, len(text.encode()), samples


def report(stats: Stats, recoveries: list[Recovery], stored: collections.Counter[str],
           log_hits: int, log_bytes: int, samples: list[str]) -> dict[str, Any]:  # fmt: skip
    columns = ["201", "200", "409", "429", "503", "500", "other", "no-response",
               "connect-error", "timeout"]  # fmt: skip
    print()
    print(f"| phase | requests | {' | '.join(columns)} |")
    print("|---" * (len(columns) + 2) + "|")
    table = {}
    for name in stats.phases:
        counts = stats.statuses.get(name, collections.Counter())
        row = {c: counts.get(c, 0) for c in columns}
        row["other"] = sum(v for k, v in counts.items() if k not in columns)
        table[name] = {**row, "requests": sum(counts.values())}
        cells = " | ".join(f"{row[c]:,}" for c in columns)
        print(f"| {name} | {sum(counts.values()):,} | {cells} |")
    acked = set(stats.acked.values())
    lost = acked - set(stored)
    duplicates = {n: c for n, c in stored.items() if c > 1}
    total_500 = sum(c.get("500", 0) for c in stats.statuses.values())
    dropped = sum(c.get("no-response", 0) for c in stats.statuses.values())
    summary = {
        "acknowledged": len(acked),
        "stored": sum(stored.values()),
        "lost (acknowledged, not stored)": len(lost),
        "duplicated names (stored more than once)": len(duplicates),
        "stored without an acknowledgement (abandoned retries)": len(set(stored) - acked),
        "keys abandoned after retrying": stats.abandoned,
        "responses with status 500": total_500,
        "connections dropped without a response": dropped,
        "server log lines with a generated name": log_hits,
        "server log bytes": log_bytes,
    }
    print()
    for label, value in summary.items():
        print(f"{label:55} {value:>10,}")
    for rec in recoveries:
        parts = [
            f"first acknowledged write {_secs(rec.first_ack_after)} after the database was back",
            f"/readyz non-200 {_secs(rec.ready_503_after)} after the fault",
            f"200 again {_secs(rec.ready_200_after)} after the database was back",
        ]
        print(f"recovery, {rec.label}: " + "; ".join(parts))
    others = collections.Counter(
        {k: v for c in stats.statuses.values() for k, v in c.items() if k not in columns}
    )
    if others:
        print(f"  'other' statuses: {dict(others)}")
    for status, sample in sorted(stats.failures.items()):
        print(f"  first {status} answer: {sample}")
    for sample in samples:
        print(f"  a log line with a name: {sample}")
    return {
        "phases": table,
        "summary": summary,
        "recoveries": [rec.__dict__ for rec in recoveries],
    }


def _secs(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} s"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--pg-bin", type=Path, default=Path("/usr/lib/postgresql/15/bin"))
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--steady", type=float, default=5.0, help="seconds of steady load")
    parser.add_argument("--after", type=float, default=8.0, help="seconds watched after a fault")
    parser.add_argument("--outage", type=float, default=10.0, help="seconds the database is down")
    parser.add_argument("--give-up", type=float, default=45.0, help="seconds to retry one key")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--owner-superuser",
        action="store_true",
        help="make the schema owner a superuser (diagnostic only: it bypasses row-level security)",
    )
    args = parser.parse_args()
    if not 1 <= args.clients <= 64:
        parser.error("--clients must be 1-64")

    root = Path(tempfile.mkdtemp(prefix="ovc-faults-"))
    root.chmod(0o755)
    os_user = "postgres" if os.geteuid() == 0 else None
    pg = Postgres(root, args.pg_bin, os_user)
    server: subprocess.Popen[bytes] | None = None
    server_log = root / "server.log"
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        print(f"PostgreSQL in {pg.data}, port {pg.port}; logs in {root}", flush=True)
        pg.init()
        pg.start()
        # As in production the owner is not a superuser; --owner-superuser is a diagnostic
        # switch (superusers bypass row-level security, so it hides problems, not finds them).
        pg.admin("CREATE ROLE ovc_owner LOGIN" + (" SUPERUSER" if args.owner_superuser else ""))
        pg.admin("CREATE ROLE ovc_app LOGIN NOSUPERUSER NOBYPASSRLS")
        pg.admin("CREATE DATABASE ovc OWNER ovc_owner")
        env = {
            **os.environ,
            "OVC_MIGRATION_DATABASE_URL": pg.url("ovc_owner"),
            "OVC_DATABASE_URL": pg.url("ovc_app"),
            "OVC_SECRET_KEY": secrets.token_urlsafe(48),
            "OVC_DATA_DIR": str(root / "data"),
            "OVC_LOG_FORMAT": "json",
            # The harness writes as fast as it can as one user: faults, not budgets, are tested.
            "OVC_RATE_LIMIT": "10000000/minute",
            "OVC_ARGON2_MEMORY_KIB": "8",
            "OVC_ARGON2_TIME_COST": "1",
            "OVC_ARGON2_PARALLELISM": "1",
            "OVC_ADMIN_PASSWORD": PASSWORD,
        }
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        subprocess.run([OVC_API, "migrate"], env=env, check=True, cwd=PROJECT, timeout=300,
                       capture_output=True)  # fmt: skip
        admin_email = "admin@faults.example"
        subprocess.run([OVC_API, "create-admin", "--email", admin_email], env=env, check=True,
                       cwd=PROJECT, timeout=120, capture_output=True)  # fmt: skip
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with server_log.open("wb") as log:
            server = subprocess.Popen(
                [OVC_API, "serve", "--port", str(port), "--workers", "2"],
                env=env, cwd=PROJECT, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        asyncio.run(wait_http(base, "/readyz", time.monotonic() + 60))
        try:
            token = asyncio.run(set_up_caseworker(base, admin_email))
        except httpx.HTTPStatusError as exc:
            where = f"{exc.request.method} {exc.request.url.path}"
            status = exc.response.status_code
            print(f"set-up failed: {where} answered {status} (logs: --keep)", file=sys.stderr)
            return 1
        family = "Faultfam" + "".join(random.choices(string.ascii_lowercase, k=8))
        stats = Stats()
        print(f"{args.clients} clients writing children (family name {family})", flush=True)
        recoveries = asyncio.run(run_load(args, pg, base, token, server, stats, family))
        stored = stored_names(pg, family)
        time.sleep(1)  # let the server flush its last log lines
        hits, size, samples = grep_log(server_log, family)
        figures = report(stats, recoveries, stored, hits, size, samples)
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2) + "\n")
            print(f"wrote {args.json}")
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        if server is not None and server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(5)
        pg.stop("immediate")
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
