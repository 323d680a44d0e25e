"""Request ids, structured logs, Prometheus metrics and request-level guards, in one ASGI layer.

Pure ASGI (not BaseHTTPMiddleware) because it wraps every request: it must stay cheap.
Logs carry method, route template, status and duration; never query strings, bodies or
headers, which may hold names, passwords or tokens.
"""

from __future__ import annotations

import asyncio
import contextvars
import hmac
import json
import logging
import logging.config
import os
import random
import re
import time
import traceback
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
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ovc_api.db import DatabaseFault, database_fault, sqlstate_of
from ovc_api.errors import PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE, NotFound, Unauthorized
from ovc_api.ratelimit import rate_limit_headers
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


def safe_traceback(exc: BaseException) -> str:
    """A traceback with frames and exception classes but no exception messages.

    Messages are where personal data hides: SQLAlchemy's carry the statement and its
    parameters, PostgreSQL's say "Failing row contains (...)" or "invalid input syntax:
    <value>", pydantic's echo the input. Database errors show their SQLSTATE instead.
    """

    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    parts: list[str] = []
    for index, item in enumerate(reversed(chain)):
        if index:
            parts.append("\nwhich led to:\n")
        parts.append("Traceback (most recent call last):\n")
        parts.extend(traceback.format_tb(item.__traceback__))
        orig = getattr(item, "orig", None)
        state = sqlstate_of(item)
        described = f"{type(item).__module__}.{type(item).__qualname__}"
        if orig is not None:
            described += f" ({type(orig).__module__}.{type(orig).__qualname__})"
        if state:
            described += f" sqlstate={state}"
        parts.append(described + " [message withheld]\n")
    return "".join(parts).rstrip("\n")


def _exception_text(formatter: logging.Formatter, record: logging.LogRecord) -> str | None:
    if not record.exc_info or record.exc_info[1] is None:
        return None
    return safe_traceback(record.exc_info[1])


class JsonFormatter(logging.Formatter):
    converter = staticmethod(time.gmtime)
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
        exc_text = _exception_text(self, record)
        if exc_text:
            entry["exc"] = exc_text
        return json.dumps(entry, default=str, ensure_ascii=False)


class ConsoleFormatter(logging.Formatter):
    def formatException(self, ei: Any) -> str:  # noqa: N802 (logging's name)
        return safe_traceback(ei[1]) if ei and ei[1] is not None else ""

    def formatStack(self, stack_info: str) -> str:  # noqa: N802 (logging's name)
        return stack_info

    def format(self, record: logging.LogRecord) -> str:
        record.exc_text = None  # never reuse a text another formatter made with messages
        base = super().format(record)
        extras = {
            k: v
            for k, v in record.__dict__.items()
            if k not in JsonFormatter._RESERVED and not k.startswith("_")
        }
        request_id = request_id_var.get()
        suffix = " ".join(f"{k}={v}" for k, v in extras.items())
        return f"{base} [{request_id or '-'}] {suffix}".rstrip()


# Loggers that write statements, their parameters or rows below WARNING.
STATEMENT_LOGGERS = ("sqlalchemy.engine", "aiosqlite", "psycopg", "asyncpg")


