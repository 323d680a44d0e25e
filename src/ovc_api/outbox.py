"""The outbox: every change to a record, written in the same transaction as the change.

One row per organisation that may learn of the change (a referral's sender and receiver, a
conference action's organiser and the organisation it is assigned to). The change feed
(`/api/v1/changes`) reads these rows in commit order; the webhook worker fans the rows whose
type organisations may subscribe to out into deliveries. A rolled-back change rolls its rows
back with it, so nothing is ever announced that did not happen.

Rows carry no personal data: the event type, the record's kind, id and version, the owning
organisation, the case it belongs to (for the caller's own visibility rules) and the time.

Commit order: on PostgreSQL a deferred trigger (migration 0011) numbers each row's
`position` at COMMIT, under a transaction-level advisory lock, so positions follow commit
order and a row can never appear later below a position already handed out, however long
its transaction ran. On SQLite (one writer at a time) the insert order is the commit order.

Events are emitted from one place: :func:`emit_for_audit`, called by the audit log's
``record()`` for every audited write, so a service that audits a change announces it too.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm.util import identity_key
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api.db import UTCDateTime, new_id, utcnow
from ovc_api.tenancy import model_of_table

SEQUENCE_TYPE = BigInteger().with_variant(Integer(), "sqlite")


class WebhookEventType(StrEnum):
    """The events an organisation may subscribe a webhook to."""

    case_created = "case.created"
    case_updated = "case.updated"
    case_status_changed = "case.status_changed"
    case_closure_approved = "case.closure_approved"
    referral_received = "referral.received"
    referral_accepted = "referral.accepted"
    referral_declined = "referral.declined"
    referral_withdrawn = "referral.withdrawn"
    referral_completed = "referral.completed"
    service_recorded = "service.recorded"
    conference_action_assigned = "conference.action_assigned"
    placement_started = "placement.started"
    placement_ended = "placement.ended"
    reintegration_moved = "reintegration.moved"
    reintegration_re_separated = "reintegration.re_separated"


class Change(StrEnum):
    """What a feed entry means for a copy kept in sync."""

    created = "created"
    updated = "updated"
    removed = "removed"  # left the recipient's view: drop your copy


class Event(SQLModel, table=True):
    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_feed", "organisation_id", "position"),
        Index("ix_events_position", "position"),
        Index("ix_events_webhook_pending", "webhook_pending", "organisation_id"),
    )

    # Written without RETURNING (no server-made key): a row for the other party of a
    # referral passes the insert policy but is not the writer's to read back.
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    # The organisation this row is for (whose feed and webhooks see it).
    organisation_id: uuid.UUID = Field(foreign_key="organisations.id", nullable=False)
    type: str = Field(sa_type=String(60), nullable=False)
    change: str = Field(sa_type=String(10), nullable=False)
    resource_type: str = Field(sa_type=String(40), nullable=False)
    resource_id: uuid.UUID = Field(nullable=False)
    # The organisation that owns the record (a referral's sender, a conference's organiser).
    owner_organisation_id: uuid.UUID = Field(nullable=False)
    case_id: uuid.UUID | None = Field(default=None)
    version: int | None = Field(default=None)
    occurred_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    # Commit order; NULL until the transaction commits (PostgreSQL's trigger numbers it).
    position: int | None = Field(default=None, sa_type=SEQUENCE_TYPE)
    # True until the webhook worker has made this row's deliveries (subscribable types only).
    webhook_pending: bool = Field(default=False, nullable=False)


@dataclass(frozen=True)
class Mapping:
    type: str
    change: Change = Change.updated


# Audited actions that announce something organisations subscribe to. Other writes of the
# records below are announced in the feed only, as `<resource>.created` / `.updated`.
ANNOUNCED: dict[str, Mapping] = {
    "case.create": Mapping(WebhookEventType.case_created, Change.created),
    "case.update": Mapping(WebhookEventType.case_updated),
    "case.transition": Mapping(WebhookEventType.case_status_changed),
    "case.reopen": Mapping(WebhookEventType.case_status_changed),
    "case.close": Mapping(WebhookEventType.case_status_changed),
    "closure_request.approve": Mapping(WebhookEventType.case_closure_approved),
    "referral.create": Mapping(WebhookEventType.referral_received, Change.created),
    "referral.accept": Mapping(WebhookEventType.referral_accepted),
    "referral.decline": Mapping(WebhookEventType.referral_declined),
    "referral.withdraw": Mapping(WebhookEventType.referral_withdrawn),
    "referral.complete": Mapping(WebhookEventType.referral_completed),
    "service.create": Mapping(WebhookEventType.service_recorded, Change.created),
    "conference_action.create": Mapping(
        WebhookEventType.conference_action_assigned, Change.created
    ),
    "placement.create": Mapping(WebhookEventType.placement_started, Change.created),
    "placement.end": Mapping(WebhookEventType.placement_ended),
    "reintegration_plan.move": Mapping(WebhookEventType.reintegration_moved),
    "reintegration_plan.re_separation": Mapping(WebhookEventType.reintegration_re_separated),
}


class FeedResource(StrEnum):
    """The records a copy may keep (the feed's `types`): the audit log's resource names."""

    child = "child"
    family = "family"
    family_member = "family_member"
    case = "case"
    closure_request = "closure_request"
    assessment = "assessment"
    case_note = "case_note"
    case_plan_goal = "case_plan_goal"
    case_plan_action = "case_plan_action"
    follow_up = "follow_up"
    service = "service"
    referral = "referral"
    case_conference = "case_conference"
    conference_action = "conference_action"
    placement = "placement"
    tracing_attempt = "tracing_attempt"
    reintegration_plan = "reintegration_plan"
    monitoring_visit = "monitoring_visit"


FEED_RESOURCES = frozenset(r.value for r in FeedResource)
WRITE_VERBS = {"create": Change.created, "update": Change.updated, "archive": Change.updated}
WEBHOOK_TYPES = frozenset(t.value for t in WebhookEventType)


def mapping_of(action: str, resource_type: str | None) -> Mapping | None:
    """The event an audited action announces (None: a read, or not a record of the feed)."""
    if action in ANNOUNCED:
        return ANNOUNCED[action]
    if resource_type not in FEED_RESOURCES:
        return None
    noun, _, verb = action.rpartition(".")
    if noun != resource_type or verb not in WRITE_VERBS:
        return None
    change = WRITE_VERBS[verb]
    return Mapping(f"{resource_type}.{change.value}", change)


# Each record of the feed: its table (to find the row this transaction holds).
TABLES = {
    FeedResource.child: "children",
    FeedResource.family: "families",
    FeedResource.family_member: "family_members",
    FeedResource.case: "cases",
    FeedResource.closure_request: "closure_requests",
    FeedResource.assessment: "assessments",
    FeedResource.case_note: "case_notes",
    FeedResource.case_plan_goal: "case_plan_goals",
    FeedResource.case_plan_action: "case_plan_actions",
    FeedResource.follow_up: "follow_ups",
    FeedResource.service: "service_deliveries",
    FeedResource.referral: "referrals",
    FeedResource.case_conference: "case_conferences",
    FeedResource.conference_action: "conference_actions",
    FeedResource.placement: "placements",
    FeedResource.tracing_attempt: "tracing_attempts",
    FeedResource.reintegration_plan: "reintegration_plans",
    FeedResource.monitoring_visit: "monitoring_visits",
}


def _loaded(session: AsyncSession, resource_type: str, resource_id: uuid.UUID) -> Any:
    """The record as this transaction holds it (for its version and its parties)."""
    model = model_of_table(TABLES[FeedResource(resource_type)])
    return session.sync_session.identity_map.get(identity_key(model, resource_id))


def _recipients(
    acting: uuid.UUID, resource_type: str, record: Any, case_id: uuid.UUID | None
) -> dict[uuid.UUID, uuid.UUID | None]:
    """Organisation -> the case id it knows the record by (None: none of its own)."""
    if record is None:
        return {acting: case_id}
    if resource_type == "referral":
        return {
            record.organisation_id: record.case_id,
            record.receiving_organisation_id: record.receiver_case_id,
        }
    if resource_type == "conference_action":
        # The organisation it is assigned to learns of it, without the organiser's case.
        return {record.organisation_id: None, record.organiser_organisation_id: case_id}
    return {record.organisation_id: case_id}


def emit_for_audit(
    session: AsyncSession,
    acting_organisation_id: uuid.UUID,
    action: str,
    resource_type: str | None,
    resource_id: uuid.UUID | None,
    case_id: uuid.UUID | None,
) -> None:
    """Announce an audited write, in its transaction (reads and other actions: nothing)."""
    mapping = mapping_of(action, resource_type)
    if mapping is None or resource_type not in FEED_RESOURCES or resource_id is None:
        return
    assert resource_type is not None
    record = _loaded(session, resource_type, resource_id)
    owner = getattr(record, "organisation_id", acting_organisation_id)
    if resource_type == "conference_action" and record is not None:
        owner = record.organiser_organisation_id
    for organisation_id, known_case in _recipients(
        acting_organisation_id, resource_type, record, case_id
    ).items():
        change = mapping.change
        if mapping.type == WebhookEventType.referral_withdrawn and organisation_id != owner:
            change = Change.removed  # the receiver no longer sees what was referred
        session.add(
            Event(
                organisation_id=organisation_id,
                type=mapping.type,
                change=change.value,
                resource_type=resource_type,
                resource_id=resource_id,
                owner_organisation_id=owner,
                case_id=known_case,
                version=getattr(record, "version", None),
                webhook_pending=mapping.type in WEBHOOK_TYPES,
            )
        )


def own_event_values(
    organisation_id: uuid.UUID, action: str, resource_type: str
) -> dict[str, Any] | None:
    """The columns of the event `emit_for_audit` writes for an audited write of a record of
    the writer's own organisation (`organisation_id`), but those a statement takes from the
    written row: `resource_id`, `case_id`, `version`. For statements that write the event
    themselves (`audit.service.logged_write`); None when the action announces nothing.
    Referrals and conference actions (announced to two organisations) are not for this."""
    mapping = mapping_of(action, resource_type)
    if mapping is None or resource_type not in FEED_RESOURCES:
        return None
    if resource_type in {FeedResource.referral, FeedResource.conference_action}:
        raise ValueError(f"{resource_type} events go to two organisations: emit_for_audit")
    return {
        "id": new_id(),
        "organisation_id": organisation_id,
        "type": str(mapping.type),
        "change": mapping.change.value,
        "resource_type": resource_type,
        "owner_organisation_id": organisation_id,
        "occurred_at": utcnow(),
        "webhook_pending": mapping.type in WEBHOOK_TYPES,
    }
