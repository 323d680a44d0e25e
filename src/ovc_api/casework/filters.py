"""The list filters of a case's record: assessments, follow-ups, notes, goals and actions
(each its filters, then its order)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Literal

from sqlalchemy import ColumnElement
from sqlmodel import col

from ovc_api.auth.principal import Principal
from ovc_api.casework.models import (
    Assessment,
    AssessmentKind,
    CaseNote,
    CasePlanAction,
    CasePlanGoal,
    CsiDomain,
    FollowUp,
    FollowUpKind,
    FollowUpStatus,
    GoalStatus,
)
from ovc_api.filtering import ListFilters, check_order, equal_to, within

Clauses = list[ColumnElement[bool]]


@dataclass(frozen=True)
class AssessmentListQuery(ListFilters):
    kind: AssessmentKind | None = None
    sort: Literal["assessed_on", "-assessed_on", "created_at", "-created_at"] = "-assessed_on"

    def clauses(self, principal: Principal) -> Clauses:
        return equal_to({Assessment.kind: self.kind})


@dataclass(frozen=True)
class FollowUpListQuery(ListFilters):
    status: FollowUpStatus | None = None
    kind: FollowUpKind | None = None
    sort: Literal["scheduled_on", "-scheduled_on", "created_at", "-created_at"] = "-scheduled_on"

    def clauses(self, principal: Principal) -> Clauses:
        return equal_to({FollowUp.status: self.status, FollowUp.kind: self.kind})


@dataclass(frozen=True)
class NoteListQuery(ListFilters):
    noted_from: date | None = None
    noted_to: date | None = None
    sort: Literal["noted_on", "-noted_on", "created_at", "-created_at"] = "-noted_on"

    def __post_init__(self) -> None:
        check_order(self.noted_from, self.noted_to, "noted_from", "noted_to")

    def clauses(self, principal: Principal) -> Clauses:
        return within(CaseNote.noted_on, self.noted_from, self.noted_to)


@dataclass(frozen=True)
class GoalListQuery(ListFilters):
    status: GoalStatus | None = None
    domain: CsiDomain | None = None
    sort: Literal["created_at", "-created_at", "updated_at", "-updated_at"] = "created_at"

    def clauses(self, principal: Principal) -> Clauses:
        return equal_to({CasePlanGoal.status: self.status, CasePlanGoal.domain: self.domain})


@dataclass(frozen=True)
class ActionListQuery(ListFilters):
    goal_id: uuid.UUID | None = None
    done: bool | None = None
    sort: Literal["due_on", "-due_on", "created_at", "-created_at"] = "due_on"

    def clauses(self, principal: Principal) -> Clauses:
        clauses = equal_to({CasePlanAction.goal_id: self.goal_id})
        if self.done is not None:
            done_on = col(CasePlanAction.done_on)
            clauses.append(done_on.is_not(None) if self.done else done_on.is_(None))
        return clauses
