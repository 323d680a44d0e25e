"""The `ovc-api` command: serve, worker, migrate, create-admin, openapi, demo, backup, restore,
audit;
and, against a running
server (`--url`/OVC_URL, API key in OVC_API_KEY), stats, report and export for scripts.

Errors are one line on stderr and a non-zero exit code (1 for a failure, 2 for bad
arguments), never a traceback, so scripts and operators can act on them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from ovc_api.settings import Environment, Settings

if TYPE_CHECKING:
    from ovc_api.client import Client

DEFAULT_OPENAPI_PATH = Path("openapi/openapi.json")
DEMO_DATABASE_NAME = "demo.db"
# Commands that talk to a server over HTTP: they need no database settings.
CLIENT_COMMANDS = frozenset({"stats", "report", "export"})
STATS_KINDS = ("cases", "services", "outcomes")
EXPORT_RESOURCES = ("cases", "children", "services")
DEFAULT_API_KEY_ENV = "OVC_API_KEY"
_FILTER_KEY = re.compile(r"^[a-z_][a-z0-9_]*$")


class CommandError(Exception):
    """A one-line, user-facing failure."""


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'settings'}: "
            + e["msg"].removeprefix("Value error, ")
            for e in exc.errors()
        )
        raise CommandError(f"invalid configuration: {problems}") from exc


def _prepare_sqlite_dir(settings: Settings) -> None:
    if settings.is_sqlite:
        database = make_url(settings.database_url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)


def migrate(settings: Settings, revision: str = "head") -> None:
    from ovc_api.db import run_migrations

    _prepare_sqlite_dir(settings)
    from ovc_api.audit.archive import ensure_partitions
    from ovc_api.audit.partitions import MONTHS_AHEAD

    try:
        run_migrations(settings, revision)
        ensure_partitions(settings.migration_database_url, MONTHS_AHEAD)
    except (SQLAlchemyError, OSError) as exc:
        raise CommandError(
            f"cannot migrate the database at {_safe_url(settings.migration_database_url)}: "
            f"{_first_line(exc)}"
        ) from exc


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


async def _check_ready(settings: Settings) -> None:
    from ovc_api.db import SchemaNotAtHead, Timeouts, create_engine, require_schema_at_head

    engine = create_engine(settings.database_url, 1, timeouts=Timeouts.from_settings(settings))
    try:
        await require_schema_at_head(engine)
    except SchemaNotAtHead as exc:
        raise CommandError(str(exc)) from exc
    except (SQLAlchemyError, OSError) as exc:
        raise CommandError(
            f"cannot reach the database at {_safe_url(settings.database_url)}: {_first_line(exc)}"
        ) from exc
    finally:
        await engine.dispose()


def serve(
    settings: Settings, host: str, port: int, workers: int, *, migrate_sqlite: bool = False
) -> None:
    """Serve with uvicorn. Logging is set up here, before uvicorn starts, and handed to it
    (`log_config`) so the master process (worker starts, deaths and respawns) logs like the
    workers. SIGTERM stops accepting connections and gives requests in flight
    OVC_SHUTDOWN_TIMEOUT_SECONDS to finish; the workers then close their connection pools."""
    import uvicorn

    from ovc_api.observability import configure_logging, logging_config, reset_metrics_directory

    if migrate_sqlite and settings.is_sqlite:
        # The embedded database belongs to this one process tree: nothing else to race with.
        migrate(settings)
    asyncio.run(_check_ready(settings))
    configure_logging(settings)
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        reset_metrics_directory(Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]))
    elif workers > 1:
        # Metrics from every worker, summed at /metrics.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="ovc-metrics-")
    uvicorn.run(
        "ovc_api.app:build_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_config=logging_config(settings),
        **proxy_options(settings),
        timeout_graceful_shutdown=settings.shutdown_timeout_seconds,
        timeout_worker_healthcheck=settings.worker_healthcheck_timeout_seconds,
    )


def run_worker(settings: Settings, *, once: bool) -> str | None:
    """The webhook delivery worker, as the application role: until SIGTERM/SIGINT, or one
    round with `once` (returns what it did)."""
    from ovc_api.db import Database
    from ovc_api.observability import configure_logging
    from ovc_api.webhooks.worker import compact_summaries, run_forever, run_once

    asyncio.run(_check_ready(settings))
    configure_logging(settings)

    async def work() -> str | None:
        database = Database.from_settings(settings)
        try:
            if once:
                done = await run_once(database, settings)
                compacted = await compact_summaries(database)
                return (
                    f"queued {done.queued}, delivered {done.succeeded}, "
                    f"failed attempts {done.failed_attempts}, disabled {len(done.disabled)}"
                    f"{', statistics summary merged' if compacted else ''}\n"
                )
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, stop.set)
            await run_forever(database, settings, stop)
            return None
        finally:
            await database.engine.dispose()

    return asyncio.run(work())


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's proxy-headers handling: X-Forwarded-For is believed only from the proxies in
    OVC_FORWARDED_ALLOW_IPS; without it the headers are ignored (uvicorn would otherwise
    trust 127.0.0.1, or its own FORWARDED_ALLOW_IPS variable)."""
    allowed = settings.forwarded_allow_ips.strip()
    if not allowed:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": allowed}


