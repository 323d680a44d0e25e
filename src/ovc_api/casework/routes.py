"""The casework router: a case's assessments, plan (goals and actions), notes and follow-ups.

Each kind is a `routing.SubRecord` (its models, list filters, sorts, service operations and
summaries); `routing.add_routes` gives it the same create, list, read and correct routes.
HTTP only: the rules and the audit are in `casework/service.py`. A done follow-up moves
`cases.last_contact_on` forward (the work list's "no contact for N days" reads it).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Literal

from fastapi import APIRouter
from sqlalchemy import ColumnElement
from sqlmodel import col

from ovc_api import API_V1
from ovc_api.auth.principal import CasesReader
from ovc_api.cases.deps import CaseForRead
from ovc_api.casework import service
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
from ovc_api.casework.routing import SubRecord, add_revisions_route, add_routes
from ovc_api.casework.schemas import (
    ActionCreate,
    ActionRead,
    ActionUpdate,
    AssessmentCreate,
    AssessmentRead,
    AssessmentUpdate,
    CasePlanRead,
    FollowUpCreate,
    FollowUpRead,
    FollowUpUpdate,
    GoalCreate,
    GoalRead,
    GoalUpdate,
    NoteCreate,
    NoteRead,
    NoteUpdate,
)
from ovc_api.db import Session
from ovc_api.errors import Unprocessable, error_responses
from ovc_api.pagination import parse_date, parse_datetime, sort_options

Conditions = list[ColumnElement[bool]]
router = APIRouter(prefix=API_V1, tags=["casework"])


def _equal(column: object, value: object) -> Conditions:
    """One optional equality filter on a coded column."""
    return [] if value is None else [col(column) == getattr(value, "value", value)]


# --- assessments: the child's situation scored on the Child Status Index domains -----------


def assessment_filters(kind: AssessmentKind | None = None) -> Conditions:
    return _equal(Assessment.kind, kind)


ASSESSMENTS = SubRecord(
    name="case_assessment",
    collection="assessments",
    id_param="assessment_id",
    model=Assessment,
    read=AssessmentRead,
    create=AssessmentCreate,
    update=AssessmentUpdate,
    resource=service.ASSESSMENT,
    add=service.record_assessment,
    correct=service.correct_assessment,
    sorts=sort_options(
        col(Assessment.id),
        assessed_on=(col(Assessment.assessed_on), parse_date),
        created_at=(col(Assessment.created_at), parse_datetime),
    ),
    sort_type=Literal["assessed_on", "-assessed_on", "created_at", "-created_at"],
    default_sort="-assessed_on",
    filters=assessment_filters,
    summaries=(
        "Record an initial or review assessment of the child (CSI domains scored 1-4)",
        "List a case's assessments, newest first by default",
        "Read one assessment of a case",
        "Correct an assessment (If-Match required; history is kept)",
    ),
)


# --- follow-ups: visits and calls, scheduled then done, missed or cancelled -------------------


def follow_up_filters(
    status: FollowUpStatus | None = None, kind: FollowUpKind | None = None
) -> Conditions:
    return _equal(FollowUp.status, status) + _equal(FollowUp.kind, kind)


FOLLOW_UPS = SubRecord(
    name="case_follow_up",
    collection="follow-ups",
    id_param="follow_up_id",
    model=FollowUp,
    read=FollowUpRead,
    create=FollowUpCreate,
    update=FollowUpUpdate,
    resource=service.FOLLOW_UP,
    add=service.add_follow_up,
    correct=service.correct_follow_up,
    sorts=sort_options(
        col(FollowUp.id),
        scheduled_on=(col(FollowUp.scheduled_on), parse_date),
        created_at=(col(FollowUp.created_at), parse_datetime),
    ),
    sort_type=Literal["scheduled_on", "-scheduled_on", "created_at", "-created_at"],
    default_sort="-scheduled_on",
    filters=follow_up_filters,
    summaries=(
        "Schedule a follow-up (visit or call), or record one already done",
        "List a case's follow-ups, latest scheduled first by default",
        "Read one follow-up of a case",
        "Record a follow-up done, missed or cancelled, or correct it (If-Match required)",
    ),
)


# --- notes: dated free text; a correction keeps the earlier text in the revisions -----------


def note_filters(noted_from: date | None = None, noted_to: date | None = None) -> Conditions:
    if noted_from is not None and noted_to is not None and noted_from > noted_to:
        raise Unprocessable.field(["query", "noted_from"], "must not be after noted_to")
    noted_on = col(CaseNote.noted_on)
    return ([] if noted_from is None else [noted_on >= noted_from]) + (
        [] if noted_to is None else [noted_on <= noted_to]
    )


NOTES = SubRecord(
    name="case_note",
    collection="notes",
    id_param="note_id",
    model=CaseNote,
    read=NoteRead,
    create=NoteCreate,
    update=NoteUpdate,
    resource=service.NOTE,
    add=service.write_note,
    correct=service.correct_note,
    sorts=sort_options(
        col(CaseNote.id),
        noted_on=(col(CaseNote.noted_on), parse_date),
        created_at=(col(CaseNote.created_at), parse_datetime),
    ),
    sort_type=Literal["noted_on", "-noted_on", "created_at", "-created_at"],
    default_sort="-noted_on",
    filters=note_filters,
    summaries=(
        "Write a dated note on a case",
        "List a case's notes, newest first by default",
        "Read one note of a case",
        "Correct a note (If-Match required; the earlier text stays in its history)",
    ),
)


# --- the case plan: goals per CSI domain, and the actions (who does what, by when) ---------


def goal_filters(status: GoalStatus | None = None, domain: CsiDomain | None = None) -> Conditions:
    return _equal(CasePlanGoal.status, status) + _equal(CasePlanGoal.domain, domain)


GOALS = SubRecord(
    name="case_plan_goal",
    collection="goals",
    id_param="goal_id",
    model=CasePlanGoal,
    read=GoalRead,
    create=GoalCreate,
    update=GoalUpdate,
    resource=service.GOAL,
    add=service.add_goal,
    correct=service.correct_goal,
    sorts=sort_options(
        col(CasePlanGoal.id),
        created_at=(col(CasePlanGoal.created_at), parse_datetime),
        updated_at=(col(CasePlanGoal.updated_at), parse_datetime),
    ),
    sort_type=Literal["created_at", "-created_at", "updated_at", "-updated_at"],
    default_sort="created_at",
    filters=goal_filters,
    summaries=(
        "Add a goal to the case plan",
        "List the goals of a case plan, oldest first by default",
        "Read one goal of a case plan",
        "Correct a goal or mark it achieved or discontinued (If-Match required)",
    ),
)


def action_filters(goal_id: uuid.UUID | None = None, done: bool | None = None) -> Conditions:
    done_on = col(CasePlanAction.done_on)
    return _equal(CasePlanAction.goal_id, goal_id) + (
        [] if done is None else [done_on.is_not(None) if done else done_on.is_(None)]
    )


ACTIONS = SubRecord(
    name="case_plan_action",
    collection="actions",
    id_param="action_id",
    model=CasePlanAction,
    read=ActionRead,
    create=ActionCreate,
    update=ActionUpdate,
    resource=service.ACTION,
    add=service.add_action,
    correct=service.correct_action,
    sorts=sort_options(
        col(CasePlanAction.id),
        due_on=(col(CasePlanAction.due_on), parse_date),
        created_at=(col(CasePlanAction.created_at), parse_datetime),
    ),
    sort_type=Literal["due_on", "-due_on", "created_at", "-created_at"],
    default_sort="due_on",
    filters=action_filters,
    summaries=(
        "Add an action towards a goal: who does what, by when",
        "List the actions of a case plan, by due date by default",
        "Read one action of a case plan",
        "Correct an action or record it done (If-Match required; history is kept)",
    ),
)


add_routes(router, ASSESSMENTS)
add_routes(router, FOLLOW_UPS)
note_for_read = add_routes(router, NOTES)
add_revisions_route(
    router,
    NOTES,
    note_for_read,
    service.note_revisions,
    "Earlier versions of a corrected note, newest first",
)
add_routes(router, GOALS)
add_routes(router, ACTIONS)


@router.get(
    "/cases/{case_id}/plan",
    summary="The case plan at a glance: its goals, each with its actions",
    response_model=CasePlanRead,
    responses=error_responses(401, 403, 404, 422),
)
async def get_case_plan(
    case: CaseForRead, session: Session, principal: CasesReader
) -> CasePlanRead:
    return await service.read_plan(session, principal, case)
