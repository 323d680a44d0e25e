"""What happens within a case: assessments, the case plan, notes and follow-ups."""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, Index, Text
from sqlmodel import Field

from ovc_api.models_base import (
    CaseRecord,
    enum_field,
    json_dict,
    optional_text,
    text_field,
    user_ref,
)


class CsiDomain(StrEnum):
    """The Child Status Index's six domains."""

    food_and_nutrition = "food_and_nutrition"
    shelter_and_care = "shelter_and_care"
    protection = "protection"
    health = "health"
    psychosocial = "psychosocial"
    education = "education"


AssessmentKind = StrEnum("AssessmentKind", "initial review")

GoalStatus = StrEnum("GoalStatus", "open achieved discontinued")

FollowUpKind = StrEnum("FollowUpKind", "home_visit phone_call office_visit school_visit other")

FollowUpStatus = StrEnum("FollowUpStatus", "scheduled done missed cancelled")


class Assessment(CaseRecord, table=True):
    __tablename__ = "assessments"
    __table_args__ = (Index("ix_assessments_case", "case_id", "assessed_on", "id"),)

    kind: str = enum_field(16)
    assessed_on: date
    assessed_by: uuid.UUID | None = user_ref()
    # {domain: {"score": 1-4, "needs": str | None}} for each CSI domain assessed
    domains: dict[str, Any] = json_dict()
    summary: str | None = optional_text(4000)


class CasePlanGoal(CaseRecord, table=True):
    __tablename__ = "case_plan_goals"
    __table_args__ = (Index("ix_case_plan_goals_case", "case_id", "created_at", "id"),)

    domain: str = enum_field(24)
    description: str = text_field(2000)
    status: str = enum_field(16, default=GoalStatus.open.value)


class CasePlanAction(CaseRecord, table=True):
    __tablename__ = "case_plan_actions"
    __table_args__ = (
        Index("ix_case_plan_actions_case", "case_id", "due_on", "id"),
        Index("ix_case_plan_actions_org_due", "organisation_id", "done_on", "due_on"),
    )

    goal_id: uuid.UUID = Field(foreign_key="case_plan_goals.id")
    description: str = text_field(2000)
    responsible_organisation_id: uuid.UUID = Field(foreign_key="organisations.id")
    due_on: date
    done_on: date | None = Field(default=None)


class CaseNote(CaseRecord, table=True):
    """Dated free text. A correction keeps the earlier text in the revision history."""

    __tablename__ = "case_notes"
    __table_args__ = (Index("ix_case_notes_case", "case_id", "noted_on", "id"),)

    author_id: uuid.UUID | None = user_ref()
    noted_on: date
    text: str = Field(sa_column=Column(Text, nullable=False))


class FollowUp(CaseRecord, table=True):
    __tablename__ = "follow_ups"
    __table_args__ = (
        Index("ix_follow_ups_case", "case_id", "scheduled_on", "id"),
        Index("ix_follow_ups_org_status_due", "organisation_id", "status", "scheduled_on"),
    )

    kind: str = enum_field(16)
    status: str = enum_field(16, default=FollowUpStatus.scheduled.value)
    scheduled_on: date
    done_on: date | None = Field(default=None)
    outcome: str | None = optional_text(4000)
    created_by: uuid.UUID | None = user_ref()
