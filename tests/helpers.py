"""Assertions shared by the API tests."""

from __future__ import annotations

from typing import Any

import httpx

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
