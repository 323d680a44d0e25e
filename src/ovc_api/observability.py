"""Request ids, structured logs, Prometheus metrics and request-level guards, in one ASGI layer.

Pure ASGI (not BaseHTTPMiddleware) because it wraps every request: it must stay cheap.
Logs carry method, route template, status and duration; never query strings, bodies or
headers, which may hold names, passwords or tokens.
"""

from __future__ import annotations

import contextvars
import hmac
import json
import logging
import os
import re
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ovc_api.errors import PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE, NotFound, Unauthorized
from ovc_api.settings import Environment, LogFormat, Settings

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)
access_logger = logging.getLogger("ovc_api.access")
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
FORM_PATHS = frozenset({"/api/v1/auth/token"})

REQUESTS = Counter(
    "ovc_http_requests_total", "HTTP requests by route template", ["method", "route", "status"]
)
LATENCY = Histogram(
    "ovc_http_request_duration_seconds",
    "HTTP request latency by route template",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


class JsonFormatter(logging.Formatter):
    _RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {
        "message",
        "asctime",
        "color_message",
    }

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in self._RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class ConsoleFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        extras = {
            k: v
            for k, v in record.__dict__.items()
            if k not in JsonFormatter._RESERVED and not k.startswith("_")
        }
        request_id = request_id_var.get()
        suffix = " ".join(f"{k}={v}" for k, v in extras.items())
        return f"{base} [{request_id or '-'}] {suffix}".rstrip()


def configure_logging(settings: Settings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format is LogFormat.json:
        formatter: logging.Formatter = JsonFormatter()
        formatter.converter = time.gmtime
    else:
        formatter = ConsoleFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    for noisy in ("uvicorn.access",):
        logging.getLogger(noisy).disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


def _problem(status: int, title: str, slug: str, detail: str, path: str, request_id: str) -> bytes:
    return json.dumps(
        {
            "type": PROBLEM_TYPE_BASE + slug,
            "title": title,
            "status": status,
            "detail": detail,
            "instance": path,
            "request_id": request_id,
        }
    ).encode()


API_PREFIX = "/api/"
_NOSNIFF = (b"x-content-type-options", b"nosniff")
_NO_STORE = (b"cache-control", b"no-store")


def _security_headers(path: str, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Every response: no content sniffing. Every API response carries or may carry personal
    data: no cache keeps it (unless the endpoint chose its own Cache-Control)."""
    added = [_NOSNIFF]
    if path.startswith(API_PREFIX) and not any(k.lower() == b"cache-control" for k, _ in headers):
        added.append(_NO_STORE)
    return added


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        supplied = headers.get("x-request-id", "")
        request_id = supplied if _REQUEST_ID_RE.match(supplied) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status_holder = [500]
        method = scope["method"]

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", request_id.encode()),
                    *_security_headers(scope["path"], message["headers"]),
                ]
            await send(message)

        try:
            rejection = self._reject(scope, headers)
            if rejection is not None:
                status, title, slug, detail = rejection
                await send_with_id(
                    {
                        "type": "http.response.start",
                        "status": status,
                        "headers": [(b"content-type", PROBLEM_CONTENT_TYPE.encode())],
                    }
                )
                body = _problem(status, title, slug, detail, scope["path"], request_id)
                await send_with_id({"type": "http.response.body", "body": body})
                return
            await self.app(scope, self._limited(receive), send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "<unmatched>"
            REQUESTS.labels(method, template, str(status_holder[0])).inc()
            LATENCY.labels(method, template).observe(elapsed)
            access_logger.info(
                "request",
                extra={
                    "method": method,
                    "path": scope["path"],
                    "route": template,
                    "status": status_holder[0],
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )
            request_id_var.reset(token)

    def _reject(self, scope: Scope, headers: dict[str, str]) -> tuple[int, str, str, str] | None:
        if scope["method"] not in _BODY_METHODS:
            return None
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                return 400, "Bad Request", "bad-request", "Invalid Content-Length header"
            if int(length) > self.max_body_bytes:
                return (
                    413,
                    "Payload Too Large",
                    "payload-too-large",
                    f"Request bodies are limited to {self.max_body_bytes} bytes",
                )
            if int(length) == 0:
                return None
        elif "transfer-encoding" not in headers:
            return None
        media_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if scope["path"] in FORM_PATHS:
            accepted = media_type in {"application/x-www-form-urlencoded", "multipart/form-data"}
        else:
            accepted = media_type == "application/json" or media_type.endswith("+json")
        if not accepted:
            expected = (
                "application/x-www-form-urlencoded"
                if scope["path"] in FORM_PATHS
                else "application/json"
            )
            return (
                415,
                "Unsupported Media Type",
                "unsupported-media-type",
                f"Content-Type must be {expected}",
            )
        return None

    def _limited(self, receive: Receive) -> Receive:
        """Cut off bodies without a Content-Length (chunked) once they pass the limit."""
        received = 0
        limit = self.max_body_bytes

        async def wrapped() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    from ovc_api.errors import PayloadTooLarge

                    raise PayloadTooLarge(f"Request bodies are limited to {limit} bytes")
            return message

        return wrapped


def reset_metrics_directory(directory: Path) -> None:
    """Empty the multiprocess metrics directory before workers start: counters left by the
    previous run's processes would otherwise be summed into this one's."""
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink(missing_ok=True)


def _check_metrics_access(request: Request) -> None:
    """/metrics tells request volumes per route: only the scraper holding OVC_METRICS_TOKEN
    reads it; without a token it is served in development only."""
    settings = request.app.state.settings
    token: str = settings.metrics_token
    if not token:
        if settings.environment is Environment.production:
            raise NotFound("/metrics is not served without OVC_METRICS_TOKEN in production")
        return
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        presented.strip().encode(), token.encode()
    ):
        raise Unauthorized("/metrics needs the metrics bearer token")


def metrics_response(request: Request) -> Response:
    _check_metrics_access(request)
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        data = generate_latest(registry)
    else:
        data = generate_latest()
    return Response(data, media_type=CONTENT_TYPE_LATEST)
