"""Faults: a database that is down, restarting, slow or in conflict answers 503 with
`Retry-After` (never 500), the client's connection survives every error response, conflicts
rerun the request, and no log line carries a child's name."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import Body, FastAPI
from sqlalchemy import text
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from ovc_api.app import create_app
from ovc_api.db import Session
from ovc_api.observability import JsonFormatter
from ovc_api.settings import Settings

from .conftest import TEST_SECRET, LiveServer, Tenant
from .helpers import asgi_client, assert_problem, terminate_pooled_connection

CHILD_NAME = "Sokhalina"  # a child's name that must never reach a log
LOGIN = "/api/v1/auth/token"


def _unreachable(settings: Settings) -> Settings:
    """The same settings, pointed at a database that refuses connections."""
    if settings.is_sqlite:
        url = f"sqlite+aiosqlite:///{settings.data_dir}/missing-dir/{uuid.uuid4().hex}/x.db"
    else:
        url = f"postgresql+psycopg://ovc@127.0.0.1:{_closed_port()}/ovc"
    return settings.model_copy(update={"database_url": url})


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _db_error(orig: Exception, **kwargs: Any) -> OperationalError:
    return OperationalError(
        f"SELECT * FROM children WHERE given_name_latin = '{CHILD_NAME}'",
        {"name": CHILD_NAME},
        orig,
        **kwargs,
    )


def _assert_unavailable(response: httpx.Response) -> dict[str, Any]:
    body = assert_problem(response, 503)
    assert body["type"].endswith("/unavailable")
    assert int(response.headers["retry-after"]) >= 1
    assert "SELECT" not in response.text and CHILD_NAME not in response.text
    return body


async def test_an_unreachable_database_answers_503_with_retry_after(settings: Settings) -> None:
    app = create_app(_unreachable(settings), check_schema=False)
    async with asgi_client(app) as http:
        login = await http.post(
            LOGIN,
            data={"username": "a@example.org", "password": "x"},
            headers={"X-Request-ID": "r1"},
        )
        listing = await http.get("/api/v1/children", headers={"Authorization": "Bearer x"})
    assert _assert_unavailable(login)["request_id"] == "r1"
    # A bad token is refused before the database is needed: 401 stays 401.
    assert listing.status_code in (401, 503)


@pytest.mark.parametrize(
    "error",
    [
        _db_error(psycopg.errors.AdminShutdown("terminating connection")),
        _db_error(psycopg.errors.CannotConnectNow("the database system is starting up")),
        _db_error(psycopg.errors.QueryCanceled("canceling statement due to statement timeout")),
        _db_error(psycopg.errors.TooManyConnections("too many clients")),
        _db_error(psycopg.OperationalError("connection failed: Connection refused")),
        PoolTimeout("QueuePool limit of size 10 overflow 10 reached"),
    ],
    ids=["admin-shutdown", "starting-up", "statement-timeout", "too-many", "refused", "pool"],
)
async def test_database_unavailability_raised_in_a_route_is_503(
    raising_app: tuple[FastAPI, list[Exception]], error: Exception
) -> None:
    app, errors = raising_app
    errors.append(error)
    async with asgi_client(app) as http:
        _assert_unavailable(await http.post("/raises"))


@pytest.fixture(scope="module")
def raising_app(settings: Settings) -> tuple[FastAPI, list[Exception]]:
    """An app with a route raising whatever the test puts in the list."""
    app = create_app(settings)
    errors: list[Exception] = []

    @app.post("/raises")
    async def raises() -> None:
        raise errors.pop()

    return app, errors


async def test_a_bug_in_a_statement_stays_a_500(
    raising_app: tuple[FastAPI, list[Exception]],
) -> None:
    app, errors = raising_app
    errors.append(ProgrammingError("SELECT nope", {}, psycopg.errors.UndefinedColumn("nope")))
    async with asgi_client(app) as http:
        assert assert_problem(await http.post("/raises"), 500)["type"].endswith("/internal")


async def test_serialization_failures_and_deadlocks_rerun_the_request_with_its_body(
    settings: Settings,
) -> None:
    app = create_app(settings)
    calls: list[dict[str, Any]] = []
    failures: list[Exception] = []

    @app.post("/conflicted")
    async def conflicted(payload: dict[str, Any] = Body()) -> dict[str, Any]:
        calls.append(payload)
        if failures:
            raise failures.pop(0)
        return {"attempts": len(calls), "payload": payload}

    async with asgi_client(app) as http:
        failures[:] = [
            _db_error(psycopg.errors.SerializationFailure("could not serialize access")),
            _db_error(psycopg.errors.DeadlockDetected("deadlock detected")),
        ]
        response = await http.post("/conflicted", json={"name": "x"})
        assert response.status_code == 200, response.text
        assert response.json() == {"attempts": 3, "payload": {"name": "x"}}
        # Bounded: the third conflict in a row answers 503, to be retried later.
        calls.clear()
        failures[:] = [
            _db_error(psycopg.errors.SerializationFailure("could not serialize access"))
        ] * 3
        _assert_unavailable(await http.post("/conflicted", json={"name": "y"}))
        assert calls == [{"name": "y"}] * 3


async def test_a_dropped_connection_reruns_a_read_but_never_a_write(settings: Settings) -> None:
    app = create_app(settings)
    calls: list[str] = []

    async def flaky(method: str) -> dict[str, int]:
        calls.append(method)
        if len(calls) == 1:
            raise _db_error(
                psycopg.OperationalError("server closed the connection unexpectedly"),
                connection_invalidated=True,
            )
        return {"calls": len(calls)}

    @app.get("/flaky")
    async def read() -> dict[str, int]:
        return await flaky("GET")

    @app.post("/flaky")
    async def write() -> dict[str, int]:
        return await flaky("POST")

    async with asgi_client(app) as http:
        assert (await http.get("/flaky")).json() == {"calls": 2}
        calls.clear()
        # The write's commit may have landed before the connection went: 503, not a rerun
        # (the client retries with its Idempotency-Key).
        _assert_unavailable(await http.post("/flaky"))
        assert calls == ["POST"]


# --- the connection survives error responses ------------------------------------------------


def _exchange(connection: socket.socket, path: str, method: str = "GET") -> tuple[int, bytes]:
    """Send one HTTP/1.1 request on an open connection and read one whole response."""
    request = f"{method} {path} HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\n\r\n"
    connection.sendall(request.encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        assert chunk, "the server closed the connection without a response"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    assert headers.get("connection", "").lower() != "close", headers
    length = int(headers["content-length"])
    while len(body) < length:
        chunk = connection.recv(65536)
        assert chunk, "the response broke off"
        body += chunk
    return int(lines[0].split()[1]), body


def test_the_keep_alive_connection_survives_a_503_and_a_500(settings: Settings) -> None:
    app = create_app(_unreachable(settings), check_schema=False)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    with LiveServer(settings, app) as server:
        host, port = server.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=30) as connection:
            assert _exchange(connection, "/healthz")[0] == 200
            assert _exchange(connection, "/readyz")[0] == 503
            assert _exchange(connection, f"{LOGIN}", "POST")[0] in (415, 422)
            assert _exchange(connection, "/api/v1/users/me?x=1")[0] == 401
            status, body = _exchange(connection, "/boom")
            assert status == 500 and json.loads(body)["type"].endswith("/internal")
            assert _exchange(connection, "/healthz")[0] == 200


def test_the_keep_alive_connection_survives_a_database_outage(settings: Settings) -> None:
    app = create_app(_unreachable(settings), check_schema=False)

    @app.get("/needs-the-database")
    async def needs_the_database(session: Session) -> None:
        await session.exec(text("SELECT 1"))  # type: ignore[call-overload]

    with LiveServer(settings, app) as server:
        host, port = server.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=30) as connection:
            for _ in range(3):
                status, body = _exchange(connection, "/needs-the-database")
                assert status == 503, body
            assert _exchange(connection, "/healthz")[0] == 200


def test_a_stream_broken_by_the_database_ends_without_its_last_chunk(
    settings: Settings,
) -> None:
    """A failure after the response started cannot become a 503: the response is left
    incomplete (no final chunk) so the client sees a broken stream, never a short body that
    looks whole; the export's own end line is then missing too."""
    from fastapi.responses import StreamingResponse

    app = create_app(settings)

    async def rows() -> AsyncIterator[bytes]:
        yield b"id\r\n1\r\n"
        raise _db_error(psycopg.errors.AdminShutdown("terminating connection"))

    @app.get("/broken-export")
    async def broken_export() -> StreamingResponse:
        return StreamingResponse(rows(), media_type="text/csv")

    with LiveServer(settings, app) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        with (
            pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)),
            http.stream("GET", "/broken-export") as response,
        ):
            assert response.status_code == 200
            b"".join(response.iter_bytes())
        assert http.get("/healthz").status_code == 200  # a new connection: the server is fine


