"""Assertions shared by the API tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager
from typing import Any, TypeVar

import httpx
import psycopg
from fastapi import FastAPI
from sqlalchemy import event, text
from sqlalchemy.engine import make_url

from ovc_api.app import create_app
from ovc_api.settings import Settings

T = TypeVar("T")

PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith("https://")
    assert body["title"]
    assert body["instance"] == response.request.url.path
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")
    return body


def error_locs(body: dict[str, Any]) -> list[list[Any]]:
    return [error["loc"] for error in body.get("errors") or []]


@contextmanager
def recorded(app: FastAPI, record: Callable[[tuple[Any, ...]], T]) -> Iterator[list[T]]:
    """What `record` makes of each statement the app's engine sends (the arguments of its
    `before_cursor_execute` listeners), in order, while the block runs."""
    seen: list[T] = []

    def before(*args: Any) -> None:
        seen.append(record(args))

    engine = app.state.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


def recorded_statements(app: FastAPI) -> AbstractContextManager[list[str]]:
    """The SQL of each statement the app's engine sends while the block runs."""
    return recorded(app, lambda args: str(args[2]))


def owner_connection(settings: Settings) -> psycopg.Connection[Any]:
    """A connection as the schema owner, bound as the system (no tenant), autocommitting:
    to write and read the tables the triggers keep, as no request can."""
    url = make_url(settings.migration_database_url).set(drivername="postgresql")
    conn = psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)
    conn.execute("SELECT set_config('ovc.system', 'on', false)")
    return conn


async def written_by_request(app: FastAPI, request_id: str) -> tuple[list[Any], list[Any]]:
    """The audit rows a request wrote, and the change-feed events of the records they name."""
    from sqlmodel import col, select

    from ovc_api.audit.models import AuditEvent
    from ovc_api.outbox import Event

    from .conftest import system_session

    async with system_session(app) as session:
        audits = list(
            (
                await session.exec(
                    select(AuditEvent).where(col(AuditEvent.request_id) == request_id)
                )
            ).all()
        )
        named = [a.resource_id for a in audits if a.resource_id is not None]
        events = list(
            (await session.exec(select(Event).where(col(Event.resource_id).in_(named)))).all()
        )
        return audits, events


async def count_of_case(app: FastAPI, model: Any, case_id: Any) -> int:
    """How many rows of `model` belong to the case (every organisation's)."""
    from sqlmodel import select

    from .conftest import system_session

    async with system_session(app) as session:
        return len((await session.exec(select(model).where(model.case_id == case_id))).all())


def fast_lane_statements(app: FastAPI) -> AbstractContextManager[list[tuple[bool, str]]]:
    """(sent by the fast lane, statement) of each statement the engine's listeners see: the
    fast lane reports its statements without a cursor."""
    return recorded(app, lambda args: (args[0] is None, str(args[2])))


def asgi_client(app: FastAPI) -> httpx.AsyncClient:
    """A client of `app` that gets the app's own answer to an error (a 500), as a server's
    client would, instead of the exception."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


@asynccontextmanager
async def app_of_its_own(
    settings: Settings, **changed: Any
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """An app of its own, started, with `settings` `changed` (a pool of one connection, a
    tight rate limit...), and `asgi_client`'s client of it."""
    app = create_app(settings.model_copy(update=changed))
    async with app.router.lifespan_context(app), asgi_client(app) as http:
        yield app, http


async def terminate_pooled_connection(app: FastAPI, settings: Settings) -> None:
    """Kill the backend of the pool's one connection from an administrator's connection
    (only this app's: the tests' shared app keeps its connections), as a database restart
    would."""
    async with app.state.database.engine.connect() as connection:
        pid = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    owner = make_url(settings.migration_database_url)
    conninfo = owner.set(drivername="postgresql").render_as_string(hide_password=False)
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as admin:
        await admin.execute("SELECT pg_terminate_backend(%s)", [pid])
