"""Rate limits per user and per API key: a budget of ordinary calls and a separate one for
exports and imports; 429 with Retry-After and RateLimit-* headers; the Python client waits
as told and succeeds."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from ovc_api.app import create_app
from ovc_api.client import Client
from ovc_api.ratelimit import storage_url
from ovc_api.settings import Settings

from .conftest import Factory, Tenant, TestDatabase, make_settings
from .helpers import assert_problem
from .test_client import LiveServer, make_api_key

ME = "/api/v1/users/me"
EXPORT = "/api/v1/exports/cases"


def limited_settings(
    test_database: TestDatabase, data_dir: Path, settings: Settings, **budgets: str
) -> Settings:
    """The session's (already migrated) database, with budgets of its own."""
    assert settings.database_url  # migrated by the `settings` fixture
    return make_settings(test_database, data_dir, **budgets)


@pytest_asyncio.fixture
async def limited(
    test_database: TestDatabase, settings: Settings, tmp_path: Path, rate_window_start: None
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(
        limited_settings(
            test_database, tmp_path, settings, rate_limit="3/minute", rate_limit_bulk="1/minute"
        )
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield app, http


async def test_a_user_over_budget_gets_429_with_retry_after(
    limited: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, http = limited
    tenant = await Factory(app, http).tenant()
    headers = tenant["caseworker"].headers
    answers = [await http.get(ME, headers=headers) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["ratelimit-remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert all(a.headers["ratelimit-limit"] == "3" for a in answers)
    assert 1 <= int(answers[0].headers["ratelimit-reset"]) <= 60
    refused = answers[-1]
    assert_problem(refused, 429)
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    # Another user of the same organisation has a budget of their own.
    assert (await http.get(ME, headers=tenant["analyst"].headers)).status_code == 200


async def test_exports_are_counted_apart_from_ordinary_calls(
    limited: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, http = limited
    tenant = await Factory(app, http).tenant()
    headers = tenant["case_manager"].headers
    first = await http.get(EXPORT, headers=headers)
    assert first.status_code == 200, first.text
    assert first.headers["ratelimit-limit"] == "1"
    assert_problem(await http.get(EXPORT, headers=headers), 429)
    # An upload to the import shares the exports' budget ...
    upload = await http.post(
        "/api/v1/imports", files={"file": ("c.csv", b"sex\r\n")}, headers=headers
    )
    assert_problem(upload, 429)
    # ... the ordinary budget is untouched by them.
    me = await http.get(ME, headers=headers)
    assert (me.status_code, me.headers["ratelimit-remaining"]) == (200, "2")


async def test_an_api_key_has_its_own_budget(
    limited: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, http = limited
    tenant = await Factory(app, http).tenant()
    admin = tenant["org_admin"].headers
    created = await http.post(
        "/api/v1/api-keys", json={"label": "script", "scopes": ["cases:read"]}, headers=admin
    )
    assert created.status_code == 201, created.text
    key = {"Authorization": f"Bearer {created.json()['key']}"}
    answers = [await http.get("/api/v1/children", headers=key) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]


async def test_without_credentials_nothing_is_counted(
    limited: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    _app, http = limited
    answers = [await http.get(ME) for _ in range(5)]
    assert {a.status_code for a in answers} == {401}
    assert all("ratelimit-limit" not in a.headers for a in answers)


# --- the Python client honours Retry-After against a live server --------------------------


@pytest.fixture
def live_limited(test_database: TestDatabase, settings: Settings, tmp_path: Path) -> Iterator[str]:
    budgets = {"rate_limit": "2 per 5 seconds", "rate_limit_bulk": "off"}
    with LiveServer(limited_settings(test_database, tmp_path, settings, **budgets)) as server:
        yield server.url


async def test_the_client_waits_as_told_and_succeeds(live_limited: str, app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        factory = Factory(app, http)
        organisation_id = await factory.organisation()
        admin = await factory.user(organisation_id, "org_admin", login=False)
    key = make_api_key(live_limited, admin.email, ["cases:read"])
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    with Client(live_limited, api_key=key, sleep=sleep) as ovc:
        # Three calls in one window exceed it; on a slow machine the first calls may straddle
        # two windows, so go on until the server has asked for a wait once.
        for _ in range(6):
            assert isinstance(ovc.get("/api/v1/children"), dict)
            if waits:
                break
    assert len(waits) == 1
    assert 1 <= waits[0] <= 5


# --- shared storage: two apps (two workers) count against one Redis ----------------------


def _redis_up() -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _redis_up(), reason="no Redis on 127.0.0.1:6379")
async def test_workers_share_the_count_in_redis(
    test_database: TestDatabase, settings: Settings, tmp_path: Path, tenant_a: Tenant
) -> None:
    import uuid

    budgets = {
        "rate_limit": f"3 per {60 + uuid.uuid4().int % 1000} seconds",  # a key space of its own
        "rate_limit_bulk": "off",
        "rate_limit_storage_url": "redis://127.0.0.1:6379",
    }
    workers = [
        create_app(limited_settings(test_database, tmp_path, settings, **budgets)) for _ in range(2)
    ]
    statuses = []
    for turn in range(4):
        app = workers[turn % 2]
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            answer = await http.get(ME, headers=tenant_a["analyst"].headers)
            statuses.append(answer.status_code)
    assert statuses == [200, 200, 200, 429]


def test_a_budget_is_checked_at_start_up(tmp_path: Path) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="600/minute"):
        Settings(data_dir=tmp_path, rate_limit="lots")
    assert Settings(data_dir=tmp_path, rate_limit="OFF").rate_limit == "off"


def test_redis_urls_name_the_asynchronous_storage() -> None:
    assert storage_url("") == "async+memory://"
    assert storage_url("redis://127.0.0.1:6379") == "async+redis://127.0.0.1:6379"
    assert storage_url("async+redis://r:6379/1") == "async+redis://r:6379/1"


async def test_a_request_run_again_after_a_database_conflict_is_counted_once(
    tmp_path: Path,
) -> None:
    """The middleware replays a request after a serialization failure: same scope, one count."""
    import uuid
    from types import SimpleNamespace

    from starlette.requests import Request

    from ovc_api.errors import TooManyRequests
    from ovc_api.ratelimit import RateLimiter

    limiter = RateLimiter(Settings(data_dir=tmp_path, rate_limit="2/minute"))
    caller = SimpleNamespace(user_id=uuid.uuid4(), api_key_id=None)
    scope = {"type": "http", "method": "GET", "path": ME, "headers": [], "query_string": b""}

    def attempt_of(state: dict[str, object]) -> Request:
        return Request({**scope, "state": state})

    replayed: dict[str, object] = {}
    for _ in range(3):  # one request, three attempts
        await limiter.check(attempt_of(replayed), caller)  # type: ignore[arg-type]
    await limiter.check(attempt_of({}), caller)  # type: ignore[arg-type]  # the next request
    budget = replayed["rate_limit"]
    assert budget.remaining == 1  # type: ignore[attr-defined]
    with pytest.raises(TooManyRequests, match="Rate limit of 2"):
        await limiter.check(attempt_of({}), caller)  # type: ignore[arg-type]


async def test_memory_counts_are_per_window_and_dropped_when_it_is_over(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The in-process counter: exact counts per key, a key's count gone once its window
    is over (swept, so a long-running worker does not keep every window it ever saw)."""
    from ovc_api import ratelimit

    now = [1_000.0]
    monkeypatch.setattr(ratelimit.time, "time", lambda: now[0])
    counts = ratelimit.WindowCounts()
    assert [await counts.incr("a:16", 60) for _ in range(3)] == [1, 2, 3]
    assert await counts.incr("b:16", 60) == 1
    now[0] += 30
    assert await counts.incr("c:16", 60) == 1  # expires 30 s after a and b
    assert len(counts) == 3
    now[0] += 31  # a's and b's windows are over, c's is not
    assert await counts.incr("a:17", 60) == 1
    assert len(counts) == 2
    assert await counts.incr("c:16", 60) == 2
    now[0] += 60
    assert await counts.incr("d:18", 60) == 1
    assert len(counts) == 1
