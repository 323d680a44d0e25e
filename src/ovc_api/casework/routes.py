"""The casework router: a case's assessments, plan (goals and actions), notes and follow-ups.

Each is a `record_routes.RecordKind` under the case (its models, list query, service
operations and summaries) and gets the same create, list, read and correct routes.
HTTP only: the rules and the audit are in `casework/service.py`. A done follow-up moves
`cases.last_contact_on` forward (the work list's "no contact for N days" reads it).
"""

from __future__ import annotations

import uuid
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from ovc_api import API_V1
from ovc_api import record_routes as kit
from ovc_api.auth.principal import CasesReader
from ovc_api.cases.deps import CaseForRead, CaseForWrite
from ovc_api.cases.service import case_in_scope
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
from ovc_api.errors import error_responses

router = APIRouter(prefix=API_V1, tags=["casework"])
CASE = kit.Parent(CaseForRead, CaseForWrite, service.of_case, load=case_in_scope)


def _of_case(
    name: str,
    plural: str,
    model: Any,
    collection: str,
    id_param: str,
    resource: str,
    read: Any,
    create: Any,
    update: Any,
    query: Any,
    add: Any,
    correct: Any,
    summaries: tuple[str, str, str, str],
    new: service.NewRecord | None = None,
) -> kit.RecordKind:
    """A kind of a case's record: its names (operations, list), model, collection under the
    case, id parameter and audit resource, its schemas (read, create, update), list query
    (whose `sort` values name its orders), service operations (add, correct) and summaries
    (create, list, read, correct). What every such kind has alike is here: its URLs, loading
    (another case's record answers 404), read audit, and a correction answering 409 on a
    closed case. A kind whose `add` is a `service.NewRecord`'s (`new`) is created in one
    statement on PostgreSQL (`kit.Under`)."""

    async def load(session: Any, principal: Any, case: Any, record_id: uuid.UUID) -> Any:
        return await in_case(session, principal, model, case, record_id)

    for_read, for_write = kit.loaders(load, id_param, parent=(CaseForRead, CaseForWrite))
    return kit.RecordKind(
        name,
        plural,
        f"/cases/{{case_id}}/{collection}",
        model,
        read,
        create,
        update,
        query,
        kit.sorts_of(model, query),
        resource,
        for_read=Annotated[model, Depends(for_read)],
        for_write=Annotated[model, Depends(for_write)],
        add=add,
        audit_read=partial(service.read, resource=resource),
        correct=correct,
        location=lambda row: f"{API_V1}/cases/{row.case_id}/{collection}/{row.id}",
        summaries=summaries,
        parent=CASE,
        conflicts=True,
        inserts=None if new is None else new.insert,
    )


ASSESSMENTS = _of_case(
    "case_assessment",
    "case_assessments",
    Assessment,
    "assessments",
    "assessment_id",
    service.ASSESSMENT,
    AssessmentRead,
    AssessmentCreate,
    AssessmentUpdate,
    AssessmentListQuery,
    service.record_assessment,
    service.correct_assessment,
    (
        "Record an initial or review assessment of the child (CSI domains scored 1-4)",
        "List a case's assessments, newest first by default",
        "Read one assessment of a case",
        "Correct an assessment (If-Match required; history is kept)",
    ),
    new=service.NEW_ASSESSMENT,
)
FOLLOW_UPS = _of_case(
    "case_follow_up",
    "case_follow_ups",
    FollowUp,
    "follow-ups",
    "follow_up_id",
    service.FOLLOW_UP,
    FollowUpRead,
    FollowUpCreate,
    FollowUpUpdate,
    FollowUpListQuery,
    service.add_follow_up,
    service.correct_follow_up,
    (
        "Schedule a follow-up (visit or call), or record one already done",
        "List a case's follow-ups, latest scheduled first by default",
        "Read one follow-up of a case",
        "Record a follow-up done, missed or cancelled, or correct it (If-Match required)",
    ),
    new=service.NEW_FOLLOW_UP,
)
NOTES = _of_case(
    "case_note",
    "case_notes",
    CaseNote,
    "notes",
    "note_id",
    service.NOTE,
    NoteRead,
    NoteCreate,
    NoteUpdate,
    NoteListQuery,
    service.write_note,
    service.correct_note,
    (
        "Write a dated note on a case",
        "List a case's notes, newest first by default",
        "Read one note of a case",
        "Correct a note (If-Match required; the earlier text stays in its history)",
    ),
    new=service.NEW_NOTE,
)
GOALS = _of_case(
    "case_plan_goal",
    "case_plan_goals",
    CasePlanGoal,
    "goals",
    "goal_id",
    service.GOAL,
    GoalRead,
    GoalCreate,
    GoalUpdate,
    GoalListQuery,
    service.add_goal,
    service.correct_goal,
    (
        "Add a goal to the case plan",
        "List the goals of a case plan, oldest first by default",
        "Read one goal of a case plan",
        "Correct a goal or mark it achieved or discontinued (If-Match required)",
    ),
    new=service.NEW_GOAL,
)
ACTIONS = _of_case(
    "case_plan_action",
    "case_plan_actions",
    CasePlanAction,
    "actions",
    "action_id",
    service.ACTION,
    ActionRead,
    ActionCreate,
    ActionUpdate,
    ActionListQuery,
    service.add_action,
    service.correct_action,
    (
        "Add an action towards a goal: who does what, by when",
        "List the actions of a case plan, by due date by default",
        "Read one action of a case plan",
        "Correct an action or record it done (If-Match required; history is kept)",
    ),
)

kit.add_routes(router, ASSESSMENTS)
kit.add_routes(router, FOLLOW_UPS)
kit.add_routes(router, NOTES)
kit.add_revisions_route(
    router, NOTES, service.note_revisions, "Earlier versions of a corrected note, newest first"
)
kit.add_routes(router, GOALS)
kit.add_routes(router, ACTIONS)


THE_CASE = [("case", CaseForRead)]
kit.add_call(
    router,
    "GET",
    "/cases/{case_id}/plan",
    "get_case_plan",
    "The case plan at a glance: its goals, each with its actions",
    CasePlanRead,
    error_responses(401, 403, 404, 422),
    CasesReader,
    THE_CASE,
    service.read_plan,
)
