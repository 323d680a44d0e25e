"""The synchronous client: credentials, retries, pages, stats, reports and streamed exports.

Scripts run unattended, so the client does the tedious parts itself: it follows `next_cursor`
to the end of a listing, waits and retries when the server says it is busy (429/503 with
`Retry-After`), refreshes a login's access token once when it expires, checks that a streamed
export arrived whole, and turns every error response into an exception that carries the
server's problem+json.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self, TypeVar, overload

import httpx

from ovc_api import __version__
from ovc_api.client.errors import (
    ApiError,
    IncompleteDownload,
    NetworkError,
    error_from_response,
    parse_retry_after,
)
from ovc_api.client.models import Case, Child, Family, Referral, Resource, Service

__all__ = ["API_PREFIX", "ChangeFeed", "Client", "Download", "ProgressCallback"]

API_PREFIX = "/api/v1"
DEFAULT_PAGE_SIZE = 200  # the server's maximum: fewest round trips
# Methods a retry cannot turn into a second effect (RFC 9110 idempotent methods).
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({429, 503})
# A 409 with Retry-After: the same Idempotency-Key is still being processed; waiting and
# resending gets its response. A 409 without it (a duplicate, a workflow rule) is final.
IN_PROGRESS_STATUS = 409
MEDIA_TYPES = {"json": "application/json", "csv": "text/csv", "ndjson": "application/x-ndjson"}
# Path segments a caller may choose (stats kind, export resource): never a path of its own.
_SEGMENT = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")

ProgressCallback = Callable[[int, int], None]
"""Called as `progress(rows_so_far, bytes_so_far)` while a download streams, and at the end."""

R = TypeVar("R", bound=Resource)


@dataclass(frozen=True)
class Download:
    """A finished download: where it is, its size, and its data rows (CSV header excluded;
    0 when not asked to count)."""

    path: Path
    bytes: int
    rows: int


class _RowCounter:
    """Counts records in a CSV (RFC 4180: newlines inside quotes do not count) or NDJSON
    stream chunk by chunk, so the count costs no memory whatever the export's size."""

    def __init__(self, fmt: str | None) -> None:
        self.enabled = fmt is not None
        self.csv = fmt == "csv"
        self.records = 0
        self.in_quotes = False
        self.ends_with_newline = True

    def feed(self, chunk: bytes) -> None:
        if not chunk or not self.enabled:
            return
        if self.csv and (self.in_quotes or b'"' in chunk):
            # Each quote toggles the state; an escaped quote ("") toggles twice.
            parts = chunk.split(b'"')
            for index, part in enumerate(parts):
                if not self.in_quotes:
                    self.records += part.count(b"\n")
                if index < len(parts) - 1:
                    self.in_quotes = not self.in_quotes
        else:
            self.records += chunk.count(b"\n")
        self.ends_with_newline = chunk.endswith(b"\n")

    @property
    def complete_rows(self) -> int:
        """Data rows whose line has ended (progress while streaming)."""
        return max(self.records - 1, 0) if self.csv else self.records

    @property
    def rows(self) -> int:
        """Data rows at the end, counting a last line without a newline."""
        records = self.records + (0 if self.ends_with_newline else 1)
        return max(records - 1, 0) if self.csv else records


CSV_END = re.compile(rb"^# end rows=(\d+)\r\n$")


class _EndLine:
    """Holds back the last line of a stream until another follows it, so the export's end
    line (`# end rows=N`, `{"_end":true,"rows":N}`) is checked and kept out of the file."""

    def __init__(self, fmt: str) -> None:
        self.csv = fmt == "csv"
        self.tail = b""

    def feed(self, chunk: bytes) -> bytes:
        """The bytes that are certainly not the last line."""
        data = self.tail + chunk
        cut = data.rfind(b"\n", 0, len(data) - 1) + 1
        self.tail = data[cut:]
        return data[:cut]

    def expected_rows(self) -> int | None:
        """The row count the end line announces, or None when the stream has none."""
        if self.csv:
            match = CSV_END.match(self.tail)
            return int(match.group(1)) if match else None
        if not self.tail.endswith(b"\n"):
            return None
        try:
            end = json.loads(self.tail)
        except ValueError:
            return None
        if not isinstance(end, dict) or end.get("_end") is not True:
            return None
        rows = end.get("rows")
        return rows if isinstance(rows, int) and not isinstance(rows, bool) else None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