# --- logs -------------------------------------------------------------------------------------


@pytest.fixture(params=["json", "console"])
def log_output(settings: Settings, request: pytest.FixtureRequest) -> Iterator[io.StringIO]:
    """What the app's own logging set-up (OVC_LOG_LEVEL=DEBUG) writes, from every logger,
    with SQLAlchemy's statement logging switched on as well (the worst case)."""
    from ovc_api.observability import configure_logging

    names = ["", "uvicorn", "uvicorn.error", "uvicorn.access", "sqlalchemy.engine"]
    saved = [
        (lg, lg.handlers[:], lg.level, lg.propagate, lg.disabled)
        for lg in map(logging.getLogger, names)
    ]
    configure_logging(
        settings.model_copy(update={"log_level": "DEBUG", "log_format": request.param})
    )
    stream = io.StringIO()
    for handler in logging.getLogger().handlers:
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(stream)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        for logger, handlers, level, propagate, disabled in saved:
            logger.handlers[:] = handlers
            logger.setLevel(level)
            logger.propagate, logger.disabled = propagate, disabled


async def test_no_log_line_carries_a_childs_name(
    settings: Settings, log_output: io.StringIO
) -> None:
    """A failing statement with a child's name in its text and its parameters (and, on
    PostgreSQL, in the driver's message: `invalid input syntax for type integer: "..."`),
    and a database fault whose message names a child."""
    app = create_app(settings)

    @app.post("/children/search-by-name")
    async def failing_statement(session: Session) -> None:
        if session.info.get("is_postgres"):
            statement = text("SELECT CAST(:name AS integer)")
            await session.exec(statement, params={"name": CHILD_NAME})  # type: ignore[call-overload]
        await session.exec(  # type: ignore[call-overload]
            text(
                f"SELECT id FROM children WHERE given_name_latin = '{CHILD_NAME}'"
                " AND no_such_column = :name"
            ),
            params={"name": CHILD_NAME},
        )

    @app.post("/children/while-down")
    async def while_down() -> None:
        raise _db_error(psycopg.errors.AdminShutdown(f"terminating; {CHILD_NAME}"))

    async with asgi_client(app) as http:
        failed = await http.post("/children/search-by-name", headers={"X-Request-ID": "pii-1"})
        down = await http.post("/children/while-down", headers={"X-Request-ID": "pii-2"})
    assert_problem(failed, 500)
    _assert_unavailable(down)
    lines = log_output.getvalue().splitlines()
    assert len(lines) > 4, "nothing was logged"
    assert [line for line in lines if CHILD_NAME in line] == []
    if not lines[0].startswith("{"):  # the console format
        errors = [line for line in lines if " ovc_api.errors: " in line]
        assert len(errors) == 2 and "sqlstate=57P01" in log_output.getvalue()
        return
    # One structured line per failure, with what an operator needs.
    entries = [json.loads(line) for line in lines if line.startswith("{")]
    errors = [e for e in entries if e["logger"] == "ovc_api.errors"]
    assert [(e["request_id"], e["status"], e["route"]) for e in errors] == [
        ("pii-1", 500, "/children/search-by-name"),
        ("pii-2", 503, "/children/while-down"),
    ]
    assert errors[1]["sqlstate"] == "57P01"
    assert errors[1]["db_error_class"] == "psycopg.errors.AdminShutdown"
    assert errors[0]["error_class"].startswith("sqlalchemy.exc.")
    # At DEBUG the traceback is there, its messages withheld.
    assert all("[message withheld]" in e["exc"] for e in errors)


