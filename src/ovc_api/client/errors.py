"""What can go wrong talking to the API, as exceptions a script can catch by kind.

Every HTTP error is an :class:`ApiError` carrying the server's problem+json body, so a script
can show `detail`, inspect `errors` (422) or `duplicates` (409), and quote the request id.
"""

from __future__ import annotations

import json
import time
from datetime import UTC
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any

import httpx

MAX_DETAIL_CHARS = 300


class OvcError(Exception):
    """Base of every error the client raises: catch this to handle them all."""


class NetworkError(OvcError):
    """The server could not be reached, or the connection broke (after any retries)."""


class IncompleteDownload(NetworkError):
    """An export ended without its end line (`# end rows=N` / `{"_end":true,...}`), or with
    a row count that differs from the rows received: it was cut off; no file was written."""


class ApiError(OvcError):
    """The server answered with an error status; `problem` is its problem+json body."""

    def __init__(
        self,
        status: int,
        problem: dict[str, Any],
        *,
        method: str = "",
        url: str = "",
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        # Seconds the server asked us to wait (429/503 `Retry-After`), if it said.
        self.retry_after = retry_after
        self.problem = problem
        self.method = method
        self.url = url
        self.title: str = str(problem.get("title") or _reason(status))
        detail = problem.get("detail")
        self.detail: str | None = str(detail) if detail is not None else None
        self.request_id = problem.get("request_id") or request_id
        raw_errors = problem.get("errors")
        self.errors: list[dict[str, Any]] = (
            [e for e in raw_errors if isinstance(e, dict)] if isinstance(raw_errors, list) else []
        )
        super().__init__(self._one_line())

    def _one_line(self) -> str:
        if self.errors:
            explanation = "; ".join(
                f"{'.'.join(str(part) for part in e.get('loc', []))}: {e.get('msg', '')}"
                for e in self.errors[:5]
            )
        else:
            explanation = self.detail or ""
        text = f"{self.status} {self.title}"
        if explanation and explanation != self.title:
            text += f": {explanation}"
        if self.method and self.url:
            text += f" ({self.method} {self.url}"
            text += f", request id {self.request_id})" if self.request_id else ")"
        elif self.request_id:
            text += f" (request id {self.request_id})"
        return " ".join(text.split())


class BadRequest(ApiError):
    """400."""


class Unauthorized(ApiError):
    """401: no, wrong, expired or revoked credentials."""


class Forbidden(ApiError):
    """403: authenticated, but the role or API key lacks the scope."""


class NotFound(ApiError):
    """404: missing, or another organisation's (the API does not distinguish)."""


class Conflict(ApiError):
    """409: e.g. a likely duplicate child (see `problem["duplicates"]`)."""


class PreconditionFailed(ApiError):
    """412: the record changed since its ETag was read."""


class ValidationFailed(ApiError):
    """422: invalid input; `errors` names each field."""


class RateLimited(ApiError):
    """429 not retried (retries exhausted, or a longer wait than the client accepts)."""


class ServiceUnavailable(ApiError):
    """503 after the retries."""


class ServerError(ApiError):
    """Any other 5xx: quote the request id when reporting it."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    412: PreconditionFailed,
    422: ValidationFailed,
    429: RateLimited,
    503: ServiceUnavailable,
}


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """`Retry-After` in seconds: delta-seconds or an HTTP date; None when absent or garbled."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def error_from_response(response: httpx.Response) -> ApiError:
    """The ApiError for a (read) error response, whatever its body looks like."""
    try:
        content = response.content
    except httpx.ResponseNotRead:  # the body broke off: the status line must do
        content = b""
    try:
        body = json.loads(content) if content else None
    except ValueError:
        body = None
    if isinstance(body, dict):
        problem: dict[str, Any] = body
    else:
        # Not problem+json (a proxy's HTML page, say): keep a short, single-line excerpt.
        text = " ".join(content.decode("utf-8", "replace").split())[:MAX_DETAIL_CHARS]
        problem = {"status": response.status_code, "title": _reason(response.status_code)}
        if text:
            problem["detail"] = text
    status = response.status_code
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else ApiError)
    return cls(
        status,
        problem,
        method=response.request.method,
        url=str(response.request.url.copy_with(query=None)),
        request_id=response.headers.get("x-request-id"),
        retry_after=parse_retry_after(response.headers.get("retry-after")),
    )