def write_openapi(path: Path) -> None:
    from ovc_api.app import create_app

    settings = Settings(database_url="sqlite+aiosqlite:///:memory:", secret_key="x" * 48)
    schema = create_app(settings, check_schema=False).openapi()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _create_admin(settings: Settings, email: str, name: str, password: str | None) -> None:
    from ovc_api.users.bootstrap import create_network_admin
    from ovc_api.visibility import install_rules

    if password is None:
        password = os.environ.get("OVC_ADMIN_PASSWORD")
    if password is None:
        if not sys.stdin.isatty():
            raise CommandError("no password: set OVC_ADMIN_PASSWORD or run in a terminal")
        import getpass

        password = getpass.getpass("Password for the network administrator: ")
        if password != getpass.getpass("Repeat the password: "):
            raise CommandError("the two passwords differ")
    try:
        asyncio.run(_check_ready(settings))
        install_rules()
        asyncio.run(create_network_admin(settings, email=email, full_name=name, password=password))
    except ValueError as exc:
        raise CommandError(str(exc)) from exc


def demo(settings: Settings, host: str, port: int, serve_after: bool) -> None:
    from ovc_api.demo import load_demo_data
    from ovc_api.visibility import install_rules

    if settings.environment is Environment.production:
        raise CommandError("refusing to load demo data with OVC_ENVIRONMENT=production")
    demo_path = settings.data_dir / DEMO_DATABASE_NAME
    for suffix in ("", "-wal", "-shm"):
        Path(f"{demo_path}{suffix}").unlink(missing_ok=True)
    url = f"sqlite+aiosqlite:///{demo_path.as_posix()}"
    os.environ["OVC_DATABASE_URL"] = url
    os.environ["OVC_MIGRATION_DATABASE_URL"] = url
    # The served app delivers the demo's webhooks itself (one worker, in process).
    os.environ["OVC_WEBHOOK_WORKER_IN_PROCESS"] = "true"
    demo_settings = _load_settings(
        database_url=url,
        migration_database_url=url,
        data_dir=settings.data_dir,
        webhook_worker_in_process=True,
    )
    migrate(demo_settings)
    install_rules()
    logins = asyncio.run(load_demo_data(demo_settings))
    print(f"Demo database: {demo_path} (recreated on every `ovc-api demo`)")
    print(logins)
    print(f"API docs: http://{host}:{port}/docs   (Authorize with a login above)")
    if serve_after:
        serve(demo_settings, host, port, 1)


def backup(settings: Settings, out: Path) -> str:
    from ovc_api.backup import BackupError, backup_postgres, backup_sqlite, sqlite_path

    try:
        database = sqlite_path(settings.database_url)
        if database is None:
            backup_postgres(settings.migration_database_url, out)
            return f"wrote {out} (pg_dump -Fc of {_safe_url(settings.migration_database_url)})"
        snapshot = backup_sqlite(database, out)
    except (BackupError, OSError) as exc:
        raise CommandError(str(exc)) from exc
    rows = sum(snapshot.row_counts.values())
    return f"wrote {out}: {rows:,} rows, content sha256 {snapshot.checksum}"


def restore(settings: Settings, source: Path, force: bool) -> str:
    from ovc_api.backup import BackupError, restore_postgres, restore_sqlite, sqlite_path

    try:
        database = sqlite_path(settings.database_url)
        if database is None:
            if not force and _has_schema(settings.migration_database_url):
                raise CommandError(
                    "the database already holds an ovc-api schema: stop the API and pass "
                    "--force to replace it with the backup"
                )
            restore_postgres(settings.migration_database_url, source)
            migrate(settings)  # grants the application role its privileges again
            return f"restored {source} into {_safe_url(settings.migration_database_url)}"
        snapshot = restore_sqlite(source, database, force=force)
    except (BackupError, OSError) as exc:
        raise CommandError(str(exc)) from exc
    rows = sum(snapshot.row_counts.values())
    return f"restored {source} into {database}: {rows:,} rows, content sha256 {snapshot.checksum}"