def test_tracebacks_show_no_exception_messages() -> None:
    formatter = JsonFormatter()
    try:
        try:
            raise ValueError(f"input_value='{CHILD_NAME}'")
        except ValueError as exc:
            raise _db_error(psycopg.errors.InvalidTextRepresentation(CHILD_NAME)) from exc
    except OperationalError:
        record = logging.getLogger("t").makeRecord(
            "t", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    line = json.loads(formatter.format(record))
    assert CHILD_NAME not in line["exc"] and "parameters" not in line["exc"]
    assert "sqlstate=22P02" in line["exc"] and "ValueError [message withheld]" in line["exc"]


# --- timeouts -------------------------------------------------------------------------------


@pytest.fixture
def silent_database() -> Iterator[str]:
    """A PostgreSQL address that accepts connections and never answers (a host that hangs)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    try:
        yield f"postgresql+psycopg://ovc@127.0.0.1:{listener.getsockname()[1]}/ovc"
    finally:
        listener.close()


async def test_readyz_is_bounded_by_its_own_timeout(
    settings: Settings, silent_database: str
) -> None:
    hanging = settings.model_copy(
        update={
            "database_url": silent_database,
            "readyz_timeout_seconds": 0.3,
            "database_connect_timeout_seconds": 30,
        }
    )
    app = create_app(hanging, check_schema=False)
    async with asgi_client(app) as http:
        started = asyncio.get_running_loop().time()
        response = await http.get("/readyz")
        elapsed = asyncio.get_running_loop().time() - started
    assert response.status_code == 503 and response.json()["database"] == "unreachable"
    assert elapsed < 10  # not the connect timeout, nor the kernel's


async def test_a_database_host_that_hangs_answers_503_after_the_connect_timeout(
    settings: Settings, silent_database: str
) -> None:
    hanging = settings.model_copy(
        update={"database_url": silent_database, "database_connect_timeout_seconds": 1}
    )
    app = create_app(hanging, check_schema=False)
    async with asgi_client(app) as http:
        response = await asyncio.wait_for(
            http.post(LOGIN, data={"username": "a@example.org", "password": "x"}), timeout=20
        )
    _assert_unavailable(response)


# --- PostgreSQL: real faults ----------------------------------------------------------------

postgres_only = pytest.mark.skipif(
    not os.environ.get("OVC_TEST_DATABASE_URL"), reason="needs PostgreSQL (OVC_TEST_DATABASE_URL)"
)


@postgres_only
async def test_a_statement_over_the_timeout_answers_503(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(settings.model_copy(update={"database_statement_timeout_seconds": 0.1}))

    @app.get("/slow")
    async def slow(session: Session) -> None:
        await session.exec(text("SELECT pg_sleep(2)"))  # type: ignore[call-overload]

    async with app.router.lifespan_context(app), asgi_client(app) as http:
        _assert_unavailable(await http.get("/slow"))
    [failure] = [r for r in caplog.records if r.name == "ovc_api.errors"]
    assert failure.sqlstate == "57014"  # type: ignore[attr-defined]  # query_canceled


@postgres_only
async def test_connections_killed_by_an_administrator_answer_503_then_recover(
    settings: Settings, tenant_a: Tenant
) -> None:
    """`pg_terminate_backend` on the pool's connection, as a database restart would."""
    app = create_app(settings.model_copy(update={"database_pool_size": 1}))
    worker = tenant_a["caseworker"]
    async with app.router.lifespan_context(app), asgi_client(app) as http:
        assert (await http.get("/api/v1/users/me", headers=worker.headers)).status_code == 200
        await terminate_pooled_connection(app, settings)
        # A read on the dead pooled connection runs again on a fresh one: no error at all.
        assert (await http.get("/api/v1/users/me", headers=worker.headers)).status_code == 200
        await terminate_pooled_connection(app, settings)
        # A write is not rerun (its commit may have landed): 503 with Retry-After; the
        # client's retry with the same Idempotency-Key then records the child once.
        headers = {**worker.headers, "Idempotency-Key": str(uuid.uuid4())}
        body = {"given_name_latin": CHILD_NAME, "sex": "female", "province": "battambang"}
        body |= {"family_name_latin": uuid.uuid4().hex[:8], "care_arrangement": "parents"}
        _assert_unavailable(await http.post("/api/v1/children", json=body, headers=headers))
        created = await http.post("/api/v1/children", json=body, headers=headers)
        assert created.status_code == 201, created.text
        again = await http.post("/api/v1/children", json=body, headers=headers)
        assert again.headers["idempotent-replayed"] == "true"


# --- idempotency: a retry racing the first request ------------------------------------------


async def test_a_retry_racing_its_in_flight_first_attempt_gets_409_with_retry_after(
    client: httpx.AsyncClient, tenant_a: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The retry looked before the first attempt committed (simulated: it sees no stored
    response), so the key's unique index stops it: 409 with Retry-After, which the client
    waits for and resends, getting the first response."""
    from ovc_api.idempotency import Idempotency

    worker = tenant_a["caseworker"]
    headers = {**worker.headers, "Idempotency-Key": str(uuid.uuid4())}
    body = {"given_name_latin": "Dara", "family_name_latin": uuid.uuid4().hex[:8]}
    body |= {"sex": "male", "province": "battambang", "care_arrangement": "parents"}
    body["confirm_not_duplicate"] = True  # the racing attempt really inserts a second child
    first = await client.post("/api/v1/children", json=body, headers=headers)
    assert first.status_code == 201, first.text
    real_replay = Idempotency.replay

    async def not_yet_visible(self: Idempotency, principal: Any, payload: Any) -> None:
        await real_replay(self, principal, payload)  # sets the digest and the caller

    monkeypatch.setattr(Idempotency, "replay", not_yet_visible)
    racing = await client.post("/api/v1/children", json=body, headers=headers)
    problem = assert_problem(racing, 409)
    assert "already being processed" in problem["detail"]
    assert racing.headers["retry-after"] == "1"
    monkeypatch.setattr(Idempotency, "replay", real_replay)
    resent = await client.post("/api/v1/children", json=body, headers=headers)
    assert resent.json() == first.json() and resent.headers["idempotent-replayed"] == "true"
    listed = await client.get(
        "/api/v1/children",
        params={"q": body["family_name_latin"]},
        headers=tenant_a["case_manager"].headers,
    )
    assert [c["id"] for c in listed.json()["items"]] == [first.json()["id"]]


# --- the serving master: logs and shutdown ----------------------------------------------------


def test_the_serving_master_logs_worker_deaths_and_respawns_as_json(
    settings: Settings, tmp_path: Path
) -> None:
    """`ovc-api serve --workers 2`: every line on stderr, the master's included, is JSON; a
    killed worker is logged and replaced; SIGTERM ends it all cleanly."""
    port = _closed_port()
    env = {
        **os.environ,
        "OVC_DATABASE_URL": settings.database_url,
        "OVC_MIGRATION_DATABASE_URL": settings.migration_database_url,
        "OVC_SECRET_KEY": TEST_SECRET,
        "OVC_DATA_DIR": str(tmp_path),
        "OVC_ARGON2_MEMORY_KIB": "8",
        "OVC_ARGON2_TIME_COST": "1",
        "OVC_ARGON2_PARALLELISM": "1",
        "OVC_LOG_FORMAT": "json",
        "OVC_SHUTDOWN_TIMEOUT_SECONDS": "5",
    }
    executable = str(Path(sys.executable).parent / "ovc-api")
    command = [executable, "serve", "--workers", "2", "--port", str(port)]
    server = subprocess.Popen(  # noqa: S603
        command, env=env, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    lines: list[str] = []

    def read() -> None:
        for line in server.stderr or []:
            lines.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        workers = _wait_for(lambda: _worker_pids(lines, 2), "two workers")
        _wait_for(lambda: httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200, "up")
        os.kill(workers[0], signal.SIGKILL)
        _wait_for(lambda: _worker_pids(lines, 3), "a respawned worker")
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        with contextlib.suppress(ProcessLookupError):  # any worker left: its own group
            os.killpg(server.pid, signal.SIGKILL)
    reader.join(timeout=5)
    entries = [json.loads(line) for line in lines]  # every line: JSON
    messages = [entry["msg"] for entry in entries]
    assert f"Child process [{workers[0]}] died" in messages
    assert any(m.startswith("Started parent process") for m in messages)
    assert any(m.startswith("Stopping parent process") for m in messages)


def _worker_pids(lines: list[str], count: int) -> list[int] | None:
    pids = [
        int(line.split("[", 1)[1].split("]", 1)[0])
        for line in list(lines)
        if "Started server process [" in line
    ]
    return pids if len(pids) >= count else None


def _wait_for(check: Any, what: str, seconds: float = 120) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            result = check()
        except httpx.HTTPError:
            result = None
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_serve_hands_uvicorn_the_logging_and_the_shutdown_bound(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    from ovc_api import cli

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: seen.update(kwargs))
    cli.serve(settings.model_copy(update={"shutdown_timeout_seconds": 7}), "127.0.0.1", 1, 1)
    assert seen["timeout_graceful_shutdown"] == 7
    assert seen["timeout_worker_healthcheck"] == 30
    assert seen["log_config"]["handlers"]["stderr"]["filters"] == ["no_statements"]


@postgres_only
async def test_a_real_serialization_conflict_is_rerun_and_both_writes_land(
    settings: Settings,
) -> None:
    """Two overlapping read-then-write transactions at REPEATABLE READ: the second's update
    fails with 40001 once the first commits; the request runs again and succeeds."""
    from sqlalchemy.engine import make_url

    owner = make_url(settings.migration_database_url).set(drivername="postgresql")
    role = make_url(settings.database_url).username
    conninfo = owner.render_as_string(hide_password=False)
    table = f"fault_counter_{uuid.uuid4().hex[:8]}"
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as admin:
        await admin.execute(f"CREATE TABLE {table} (n integer NOT NULL)")
        await admin.execute(f"INSERT INTO {table} VALUES (0)")
        await admin.execute(f'GRANT SELECT, UPDATE ON {table} TO "{role}"')
    app = create_app(settings)
    both_read = asyncio.Barrier(2)
    attempts: list[int] = []

    @app.post("/bump")
    async def bump(session: Session) -> dict[str, int]:
        await session.exec(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))  # type: ignore[call-overload]
        value = (await session.exec(text(f"SELECT n FROM {table}"))).scalar_one()  # type: ignore[call-overload]
        attempts.append(value)
        if len(attempts) <= 2:
            await asyncio.wait_for(both_read.wait(), timeout=10)  # both read 0
        await session.exec(text(f"UPDATE {table} SET n = :n"), params={"n": value + 1})  # type: ignore[call-overload]
        return {"n": value + 1}

    try:
        async with app.router.lifespan_context(app), asgi_client(app) as http:
            first, second = await asyncio.gather(http.post("/bump"), http.post("/bump"))
    finally:
        async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as admin:
            final = await (await admin.execute(f"SELECT n FROM {table}")).fetchone()
            await admin.execute(f"DROP TABLE {table}")
    assert (first.status_code, second.status_code) == (200, 200), (first.text, second.text)
    assert sorted([first.json()["n"], second.json()["n"]]) == [1, 2]
    assert final == (2,) and sorted(attempts) == [0, 0, 1]


@postgres_only
async def test_the_pool_keeps_every_connection_it_opens(settings: Settings) -> None:
    """Overflow connections are closed as soon as they are handed back, so under a steady
    load above the pool's size a share of requests paid for a new backend (8% of GET one's
    at 16 concurrent requests on a pool of 10). The pool opens at most
    `database_pool_size` connections per worker and keeps each for the next request."""
    from ovc_api.db import Database

    size = 3
    database = Database.from_settings(
        settings.model_copy(
            update={"database_pool_size": size, "database_pool_timeout_seconds": 0.2}
        )
    )

    async def backends() -> list[int]:
        """The backend of every connection the pool hands out at once, until it waits."""
        async with contextlib.AsyncExitStack() as held:
            pids = []
            for _ in range(3 * size):
                try:
                    connection = await held.enter_async_context(database.engine.connect())
                except PoolTimeout:
                    break
                pids.append((await connection.execute(text("SELECT pg_backend_pid()"))).scalar())
            return pids

    try:
        first = await backends()
        again = await backends()
    finally:
        await database.engine.dispose()
    assert len(first) == size
    assert sorted(again) == sorted(first)  # the same backends: none closed and reopened
