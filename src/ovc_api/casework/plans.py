"""A case's plan: goals per CSI domain, and the actions (who does what, by when) towards them.

HTTP only: the rules and the audit are in `casework/service.py`."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from sqlmodel import col

from ovc_api import API_V1
from ovc_api import http_epilogue as http
from ovc_api.auth.principal import CasesReader, CasesWriter
from ovc_api.cases.deps import CaseForRead, CaseForWrite
from ovc_api.casework import service
from ovc_api.casework.common import (
    in_case,
    location,
)
from ovc_api.casework.models import CasePlanAction, CasePlanGoal, CsiDomain, GoalStatus
from ovc_api.casework.schemas import (
    ActionCreate,
    ActionRead,
    ActionUpdate,
    CasePlanRead,
    GoalCreate,
    GoalRead,
    GoalUpdate,
)
from ovc_api.concurrency import IfMatch
from ovc_api.db import Session
from ovc_api.errors import error_responses
from ovc_api.idempotency import IdempotencyDep
from ovc_api.pagination import (
    Page,
    Pagination,
    parse_date,
    parse_datetime,
    sort_options,
)

GOAL = service.GOAL
ACTION = service.ACTION
GOAL_SORTS = sort_options(
    col(CasePlanGoal.id),
    created_at=(col(CasePlanGoal.created_at), parse_datetime),
    updated_at=(col(CasePlanGoal.updated_at), parse_datetime),
)
GoalSort = Literal["created_at", "-created_at", "updated_at", "-updated_at"]
ACTION_SORTS = sort_options(
    col(CasePlanAction.id),
    due_on=(col(CasePlanAction.due_on), parse_date),
    created_at=(col(CasePlanAction.created_at), parse_datetime),
)
ActionSort = Literal["due_on", "-due_on", "created_at", "-created_at"]


# --- loading ---------------------------------------------------------------------------------


router = APIRouter(prefix=API_V1, tags=["casework"])


async def goal_for_read(
    goal_id: uuid.UUID, case: CaseForRead, session: Session, principal: CasesReader
) -> CasePlanGoal:
    return await in_case(session, principal, CasePlanGoal, case, goal_id)


async def goal_for_write(
    goal_id: uuid.UUID, case: CaseForWrite, session: Session, principal: CasesWriter
) -> CasePlanGoal:
    return await in_case(session, principal, CasePlanGoal, case, goal_id)


async def action_for_read(
    action_id: uuid.UUID, case: CaseForRead, session: Session, principal: CasesReader
) -> CasePlanAction:
    return await in_case(session, principal, CasePlanAction, case, action_id)


async def action_for_write(
    action_id: uuid.UUID, case: CaseForWrite, session: Session, principal: CasesWriter
) -> CasePlanAction:
    return await in_case(session, principal, CasePlanAction, case, action_id)


GoalForRead = Annotated[CasePlanGoal, Depends(goal_for_read)]
GoalForWrite = Annotated[CasePlanGoal, Depends(goal_for_write)]
ActionForRead = Annotated[CasePlanAction, Depends(action_for_read)]
ActionForWrite = Annotated[CasePlanAction, Depends(action_for_write)]


# --- goals -----------------------------------------------------------------------------------


@router.post(
    "/cases/{case_id}/goals",
    summary="Add a goal to the case plan",
    status_code=201,
    response_model=GoalRead,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def create_case_plan_goal(
    case: CaseForWrite,
    body: GoalCreate,
    response: Response,
    session: Session,
    principal: CasesWriter,
    idempotency: IdempotencyDep,
) -> Any:
    if (replayed := await idempotency.replay(principal, body)) is not None:
        return replayed
    goal = await service.add_goal(session, principal, case, body)
    where = location(case, "goals", goal.id)
    return await http.created(
        response, idempotency, goal, GoalRead.model_validate(goal), location=where
    )


@router.get(
    "/cases/{case_id}/goals",
    summary="List the goals of a case plan, oldest first by default",
    response_model=Page[GoalRead],
    responses=error_responses(401, 403, 404, 422),
)
async def list_case_plan_goals(
    case: CaseForRead,
    request: Request,
    response: Response,
    session: Session,
    principal: CasesReader,
    pagination: Pagination,
    status: GoalStatus | None = None,
    domain: CsiDomain | None = None,
    sort: GoalSort = "created_at",
) -> Page[GoalRead]:
    statement = service.of_case(principal, CasePlanGoal, case)
    if status is not None:
        statement = statement.where(col(CasePlanGoal.status) == status.value)
    if domain is not None:
        statement = statement.where(col(CasePlanGoal.domain) == domain.value)
    return await http.page(
        session,
        principal,
        statement,
        GoalRead,
        pagination,
        GOAL_SORTS[sort],
        request,
        response,
        audit_as=GOAL,
        case_id=case.id,
    )


@router.get(
    "/cases/{case_id}/goals/{goal_id}",
    summary="Read one goal of a case plan",
    response_model=GoalRead,
    responses=error_responses(401, 403, 404, 422),
)
async def get_case_plan_goal(
    case: CaseForRead,
    goal: GoalForRead,
    response: Response,
    session: Session,
    principal: CasesReader,
) -> GoalRead:
    service.read(session, principal, goal, GOAL)
    return http.shown(response, goal, GoalRead.model_validate(goal))


@router.patch(
    "/cases/{case_id}/goals/{goal_id}",
    summary="Correct a goal or mark it achieved or discontinued (If-Match required)",
    response_model=GoalRead,
    responses=error_responses(401, 403, 404, 409, 412, 422, 428),
)
async def update_case_plan_goal(
    case: CaseForWrite,
    goal: GoalForWrite,
    body: GoalUpdate,
    response: Response,
    session: Session,
    principal: CasesWriter,
    if_match: IfMatch = None,
) -> GoalRead:
    await service.correct_goal(session, principal, case, goal, body, if_match=if_match)
    return http.shown(response, goal, GoalRead.model_validate(goal))


# --- actions ---------------------------------------------------------------------------------


@router.post(
    "/cases/{case_id}/actions",
    summary="Add an action towards a goal: who does what, by when",
    status_code=201,
    response_model=ActionRead,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def create_case_plan_action(
    case: CaseForWrite,
    body: ActionCreate,
    response: Response,
    session: Session,
    principal: CasesWriter,
    idempotency: IdempotencyDep,
) -> Any:
    if (replayed := await idempotency.replay(principal, body)) is not None:
        return replayed
    action = await service.add_action(session, principal, case, body)
    where = location(case, "actions", action.id)
    return await http.created(
        response, idempotency, action, ActionRead.model_validate(action), location=where
    )


@router.get(
    "/cases/{case_id}/actions",
    summary="List the actions of a case plan, by due date by default",
    response_model=Page[ActionRead],
    responses=error_responses(401, 403, 404, 422),
)
async def list_case_plan_actions(
    case: CaseForRead,
    request: Request,
    response: Response,
    session: Session,
    principal: CasesReader,
    pagination: Pagination,
    goal_id: uuid.UUID | None = None,
    done: bool | None = None,
    sort: ActionSort = "due_on",
) -> Page[ActionRead]:
    statement = service.of_case(principal, CasePlanAction, case)
    if goal_id is not None:
        statement = statement.where(col(CasePlanAction.goal_id) == goal_id)
    if done is not None:
        done_on = col(CasePlanAction.done_on)
        statement = statement.where(done_on.is_not(None) if done else done_on.is_(None))
    return await http.page(
        session,
        principal,
        statement,
        ActionRead,
        pagination,
        ACTION_SORTS[sort],
        request,
        response,
        audit_as=ACTION,
        case_id=case.id,
    )


@router.get(
    "/cases/{case_id}/actions/{action_id}",
    summary="Read one action of a case plan",
    response_model=ActionRead,
    responses=error_responses(401, 403, 404, 422),
)
async def get_case_plan_action(
    case: CaseForRead,
    action: ActionForRead,
    response: Response,
    session: Session,
    principal: CasesReader,
) -> ActionRead:
    service.read(session, principal, action, ACTION)
    return http.shown(response, action, ActionRead.model_validate(action))


@router.patch(
    "/cases/{case_id}/actions/{action_id}",
    summary="Correct an action or record it done (If-Match required; history is kept)",
    response_model=ActionRead,
    responses=error_responses(401, 403, 404, 409, 412, 422, 428),
)
async def update_case_plan_action(
    case: CaseForWrite,
    action: ActionForWrite,
    body: ActionUpdate,
    response: Response,
    session: Session,
    principal: CasesWriter,
    if_match: IfMatch = None,
) -> ActionRead:
    await service.correct_action(session, principal, case, action, body, if_match=if_match)
    return http.shown(response, action, ActionRead.model_validate(action))


# --- the whole plan --------------------------------------------------------------------------


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
