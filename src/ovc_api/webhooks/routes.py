"""/api/v1/webhooks: an organisation's subscriptions, their secrets, pings and delivery log.

HTTP only: one service call per handler. Creating a subscription and rotating its secret take
no Idempotency-Key on purpose: the answer holds a secret, which is never stored to replay.
"""

from __future__ import annotations

import uuid
from functools import partial
from operator import itemgetter
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from sqlmodel import col

from ovc_api import API_V1
from ovc_api import record_routes as kit
from ovc_api.auth.principal import Principal, WebhooksAdmin
from ovc_api.db import Session
from ovc_api.errors import error_responses
from ovc_api.pagination import parse_datetime, sort_options
from ovc_api.settings import Settings
from ovc_api.webhooks import service
from ovc_api.webhooks.models import WebhookDelivery, WebhookSubscription
from ovc_api.webhooks.schemas import (
    DeliveryDetail,
    DeliveryRead,
    SecretRotation,
    WebhookCreate,
    WebhookRead,
    WebhookUpdate,
    WebhookWithSecret,
)

router = APIRouter(prefix=f"{API_V1}/webhooks", tags=["webhooks"])
NEWEST_FIRST = sort_options(
    col(WebhookSubscription.id), created_at=(col(WebhookSubscription.created_at), parse_datetime)
)["-created_at"]
DELIVERIES_NEWEST_FIRST = sort_options(
    col(WebhookDelivery.id), created_at=(col(WebhookDelivery.created_at), parse_datetime)
)["-created_at"]


async def _subscription(
    webhook_id: uuid.UUID, session: Session, principal: WebhooksAdmin
) -> WebhookSubscription:
    return await service.subscription_in_scope(session, principal, webhook_id)


Subscription = Annotated[WebhookSubscription, Depends(_subscription)]


def _settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


AppSettings = Annotated[Settings, Depends(_settings)]
SUBSCRIPTION: list[kit.Lead] = [("subscription", Subscription)]
CONFIGURED: list[kit.Lead] = [("settings", AppSettings)]
WITH_SETTINGS: list[kit.Lead] = [*SUBSCRIPTION, *CONFIGURED]


async def _subscribe(
    session: Session, principal: Principal, settings: Settings, body: WebhookCreate
) -> tuple[WebhookSubscription, str]:
    return await service.subscribe(session, principal, body, settings)


async def _change(
    session: Session,
    principal: Principal,
    subscription: WebhookSubscription,
    settings: Settings,
    body: WebhookUpdate,
    *,
    if_match: str | None,
) -> WebhookSubscription:
    return await service.change(session, principal, subscription, body, settings, if_match=if_match)


async def _rotate(
    session: Session,
    principal: Principal,
    subscription: WebhookSubscription,
    settings: Settings,
    body: SecretRotation,
) -> tuple[WebhookSubscription, str]:
    secret = await service.rotate_secret(session, principal, subscription, body, settings)
    return subscription, secret


def _with_secret(_session: Session, _principal: Principal, made: tuple[Any, str]) -> Any:
    """The subscription with its signing secret: shown once, never stored to replay."""
    subscription, secret = made
    return WebhookWithSecret.model_validate(
        {**WebhookRead.model_validate(subscription).model_dump(), "secret": secret}
    )


kit.add_create(
    router,
    "",
    "create_webhook",
    "Subscribe an HTTPS endpoint to events (the signing secret is shown once)",
    WebhookWithSecret,
    error_responses(401, 403, 409, 422),
    WebhooksAdmin,
    CONFIGURED,
    WebhookCreate,
    _subscribe,
    _with_secret,
    lambda subscription: f"{API_V1}/webhooks/{subscription.id}",
    service.RESOURCE,
    row_of=itemgetter(0),
    idempotent=False,
)
kit.add_page(
    router,
    "",
    "list_webhooks",
    "List your organisation's webhook subscriptions (never their secrets)",
    WebhookRead,
    error_responses(401, 403, 422),
    WebhooksAdmin,
    (),
    None,
    service.subscriptions,
    NEWEST_FIRST,
)


kit.add_read(
    router,
    "/{webhook_id}",
    "get_webhook",
    "Read a webhook subscription (why it was disabled, if it was)",
    WebhookRead,
    error_responses(401, 403, 404, 422),
    None,
    SUBSCRIPTION,
    kit.validated(WebhookRead),
)
kit.add_correct(
    router,
    "/{webhook_id}",
    "update_webhook",
    "Change a subscription's URL or event types, pause it or re-enable it (If-Match)",
    WebhookRead,
    error_responses(401, 403, 404, 412, 422, 428),
    WebhooksAdmin,
    WITH_SETTINGS,
    WebhookUpdate,
    _change,
    kit.validated(WebhookRead),
)


kit.add_action(
    router,
    "/{webhook_id}/rotate-secret",
    "rotate_webhook_secret",
    "Replace the signing secret; the previous one keeps signing during the overlap",
    WebhookWithSecret,
    error_responses(401, 403, 404, 422),
    WebhooksAdmin,
    WITH_SETTINGS,
    SecretRotation,
    _rotate,
    _with_secret,
    row_of=itemgetter(0),
)
# Messages queued for delivery: 202, the delivery as queued.
queued = partial(kit.add_call, router, "POST", status_code=202)
queued(
    "/{webhook_id}/ping",
    "ping_webhook",
    "Queue a signed `ping` message to test the endpoint",
    DeliveryRead,
    error_responses(401, 403, 404, 409, 422),
    WebhooksAdmin,
    SUBSCRIPTION,
    service.ping_read,
)


kit.add_page(
    router,
    "/{webhook_id}/deliveries",
    "list_webhook_deliveries",
    "The subscription's delivery log, newest first",
    DeliveryRead,
    error_responses(401, 403, 404, 422),
    WebhooksAdmin,
    SUBSCRIPTION,
    None,
    service.deliveries,
    DELIVERIES_NEWEST_FIRST,
)
DELIVERY: list[kit.Lead] = [*SUBSCRIPTION, ("delivery_id", uuid.UUID)]
kit.add_call(
    router,
    "GET",
    "/{webhook_id}/deliveries/{delivery_id}",
    "get_webhook_delivery",
    "One delivery with its payload and every attempt (status, latency, response code)",
    DeliveryDetail,
    error_responses(401, 403, 404, 422),
    WebhooksAdmin,
    DELIVERY,
    service.delivery_detail,
)
queued(
    "/{webhook_id}/deliveries/{delivery_id}/redeliver",
    "redeliver_webhook_delivery",
    "Send a delivered or failed message again (same webhook-id)",
    DeliveryRead,
    error_responses(401, 403, 404, 409, 422),
    WebhooksAdmin,
    DELIVERY,
    service.redeliver_one,
)
