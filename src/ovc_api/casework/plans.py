"""A case's plan: goals per CSI domain, and the actions (who does what, by when) towards them."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import Depends, Request, Response
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api.audit.service import record
from ovc_api.auth.principal import CasesReader, CasesWriter, Principal
from ovc_api.cases.deps import CaseForRead, CaseForWrite
from ovc_api.cases.models import Case
from ovc_api.casework.common import (
    ensure_open,
    in_case,
    location,
    not_before_opening,
    plain_changes,
)
from ovc_api.casework.models import CasePlanAction, CasePlanGoal, CsiDomain, GoalStatus
from ovc_api.casework.router import router
from ovc_api.casework.schemas import (
    ActionCreate,
    ActionRead,
    ActionUpdate,
    CasePlanRead,
    GoalCreate,
    GoalRead,
    GoalUpdate,
    PlanGoalRead,
)
from ovc_api.concurrency import IfMatch, check_if_match
from ovc_api.crud import Audited
from ovc_api.db import Session
from ovc_api.errors import NotFound, Unprocessable, error_responses
from ovc_api.idempotency import IdempotencyDep
from ovc_api.identity.models import Organisation
from ovc_api.pagination import (
    Page,
    Pagination,
    parse_date,
    parse_datetime,
    sort_options,
)
from ovc_api.tenancy import scoped

GOAL = "case_plan_goal"
ACTION = "case_plan_action"
PLAN_GOALS_LIMIT = 200
PLAN_ACTIONS_LIMIT = 1000
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


async def _resolve_goal(
    session: AsyncSession, principal: Principal, case: Case, goal_id: uuid.UUID
) -> None:
    """A body's goal_id must be a goal of the same case."""
    try:
        await in_case(session, principal, CasePlanGoal, case, goal_id)
    except NotFound as exc:
        raise Unprocessable.field(["body", "goal_id"], "no such goal in this case") from exc


async def _resolve_organisation(session: AsyncSession, organisation_id: uuid.UUID) -> None:
    """Any active member of the network may be responsible for an action."""
    organisation = await session.get(Organisation, organisation_id)
    if organisation is None or not organisation.active:
        raise Unprocessable.field(
            ["body", "responsible_organisation_id"], "no such active member organisation"
        )


GOALS = Audited(GOAL, GoalRead)


ACTIONS = Audited(ACTION, ActionRead)


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
    ensure_open(case)
    goal = CasePlanGoal(
        organisation_id=principal.organisation_id,
        case_id=case.id,
        domain=body.domain.value,
        description=body.description,
        status=body.status.value,
    )
    return await GOALS.created(
        session,
        principal,
        goal,
        response,
        idempotency,
        location=location(case, "goals", goal.id),
        case_id=case.id,
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
    statement = scoped(select(CasePlanGoal), principal, CasePlanGoal).where(
        col(CasePlanGoal.case_id) == case.id
    )
    if status is not None:
        statement = statement.where(col(CasePlanGoal.status) == status.value)
    if domain is not None:
        statement = statement.where(col(CasePlanGoal.domain) == domain.value)
    return await GOALS.page(
        session,
        principal,
        statement,
        pagination,
        GOAL_SORTS[sort],
        request,
        response,
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
    return GOALS.read(session, principal, goal, response, case_id=case.id)


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
    ensure_open(case)
    return await GOALS.updated(
        session, principal, goal, plain_changes(body), if_match, response, case_id=case.id
    )


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
    ensure_open(case)
    not_before_opening(case, due_on=body.due_on, done_on=body.done_on)
    await _resolve_goal(session, principal, case, body.goal_id)
    responsible = body.responsible_organisation_id or principal.organisation_id
    await _resolve_organisation(session, responsible)
    action = CasePlanAction(
        organisation_id=principal.organisation_id,
        case_id=case.id,
        goal_id=body.goal_id,
        description=body.description,
        responsible_organisation_id=responsible,
        due_on=body.due_on,
        done_on=body.done_on,
    )
    return await ACTIONS.created(
        session,
        principal,
        action,
        response,
        idempotency,
        location=location(case, "actions", action.id),
        case_id=case.id,
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
    statement = scoped(select(CasePlanAction), principal, CasePlanAction).where(
        col(CasePlanAction.case_id) == case.id
    )
    if goal_id is not None:
        statement = statement.where(col(CasePlanAction.goal_id) == goal_id)
    if done is not None:
        done_on = col(CasePlanAction.done_on)
        statement = statement.where(done_on.is_not(None) if done else done_on.is_(None))
    return await ACTIONS.page(
        session,
        principal,
        statement,
        pagination,
        ACTION_SORTS[sort],
        request,
        response,
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
    return ACTIONS.read(session, principal, action, response, case_id=case.id)


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
    ensure_open(case)
    check_if_match(if_match, action)
    changes = plain_changes(body)
    not_before_opening(case, due_on=changes.get("due_on"), done_on=changes.get("done_on"))
    if "goal_id" in changes and changes["goal_id"] != action.goal_id:
        await _resolve_goal(session, principal, case, changes["goal_id"])
    responsible = changes.get("responsible_organisation_id")
    if responsible is not None and responsible != action.responsible_organisation_id:
        await _resolve_organisation(session, responsible)
    return await ACTIONS.updated(
        session, principal, action, changes, if_match, response, case_id=case.id
    )


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
    goals = (
        await session.exec(
            scoped(select(CasePlanGoal), principal, CasePlanGoal)
            .where(col(CasePlanGoal.case_id) == case.id)
            .order_by(col(CasePlanGoal.created_at), col(CasePlanGoal.id))
            .limit(PLAN_GOALS_LIMIT + 1)
        )
    ).all()
    actions = (
        await session.exec(
            scoped(select(CasePlanAction), principal, CasePlanAction)
            .where(col(CasePlanAction.case_id) == case.id)
            .order_by(col(CasePlanAction.due_on), col(CasePlanAction.id))
            .limit(PLAN_ACTIONS_LIMIT + 1)
        )
    ).all()
    truncated = len(goals) > PLAN_GOALS_LIMIT or len(actions) > PLAN_ACTIONS_LIMIT
    goals, actions = goals[:PLAN_GOALS_LIMIT], actions[:PLAN_ACTIONS_LIMIT]
    by_goal: dict[uuid.UUID, list[ActionRead]] = {g.id: [] for g in goals}
    for action in actions:
        if action.goal_id in by_goal:
            by_goal[action.goal_id].append(ActionRead.model_validate(action))
    listed = [
        PlanGoalRead(**GoalRead.model_validate(g).model_dump(), actions=by_goal[g.id])
        for g in goals
    ]
    record(
        session,
        principal,
        "case_plan.read",
        resource_type="case_plan",
        case_id=case.id,
        record_ids=[g.id for g in listed] + [a.id for g in listed for a in g.actions],
    )
    return CasePlanRead(case_id=case.id, goals=listed, truncated=truncated)
