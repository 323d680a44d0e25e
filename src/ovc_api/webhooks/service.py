"""The rules of webhook subscriptions: who subscribes to what, secrets shown once and rotated
with an overlap, pings and redeliveries queued for the worker, the delivery log.

Operations take `(session, principal, ...)`, audit what they change, never commit and know
nothing of HTTP.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api import service_kit
from ovc_api.audit.service import record
from ovc_api.auth.principal import Principal
from ovc_api.concurrency import apply_changes
from ovc_api.db import utcnow
from ovc_api.errors import Conflict, NotFound, Unprocessable
from ovc_api.outbox import Event
from ovc_api.settings import Settings
from ovc_api.tenancy import scoped
from ovc_api.webhooks.destinations import UnsafeDestination, check_url
from ovc_api.webhooks.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from ovc_api.webhooks.schemas import (
    AttemptRead,
    DeliveryDetail,
    DeliveryRead,
    SecretRotation,
    WebhookCreate,
    WebhookUpdate,
)
from ovc_api.webhooks.signing import encrypt_secret, new_secret

RESOURCE = "webhook"
PING = "ping"
# Seconds to wait before each retry: exponential, then every 8 h; 11 attempts over ~32 h.
RETRY_DELAYS = (30, 120, 600, 1800, 3600, 7200, 14400, 28800, 28800, 28800)
MAX_SUBSCRIPTIONS = 20


def _check_url(url: str, settings: Settings) -> str:
    try:
        check_url(url, allow_private=settings.webhook_allow_private)
    except UnsafeDestination as exc:
        raise Unprocessable.field(["body", "url"], str(exc)) from exc
    return url


subscription_in_scope = service_kit.Records(WebhookSubscription, RESOURCE).in_scope


def subscriptions(principal: Principal) -> Any:
    return scoped(select(WebhookSubscription), principal, WebhookSubscription)


async def subscribe(
    session: AsyncSession, principal: Principal, data: WebhookCreate, settings: Settings
) -> tuple[WebhookSubscription, str]:
    """A new subscription and its secret (returned once, stored encrypted)."""
    url = _check_url(data.url, settings)
    existing = (
        await session.exec(
            scoped(select(col(WebhookSubscription.id)), principal, WebhookSubscription)
        )
    ).all()
    if len(existing) >= MAX_SUBSCRIPTIONS:
        raise Conflict(f"An organisation has at most {MAX_SUBSCRIPTIONS} webhook subscriptions")
    secret = new_secret()
    subscription = WebhookSubscription(
        organisation_id=principal.organisation_id,
        url=url,
        description=data.description,
        event_types=sorted({t.value for t in data.event_types}),
        secret_encrypted=encrypt_secret(secret, settings.secret_key),
        created_by=principal.user_id,
    )
    session.add(subscription)
    await session.flush()
    record(
        session,
        principal,
        f"{RESOURCE}.create",
        resource_type=RESOURCE,
        resource_id=subscription.id,
    )
    return subscription, secret


async def change(
    session: AsyncSession,
    principal: Principal,
    subscription: WebhookSubscription,
    data: WebhookUpdate,
    settings: Settings,
    *,
    if_match: str | None,
) -> WebhookSubscription:
    """Change the URL, the event types or the description; pause or re-enable."""
    changes: dict[str, Any] = {}
    for name in ("url", "event_types", "active"):
        if name in data.model_fields_set and getattr(data, name) is None:
            raise Unprocessable.field(["body", name], "cannot be null")
    if data.url is not None:
        changes["url"] = _check_url(data.url, settings)
    if data.event_types is not None:
        changes["event_types"] = sorted({t.value for t in data.event_types})
    if "description" in data.model_fields_set:
        changes["description"] = data.description
    if data.active is not None:
        changes["active"] = data.active
        if data.active:
            changes.update(disabled_reason=None, disabled_at=None)
    changed = await apply_changes(session, subscription, changes, if_match, principal)
    if changed:
        record(
            session,
            principal,
            f"{RESOURCE}.update",
            resource_type=RESOURCE,
            resource_id=subscription.id,
            changed_fields=changed,
        )
    return subscription


async def rotate_secret(
    session: AsyncSession,
    principal: Principal,
    subscription: WebhookSubscription,
    data: SecretRotation,
    settings: Settings,
) -> str:
    """A new secret; the current one keeps signing (beside it) for the overlap."""
    secret = new_secret()
    now = utcnow()
    overlap = data.overlap_hours > 0
    changes = {
        "secret_encrypted": encrypt_secret(secret, settings.secret_key),
        "previous_secret_encrypted": subscription.secret_encrypted if overlap else None,
        "previous_secret_expires_at": now + timedelta(hours=data.overlap_hours)
        if overlap
        else None,
        "secret_rotated_at": now,
    }
    await apply_changes(session, subscription, changes, "*", principal)
    record(
        session,
        principal,
        f"{RESOURCE}.rotate_secret",
        resource_type=RESOURCE,
        resource_id=subscription.id,
    )
    return secret


def event_payload(event: Event) -> dict[str, Any]:
    """The body of an event's message: ids, type, organisation, version and time only."""
    return {
        "type": event.type,
        "timestamp": event.occurred_at.isoformat().replace("+00:00", "Z"),
        "data": {
            "event_id": str(event.id),
            "resource_type": event.resource_type,
            "id": str(event.resource_id),
            "organisation_id": str(event.owner_organisation_id),
            "case_id": str(event.case_id) if event.case_id else None,
            "version": event.version,
            "change": event.change,
        },
    }