def _has_schema(url: str) -> bool:
    from sqlalchemy import inspect

    from ovc_api.audit.archive import sync_engine

    engine = sync_engine(url)
    try:
        with engine.connect() as connection:
            return inspect(connection).has_table("alembic_version")
    except SQLAlchemyError as exc:
        raise CommandError(
            f"cannot reach the database at {_safe_url(url)}: {_first_line(exc)}"
        ) from exc
    finally:
        engine.dispose()


def audit_archive(
    settings: Settings, before: date, out: Path, force: bool, operator: str | None
) -> str:
    import getpass

    from ovc_api.audit.archive import ArchiveRefused, archive

    try:
        result = archive(
            settings.migration_database_url,
            before=before,
            out=out,
            retention_years=settings.audit_retention_years,
            operator=operator or getpass.getuser(),
            force=force,
        )
    except ArchiveRefused as exc:
        raise CommandError(str(exc)) from exc
    except (SQLAlchemyError, OSError, RuntimeError) as exc:
        raise CommandError(f"nothing archived: {_first_line(exc)}") from exc
    dropped = ", ".join(result.dropped_partitions) or "none"
    return (
        f"archived {result.events:,} events before {before} to {out} "
        f"(sha256 {result.sha256}); partitions dropped: {dropped}"
    )


