"""The `ovc-api` command: serve, migrate, create-admin, openapi, demo.

Errors are one line on stderr and a non-zero exit code, never a traceback, so scripts and
operators can act on them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from ovc_api.settings import Environment, Settings

DEFAULT_OPENAPI_PATH = Path("openapi/openapi.json")
DEMO_DATABASE_NAME = "demo.db"


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
    try:
        run_migrations(settings, revision)
    except (SQLAlchemyError, OSError) as exc:
        raise CommandError(
            f"cannot migrate the database at {_safe_url(settings.migration_database_url)}: "
            f"{_first_line(exc)}"
        ) from exc


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


async def _check_ready(settings: Settings) -> None:
    from ovc_api.db import SchemaNotAtHead, create_engine, require_schema_at_head

    engine = create_engine(settings.database_url, 1)
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


def serve(settings: Settings, host: str, port: int, workers: int) -> None:
    import uvicorn

    asyncio.run(_check_ready(settings))
    if workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        # Metrics from every worker, summed at /metrics.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="ovc-metrics-")
    uvicorn.run(
        "ovc_api.app:build_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_config=None,
        proxy_headers=True,
    )


def write_openapi(path: Path) -> None:
    from ovc_api.app import create_app

    settings = Settings(database_url="sqlite+aiosqlite:///:memory:", secret_key="x" * 48)
    schema = create_app(settings, check_schema=False).openapi()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _create_admin(settings: Settings, email: str, name: str, password: str | None) -> None:
    from ovc_api.users.bootstrap import create_network_admin

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
        asyncio.run(create_network_admin(settings, email=email, full_name=name, password=password))
    except ValueError as exc:
        raise CommandError(str(exc)) from exc


def demo(settings: Settings, host: str, port: int, serve_after: bool) -> None:
    from ovc_api.demo import load_demo_data

    if settings.environment is Environment.production:
        raise CommandError("refusing to load demo data with OVC_ENVIRONMENT=production")
    demo_path = settings.data_dir / DEMO_DATABASE_NAME
    for suffix in ("", "-wal", "-shm"):
        Path(f"{demo_path}{suffix}").unlink(missing_ok=True)
    url = f"sqlite+aiosqlite:///{demo_path.as_posix()}"
    os.environ["OVC_DATABASE_URL"] = url
    os.environ["OVC_MIGRATION_DATABASE_URL"] = url
    demo_settings = _load_settings(
        database_url=url, migration_database_url=url, data_dir=settings.data_dir
    )
    migrate(demo_settings)
    logins = asyncio.run(load_demo_data(demo_settings))
    print(f"Demo database: {demo_path} (recreated on every `ovc-api demo`)")
    print(logins)
    print(f"API docs: http://{host}:{port}/docs   (Authorize with a login above)")
    if serve_after:
        serve(demo_settings, host, port, 1)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ovc-api", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve_cmd = commands.add_parser("serve", help="serve the API (database must be migrated)")
    serve_cmd.add_argument("--host", default="127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=8000)
    serve_cmd.add_argument("--workers", type=int, default=1)

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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "openapi":
            write_openapi(args.out)
            print(f"wrote {args.out}")
            return 0
        settings = _load_settings()
        if args.command == "serve":
            if not 1 <= args.workers <= 64 or not 0 < args.port < 65536:
                raise CommandError("--workers must be 1-64 and --port 1-65535")
            serve(settings, args.host, args.port, args.workers)
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
    except CommandError as exc:
        print(f"ovc-api: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
