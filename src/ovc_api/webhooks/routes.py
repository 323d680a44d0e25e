"""/api/v1/webhooks: an organisation's subscriptions, their secrets, pings and delivery log.

HTTP only: one service call per handler. Creating a subscription and rotating its secret take
no Idempotency-Key on purpose: the answer holds a secret, which is never stored to replay.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from sqlmodel import col

from ovc_api import API_V1
from ovc_api import http_epilogue as http
from ovc_api.auth.principal import WebhooksAdmin
from ovc_api.concurrency import IfMatch
from ovc_api.db import Session
from ovc_api.errors import error_responses
from ovc_api.pagination import Page, Pagination, parse_datetime, sort_options
from ovc_api.webhooks import service
from ovc_api.webhooks.models import WebhookDelivery, WebhookSubscription
from ovc_api.webhooks.schemas import (
    AttemptRead,
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


def _with_secret(subscription: WebhookSubscription, secret: str) -> WebhookWithSecret:
    return WebhookWithSecret.model_validate(
        {**WebhookRead.model_validate(subscription).model_dump(), "secret": secret}
    )


@router.post(
    "",
    summary="Subscribe an HTTPS endpoint to events (the signing secret is shown once)",
    status_code=201,
    response_model=WebhookWithSecret,
    responses=error_responses(401, 403, 409, 422),
)
async def create_webhook(
    body: WebhookCreate,
    request: Request,
    response: Response,
    session: Session,
    principal: WebhooksAdmin,
) -> WebhookWithSecret:
    subscription, secret = await service.subscribe(
        session, principal, body, request.app.state.settings
    )
    response.headers["Location"] = f"{API_V1}/webhooks/{subscription.id}"
    return http.shown(response, subscription, _with_secret(subscription, secret))


@router.get(
    "",
    summary="List your organisation's webhook subscriptions (never their secrets)",
    response_model=Page[WebhookRead],
    responses=error_responses(401, 403, 422),
)
async def list_webhooks(
    request: Request,
    response: Response,
    session: Session,
    principal: WebhooksAdmin,
    pagination: Pagination,
) -> Page[WebhookRead]:
    return await http.page(
        session,
        principal,
        service.subscriptions(principal),
        WebhookRead,
        pagination,
        NEWEST_FIRST,
        request,
        response,
    )


@router.get(
    "/{webhook_id}",
    summary="Read a webhook subscription (why it was disabled, if it was)",
    response_model=WebhookRead,
    responses=error_responses(401, 403, 404, 422),
)
async def get_webhook(subscription: Subscription, response: Response) -> WebhookRead:
    return http.shown(response, subscription, WebhookRead.model_validate(subscription))


@router.patch(
    "/{webhook_id}",
    summary="Change a subscription's URL or event types, pause it or re-enable it (If-Match)",
    response_model=WebhookRead,
    responses=error_responses(401, 403, 404, 412, 422, 428),
)
async def update_webhook(
    subscription: Subscription,
    body: WebhookUpdate,
    request: Request,
    response: Response,
    session: Session,
    principal: WebhooksAdmin,
    if_match: IfMatch = None,
) -> WebhookRead:
    await service.change(
        session, principal, subscription, body, request.app.state.settings, if_match=if_match
    )
    return http.shown(response, subscription, WebhookRead.model_validate(subscription))


@router.post(
    "/{webhook_id}/rotate-secret",
    summary="Replace the signing secret; the previous one keeps signing during the overlap",
    response_model=WebhookWithSecret,
    responses=error_responses(401, 403, 404, 422),
)
async def rotate_webhook_secret(
    subscription: Subscription,
    body: SecretRotation,
    request: Request,
    response: Response,
    session: Session,
    principal: WebhooksAdmin,
) -> WebhookWithSecret:
    secret = await service.rotate_secret(
        session, principal, subscription, body, request.app.state.settings
    )
    return http.shown(response, subscription, _with_secret(subscription, secret))


@router.post(
    "/{webhook_id}/ping",
    summary="Queue a signed `ping` message to test the endpoint",
    status_code=202,
    response_model=DeliveryRead,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def ping_webhook(
    subscription: Subscription, session: Session, principal: WebhooksAdmin
) -> DeliveryRead:
    delivery = await service.ping(session, principal, subscription)
    return DeliveryRead.model_validate(delivery)


@router.get(
    "/{webhook_id}/deliveries",
    summary="The subscription's delivery log, newest first",
    response_model=Page[DeliveryRead],
    responses=error_responses(401, 403, 404, 422),
)
async def list_webhook_deliveries(
    subscription: Subscription,
    request: Request,
    response: Response,
    session: Session,
    principal: WebhooksAdmin,
    pagination: Pagination,
) -> Page[DeliveryRead]:
    return await http.page(
        session,
        principal,
        service.deliveries(principal, subscription),
        DeliveryRead,
        pagination,
        DELIVERIES_NEWEST_FIRST,
        request,
        response,
    )


@router.get(
    "/{webhook_id}/deliveries/{delivery_id}",
    summary="One delivery with its payload and every attempt (status, latency, response code)",
    response_model=DeliveryDetail,
    responses=error_responses(401, 403, 404, 422),
)
async def get_webhook_delivery(
    subscription: Subscription, delivery_id: uuid.UUID, session: Session, principal: WebhooksAdmin
) -> DeliveryDetail:
    delivery = await service.delivery_in_scope(session, principal, subscription, delivery_id)
    attempts = await service.attempts_of(session, principal, delivery)
    return DeliveryDetail.model_validate(
        {
            **DeliveryRead.model_validate(delivery).model_dump(),
            "payload": delivery.payload,
            "attempt_log": [AttemptRead.model_validate(a) for a in attempts],
        }
    )


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/redeliver",
    summary="Send a delivered or failed message again (same webhook-id)",
    status_code=202,
    response_model=DeliveryRead,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def redeliver_webhook_delivery(
    subscription: Subscription, delivery_id: uuid.UUID, session: Session, principal: WebhooksAdmin
) -> DeliveryRead:
    delivery = await service.delivery_in_scope(session, principal, subscription, delivery_id)
    again = await service.redeliver(session, principal, subscription, delivery)
    return DeliveryRead.model_validate(again)
