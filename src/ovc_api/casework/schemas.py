"""Request and response bodies of a case's assessments, plan, notes and follow-ups."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from annotated_types import MinLen
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ovc_api.casework.models import (
    AssessmentKind,
    CsiDomain,
    FollowUpKind,
    FollowUpStatus,
    GoalStatus,
)
from ovc_api.clock import local_today
from ovc_api.schemas_common import MAX_NOTE_TEXT, MAX_TEXT, StrictBody
from ovc_api.text import nfc

MAX_DESCRIPTION = 2000
MAX_NEEDS = 2000


def _not_in_future(value: date | None) -> date | None:
    if value is not None and value > local_today():
        raise ValueError("cannot be in the future")
    return value


def _not_null(value: Any) -> Any:
    """PATCH: a field may be left out, but a required one cannot be emptied with null."""
    if value is None:
        raise ValueError("may be omitted, but cannot be null")
    return value


def _normalise(value: str | None) -> str | None:
    return nfc(value)


# --- assessments -------------------------------------------------------------------------


class DomainScore(StrictBody):
    score: int = Field(
        ge=1, le=4, description="Child Status Index: 1 very poor, 2 poor, 3 fair, 4 good"
    )
    needs: str | None = Field(default=None, max_length=MAX_NEEDS)

    _text = field_validator("needs")(_normalise)


# At least one domain; an unknown domain is a 422 naming it.
Domains = Annotated[dict[CsiDomain, DomainScore], MinLen(1)]


class AssessmentCreate(StrictBody):
    kind: AssessmentKind
    assessed_on: date = Field(description="Not before the case opened, not in the future")
    domains: Domains = Field(description="The CSI domains assessed (at least one), scored")
    summary: str | None = Field(default=None, max_length=MAX_TEXT)

    _dates = field_validator("assessed_on")(_not_in_future)
    _text = field_validator("summary")(_normalise)


class AssessmentUpdate(StrictBody):
    kind: AssessmentKind | None = None
    assessed_on: date | None = None
    domains: Domains | None = Field(default=None, description="Replaces every domain's score")
    summary: str | None = Field(default=None, max_length=MAX_TEXT)

    _required = field_validator("kind", "assessed_on", "domains")(_not_null)
    _dates = field_validator("assessed_on")(_not_in_future)
    _text = field_validator("summary")(_normalise)


class DomainScoreRead(BaseModel):
    score: int
    needs: str | None = None


class AssessmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    case_id: uuid.UUID
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
    description: str = DESCRIPTION
    status: GoalStatus = GoalStatus.open

    _text = field_validator("description")(_normalise)


class GoalUpdate(StrictBody):
    domain: CsiDomain | None = None
    description: str | None = OPTIONAL_DESCRIPTION
    status: GoalStatus | None = None

    _required = field_validator("domain", "description", "status")(_not_null)
    _text = field_validator("description")(_normalise)


class GoalRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    case_id: uuid.UUID
    domain: CsiDomain
    description: str
    status: GoalStatus
    created_at: datetime
    updated_at: datetime


class ActionCreate(StrictBody):
    goal_id: uuid.UUID = Field(description="A goal of the same case")
    description: str = DESCRIPTION
    responsible_organisation_id: uuid.UUID | None = Field(
        default=None, description="Any active member organisation; the caller's by default"
    )
    due_on: date = Field(description="Not before the case opened")
    done_on: date | None = Field(default=None, description="Not in the future")

    _dates = field_validator("done_on")(_not_in_future)
    _text = field_validator("description")(_normalise)


class ActionUpdate(StrictBody):
    goal_id: uuid.UUID | None = None
    description: str | None = OPTIONAL_DESCRIPTION
    responsible_organisation_id: uuid.UUID | None = None
    due_on: date | None = None
    done_on: date | None = Field(default=None, description="null reopens the action")

    _required = field_validator("goal_id", "description", "responsible_organisation_id", "due_on")(
        _not_null
    )
    _dates = field_validator("done_on")(_not_in_future)
    _text = field_validator("description")(_normalise)


class ActionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    case_id: uuid.UUID
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
    noted_on: date = Field(description="Not before the case opened, not in the future")
    text: str = Field(min_length=1, max_length=MAX_NOTE_TEXT)

    _dates = field_validator("noted_on")(_not_in_future)
    _text = field_validator("text")(_normalise)


class NoteUpdate(StrictBody):
    """A correction: the replaced text stays in the note's revision history."""

    noted_on: date | None = None
    text: str | None = Field(default=None, min_length=1, max_length=MAX_NOTE_TEXT)

    _required = field_validator("noted_on", "text")(_not_null)
    _dates = field_validator("noted_on")(_not_in_future)
    _text = field_validator("text")(_normalise)


class NoteRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    case_id: uuid.UUID
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
    done_on: date | None = Field(
        default=None, description="Required when status is done, not allowed otherwise"
    )
    outcome: str | None = Field(default=None, max_length=MAX_TEXT)

    _dates = field_validator("done_on")(_not_in_future)
    _text = field_validator("outcome")(_normalise)


class FollowUpUpdate(StrictBody):
    kind: FollowUpKind | None = None
    status: FollowUpStatus | None = None
    scheduled_on: date | None = None
    done_on: date | None = Field(
        default=None, description="Set with status done; null when leaving status done"
    )
    outcome: str | None = Field(default=None, max_length=MAX_TEXT)

    _required = field_validator("kind", "status", "scheduled_on")(_not_null)
    _dates = field_validator("done_on")(_not_in_future)
    _text = field_validator("outcome")(_normalise)


class FollowUpRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    case_id: uuid.UUID
    kind: FollowUpKind
    status: FollowUpStatus
    scheduled_on: date
    done_on: date | None
    outcome: str | None
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