class NoStatements(logging.Filter):
    """Drops the database layers' INFO/DEBUG records whoever turned them on: SQLAlchemy's
    statements and rows, aiosqlite's "executing ... (parameters)", the drivers' notices.
    Statements may hold literals, parameters and rows hold children's records."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return True
        return not record.name.startswith(STATEMENT_LOGGERS)


def logging_config(settings: Settings) -> dict[str, Any]:
    """The logging set-up as a `dictConfig`: the workers apply it, and so does the serving
    master (passed to uvicorn as `log_config`), so worker starts, deaths and respawns are
    logged in the same format as requests."""
    formatter: dict[str, Any] = (
        {"()": "ovc_api.observability.JsonFormatter"}
        if settings.log_format is LogFormat.json
        else {
            "()": "ovc_api.observability.ConsoleFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s: %(message)s",
        }
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"ovc": formatter},
        "filters": {"no_statements": {"()": "ovc_api.observability.NoStatements"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "ovc",
                "filters": ["no_statements"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": settings.log_level},
        "loggers": {
            # Requests are logged by RequestContextMiddleware (route template, no query).
            "uvicorn.access": {"handlers": [], "propagate": False, "level": "CRITICAL"},
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            # Statements are not logged even at DEBUG (see NoStatements); parameters are
            # hidden by the engines in any case.
            **{name: {"level": "WARNING"} for name in STATEMENT_LOGGERS},
        },
    }


def configure_logging(settings: Settings) -> None:
    logging.config.dictConfig(logging_config(settings))
    logging.getLogger("uvicorn.access").disabled = True


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
    def __init__(
        self, app: ASGIApp, max_body_bytes: int, upload_limits: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        # File uploads (multipart/form-data) and their own, larger, body limits by path.
        self.upload_limits = upload_limits or {}

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
                    *rate_limit_headers(scope["state"]),
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
            limit = self.upload_limits.get(scope["path"], self.max_body_bytes)
            await self._run(scope, self._limited(receive, limit), send_with_id, status_holder)
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

    async def _run(
        self, scope: Scope, receive: Receive, send: Send, status_holder: list[int]
    ) -> None:
        """Run the app, answering for what escapes it, so the connection survives.

        Database faults (down, restarting, overloaded, a timeout) answer 503 with
        `Retry-After`; a serialization failure or deadlock (and a dropped connection, for a
        read) first runs the request again, its body replayed, up to TRANSACTION_ATTEMPTS
        times. Anything else answers a 500 problem. Handled here rather than by Starlette's
        server-error middleware, which re-raises after its 500 so that the server closes
        the client's keep-alive connection. A failure after the response started (a stream
        broken off) cannot be answered: the response is left incomplete, so the server
        closes the connection and the client sees the truncation.
        """
        recorded: list[Message] = []
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        attempt = 1
        while True:
            try:
                await self.app(scope, _replaying(receive, recorded), tracking_send)
                return
            except ClientDisconnect:
                raise  # the client left: nobody to answer, nothing failed here
            except Exception as exc:
                fault = database_fault(exc)
                if (
                    not started
                    and fault is not None
                    and fault.repeatable(scope["method"])
                    and attempt < TRANSACTION_ATTEMPTS
                ):
                    _log_failure(scope, exc, fault, status=None, attempt=attempt)
                    await asyncio.sleep(RETRY_PAUSE_SECONDS * attempt * (0.5 + random.random()))  # noqa: S311
                    attempt += 1
                    continue
                status = 500 if fault is None else 503
                _log_failure(scope, exc, fault, status=None if started else status, attempt=attempt)
                if started:
                    return
                status_holder[0] = status
                await _send_failure(scope, tracking_send, status)
                return

    def _reject(self, scope: Scope, headers: dict[str, str]) -> tuple[int, str, str, str] | None:
        if scope["method"] not in _BODY_METHODS:
            return None
        length = headers.get("content-length")
        upload = scope["path"] in self.upload_limits
        limit = self.upload_limits.get(scope["path"], self.max_body_bytes)
        if length is not None:
            if not length.isdigit():
                return 400, "Bad Request", "bad-request", "Invalid Content-Length header"
            if int(length) > limit:
                return (
                    413,
                    "Payload Too Large",
                    "payload-too-large",
                    f"Request bodies are limited to {limit} bytes",
                )
            if int(length) == 0:
                return None
        elif "transfer-encoding" not in headers:
            return None
        media_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if upload:
            accepted = media_type == "multipart/form-data"
        elif scope["path"] in FORM_PATHS:
            accepted = media_type in {"application/x-www-form-urlencoded", "multipart/form-data"}
        else:
            accepted = media_type == "application/json" or media_type.endswith("+json")
        if not accepted:
            expected = (
                "multipart/form-data (a field `file`)"
                if upload
                else "application/x-www-form-urlencoded"
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

    def _limited(self, receive: Receive, limit: int) -> Receive:
        """Cut off bodies without a Content-Length (chunked) once they pass the limit."""
        received = 0

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


TRANSACTION_ATTEMPTS = 3


def _replaying(receive: Receive, recorded: list[Message]) -> Receive:
    """A receive that hands over the body messages an earlier attempt read, then reads on
    (and records) from the client."""
    replay = iter(list(recorded))

    async def replaying_receive() -> Message:
        for message in replay:
            return message
        message = await receive()
        if message["type"] == "http.request":
            recorded.append(message)
        return message

    return replaying_receive


RETRY_PAUSE_SECONDS = 0.05
UNAVAILABLE_RETRY_AFTER_SECONDS = 1
errors_logger = logging.getLogger("ovc_api.errors")


def _log_failure(
    scope: Scope, exc: Exception, fault: DatabaseFault | None, *, status: int | None, attempt: int
) -> None:
    """One structured line per failure: classes, SQLSTATE, route; never the message (it may
    carry the statement, its parameters or a row's values). The traceback, also without
    messages, only at DEBUG."""
    route = getattr(scope.get("route"), "path", None) or "<unmatched>"
    retrying = status is None and fault is not None and attempt < TRANSACTION_ATTEMPTS
    extra = {
        "method": scope["method"],
        "route": route,
        "error_class": f"{type(exc).__module__}.{type(exc).__qualname__}",
        "db_error_class": fault.error_class if fault else None,
        "sqlstate": fault.sqlstate if fault else sqlstate_of(exc),
        "fault": fault.kind if fault else None,
        "attempt": attempt,
        "status": status,
    }
    debug = errors_logger.isEnabledFor(logging.DEBUG)
    if retrying:
        errors_logger.warning("database conflict: running the request again", extra=extra)
    elif status is None:
        errors_logger.error("response broken off", extra=extra, exc_info=exc if debug else None)
    elif fault is not None:
        errors_logger.error("database unavailable", extra=extra, exc_info=exc if debug else None)
    else:
        errors_logger.error("unhandled error", extra=extra, exc_info=exc if debug else None)


async def _send_failure(scope: Scope, send: Send, status: int) -> None:
    request_id = scope.get("state", {}).get("request_id", "")
    if status == 503:
        title, slug = "Service Unavailable", "unavailable"
        detail = "The database is unavailable or overloaded; retry after the given delay."
        headers = [(b"retry-after", str(UNAVAILABLE_RETRY_AFTER_SECONDS).encode())]
    else:
        title, slug = "Internal Server Error", "internal"
        detail = "An unexpected error occurred; quote the request id when reporting it."
        headers = []
    body = _problem(status, title, slug, detail, scope["path"], request_id)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_CONTENT_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


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
