"""What the webhooks endpoints take and show (never a stored secret, except once)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from ovc_api.outbox import WebhookEventType
from ovc_api.schemas_common import RecordRead
from ovc_api.webhooks.models import DeliveryStatus

EventTypes = Annotated[
    list[WebhookEventType], Field(min_length=1, max_length=len(WebhookEventType))
]
Url = Annotated[
    str,
    Field(
        min_length=8,
        max_length=2000,
        description="An https:// URL of a public host (plain http and private addresses only "
        "with OVC_WEBHOOK_ALLOW_PRIVATE=true)",
    ),
]


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: Url
    event_types: EventTypes
    description: str | None = Field(default=None, max_length=200)


class WebhookUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: Url | None = None
    event_types: EventTypes | None = None
    description: str | None = Field(default=None, max_length=200)
    active: bool | None = Field(
        default=None,
        description="false pauses deliveries; true re-enables a subscription the worker "
        "disabled (clearing the reason); pending deliveries resume",
    )


class SecretRotation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    overlap_hours: int = Field(
        default=24,
        ge=0,
        le=168,
        description="How long the previous secret keeps signing too (both signatures are sent)",
    )


class WebhookRead(RecordRead):
    url: str
    description: str | None
    event_types: list[WebhookEventType]
    active: bool
    disabled_reason: str | None = Field(
        description="Why the server turned the subscription off (persistent delivery failure)"
    )
    disabled_at: datetime | None
    previous_secret_expires_at: datetime | None = Field(
        description="Until then the previous secret also signs every message"
    )
    secret_rotated_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int


class WebhookWithSecret(WebhookRead):
    secret: str = Field(
        description="The signing secret (`whsec_...`), shown only in this response: store it now"
    )


class AttemptRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    attempt: int
    at: datetime
    succeeded: bool
    response_code: int | None
    latency_ms: int | None
    error: str | None


class DeliveryRead(RecordRead):
    subscription_id: uuid.UUID
    message_id: str = Field(description="The `webhook-id` header: the same on every attempt")
    event_id: uuid.UUID | None
    event_type: str
    status: DeliveryStatus
    attempts: int = Field(description="Attempts made so far")
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    response_code: int | None = Field(description="The last attempt's HTTP status")
    latency_ms: int | None = Field(description="The last attempt's duration")
    last_error: str | None
    created_at: datetime


class DeliveryDetail(DeliveryRead):
    payload: dict[str, object] = Field(description="The body as sent (no personal data)")
    attempt_log: list[AttemptRead]
