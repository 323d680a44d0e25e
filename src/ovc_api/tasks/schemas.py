"""The work list: named sections of dated items, so later features can add their own."""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum

from pydantic import BaseModel, Field


class TaskScope(StrEnum):
    mine = "mine"  # cases assigned to the caller
    organisation = "organisation"  # every case of the organisation (needs cases:all)


TaskRecord = StrEnum("TaskRecord", "follow_up case_plan_action case monitoring_visit")


class TaskItem(BaseModel):
    case_id: uuid.UUID
    child_name: str | None = Field(description="Given and family name, in Latin or else Khmer")
    on: date = Field(
        description="The date that matters: scheduled_on, due_on, or the last contact "
        "(opened_on when the case was never contacted)"
    )
    record_type: TaskRecord
    record_id: uuid.UUID = Field(
        description="The follow-up, action, monitoring visit or case to act on"
    )
    detail: str | None = Field(
        description="The follow-up's kind, the action's description, or the months after "
        "a reintegration move a monitoring visit falls due"
    )


class TaskSection(BaseModel):
    total: int = Field(description="Every matching item, even beyond the ones listed")
    items: list[TaskItem] = Field(description="The earliest first, at most 200")


class IncomingReferral(BaseModel):
    referral_id: uuid.UUID
    from_organisation_id: uuid.UUID
    urgency: str
    received_on: date
    child_first_name: str | None = Field(description="From the consent summary")
    services_requested: list[str]


class IncomingReferrals(BaseModel):
    total: int
    items: list[IncomingReferral] = Field(
        description="Most urgent, then oldest, first; at most 200"
    )


class ConferenceActionTask(BaseModel):
    conference_id: uuid.UUID
    action_id: uuid.UUID
    organiser_organisation_id: uuid.UUID
    description: str
    on: date = Field(description="Due date")


class ConferenceActionTasks(BaseModel):
    total: int
    items: list[ConferenceActionTask] = Field(description="Earliest due first; at most 200")


class TaskList(BaseModel):
    as_of: date
    scope: TaskScope
    days_ahead: int
    no_contact_days: int
    overdue_follow_ups: TaskSection = Field(description="Scheduled before today, not done")
    upcoming_follow_ups: TaskSection = Field(description="Scheduled from today to the horizon")
    overdue_actions: TaskSection = Field(description="Case plan actions due before today")
    upcoming_actions: TaskSection = Field(description="Not done, due from today to the horizon")
    overdue_monitoring_visits: TaskSection = Field(
        description="Reintegration monitoring visits due before today, not done "
        "(`detail`: months after the move)"
    )
    upcoming_monitoring_visits: TaskSection = Field(
        description="Reintegration monitoring visits due from today to the horizon"
    )
    cases_without_contact: TaskSection = Field(
        description="Open cases with no contact (done follow-up) for more than no_contact_days"
    )
    incoming_referrals: IncomingReferrals = Field(
        description="Referrals received by the organisation and awaiting a decision "
        "(seen by those who see all its cases)"
    )
    conference_actions: ConferenceActionTasks = Field(
        description="Case-conference action items assigned to the organisation, not done"
    )
