"""The delivery worker (`ovc-api worker`): outbox rows -> deliveries -> signed HTTP POSTs.

Each round, for every organisation with work (on PostgreSQL found by the narrow
`ovc_webhook_work()` function, which answers organisation ids only; each organisation's rows
are then read in a transaction bound to it, under row-level security):

1. fan out: committed outbox rows of subscribable types become one delivery per active
   subscription that wants the type (`SELECT ... FOR UPDATE SKIP LOCKED`);
2. claim due deliveries (`FOR UPDATE SKIP LOCKED`, then a lease in `locked_until`), so
   several workers share the queue and never send one attempt twice;
3. send each outside any transaction (timeout, no redirect to another host, no private
   address unless allowed), then record the attempt: success, or the next try after
   `RETRY_DELAYS`; a delivery that fails every attempt (over ~32 hours) is given up and its
   subscription disabled, with the reason for the organisation's administrator.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urljoin

import httpx
from sqlalchemy import or_, text, union
from sqlmodel import col, select

from ovc_api import __version__
from ovc_api.db import Database, set_tenant_context, unit_of_work, utcnow
from ovc_api.outbox import Event
from ovc_api.settings import Settings
from ovc_api.webhooks.destinations import UnsafeDestination, check_destination, same_origin
from ovc_api.webhooks.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from ovc_api.webhooks.service import PING, RETRY_DELAYS, queue_event
from ovc_api.webhooks.signing import decrypt_secret, signed_headers

logger = logging.getLogger("ovc_api.webhooks")
BATCH = 20
FAN_OUT_BATCH = 200
MAX_SAME_HOST_REDIRECTS = 3


@dataclass
class Job:
    delivery_id: uuid.UUID
    organisation_id: uuid.UUID
    url: str
    message_id: str
    body: bytes
    secrets: list[str]


@dataclass
class Result:
    succeeded: bool
    response_code: int | None = None
    latency_ms: int = 0
    error: str | None = None


@dataclass
class Round:
    """What one round did (for logs and tests)."""

    queued: int = 0
    succeeded: int = 0
    failed_attempts: int = 0
    disabled: list[uuid.UUID] = field(default_factory=list)

    @property
    def busy(self) -> bool:
        return bool(self.queued or self.succeeded or self.failed_attempts)


async def organisations_with_work(database: Database, now: datetime) -> list[uuid.UUID]:
    async with unit_of_work(database) as session:
        if database.is_postgres:
            rows = await session.exec(  # type: ignore[call-overload]
                text("SELECT ovc_webhook_work(:now)"), params={"now": now}
            )
            return [row[0] for row in rows]
        pending = select(col(Event.organisation_id)).where(
            col(Event.webhook_pending), col(Event.position).is_not(None)
        )
        due = select(col(WebhookDelivery.organisation_id)).where(
            col(WebhookDelivery.status) == DeliveryStatus.pending.value,
            col(WebhookDelivery.next_attempt_at) <= now,
        )
        rows = await session.exec(union(pending, due))  # type: ignore[call-overload]
        return [row[0] for row in rows]


async def fan_out(database: Database, organisation_id: uuid.UUID, now: datetime) -> int:
    """Committed outbox rows of the organisation -> deliveries; returns how many queued."""
    async with unit_of_work(database) as session:
        await set_tenant_context(session, organisation_id)
        events = (
            await session.exec(
                select(Event)
                .where(
                    col(Event.organisation_id) == organisation_id,
                    col(Event.webhook_pending),
                    col(Event.position).is_not(None),
                )
                .order_by(col(Event.position))
                .limit(FAN_OUT_BATCH)
                .with_for_update(skip_locked=True)
            )
        ).all()
        if not events:
            return 0
        subscriptions = (
            await session.exec(
                select(WebhookSubscription).where(
                    col(WebhookSubscription.organisation_id) == organisation_id,
                    col(WebhookSubscription.active),
                )
            )
        ).all()
        queued = 0
        for event in events:
            for subscription in subscriptions:
                if event.type in subscription.event_types:
                    queue_event(session, subscription, event, now)
                    queued += 1
            event.webhook_pending = False
            session.add(event)
        return queued


def _secrets(subscription: WebhookSubscription, settings: Settings, now: datetime) -> list[str]:
    found = [decrypt_secret(subscription.secret_encrypted, settings.secret_key)]
    expires = subscription.previous_secret_expires_at
    if subscription.previous_secret_encrypted and expires is not None and expires > now:
        found.append(decrypt_secret(subscription.previous_secret_encrypted, settings.secret_key))
    return found


async def claim(
    database: Database, settings: Settings, organisation_id: uuid.UUID, now: datetime
) -> list[Job]:
    """Due deliveries of active subscriptions, leased to this worker."""
    lease = timedelta(seconds=settings.webhook_timeout_seconds * (MAX_SAME_HOST_REDIRECTS + 1) + 30)
    async with unit_of_work(database) as session:
        await set_tenant_context(session, organisation_id)
        rows = (
            await session.exec(
                select(WebhookDelivery, WebhookSubscription)
                .join(
                    WebhookSubscription,
                    col(WebhookSubscription.id) == col(WebhookDelivery.subscription_id),
                )
                .where(
                    col(WebhookDelivery.organisation_id) == organisation_id,
                    col(WebhookDelivery.status) == DeliveryStatus.pending.value,
                    col(WebhookDelivery.next_attempt_at) <= now,
                    or_(
                        col(WebhookDelivery.locked_until).is_(None),
                        col(WebhookDelivery.locked_until) <= now,
                    ),
                    col(WebhookSubscription.active),
                )
                .order_by(col(WebhookDelivery.next_attempt_at))
                .limit(BATCH)
                .with_for_update(skip_locked=True, of=WebhookDelivery)
            )
        ).all()
        jobs = []
        for delivery, subscription in rows:
            delivery.locked_until = now + lease
            session.add(delivery)
            jobs.append(
                Job(
                    delivery_id=delivery.id,
                    organisation_id=organisation_id,
                    url=subscription.url,
                    message_id=delivery.message_id,
                    body=json.dumps(delivery.payload, separators=(",", ":")).encode(),
                    secrets=_secrets(subscription, settings, now),
                )
            )
        return jobs


async def send(job: Job, settings: Settings, http: httpx.AsyncClient) -> Result:
    """One signed POST; a redirect is followed only to the same scheme, host and port."""
    headers = {
        **signed_headers(job.secrets, job.message_id, int(time.time()), job.body),
        "content-type": "application/json",
        "user-agent": f"ovc-api-webhooks/{__version__}",
    }
    started = time.perf_counter()

    def result(**values: Any) -> Result:
        return Result(latency_ms=round((time.perf_counter() - started) * 1000), **values)

    url = job.url
    try:
        async with asyncio.timeout(settings.webhook_timeout_seconds):
            for _hop in range(MAX_SAME_HOST_REDIRECTS + 1):
                await check_destination(url, allow_private=settings.webhook_allow_private)
                response = await http.post(url, content=job.body, headers=headers)
                if not response.is_redirect:
                    break
                target = urljoin(url, response.headers.get("location", ""))
                if not same_origin(url, target):
                    return result(
                        succeeded=False,
                        response_code=response.status_code,
                        error="redirected to another host: not followed",
                    )
                url = target
            else:
                return result(succeeded=False, error="too many redirects")
    except UnsafeDestination as exc:
        return result(succeeded=False, error=f"refused: {exc}")
    except TimeoutError:
        return result(
            succeeded=False, error=f"no answer within {settings.webhook_timeout_seconds:g} s"
        )
    except httpx.HTTPError as exc:
        return result(succeeded=False, error=f"connection failed ({type(exc).__name__})")
    ok = 200 <= response.status_code < 300
    return result(
        succeeded=ok,
        response_code=response.status_code,
        error=None if ok else f"HTTP {response.status_code}",
    )


async def record_attempt(
    database: Database, job: Job, result: Result, now: datetime, summary: Round
) -> None:
    """The attempt in the log; the delivery done, retried later, or given up (and then its
    subscription disabled)."""
    async with unit_of_work(database) as session:
        await set_tenant_context(session, job.organisation_id)
        delivery = await session.get(WebhookDelivery, job.delivery_id)
        if delivery is None:  # pragma: no cover - the row never goes away
            return
        delivery.attempts += 1
        delivery.last_attempt_at = now
        delivery.response_code = result.response_code
        delivery.latency_ms = result.latency_ms
        delivery.last_error = result.error
        delivery.locked_until = None
        attempt = WebhookAttempt(
            **asdict(result),
            attempt=delivery.attempts,
            at=now,
            organisation_id=job.organisation_id,
            delivery_id=delivery.id,
        )
        session.add(attempt)
        if result.succeeded:
            delivery.status = DeliveryStatus.succeeded.value
            delivery.next_attempt_at = None
            summary.succeeded += 1
        elif delivery.event_type == PING or delivery.attempts > len(RETRY_DELAYS):
            delivery.status = DeliveryStatus.failed.value
            delivery.next_attempt_at = None
            summary.failed_attempts += 1
            if delivery.event_type != PING:
                await _disable(session, delivery, now, summary)
        else:
            delivery.next_attempt_at = now + timedelta(seconds=RETRY_DELAYS[delivery.attempts - 1])
            summary.failed_attempts += 1
        session.add(delivery)


async def _disable(session: Any, delivery: WebhookDelivery, now: datetime, summary: Round) -> None:
    subscription = await session.get(WebhookSubscription, delivery.subscription_id)
    if subscription is None or not subscription.active:
        return
    hours = (now - delivery.created_at).total_seconds() / 3600
    subscription.active = False
    subscription.disabled_at = now
    subscription.disabled_reason = (
        f"Disabled after {delivery.attempts} failed attempts over {hours:.0f} h to deliver "
        f"{delivery.message_id} ({delivery.event_type}); last error: {delivery.last_error}"
    )[:300]
    subscription.version += 1
    subscription.updated_at = now
    session.add(subscription)
    summary.disabled.append(subscription.id)
    logger.warning("webhook subscription disabled", extra={"subscription_id": str(subscription.id)})


async def run_once(
    database: Database,
    settings: Settings,
    *,
    now: datetime | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    organisation_ids: set[uuid.UUID] | None = None,
) -> Round:
    """One round over every organisation with work (or only `organisation_ids`); `now`
    decides what is due (tests move it forward instead of waiting)."""
    now = now or utcnow()
    summary = Round()
    async with httpx.AsyncClient(
        follow_redirects=False,
        trust_env=False,
        timeout=settings.webhook_timeout_seconds,
        transport=transport,
    ) as http:
        for organisation_id in await organisations_with_work(database, now):
            if organisation_ids is not None and organisation_id not in organisation_ids:
                continue
            while (queued := await fan_out(database, organisation_id, now)) > 0:
                summary.queued += queued
            while jobs := await claim(database, settings, organisation_id, now):
                results = await asyncio.gather(*(send(job, settings, http) for job in jobs))
                for job, result in zip(jobs, results, strict=True):
                    await record_attempt(database, job, result, now, summary)
    return summary


async def compact_summaries(database: Database) -> bool:
    """Merge `service_summary`'s rows of changes into one row per cell (PostgreSQL; False
    elsewhere). Its trigger appends a row per write so that no writer waits for another;
    unmerged, the network's statistics would read ever more rows. The sums are unchanged,
    and writers committing meanwhile keep their rows for the next merge."""
    if not database.is_postgres:
        return False
    async with database.session() as session, session.begin():
        connection = await session.connection()
        await connection.execute(text("SELECT ovc_service_summary_compact()"))
    return True


async def _housekeeping(database: Database) -> None:
    try:
        await compact_summaries(database)
    except Exception as exc:  # a database restart must not end the worker
        logger.error("summary compaction failed", extra={"exception_class": type(exc).__name__})


async def run_forever(database: Database, settings: Settings, stop: asyncio.Event) -> None:
    """Rounds until `stop` is set, pausing OVC_WEBHOOK_POLL_SECONDS when there was nothing;
    the statistics' summary merged every OVC_SUMMARY_COMPACT_SECONDS."""
    compacted_at: float | None = None
    while not stop.is_set():
        if compacted_at is None or time.monotonic() - compacted_at >= (
            settings.summary_compact_seconds
        ):
            await _housekeeping(database)
            compacted_at = time.monotonic()
        try:
            summary = await run_once(database, settings)
        except Exception as exc:  # a database restart must not end the worker
            logger.error("webhook round failed", extra={"exception_class": type(exc).__name__})
            summary = Round()
        if summary.busy:
            logger.info(
                "webhook round",
                extra={"succeeded": summary.succeeded, "failed": summary.failed_attempts},
            )
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=settings.webhook_poll_seconds)
