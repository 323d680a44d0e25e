"""Foundation behaviour: health, errors as problem+json, request ids, metrics, limits, CORS."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from ovc_api.app import create_app
from ovc_api.settings import Settings

from .conftest import make_settings
from .helpers import assert_problem


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_when_migrated(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"


async def test_readyz_and_startup_refuse_an_unmigrated_database(tmp_path: Path) -> None:
    settings = make_settings_for_empty_sqlite(tmp_path)
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "not_migrated"
    assert "ovc-api migrate" in body["detail"]
    with pytest.raises(RuntimeError, match="ovc-api migrate"):
        async with app.router.lifespan_context(app):
            pass


async def test_readyz_reports_an_unreachable_database(tmp_path: Path) -> None:
    settings = make_settings_for_empty_sqlite(tmp_path).model_copy(
        update={"database_url": f"sqlite+aiosqlite:///{tmp_path}/missing/dir/x.db"}
    )
    app = create_app(settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as http:
        response = await http.get("/readyz")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


def make_settings_for_empty_sqlite(tmp_path: Path) -> Settings:
    from .conftest import TestDatabase

    url = f"sqlite+aiosqlite:///{tmp_path}/empty.db"
    return make_settings(TestDatabase(url, url), tmp_path)


async def test_unknown_route_is_a_problem(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/api/v1/no-such-thing"), 404)
    assert body["request_id"]


async def test_wrong_method_is_a_problem(client: httpx.AsyncClient) -> None:
    assert_problem(await client.delete("/healthz"), 405)


async def test_request_id_is_echoed_or_generated(client: httpx.AsyncClient) -> None:
    echoed = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    generated = await client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert len(generated.headers["x-request-id"]) == 32


async def test_oversized_body_is_413(client: httpx.AsyncClient, settings: Settings) -> None:
    body = b"{" + b" " * settings.max_body_bytes + b"}"
    response = await client.post(
        "/api/v1/anything", content=body, headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 413)


async def test_wrong_content_type_is_415(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/anything", content=b"<x/>", headers={"Content-Type": "application/xml"}
    )
    body = assert_problem(response, 415)
    assert "application/json" in str(body["detail"])


async def test_metrics_by_route_template(client: httpx.AsyncClient) -> None:
    await client.get("/healthz")
    await client.get(f"/api/v1/organisations/{uuid.uuid4()}")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert 'ovc_http_requests_total{method="GET",route="/healthz",status="200"}' in response.text
    # Labelled by the template, never by the concrete path (ids would explode the series).
    template = 'route="/api/v1/organisations/{organisation_id}",status="401"'
    assert template in response.text


async def test_unexpected_errors_are_500_problems_without_details(
    settings: Settings,
) -> None:
    app = create_app(settings)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("SELECT secret FROM children")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.get("/boom", headers={"X-Request-ID": "req-500"})
    body = assert_problem(response, 500)
    assert body["request_id"] == "req-500"
    assert "SELECT" not in response.text and "Traceback" not in response.text


async def test_cors_preflight_for_configured_origin(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"cors_origins": ["https://dash.example.org"]}))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        allowed = await http.options(
            "/healthz",
            headers={
                "Origin": "https://dash.example.org",
                "Access-Control-Request-Method": "GET",
            },
        )
        other = await http.get("/healthz", headers={"Origin": "https://evil.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://dash.example.org"
    assert "access-control-allow-origin" not in other.headers


async def test_docs_are_served(client: httpx.AsyncClient) -> None:
    assert (await client.get("/docs")).status_code == 200
    assert (await client.get("/redoc")).status_code == 200


def test_committed_openapi_contract_matches_the_app(app: FastAPI) -> None:
    committed = json.loads(Path("openapi/openapi.json").read_text(encoding="utf-8"))
    assert app.openapi() == committed, "run `ovc-api openapi` and commit openapi/openapi.json"


def test_every_operation_is_documented_for_client_generators(app: FastAPI) -> None:
    schema = app.openapi()
    seen: set[str] = set()
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            op_id = operation["operationId"]
            assert op_id not in seen, f"duplicate operationId {op_id}"
            seen.add(op_id)
            assert operation.get("summary"), f"{method} {path} lacks a summary"
            assert operation.get("tags"), f"{method} {path} lacks a tag"
            errors = [code for code in operation["responses"] if code.startswith(("4", "5"))]
            assert errors, f"{method} {path} declares no error responses"