def query_params(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Python values as query parameters: None dropped, lists repeated, dates ISO, bools
    lowercase; a trailing underscore is dropped so `from_=` can name the `from` parameter."""
    items: list[tuple[str, str]] = []
    for key, value in params.items():
        if value is None:
            continue
        name = key.rstrip("_") or key
        values = value if isinstance(value, list | tuple | set | frozenset) else [value]
        items.extend((name, _text(v)) for v in values)
    return items


def _json_default(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _segment(value: str, what: str) -> str:
    if not _SEGMENT.match(value):
        raise ValueError(f"{what} must be a lowercase name such as 'cases', not {value!r}")
    return value


def _group_by(group_by: Sequence[str] | str | None) -> str | None:
    if group_by is None:
        return None
    parts = group_by.split(",") if isinstance(group_by, str) else list(group_by)
    cleaned = [p.strip() for p in parts if p.strip()]
    return ",".join(cleaned) or None


class Client:
    """A synchronous client for scripts. Use it as a context manager, or call `close()`.

    Authenticate with an API key (`api_key=`, for unattended scripts) or a login
    (`Client.login(...)`, which refreshes the access token once when it expires). One client
    per thread: a token refresh is not synchronised.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        token: str | None = None,
        refresh_token: str | None = None,
        timeout: float = 30,
        max_retries: int = 3,
        max_retry_after: float = 60,
        backoff: float = 0.5,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if api_key and token:
            raise ValueError("pass api_key or token, not both")
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, not {base_url!r}")
        if max_retries < 0:
            raise ValueError("max_retries must be 0 or more")
        self.base_url = base_url.rstrip("/").removesuffix(API_PREFIX)
        self.max_retries = max_retries
        # A server asking for a longer wait than this gets an error raised at once instead:
        # a script should not silently hang for an hour.
        self.max_retry_after = max_retry_after
        self.backoff = backoff
        self._sleep = sleep
        self._credential = api_key or token
        self._refresh_token = refresh_token if token else None
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            transport=transport,
            headers={"User-Agent": f"ovc-api-client/{__version__}", "Accept": "application/json"},
        )

    def __repr__(self) -> str:
        return f"Client({self.base_url!r})"

    # --- lifecycle and credentials -------------------------------------------------------

    @classmethod
    def login(cls, base_url: str, email: str, password: str, **options: Any) -> Self:
        """Log in with email and password; the client keeps and uses the refresh token."""
        client = cls(base_url, **options)
        try:
            response = client._request(
                "POST",
                f"{API_PREFIX}/auth/token",
                form={"username": email, "password": password},
                authenticate=False,
            )
            client._take_tokens(response.json())
        except BaseException:
            client.close()
            raise
        return client

    def logout(self) -> None:
        """End a login session: its access and refresh tokens stop working."""
        self._request("POST", f"{API_PREFIX}/auth/logout")
        self._credential = self._refresh_token = None

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _take_tokens(self, body: dict[str, Any]) -> None:
        self._credential = body["access_token"]
        self._refresh_token = body.get("refresh_token") or self._refresh_token

    def _refresh(self) -> None:
        """Trade the refresh token for new tokens. The old one is kept until new ones arrive:
        a refresh that fails for a passing reason (server busy, network blip) leaves the
        session usable, and the next request tries again; only the server refusing the
        token (401, 400) ends the session."""
        try:
            response = self._request(
                "POST",
                f"{API_PREFIX}/auth/refresh",
                body={"refresh_token": self._refresh_token},
                authenticate=False,
            )
        except ApiError as exc:
            if exc.status in (400, 401):
                self._refresh_token = None
            raise
        self._take_tokens(response.json())

    # --- the one place requests are sent -------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        form: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        authenticate: bool = True,
    ) -> httpx.Response:
        """Send with retries; return a success response or raise ApiError / NetworkError.

        Retried, with the wait the server asks for (`Retry-After`) or exponential backoff:
        429, 503, a 409 with `Retry-After` (the same Idempotency-Key still in progress) and
        broken connections, only for requests safe to repeat (GET, PUT, DELETE, or a POST
        carrying an Idempotency-Key); failures to connect, for any request. A 401 on a
        login session refreshes the tokens once and resends.
        """
        extra = dict(headers or {})
        content = None
        if body is not None:
            content = _dumps(body)
            extra["Content-Type"] = "application/json"
        repeatable = method in IDEMPOTENT_METHODS or "Idempotency-Key" in extra
        query = httpx.QueryParams(tuple(query_params(params or {})))
        attempt = 0
        refreshed = False
        while True:
            request_headers = dict(extra)
            if authenticate and self._credential:
                request_headers["Authorization"] = f"Bearer {self._credential}"
            request = self._http.build_request(
                method, path, params=query, content=content, data=form, headers=request_headers
            )
            try:
                response = self._http.send(request, stream=stream)
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                # Not connected at all: nothing reached the server, so any request may retry.
                unsent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                if (repeatable or unsent) and attempt < self.max_retries:
                    self._sleep(self._backoff(attempt))
                    attempt += 1
                    continue
                raise _network_error(request, exc, attempt + 1) from exc
            except httpx.HTTPError as exc:
                raise _network_error(request, exc, attempt + 1) from exc
            status = response.status_code
            if status == 401 and authenticate and self._refresh_token and not refreshed:
                response.close()
                self._refresh()
                refreshed = True
                continue
            in_progress = status == IN_PROGRESS_STATUS and "retry-after" in response.headers
            if (
                (status in RETRY_STATUSES or in_progress)
                and repeatable
                and attempt < self.max_retries
            ):
                delay = self._retry_delay(response, attempt)
                if delay is not None:
                    response.close()
                    self._sleep(delay)
                    attempt += 1
                    continue
            if response.is_success:
                return response
            try:
                response.read()
            except httpx.HTTPError:
                pass  # the status line is enough to report
            finally:
                response.close()
            raise error_from_response(response)

    def _backoff(self, attempt: int) -> float:
        return float(min(self.max_retry_after, self.backoff * 2**attempt))

    def _retry_delay(self, response: httpx.Response, attempt: int) -> float | None:
        """How long to wait before retrying, or None when the server asks for too long."""
        asked = parse_retry_after(response.headers.get("retry-after"))
        if asked is None:
            return self._backoff(attempt)
        return asked if asked <= self.max_retry_after else None

    # --- generic access, for endpoints without a typed method -----------------------------

    def get(self, path: str, **params: Any) -> Any:
        """GET an API path (e.g. "/api/v1/users/me") and return its JSON."""
        return self._request("GET", path, params=params).json()

    def post(self, path: str, body: Any = None, *, idempotency_key: str | None = None) -> Any:
        """POST JSON and return the JSON answer. With an idempotency key, retries are safe."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        response = self._request("POST", path, body=body, headers=headers)
        return response.json() if response.content else None

    def iter_items(
        self, path: str, *, page_size: int = DEFAULT_PAGE_SIZE, **filters: Any
    ) -> Iterator[dict[str, Any]]:
        """Every item of a paginated listing, following `next_cursor` until it is exhausted.

        Pages are fetched lazily: stopping early costs no further requests.
        """
        params: dict[str, Any] = {**filters, "limit": page_size}
        while True:
            page = self._request("GET", path, params=params).json()
            yield from page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return
            params["cursor"] = cursor

    def _iter(
        self, model: type[R], path: str, page_size: int, filters: dict[str, Any]
    ) -> Iterator[R]:
        for item in self.iter_items(path, page_size=page_size, **filters):
            yield model.from_api(item)

    def _get(self, model: type[R], path: str) -> R:
        response = self._request("GET", path)
        return model.from_api(response.json(), response.headers.get("etag"))

    def _create(
        self, model: type[R], path: str, body: Mapping[str, Any], idempotency_key: str | None
    ) -> R:
        # Always with a key, so that retrying after a lost answer cannot record twice.
        key = idempotency_key or str(uuid.uuid4())
        response = self._request("POST", path, body=body, headers={"Idempotency-Key": key})
        return model.from_api(response.json(), response.headers.get("etag"))

    # --- typed resources ------------------------------------------------------------------

    def get_child(self, child_id: uuid.UUID | str) -> Child:
        return self._get(Child, f"{API_PREFIX}/children/{uuid.UUID(str(child_id))}")

    def create_child(self, body: Mapping[str, Any], *, idempotency_key: str | None = None) -> Child:
        """Record a child. A likely duplicate raises Conflict (see `problem["duplicates"]`)."""
        return self._create(Child, f"{API_PREFIX}/children", body, idempotency_key)

    def iter_children(
        self, *, page_size: int = DEFAULT_PAGE_SIZE, **filters: Any
    ) -> Iterator[Child]:
        return self._iter(Child, f"{API_PREFIX}/children", page_size, filters)

    def get_family(self, family_id: uuid.UUID | str) -> Family:
        return self._get(Family, f"{API_PREFIX}/families/{uuid.UUID(str(family_id))}")

    def iter_families(
        self, *, page_size: int = DEFAULT_PAGE_SIZE, **filters: Any
    ) -> Iterator[Family]:
        return self._iter(Family, f"{API_PREFIX}/families", page_size, filters)

    def get_case(self, case_id: uuid.UUID | str) -> Case:
        return self._get(Case, f"{API_PREFIX}/cases/{uuid.UUID(str(case_id))}")

    def create_case(self, body: Mapping[str, Any], *, idempotency_key: str | None = None) -> Case:
        return self._create(Case, f"{API_PREFIX}/cases", body, idempotency_key)

    def iter_cases(self, *, page_size: int = DEFAULT_PAGE_SIZE, **filters: Any) -> Iterator[Case]:
        return self._iter(Case, f"{API_PREFIX}/cases", page_size, filters)

    def get_service(self, service_id: uuid.UUID | str) -> Service:
        return self._get(Service, f"{API_PREFIX}/services/{uuid.UUID(str(service_id))}")

    def iter_services(
        self, *, page_size: int = DEFAULT_PAGE_SIZE, **filters: Any
    ) -> Iterator[Service]:
        return self._iter(Service, f"{API_PREFIX}/services", page_size, filters)

    def get_referral(self, referral_id: uuid.UUID | str) -> Referral:
        return self._get(Referral, f"{API_PREFIX}/referrals/{uuid.UUID(str(referral_id))}")

    def iter_referrals(
        self, *, page_size: int = DEFAULT_PAGE_SIZE, **filters: Any
    ) -> Iterator[Referral]:
        return self._iter(Referral, f"{API_PREFIX}/referrals", page_size, filters)

    # --- the change feed ------------------------------------------------------------------

    def iter_changes(
        self,
        cursor: str | None = None,
        *,
        types: Sequence[str] | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> ChangeFeed:
        """The change feed from `cursor` (None: from the beginning) to now, lazily.

        Iterate it for the changes (dicts: `type`, `change`, `resource_type`, `resource_id`,
        `version`...); afterwards its `.cursor` is where to resume next time. The cursor moves
        a whole page at a time, so stopping in the middle of a page gives some changes again
        on resuming: apply them idempotently (a record's `version` tells which is newer).
        """
        return ChangeFeed(self, cursor, list(types) if types else None, page_size)

    # --- statistics and reports -----------------------------------------------------------

    def _stats(
        self,
        kind: str,
        group_by: Sequence[str] | str | None,
        network: bool,
        fmt: str,
        filters: dict[str, Any],
    ) -> httpx.Response:
        path = f"{API_PREFIX}/stats/{'network/' if network else ''}{_segment(kind, 'kind')}"
        params = {**filters, "group_by": _group_by(group_by), "format": fmt}
        return self._request("GET", path, params=params, headers={"Accept": MEDIA_TYPES[fmt]})

    def stats(
        self,
        kind: str,
        group_by: Sequence[str] | str | None = None,
        *,
        network: bool = False,
        **filters: Any,
    ) -> dict[str, Any]:
        """Aggregates, e.g. `stats("cases", ["province", "quarter"], from_="2026-01-01")`.

        Returns `{"group_by": [...], "filters": {...}, "rows": [...], "totals": {...}}`.
        Filters are query parameters (`period_of`, `from_`, `to`...); `network=True` asks
        for the network-wide figures (scope stats:network, small counts suppressed).
        """
        result: dict[str, Any] = self._stats(kind, group_by, network, "json", filters).json()
        return result

    def stats_csv(
        self,
        kind: str,
        group_by: Sequence[str] | str | None = None,
        *,
        network: bool = False,
        **filters: Any,
    ) -> str:
        """The same aggregates as CSV text, ready for a spreadsheet."""
        return self._stats(kind, group_by, network, "csv", filters).text

    @overload
    def quarterly_report(
        self, year: int, quarter: int, format: Literal["json"] = "json", **params: Any
    ) -> dict[str, Any]: ...

    @overload
    def quarterly_report(
        self, year: int, quarter: int, format: Literal["csv"], **params: Any
    ) -> str: ...

    def quarterly_report(
        self, year: int, quarter: int, format: Literal["json", "csv"] = "json", **params: Any
    ) -> dict[str, Any] | str:
        """The quarterly donor/ministry report: a dict (JSON) or CSV text (one row per
        figure). Extra keyword arguments are sent as query parameters."""
        if format not in ("json", "csv"):
            raise ValueError("format must be 'json' or 'csv'")
        params = {**params, "year": year, "quarter": quarter, "format": format}
        response = self._request(
            "GET",
            f"{API_PREFIX}/reports/quarterly",
            params=params,
            headers={"Accept": MEDIA_TYPES[format]},
        )
        if format == "csv":
            return response.text
        result: dict[str, Any] = response.json()
        return result

    # --- streamed downloads ---------------------------------------------------------------

    def export(
        self,
        resource: str,
        path: str | os.PathLike[str],
        *,
        format: Literal["csv", "ndjson"] = "csv",
        variant: Literal["identified", "deidentified"] = "identified",
        progress: ProgressCallback | None = None,
        **filters: Any,
    ) -> int:
        """Stream an export (`cases`, `children`, `services`) to a file; return its row count.

        Memory stays bounded whatever the size. The file appears only when complete: the
        server ends every export with a line announcing its row count, which is checked
        (IncompleteDownload when it is missing or wrong: the stream was cut off) and left
        out of the file. A failed export leaves no partial file behind.
        """
        if format not in ("csv", "ndjson"):
            raise ValueError("format must be 'csv' or 'ndjson'")
        if variant not in ("identified", "deidentified"):
            raise ValueError("variant must be 'identified' or 'deidentified'")
        params = {**filters, "format": format, "variant": variant}
        download = self.download(
            f"{API_PREFIX}/exports/{_segment(resource, 'resource')}",
            path,
            params=params,
            count=format,
            progress=progress,
            check_end=True,
        )
        return download.rows

    def download(
        self,
        api_path: str,
        path: str | os.PathLike[str],
        *,
        params: Mapping[str, Any] | None = None,
        count: Literal["csv", "ndjson"] | None = None,
        progress: ProgressCallback | None = None,
        check_end: bool = False,
    ) -> Download:
        """Stream any GET to a file, counting CSV or NDJSON rows on the way if asked.

        With ``check_end`` (exports), the stream's last line must be the export's end line
        with the row count received; it is not written to the file.

        The file is written under a temporary name beside the target and renamed when
        complete; it is opened before the request, so an unwritable target costs no export.
        """
        target = Path(path)
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
        try:
            out = partial.open("wb")
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, str(target)) from exc
        counter = _RowCounter(count)
        end = _EndLine(count) if check_end and count else None
        written = received = 0
        accept = MEDIA_TYPES.get(count or "", "*/*")
        try:
            with out:
                response = self._request(
                    "GET", api_path, params=params, headers={"Accept": accept}, stream=True
                )
                try:
                    for data in response.iter_bytes():
                        received += len(data)
                        chunk = end.feed(data) if end else data
                        out.write(chunk)
                        written += len(chunk)
                        counter.feed(chunk)
                        if progress is not None:
                            progress(counter.complete_rows, written)
                finally:
                    response.close()
            if end is not None:
                _check_end(api_path, end, counter.rows)
            os.replace(partial, target)
        except httpx.HTTPError as exc:
            reason = str(exc) or type(exc).__name__
            raise NetworkError(
                f"the download of {api_path} broke off after {received} bytes: {reason}"
            ) from exc
        finally:
            partial.unlink(missing_ok=True)
        if progress is not None:
            progress(counter.rows, written)
        return Download(path=target, bytes=written, rows=counter.rows)


def _check_end(api_path: str, end: _EndLine, rows: int) -> None:
    expected = end.expected_rows()
    if expected is None:
        raise IncompleteDownload(
            f"the export {api_path} was cut off after {rows} rows: it lacks its end line"
        )
    if expected != rows:
        raise IncompleteDownload(
            f"the export {api_path} announced {expected} rows but {rows} arrived"
        )


def _network_error(request: httpx.Request, exc: httpx.HTTPError, attempts: int) -> NetworkError:
    reason = str(exc) or type(exc).__name__
    where = f"{request.method} {request.url.copy_with(query=None)}"
    tries = f" (after {attempts} attempts)" if attempts > 1 else ""
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return NetworkError(f"cannot reach the server: {where}: {reason}{tries}")
    return NetworkError(f"{where} failed: {reason}{tries}")


def _dumps(body: Any) -> bytes:
    return json.dumps(body, default=_json_default, ensure_ascii=False).encode()


class ChangeFeed:
    """The change feed as an iterable, remembering where to resume (`cursor`)."""

    def __init__(
        self, client: Client, cursor: str | None, types: list[str] | None, page_size: int
    ) -> None:
        self.client = client
        self.cursor = cursor
        self.types = types
        self.page_size = page_size

    def __iter__(self) -> Iterator[dict[str, Any]]:
        while True:
            params: dict[str, Any] = {"limit": self.page_size}
            if self.cursor:
                params["cursor"] = self.cursor
            if self.types:
                params["types"] = self.types
            page = self.client._request("GET", f"{API_PREFIX}/changes", params=params).json()
            yield from page["items"]
            self.cursor = page["next_cursor"]
            if not page["has_more"]:
                return
