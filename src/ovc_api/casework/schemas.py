"""Request and response bodies of a case's assessments, plan, notes and follow-ups."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from annotated_types import MinLen
from pydantic import BaseModel, Field

from ovc_api.casework.models import (
    AssessmentKind,
    CsiDomain,
    FollowUpKind,
    FollowUpStatus,
    GoalStatus,
)
from ovc_api.schemas_common import (
    MAX_NOTE_TEXT,
    MAX_TEXT,
    CaseRecordRead,
    Nfc,
    PastDate,
    Patch,
    StrictBody,
)

MAX_DESCRIPTION = 2000
MAX_NEEDS = 2000


# --- assessments -------------------------------------------------------------------------


class DomainScore(StrictBody):
    score: int = Field(
        ge=1, le=4, description="Child Status Index: 1 very poor, 2 poor, 3 fair, 4 good"
    )
    needs: Nfc[str | None] = Field(default=None, max_length=MAX_NEEDS)


# At least one domain; an unknown domain is a 422 naming it.
Domains = Annotated[dict[CsiDomain, DomainScore], MinLen(1)]


class AssessmentCreate(StrictBody):
    kind: AssessmentKind
    assessed_on: PastDate = Field(description="Not before the case opened, not in the future")
    domains: Domains = Field(description="The CSI domains assessed (at least one), scored")
    summary: Nfc[str | None] = Field(default=None, max_length=MAX_TEXT)


class AssessmentUpdate(StrictBody):
    kind: Patch[AssessmentKind] = None
    assessed_on: Patch[PastDate] = None
    domains: Patch[Domains] = Field(default=None, description="Replaces every domain's score")
    summary: Nfc[str | None] = Field(default=None, max_length=MAX_TEXT)


class DomainScoreRead(BaseModel):
    score: int
    needs: str | None = None


class AssessmentRead(CaseRecordRead):
    kind: AssessmentKind
    assessed_on: date
    assessed_by: uuid.UUID | None
    domains: dict[CsiDomain, DomainScoreRead]
    summary: str | None
    created_at: datetime
    updated_at: datetime


# --- case plan: goals and actions ----------------------------------------------------------

DESCRIPTION = Field(min_length=1, max_length=MAX_DESCRIPTION)
OPTIONAL_DESCRIPTION = Field(default=None, min_length=1, max_length=MAX_DESCRIPTION)


class GoalCreate(StrictBody):
    domain: CsiDomain
    description: Nfc[str] = DESCRIPTION
    status: GoalStatus = GoalStatus.open


class GoalUpdate(StrictBody):
    domain: Patch[CsiDomain] = None
    description: Nfc[Patch[str]] = OPTIONAL_DESCRIPTION
    status: Patch[GoalStatus] = None


class GoalRead(CaseRecordRead):
    domain: CsiDomain
    description: str
    status: GoalStatus
    created_at: datetime
    updated_at: datetime


class ActionCreate(StrictBody):
    goal_id: uuid.UUID = Field(description="A goal of the same case")
    description: Nfc[str] = DESCRIPTION
    responsible_organisation_id: uuid.UUID | None = Field(
        default=None, description="Any active member organisation; the caller's by default"
    )
    due_on: date = Field(description="Not before the case opened")
    done_on: PastDate | None = Field(default=None, description="Not in the future")


class ActionUpdate(StrictBody):
    goal_id: Patch[uuid.UUID] = None
    description: Nfc[Patch[str]] = OPTIONAL_DESCRIPTION
    responsible_organisation_id: Patch[uuid.UUID] = None
    due_on: Patch[date] = None
    done_on: PastDate | None = Field(default=None, description="null reopens the action")


class ActionRead(CaseRecordRead):
    goal_id: uuid.UUID
    description: str
    responsible_organisation_id: uuid.UUID
    due_on: date
    done_on: date | None
    created_at: datetime
    updated_at: datetime


class PlanGoalRead(GoalRead):
    actions: list[ActionRead]


class CasePlanRead(BaseModel):
    case_id: uuid.UUID
    goals: list[PlanGoalRead] = Field(description="Oldest first, each with its actions by due date")
    truncated: bool = Field(
        description="True when the plan is larger than one response: page through "
        "/goals and /actions instead"
    )


# --- notes -----------------------------------------------------------------------------------


class NoteCreate(StrictBody):
    noted_on: PastDate = Field(description="Not before the case opened, not in the future")
    text: Nfc[str] = Field(min_length=1, max_length=MAX_NOTE_TEXT)


class NoteUpdate(StrictBody):
    """A correction: the replaced text stays in the note's revision history."""

    noted_on: Patch[PastDate] = None
    text: Nfc[Patch[str]] = Field(default=None, min_length=1, max_length=MAX_NOTE_TEXT)


class NoteRead(CaseRecordRead):
    author_id: uuid.UUID | None
    noted_on: date
    text: str
    created_at: datetime
    updated_at: datetime


# --- follow-ups ------------------------------------------------------------------------------


class FollowUpCreate(StrictBody):
    kind: FollowUpKind
    status: FollowUpStatus = FollowUpStatus.scheduled
    scheduled_on: date = Field(description="Not before the case opened")
    done_on: PastDate | None = Field(
        default=None, description="Required when status is done, not allowed otherwise"
    )
    outcome: Nfc[str | None] = Field(default=None, max_length=MAX_TEXT)


class FollowUpUpdate(StrictBody):
    kind: Patch[FollowUpKind] = None
    status: Patch[FollowUpStatus] = None
    scheduled_on: Patch[date] = None
    done_on: PastDate | None = Field(
        default=None, description="Set with status done; null when leaving status done"
    )
    outcome: Nfc[str | None] = Field(default=None, max_length=MAX_TEXT)


class FollowUpRead(CaseRecordRead):
    kind: FollowUpKind
    status: FollowUpStatus
    scheduled_on: date
    done_on: date | None
    outcome: str | None
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
