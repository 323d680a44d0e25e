"""Rate limits per credential: each user and each API key has a budget of requests per
window (setting `rate_limit`, e.g. 600/minute), and exports and imports a separate, smaller
one (`rate_limit_bulk`: `/exports/*` and `POST /imports`), so one script's downloads cannot
starve its own ordinary calls.

Counted in fixed windows aligned on the clock (a window of a minute starts on the minute):
in process memory by default (one worker, or SQLite: `WindowCounts`), or in a `limits`
Redis storage (`rate_limit_storage_url`) so that every worker shares one count. The check
runs inside the credential check, after the caller is known: no database round trip; one
increment of a counter that expires with its window (in memory, or one Redis round trip),
from which the remaining budget and the window's end follow.

Every authenticated answer carries `RateLimit-Limit`, `RateLimit-Remaining` and
`RateLimit-Reset` (seconds to the window's end); a refused one is a 429 with `Retry-After`.
If Redis cannot be reached the request is let through (logged): an outage of the counter
must not become an outage of the API.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from fastapi import Request
from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.storage import storage_from_string

from ovc_api import API_V1
from ovc_api.auth.principal import Principal
from ovc_api.errors import TooManyRequests
from ovc_api.settings import Settings

logger = logging.getLogger("ovc_api.ratelimit")
EXPORTS = f"{API_V1}/exports"
IMPORTS = f"{API_V1}/imports"
STATE_KEY = "rate_limit"
HEADER_NAMES = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")


@dataclass(frozen=True)
class Budget:
    limit: int
    remaining: int
    reset_seconds: int

    def headers(self) -> dict[str, str]:
        values = (self.limit, self.remaining, self.reset_seconds)
        return {name: str(value) for name, value in zip(HEADER_NAMES, values, strict=True)}


def storage_url(configured: str) -> str:
    """`redis://host:6379` (as operators write it) names the asynchronous Redis storage."""
    url = configured or "memory://"
    return url if url.startswith("async+") else f"async+{url}"


def parse_budget(value: str) -> RateLimitItem | None:
    """`600/minute`, `30 per minute`, `5/2 seconds`; `off` for no limit."""
    if value.strip().lower() == "off":
        return None
    return parse(value)


class WindowCounts:
    """Counts per window key in process memory, each dropped once its window is over.

    `limits`' own memory storage started a task to expire its keys on nearly every
    increment (one task per request, walking every key); here an increment is a dict
    update, and expired keys are swept when the earliest of them is due."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._expires: dict[str, float] = {}
        self._next_sweep = math.inf

    async def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        now = time.time()
        if now >= self._next_sweep:
            self._sweep(now)
        count = self._counts.get(key, 0) + amount
        self._counts[key] = count
        if key not in self._expires:
            self._expires[key] = now + expiry
            self._next_sweep = min(self._next_sweep, now + expiry)
        return count

    def __len__(self) -> int:
        return len(self._counts)

    def _sweep(self, now: float) -> None:
        for key in [key for key, at in self._expires.items() if at <= now]:
            del self._counts[key], self._expires[key]
        self._next_sweep = min(self._expires.values(), default=math.inf)


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        self.storage: Storage | WindowCounts
        url = settings.rate_limit_storage_url
        if not url or url.startswith("memory://"):
            self.storage = WindowCounts()
        else:
            storage = storage_from_string(storage_url(url))
            assert isinstance(storage, Storage)
            self.storage = storage
        self.ordinary = parse_budget(settings.rate_limit)
        self.bulk = parse_budget(settings.rate_limit_bulk)

    async def check(self, request: Request, principal: Principal) -> None:
        """Count this request against its caller's budget; 429 once the budget is spent.

        Counted once per request: when RequestContextMiddleware runs a request again after
        a database conflict, its state (and this count) is the first attempt's."""
        if isinstance(getattr(request.state, STATE_KEY, None), Budget):
            return
        path = request.scope["path"]
        # Uploads and downloads; polling an import's progress is an ordinary call.
        bulk = path.startswith(EXPORTS) or (path == IMPORTS and request.method == "POST")
        item = self.bulk if bulk else self.ordinary
        if item is None:
            return
        caller = f"user:{principal.user_id}" if principal.user_id else f"key:{principal.api_key_id}"
        kind = "bulk" if bulk else "api"
        period = item.get_expiry()
        now = time.time()
        window = int(now // period)
        key = f"ovc-rate:{kind}:{item.amount}/{period}:{caller}:{window}"
        try:
            count = await self.storage.incr(key, period)
        except Exception:  # the counter's store is down: let the request through
            logger.warning("rate limit storage unavailable", exc_info=True)
            return
        reset = max(1, math.ceil((window + 1) * period - now))
        budget = Budget(item.amount, max(0, item.amount - count), reset)
        request.state.rate_limit = budget
        if count > item.amount:
            raise TooManyRequests(
                f"Rate limit of {item.amount} requests per {item.get_expiry()} seconds reached "
                f"({'exports and imports' if bulk else 'API calls'}): retry after {reset} s",
                retry_after=reset,
            )


def rate_limit_headers(state: dict[str, object]) -> list[tuple[bytes, bytes]]:
    """The RateLimit-* headers of a request that was counted (for the ASGI layer)."""
    budget = state.get(STATE_KEY)
    if not isinstance(budget, Budget):
        return []
    return [(k.lower().encode(), v.encode()) for k, v in budget.headers().items()]