def audit_partitions(settings: Settings, months_ahead: int) -> str:
    from ovc_api.audit.archive import ensure_partitions

    try:
        created = ensure_partitions(settings.migration_database_url, months_ahead)
    except SQLAlchemyError as exc:
        raise CommandError(f"cannot create partitions: {_first_line(exc)}") from exc
    made = ", ".join(f"{m:%Y-%m}" for m in created) or "none needed"
    return f"audit partitions created: {made}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ovc-api", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve_cmd = commands.add_parser("serve", help="serve the API (database must be migrated)")
    serve_cmd.add_argument("--host", default="127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=8000)
    serve_cmd.add_argument(
        "--workers", type=int, default=None, help="worker processes (default OVC_WORKERS)"
    )
    serve_cmd.add_argument(
        "--migrate-sqlite",
        action="store_true",
        help="on the embedded SQLite database, bring its schema to head first (PostgreSQL is"
        " never migrated by serve: run `ovc-api migrate` as the owner)",
    )

    worker_cmd = commands.add_parser(
        "worker", help="deliver webhooks from the outbox (as many as you like on PostgreSQL)"
    )
    worker_cmd.add_argument(
        "--once", action="store_true", help="one round over the due deliveries, then exit"
    )

    migrate_cmd = commands.add_parser("migrate", help="upgrade the database schema")
    migrate_cmd.add_argument("--revision", default="head", help="target revision (default head)")

    admin_cmd = commands.add_parser("create-admin", help="create a network administrator")
    admin_cmd.add_argument("--email", required=True)
    admin_cmd.add_argument("--name", default="Network administrator")
    admin_cmd.add_argument(
        "--password-env",
        metavar="VAR",
        help="read the password from this environment variable (default OVC_ADMIN_PASSWORD)",
    )

    openapi_cmd = commands.add_parser("openapi", help="write the OpenAPI contract")
    openapi_cmd.add_argument("--out", type=Path, default=DEFAULT_OPENAPI_PATH)

    demo_cmd = commands.add_parser(
        "demo", help="recreate a demo SQLite database with sample data, print logins, serve"
    )
    demo_cmd.add_argument("--host", default="127.0.0.1")
    demo_cmd.add_argument("--port", type=int, default=8000)
    demo_cmd.add_argument("--no-serve", action="store_true", help="load the data and exit")
    backup_cmd = commands.add_parser(
        "backup", help="back up the database (SQLite online backup, or pg_dump -Fc as the owner)"
    )
    backup_cmd.add_argument("--out", type=Path, required=True, help="a new file")
    restore_cmd = commands.add_parser("restore", help="restore a backup made by `backup`")
    restore_cmd.add_argument("--from", dest="source", type=Path, required=True)
    restore_cmd.add_argument(
        "--force", action="store_true", help="replace a database that is in use or not empty"
    )

    audit_cmd = commands.add_parser("audit", help="audit log storage (as the schema owner)")
    audit_commands = audit_cmd.add_subparsers(dest="audit_command", required=True)
    archive_cmd = audit_commands.add_parser(
        "archive", help="export whole months of events before DATE to a file, then remove them"
    )
    archive_cmd.add_argument("--before", type=_iso_date, required=True, metavar="YYYY-MM-01")
    archive_cmd.add_argument(
        "--out", type=Path, required=True, help="NDJSON file (gzip-compressed if it ends in .gz)"
    )
    archive_cmd.add_argument(
        "--force", action="store_true", help="archive events inside the retention period"
    )
    archive_cmd.add_argument("--operator", help="who archives (default: the login name)")
    partitions_cmd = audit_commands.add_parser(
        "partitions", help="create this month's and the next months' partitions (PostgreSQL)"
    )
    partitions_cmd.add_argument("--months-ahead", type=int, default=3)
    _add_client_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in CLIENT_COMMANDS:
        return run_client_command(args)
    try:
        if args.command == "openapi":
            write_openapi(args.out)
            print(f"wrote {args.out}")
            return 0
        settings = _load_settings()
        if args.command == "serve":
            workers = settings.workers if args.workers is None else args.workers
            if not 1 <= workers <= 64 or not 0 < args.port < 65536:
                raise CommandError("--workers must be 1-64 and --port 1-65535")
            serve(settings, args.host, args.port, workers, migrate_sqlite=args.migrate_sqlite)
        elif args.command == "worker":
            print(run_worker(settings, once=args.once) or "", end="")
        elif args.command == "migrate":
            migrate(settings, args.revision)
            print(f"database at {_safe_url(settings.migration_database_url)} is at {args.revision}")
        elif args.command == "create-admin":
            password = os.environ.get(args.password_env) if args.password_env else None
            if args.password_env and password is None:
                raise CommandError(f"environment variable {args.password_env} is not set")
            _create_admin(settings, args.email, args.name, password)
            print(f"network administrator {args.email} created")
        elif args.command == "demo":
            demo(settings, args.host, args.port, not args.no_serve)
        elif args.command == "backup":
            print(backup(settings, args.out))
        elif args.command == "restore":
            print(restore(settings, args.source, args.force))
        elif args.command == "audit" and args.audit_command == "archive":
            print(audit_archive(settings, args.before, args.out, args.force, args.operator))
        elif args.command == "audit":
            if not 0 <= args.months_ahead <= 120:
                raise CommandError("--months-ahead must be 0-120")
            print(audit_partitions(settings, args.months_ahead))
    except CommandError as exc:
        print(f"ovc-api: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


# --- client commands: stats, report, export against a running server ----------------------


def _iso_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from exc


def _key_value(value: str) -> tuple[str, str]:
    key, sep, text = value.partition("=")
    if not sep or not _FILTER_KEY.match(key):
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE with a lowercase key: {value!r}")
    return key, text


def _add_client_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    server = argparse.ArgumentParser(add_help=False)
    options = server.add_argument_group("server")
    options.add_argument("--url", help="the server's base URL (default: environment OVC_URL)")
    options.add_argument(
        "--api-key-env",
        metavar="VAR",
        default=DEFAULT_API_KEY_ENV,
        help=f"environment variable holding the API key (default {DEFAULT_API_KEY_ENV})",
    )
    options.add_argument("--timeout", type=float, default=60.0, help="seconds (default 60)")
    options.add_argument(
        "--retries", type=int, default=3, help="retries when the server is busy (default 3)"
    )
    filters = argparse.ArgumentParser(add_help=False)
    filters.add_argument(
        "--filter",
        metavar="KEY=VALUE",
        type=_key_value,
        action="append",
        default=[],
        help="a query filter, e.g. --filter province=battambang (repeatable)",
    )

    stats_cmd = commands.add_parser(
        "stats", parents=[server, filters], help="aggregate statistics from a server"
    )
    stats_cmd.add_argument("kind", choices=STATS_KINDS)
    stats_cmd.add_argument(
        "--network", action="store_true", help="network-wide figures (scope stats:network)"
    )
    stats_cmd.add_argument("--group-by", metavar="FIELDS", help="comma-separated, e.g. province")
    stats_cmd.add_argument("--from", dest="date_from", type=_iso_date, metavar="YYYY-MM-DD")
    stats_cmd.add_argument("--to", dest="date_to", type=_iso_date, metavar="YYYY-MM-DD")
    stats_cmd.add_argument("--period-of", choices=("opened", "closed"))
    stats_cmd.add_argument("--format", choices=("json", "csv"), default="json")
    stats_cmd.add_argument("--out", type=Path, help="write to this file instead of stdout")

    report_cmd = commands.add_parser(
        "report", parents=[server], help="the quarterly report from a server"
    )
    report_cmd.add_argument("name", choices=("quarterly",))
    report_cmd.add_argument("--year", type=int, required=True)
    report_cmd.add_argument("--quarter", type=int, choices=(1, 2, 3, 4), required=True)
    report_cmd.add_argument("--format", choices=("json", "csv"), default="json")
    report_cmd.add_argument("--out", type=Path, help="write to this file instead of stdout")

    export_cmd = commands.add_parser(
        "export", parents=[server, filters], help="stream an export from a server to a file"
    )
    export_cmd.add_argument("resource", choices=EXPORT_RESOURCES)
    export_cmd.add_argument("--out", type=Path, required=True, help="the file to write")
    export_cmd.add_argument("--format", choices=("csv", "ndjson"), default="csv")
    export_cmd.add_argument(
        "--deidentified", action="store_true", help="no names or exact dates of birth"
    )
    export_cmd.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show progress on stderr (default: only when stderr is a terminal)",
    )


class ExportProgress:
    """Rows and megabytes written, on stderr, at most a few times a second.

    On a terminal one line is rewritten in place; elsewhere (a log) each update is a line.
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.interval = interval if interval is not None else (0.25 if self.tty else 1.0)
        self.clock = clock
        self.shown_at = -math.inf
        self.open_line = False

    def __call__(self, rows: int, nbytes: int) -> None:
        now = self.clock()
        if now - self.shown_at >= self.interval:
            self.shown_at = now
            self._show(rows, nbytes)

    def finish(self, rows: int, nbytes: int) -> None:
        self._show(rows, nbytes)
        self.close()

    def close(self) -> None:
        """End the rewritten line, so what follows (an error) starts on its own line."""
        if self.open_line:
            self.stream.write("\n")
            self.stream.flush()
            self.open_line = False

    def _show(self, rows: int, nbytes: int) -> None:
        text = f"exporting: {rows:,} rows, {nbytes / 1_000_000:.1f} MB"
        if self.tty:
            self.stream.write(f"\r{text}\x1b[K")
            self.open_line = True
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


def _usage_error(message: str) -> int:
    print(f"ovc-api: error: {message}", file=sys.stderr)
    return 2


def _filters(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    return grouped


def _emit(text: str, out: Path | None) -> None:
    if out is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    out.write_text(text, encoding="utf-8", newline="")
    print(f"wrote {out}")


def _as_text(result: object) -> str:
    if isinstance(result, str):
        return result
    return json.dumps(result, indent=2, ensure_ascii=False) + "\n"


def _stats(client: Client, args: argparse.Namespace) -> None:
    options = {
        **_filters(args.filter),
        "from_": args.date_from,
        "to": args.date_to,
        "period_of": args.period_of,
    }
    fetch = client.stats_csv if args.format == "csv" else client.stats
    _emit(_as_text(fetch(args.kind, args.group_by, network=args.network, **options)), args.out)


def _report(client: Client, args: argparse.Namespace) -> None:
    if args.format == "csv":
        text = client.quarterly_report(args.year, args.quarter, "csv")
    else:
        text = _as_text(client.quarterly_report(args.year, args.quarter, "json"))
    _emit(text, args.out)


def _export(client: Client, args: argparse.Namespace) -> None:
    show = args.progress if args.progress is not None else sys.stderr.isatty()
    progress = ExportProgress(sys.stderr) if show else None
    written = [0]

    def track(rows: int, nbytes: int) -> None:
        written[0] = nbytes
        if progress is not None:
            progress(rows, nbytes)

    try:
        rows = client.export(
            args.resource,
            args.out,
            format=args.format,
            variant="deidentified" if args.deidentified else "identified",
            progress=track,
            **_filters(args.filter),
        )
    except BaseException:
        if progress is not None:
            progress.close()
        raise
    if progress is not None:
        progress.finish(rows, written[0])
    print(f"exported {rows:,} rows ({written[0] / 1_000_000:.1f} MB) to {args.out}")


def run_client_command(args: argparse.Namespace) -> int:
    """Run stats/report/export: settings come from the arguments and environment only."""
    from ovc_api.client import Client, OvcError

    url = args.url or os.environ.get("OVC_URL")
    if not url:
        return _usage_error("no server: pass --url or set OVC_URL")
    api_key = os.environ.get(args.api_key_env)
    if not api_key:
        return _usage_error(f"no API key: set the environment variable {args.api_key_env}")
    if args.timeout <= 0 or not 0 <= args.retries <= 10:
        return _usage_error("--timeout must be positive and --retries 0-10")
    try:
        client = Client(url, api_key=api_key, timeout=args.timeout, max_retries=args.retries)
    except ValueError as exc:
        return _usage_error(str(exc))
    run = {"stats": _stats, "report": _report, "export": _export}[args.command]
    try:
        with client:
            run(client, args)
    except OvcError as exc:
        print(f"ovc-api: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        print(f"ovc-api: error: cannot write{where}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
