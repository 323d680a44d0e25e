"""One error hierarchy, rendered as RFC 9457 problem+json by one set of handlers.

Routes raise subclasses of :class:`ProblemError`; framework errors (routing, validation,
unexpected exceptions) are converted here too, so every error body has the same shape.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://ovc-api.org/problems/"
logger = logging.getLogger("ovc_api.errors")


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """The body of every error response."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None
    errors: list[ValidationIssue] | None = None


class ProblemError(Exception):
    status: int = 500
    title: str = "Internal Server Error"
    slug: str = "internal"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: Sequence[Mapping[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
        keep_changes: bool = False,
    ) -> None:
        super().__init__(detail or self.title)
        # True when the transaction's writes so far (an audit row, a throttle counter) must
        # be committed even though the request fails.
        self.keep_changes = keep_changes
        self.detail = detail
        self.errors = [dict(e) for e in errors] if errors is not None else None
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


class BadRequest(ProblemError):
    status, title, slug = 400, "Bad Request", "bad-request"


class Unauthorized(ProblemError):
    status, title, slug = 401, "Unauthorized", "unauthorized"

    def __init__(self, detail: str = "Missing or invalid credentials", **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="ovc-api"'})
        super().__init__(detail, **kwargs)


class Forbidden(ProblemError):
    status, title, slug = 403, "Forbidden", "forbidden"


class NotFound(ProblemError):
    status, title, slug = 404, "Not Found", "not-found"

    def __init__(self, detail: str = "The resource does not exist", **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)


class Conflict(ProblemError):
    status, title, slug = 409, "Conflict", "conflict"


class PreconditionFailed(ProblemError):
    status, title, slug = 412, "Precondition Failed", "stale-etag"


class PreconditionRequired(ProblemError):
    status, title, slug = 428, "Precondition Required", "if-match-required"


class PayloadTooLarge(ProblemError):
    status, title, slug = 413, "Payload Too Large", "payload-too-large"


class Unprocessable(ProblemError):
    status, title, slug = 422, "Unprocessable Content", "validation"

    @classmethod
    def field(cls, loc: Iterable[str | int], msg: str, kind: str = "value_error") -> Unprocessable:
        """A validation problem about one named field, shaped like pydantic's own."""
        location = list(loc)
        return cls(msg, errors=[{"loc": location, "msg": msg, "type": kind}])


class TooManyRequests(ProblemError):
    status, title, slug = 429, "Too Many Requests", "throttled"

    def __init__(self, detail: str, retry_after: int, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"Retry-After": str(max(1, retry_after))})
        super().__init__(detail, **kwargs)


class ServiceUnavailable(ProblemError):
    status, title, slug = 503, "Service Unavailable", "unavailable"

    def __init__(self, detail: str | None = None, retry_after: int = 1, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"Retry-After": str(max(1, retry_after))})
        super().__init__(detail, **kwargs)


_STATUS_TITLES = {cls.status: cls for cls in ProblemError.__subclasses__()}


def problem_response(
    request: Request,
    status: int,
    title: str,
    slug: str,
    detail: str | None,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "request_id": getattr(request.state, "request_id", None),
    }
    if errors is not None:
        body["errors"] = errors
    if extra:
        body.update(extra)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_CONTENT_TYPE)


def _clean_validation_errors(raw: Sequence[Any]) -> list[dict[str, Any]]:
    """Keep loc/msg/type only: pydantic's `input` echoes submitted values (names, passwords)."""
    return [
        {"loc": list(err.get("loc", ())), "msg": str(err.get("msg", "")), "type": err.get("type")}
        for err in raw
    ]


async def _problem_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(
        request,
        exc.status,
        exc.title,
        exc.slug,
        exc.detail,
        errors=exc.errors,
        headers=exc.headers,
        extra=exc.extra,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    known = _STATUS_TITLES.get(exc.status_code)
    title = known.title if known else _reason(exc.status_code)
    slug = known.slug if known else f"http-{exc.status_code}"
    detail = exc.detail if isinstance(exc.detail, str) else title
    if exc.status_code == 404 and detail == "Not Found":
        detail = "No such route"
    return problem_response(
        request, exc.status_code, title, slug, detail, headers=getattr(exc, "headers", None)
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _clean_validation_errors(exc.errors())
    summary = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors[:5])
    return problem_response(
        request, 422, "Unprocessable Content", "validation", summary or None, errors=errors
    )


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    """Last resort, for an error outside RequestContextMiddleware (which answers for the
    app's own): the traceback, messages withheld by the formatters, only at DEBUG."""
    logger.error(
        "unhandled error",
        extra={
            "request_id": getattr(request.state, "request_id", None),
            "error_class": f"{type(exc).__module__}.{type(exc).__qualname__}",
        },
        exc_info=exc if logger.isEnabledFor(logging.DEBUG) else None,
    )
    return problem_response(
        request,
        500,
        "Internal Server Error",
        "internal",
        "An unexpected error occurred; quote the request id when reporting it.",
    )


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, _problem_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected_error)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entry of a route: each listed status documented as a Problem."""
    return {
        status: {
            "model": Problem,
            "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            "description": _reason(status),
        }
        for status in statuses
    }
