"""The casework router: a case's assessments, plan (goals and actions), notes and follow-ups.

Each is a `record_routes.RecordKind` under the case (its models, list query, sorts, service
operations and summaries) and gets the same create, list, read and correct routes.
HTTP only: the rules and the audit are in `casework/service.py`. A done follow-up moves
`cases.last_contact_on` forward (the work list's "no contact for N days" reads it).
"""

from __future__ import annotations

import inspect
import uuid
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from sqlmodel import col

from ovc_api import API_V1
from ovc_api.auth.principal import CasesReader, CasesWriter
from ovc_api.cases.deps import CaseForRead, CaseForWrite
from ovc_api.casework import service
from ovc_api.casework.common import in_case
from ovc_api.casework.filters import (
    ActionListQuery,
    AssessmentListQuery,
    FollowUpListQuery,
    GoalListQuery,
    NoteListQuery,
)
from ovc_api.casework.models import Assessment, CaseNote, CasePlanAction, CasePlanGoal, FollowUp
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
from ovc_api.errors import error_responses
from ovc_api.pagination import parse_date, parse_datetime, sort_options
from ovc_api.record_routes import Parent, RecordKind, add_revisions_route, add_routes

router = APIRouter(prefix=API_V1, tags=["casework"])
CASE = Parent(CaseForRead, CaseForWrite, service.of_case)


def _loader(model: Any, id_param: str, *, write: bool) -> Any:
    """The dependency loading one record of the case (another case's id answers 404)."""

    async def load(**values: Any) -> Any:
        session, principal, case = values["session"], values["principal"], values["case"]
        return await in_case(session, principal, model, case, values[id_param])

    load.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(id_param, inspect.Parameter.KEYWORD_ONLY, annotation=uuid.UUID),
            *(
                inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation)
                for name, annotation in (
                    ("case", CaseForWrite if write else CaseForRead),
                    ("session", Session),
                    ("principal", CasesWriter if write else CasesReader),
                )
            ),
        ]
    )
    return Annotated[model, Depends(load)]


def _of_case(model: Any, collection: str, id_param: str, resource: str) -> dict[str, Any]:
    """What every kind of a case's record has alike: its URLs, loading and read audit."""
    return {
        "path": f"/cases/{{case_id}}/{collection}",
        "model": model,
        "resource": resource,
        "for_read": _loader(model, id_param, write=False),
        "for_write": _loader(model, id_param, write=True),
        "audit_read": partial(service.read, resource=resource),
        "location": lambda row: f"{API_V1}/cases/{row.case_id}/{collection}/{row.id}",
        "parent": CASE,
        "conflicts": True,
    }


ASSESSMENTS = RecordKind(
    name="case_assessment",
    plural="case_assessments",
    read=AssessmentRead,
    create=AssessmentCreate,
    update=AssessmentUpdate,
    query=AssessmentListQuery,
    sorts=sort_options(
        col(Assessment.id),
        assessed_on=(col(Assessment.assessed_on), parse_date),
        created_at=(col(Assessment.created_at), parse_datetime),
    ),
    add=service.record_assessment,
    correct=service.correct_assessment,
    summaries=(
        "Record an initial or review assessment of the child (CSI domains scored 1-4)",
        "List a case's assessments, newest first by default",
        "Read one assessment of a case",
        "Correct an assessment (If-Match required; history is kept)",
    ),
    **_of_case(Assessment, "assessments", "assessment_id", service.ASSESSMENT),
)
FOLLOW_UPS = RecordKind(
    name="case_follow_up",
    plural="case_follow_ups",
    read=FollowUpRead,
    create=FollowUpCreate,
    update=FollowUpUpdate,
    query=FollowUpListQuery,
    sorts=sort_options(
        col(FollowUp.id),
        scheduled_on=(col(FollowUp.scheduled_on), parse_date),
        created_at=(col(FollowUp.created_at), parse_datetime),
    ),
    add=service.add_follow_up,
    correct=service.correct_follow_up,
    summaries=(
        "Schedule a follow-up (visit or call), or record one already done",
        "List a case's follow-ups, latest scheduled first by default",
        "Read one follow-up of a case",
        "Record a follow-up done, missed or cancelled, or correct it (If-Match required)",
    ),
    **_of_case(FollowUp, "follow-ups", "follow_up_id", service.FOLLOW_UP),
)
NOTES = RecordKind(
    name="case_note",
    plural="case_notes",
    read=NoteRead,
    create=NoteCreate,
    update=NoteUpdate,
    query=NoteListQuery,
    sorts=sort_options(
        col(CaseNote.id),
        noted_on=(col(CaseNote.noted_on), parse_date),
        created_at=(col(CaseNote.created_at), parse_datetime),
    ),
    add=service.write_note,
    correct=service.correct_note,
    summaries=(
        "Write a dated note on a case",
        "List a case's notes, newest first by default",
        "Read one note of a case",
        "Correct a note (If-Match required; the earlier text stays in its history)",
    ),
    **_of_case(CaseNote, "notes", "note_id", service.NOTE),
)
GOALS = RecordKind(
    name="case_plan_goal",
    plural="case_plan_goals",
    read=GoalRead,
    create=GoalCreate,
    update=GoalUpdate,
    query=GoalListQuery,
    sorts=sort_options(
        col(CasePlanGoal.id),
        created_at=(col(CasePlanGoal.created_at), parse_datetime),
        updated_at=(col(CasePlanGoal.updated_at), parse_datetime),
    ),
    add=service.add_goal,
    correct=service.correct_goal,
    summaries=(
        "Add a goal to the case plan",
        "List the goals of a case plan, oldest first by default",
        "Read one goal of a case plan",
        "Correct a goal or mark it achieved or discontinued (If-Match required)",
    ),
    **_of_case(CasePlanGoal, "goals", "goal_id", service.GOAL),
)
ACTIONS = RecordKind(
    name="case_plan_action",
    plural="case_plan_actions",
    read=ActionRead,
    create=ActionCreate,
    update=ActionUpdate,
    query=ActionListQuery,
    sorts=sort_options(
        col(CasePlanAction.id),
        due_on=(col(CasePlanAction.due_on), parse_date),
        created_at=(col(CasePlanAction.created_at), parse_datetime),
    ),
    add=service.add_action,
    correct=service.correct_action,
    summaries=(
        "Add an action towards a goal: who does what, by when",
        "List the actions of a case plan, by due date by default",
        "Read one action of a case plan",
        "Correct an action or record it done (If-Match required; history is kept)",
    ),
    **_of_case(CasePlanAction, "actions", "action_id", service.ACTION),
)

add_routes(router, ASSESSMENTS)
add_routes(router, FOLLOW_UPS)
add_routes(router, NOTES)
add_revisions_route(
    router, NOTES, service.note_revisions, "Earlier versions of a corrected note, newest first"
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
