"""Webhook subscriptions, their deliveries and each delivery's attempts (tenant tables)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, String
from sqlmodel import Field

from ovc_api.models_base import (
    OwnedRecord,
    TenantRow,
    created_field,
    json_dict,
    json_list,
    optional_text,
    optional_time,
    organisation_fk,
    text_field,
    user_ref,
)


class DeliveryStatus(StrEnum):
    pending = "pending"  # waiting for its (next) attempt
    succeeded = "succeeded"  # the receiver answered 2xx
    failed = "failed"  # every attempt failed: given up


class WebhookSubscription(OwnedRecord, table=True):
    """An organisation's HTTPS endpoint and the event types it wants.

    The signing secret is stored encrypted with a key derived from OVC_SECRET_KEY (the
    worker needs it back to sign); after a rotation the previous one also signs until
    `previous_secret_expires_at`.
    """

    __tablename__ = "webhook_subscriptions"

    organisation_id: uuid.UUID = organisation_fk(index=True)  # also looked up alone
    url: str = text_field(2000)
    description: str | None = optional_text(200)
    event_types: list[str] = json_list()
    active: bool = Field(default=True, nullable=False)
    # Why the worker turned it off (persistent failure); cleared when re-enabled.
    disabled_reason: str | None = optional_text(300)
    disabled_at: datetime | None = optional_time()
    secret_encrypted: str = text_field(300)
    previous_secret_encrypted: str | None = optional_text(300)
    previous_secret_expires_at: datetime | None = optional_time()
    secret_rotated_at: datetime | None = optional_time()
    created_by: uuid.UUID | None = user_ref()


class WebhookDelivery(TenantRow, table=True):
    """One message to one subscription: an event (same `message_id` on every attempt and
    redelivery, so the receiver can drop duplicates) or a ping."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "organisation_id", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_subscription", "subscription_id", "created_at", "id"),
    )
    subscription_id: uuid.UUID = Field(foreign_key="webhook_subscriptions.id", nullable=False)
    event_id: uuid.UUID | None = Field(default=None)
    message_id: str = text_field(64)
    event_type: str = text_field(60)
    payload: dict[str, Any] = json_dict()
    status: str = Field(sa_type=String(16), default=DeliveryStatus.pending.value)
    attempts: int = Field(default=0, nullable=False)
    next_attempt_at: datetime | None = optional_time()
    # A worker that claimed it holds it until then (another worker may take it afterwards).
    locked_until: datetime | None = optional_time()
    last_attempt_at: datetime | None = optional_time()
    response_code: int | None = Field(default=None)
    latency_ms: int | None = Field(default=None)
    last_error: str | None = optional_text(300)
    created_at: datetime = created_field()


class WebhookAttempt(TenantRow, table=True):
    """One try of a delivery: the delivery log."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_delivery", "delivery_id", "attempt"),)
    delivery_id: uuid.UUID = Field(foreign_key="webhook_deliveries.id", nullable=False)
    attempt: int = Field(nullable=False)
    at: datetime = created_field()
    succeeded: bool = Field(nullable=False)
    response_code: int | None = Field(default=None)
    latency_ms: int | None = Field(default=None)
    error: str | None = optional_text(300)
