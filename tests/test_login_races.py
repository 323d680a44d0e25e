"""Issue 10, section 4: throttling holds under concurrency, and behind a reverse proxy.

Each attempt is counted before its password is checked, so racing requests cannot all reach
the hash; X-Forwarded-For is believed only from the proxies in OVC_FORWARDED_ALLOW_IPS.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from ovc_api import cli
from ovc_api.app import create_app
from ovc_api.auth.passwords import PasswordHasher
from ovc_api.settings import Settings

from .conftest import Tenant

TOKEN = "/api/v1/auth/token"
PARALLEL = 25


async def test_parallel_wrong_passwords_reach_the_hash_at_most_limit_times(
    app: FastAPI,
    client: httpx.AsyncClient,
    tenant_a: Tenant,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hasher: PasswordHasher = app.state.password_hasher
    original = hasher.verify
    checks: Counter[str] = Counter()

    async def counting_verify(password: str, password_hash: str | None) -> bool:
        checks[password] += 1
        return await original(password, password_hash)

    monkeypatch.setattr(hasher, "verify", counting_verify)
    target = tenant_a["analyst"]
    wrong = "Wrong-password-in-a-race-1"
    responses = await asyncio.gather(
        *(
            client.post(TOKEN, data={"username": target.email, "password": wrong})
            for _ in range(PARALLEL)
        )
    )
    statuses = Counter(r.status_code for r in responses)
    assert checks[wrong] <= settings.login_max_failures, statuses
    assert statuses[401] == checks[wrong]
    assert statuses[429] == PARALLEL - checks[wrong]
    assert set(statuses) <= {401, 429}
    # The right password waits too.
    right = await client.post(TOKEN, data={"username": target.email, "password": target.password})
    assert right.status_code == 429


def _served_app(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, **overrides: Any
) -> tuple[Any, FastAPI]:
    """The app wrapped exactly as `ovc-api serve` has uvicorn wrap it."""
    captured: dict[str, Any] = {}
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)  # serve would empty it
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: captured.update(options))
    monkeypatch.setattr(cli.asyncio, "run", lambda coroutine: coroutine.close())
    served_settings = settings.model_copy(update=overrides)
    cli.serve(served_settings, "127.0.0.1", 8000, 1)
    assert captured.pop("factory") is True
    options = {k: v for k, v in captured.items() if k not in {"host", "port", "workers"}}
    application = create_app(served_settings)
    config = uvicorn.Config(application, **options)
    config.load()
    return config.loaded_app, application


async def _client_ip_seen(
    served: Any, peer: str, forwarded_for: str, tenant: Tenant, client: httpx.AsyncClient
) -> str:
    """Fail one login through the served app; the audit log says which address it saw."""
    transport = httpx.ASGITransport(app=served, client=(peer, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as proxied:
        failed = await proxied.post(
            TOKEN,
            data={"username": tenant["caseworker"].email, "password": "Wrong-password-42"},
            headers={"X-Forwarded-For": forwarded_for},
        )
    assert failed.status_code == 401
    log = await client.get(
        "/api/v1/audit",
        params={"action": "auth.login_failed", "user_id": str(tenant["caseworker"].user_id)},
        headers=tenant["org_admin"].headers,
    )
    return str(log.json()["items"][0]["client_ip"])


async def test_forwarded_for_is_ignored_by_default(
    settings: Settings,
    tenant_a: Tenant,
    client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    monkeypatch.delenv("OVC_FORWARDED_ALLOW_IPS", raising=False)
    served, _ = _served_app(settings, monkeypatch)
    # Even from the loopback address, which uvicorn trusts unless told otherwise.
    seen = await _client_ip_seen(served, "127.0.0.1", "198.51.100.9", tenant_a, client)
    assert seen == "127.0.0.1"
    assert Settings().forwarded_allow_ips == ""


async def test_forwarded_for_is_honoured_from_an_allowed_proxy(
    settings: Settings,
    tenant_a: Tenant,
    client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served, _ = _served_app(settings, monkeypatch, forwarded_allow_ips="10.0.0.2")
    assert await _client_ip_seen(served, "10.0.0.2", "198.51.100.9", tenant_a, client) == (
        "198.51.100.9"
    )
    # A client that is not the proxy cannot choose its address.
    assert await _client_ip_seen(served, "10.0.0.3", "198.51.100.10", tenant_a, client) == (
        "10.0.0.3"
    )