def _queue(
    session: AsyncSession,
    subscription: WebhookSubscription,
    *,
    due: datetime | None = None,
    **message: Any,
) -> WebhookDelivery:
    """A delivery of `message` (its message_id, event_type, payload and, for an event, its
    event_id) to the subscription, due at `due` (default: now)."""
    delivery = WebhookDelivery(
        **message,
        organisation_id=subscription.organisation_id,
        subscription_id=subscription.id,
        next_attempt_at=due or utcnow(),
    )
    session.add(delivery)
    return delivery


def queue_event(
    session: AsyncSession, subscription: WebhookSubscription, event: Event, due: datetime
) -> WebhookDelivery:
    """An event's delivery to one subscription, due at `due` (the worker's now)."""
    return _queue(
        session,
        subscription,
        message_id=f"msg_{event.id.hex}",
        event_type=event.type,
        payload=event_payload(event),
        event_id=event.id,
        due=due,
    )


async def ping(
    session: AsyncSession, principal: Principal, subscription: WebhookSubscription
) -> WebhookDelivery:
    """Queue a `ping` message, to test the endpoint and its signature check."""
    if not subscription.active:
        raise Conflict("The subscription is not active: re-enable it first")
    now = utcnow()
    delivery = _queue(
        session,
        subscription,
        message_id=f"msg_{uuid.uuid4().hex}",
        event_type=PING,
        payload={
            "type": PING,
            "timestamp": now.isoformat().replace("+00:00", "Z"),
            "data": {
                "subscription_id": str(subscription.id),
                "organisation_id": str(subscription.organisation_id),
            },
        },
    )
    await session.flush()
    record(
        session, principal, f"{RESOURCE}.ping", resource_type=RESOURCE, resource_id=subscription.id
    )
    return delivery


def deliveries(principal: Principal, subscription: WebhookSubscription) -> Any:
    return scoped(select(WebhookDelivery), principal, WebhookDelivery).where(
        col(WebhookDelivery.subscription_id) == subscription.id
    )


async def delivery_in_scope(
    session: AsyncSession,
    principal: Principal,
    subscription: WebhookSubscription,
    delivery_id: uuid.UUID,
) -> WebhookDelivery:
    statement = deliveries(principal, subscription).where(col(WebhookDelivery.id) == delivery_id)
    found: WebhookDelivery | None = (await session.exec(statement)).first()
    if found is None:
        raise NotFound()
    return found


ATTEMPTS = service_kit.Records(
    WebhookAttempt, "webhook_attempt", parent="delivery_id", order=("attempt",)
)


async def attempts_of(
    session: AsyncSession, principal: Principal, delivery: WebhookDelivery
) -> list[WebhookAttempt]:
    return await ATTEMPTS.of(session, delivery, principal)


async def redeliver(
    session: AsyncSession,
    principal: Principal,
    subscription: WebhookSubscription,
    delivery: WebhookDelivery,
) -> WebhookDelivery:
    """Send a message again (same `webhook-id`, so a receiver that had it can tell)."""
    if delivery.status == DeliveryStatus.pending.value:
        raise Conflict("This delivery is still pending: it will be attempted again anyway")
    if not subscription.active:
        raise Conflict("The subscription is not active: re-enable it first")
    again = _queue(
        session,
        subscription,
        message_id=delivery.message_id,
        event_type=delivery.event_type,
        payload=delivery.payload,
        event_id=delivery.event_id,
    )
    await session.flush()
    record(
        session,
        principal,
        f"{RESOURCE}.redeliver",
        resource_type=RESOURCE,
        resource_id=subscription.id,
        detail=f"delivery {delivery.id}",
    )
    return again


async def delivery_detail(
    session: AsyncSession,
    principal: Principal,
    subscription: WebhookSubscription,
    delivery_id: uuid.UUID,
) -> DeliveryDetail:
    """One delivery with its payload and every attempt (status, latency, response code)."""
    delivery = await delivery_in_scope(session, principal, subscription, delivery_id)
    attempts = await attempts_of(session, principal, delivery)
    return DeliveryDetail.model_validate(
        {
            **DeliveryRead.model_validate(delivery).model_dump(),
            "payload": delivery.payload,
            "attempt_log": [AttemptRead.model_validate(a) for a in attempts],
        }
    )


async def redeliver_one(
    session: AsyncSession,
    principal: Principal,
    subscription: WebhookSubscription,
    delivery_id: uuid.UUID,
) -> DeliveryRead:
    """`redeliver` the subscription's delivery `delivery_id` (404 if it is not one)."""
    delivery = await delivery_in_scope(session, principal, subscription, delivery_id)
    return DeliveryRead.model_validate(await redeliver(session, principal, subscription, delivery))


async def ping_read(
    session: AsyncSession, principal: Principal, subscription: WebhookSubscription
) -> DeliveryRead:
    return DeliveryRead.model_validate(await ping(session, principal, subscription))
