"""Reintegration over HTTP: plans, the move, monitoring visits, re-separation, and each
organisation's monitoring schedule. HTTP only: the rules are in `care/reintegration.py`."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from sqlmodel import col

from ovc_api import API_V1
from ovc_api import http_epilogue as http
from ovc_api.auth.principal import AnyPrincipal, CasesReader, CasesWriter, UsersAdmin
from ovc_api.care import reintegration as service
from ovc_api.care.models import MonitoringVisit, PlanStatus, ReintegrationPlan
from ovc_api.care.reintegration_schemas import (
    CareSettings,
    MoveBody,
    PlanCreate,
    PlanRead,
    PlanUpdate,
    ReSeparationBody,
    VisitRead,
    VisitUpdate,
)
from ovc_api.concurrency import IfMatch
from ovc_api.db import Session
from ovc_api.errors import error_responses
from ovc_api.idempotency import IdempotencyDep
from ovc_api.identity.models import Organisation
from ovc_api.organisations.routes import get_organisation_or_404
from ovc_api.pagination import Page, Pagination, parse_datetime, sort_options

router = APIRouter(prefix=API_V1, tags=["alternative care"])
PLANS = f"{API_V1}/reintegration-plans"
NEWEST = sort_options(
    col(ReintegrationPlan.id), created_at=(col(ReintegrationPlan.created_at), parse_datetime)
)["-created_at"]


async def plan_for_read(
    plan_id: uuid.UUID, session: Session, principal: CasesReader
) -> ReintegrationPlan:
    return await service.plan_in_scope(session, principal, plan_id)


async def plan_for_write(
    plan_id: uuid.UUID, session: Session, principal: CasesWriter
) -> ReintegrationPlan:
    return await service.plan_in_scope(session, principal, plan_id)


PlanForRead = Annotated[ReintegrationPlan, Depends(plan_for_read)]
PlanForWrite = Annotated[ReintegrationPlan, Depends(plan_for_write)]


@router.get(
    "/organisations/{organisation_id}/care-settings",
    summary="An organisation's alternative-care settings (the monitoring schedule)",
    response_model=CareSettings,
    responses=error_responses(401, 404, 422),
)
async def get_care_settings(
    organisation_id: uuid.UUID, session: Session, principal: AnyPrincipal
) -> CareSettings:
    organisation = await get_organisation_or_404(session, principal, organisation_id)
    months = await service.monitoring_months(session, organisation.id)
    return CareSettings(monitoring_months=months)


@router.put(
    "/organisations/{organisation_id}/care-settings",
    summary="Set one's own organisation's monitoring schedule (months after a move)",
    response_model=CareSettings,
    responses=error_responses(401, 403, 404, 422),
)
async def put_care_settings(
    organisation_id: uuid.UUID, body: CareSettings, session: Session, principal: UsersAdmin
) -> CareSettings:
    organisation: Organisation = await get_organisation_or_404(session, principal, organisation_id)
    return await service.set_care_settings(session, principal, organisation, body)


@router.post(
    "/reintegration-plans",
    summary="Open a reintegration plan for a child leaving care (one active per child)",
    status_code=201,
    response_model=PlanRead,
    responses=error_responses(401, 403, 409, 422),
)
async def create_plan(
    body: PlanCreate,
    response: Response,
    session: Session,
    principal: CasesWriter,
    idempotency: IdempotencyDep,
) -> Any:
    if (replayed := await idempotency.replay(principal, body)) is not None:
        return replayed
    plan = await service.open_plan(session, principal, body)
    result = PlanRead.model_validate(plan)
    return await http.created(
        response, idempotency, plan, result, location=f"{PLANS}/{plan.id}", resource=service.PLAN
    )


@router.get(
    "/reintegration-plans",
    summary="List reintegration plans, newest first",
    response_model=Page[PlanRead],
    responses=error_responses(401, 403, 422),
)
async def list_plans(
    request: Request,
    response: Response,
    session: Session,
    principal: CasesReader,
    pagination: Pagination,
    status: PlanStatus | None = None,
    child_id: uuid.UUID | None = None,
    case_id: uuid.UUID | None = None,
) -> Page[PlanRead]:
    statement = service.plans(principal)
    equal: dict[Any, Any] = {
        ReintegrationPlan.status: status.value if status else None,
        ReintegrationPlan.child_id: child_id,
        ReintegrationPlan.case_id: case_id,
    }
    for column, value in equal.items():
        if value is not None:
            statement = statement.where(col(column) == value)
    return await http.page(
        session,
        principal,
        statement,
        PlanRead,
        pagination,
        NEWEST,
        request,
        response,
        audit_as=service.PLAN,
    )


@router.get(
    "/reintegration-plans/{plan_id}",
    summary="Read a reintegration plan",
    response_model=PlanRead,
    responses=error_responses(401, 403, 404, 422),
)
async def get_plan(
    plan: PlanForRead, response: Response, session: Session, principal: CasesReader
) -> PlanRead:
    service.read_plan(session, principal, plan)
    return http.shown(response, plan, PlanRead.model_validate(plan))


@router.patch(
    "/reintegration-plans/{plan_id}",
    summary="Revise a plan: target, readiness, preparation steps, support package (If-Match)",
    response_model=PlanRead,
    responses=error_responses(401, 403, 404, 409, 412, 422, 428),
)
async def update_plan(
    plan: PlanForWrite,
    body: PlanUpdate,
    response: Response,
    session: Session,
    principal: CasesWriter,
    if_match: IfMatch = None,
) -> PlanRead:
    await service.correct_plan(session, principal, plan, body, if_match=if_match)
    return http.shown(response, plan, PlanRead.model_validate(plan))


@router.post(
    "/reintegration-plans/{plan_id}/move",
    summary="The child moves to the family: placement starts, monitoring is scheduled",
    description="Monitoring visits fall due at the organisation's months after the move "
    "(1, 3, 6 and 12 by default) and appear in `/api/v1/tasks`.",
    response_model=PlanRead,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def move_child(
    plan: PlanForWrite,
    body: MoveBody,
    response: Response,
    session: Session,
    principal: CasesWriter,
    idempotency: IdempotencyDep,
) -> Any:
    if (replayed := await idempotency.replay(principal, body)) is not None:
        return replayed
    await service.move(session, principal, plan, body)
    return await http.done(
        idempotency,
        PlanRead.model_validate(plan),
        response=response,
        row=plan,
        resource=service.PLAN,
    )


@router.post(
    "/reintegration-plans/{plan_id}/re-separation",
    summary="The family placement broke down: record where the child went; planning reopens",
    response_model=PlanRead,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def re_separate(
    plan: PlanForWrite,
    body: ReSeparationBody,
    response: Response,
    session: Session,
    principal: CasesWriter,
    idempotency: IdempotencyDep,
) -> Any:
    if (replayed := await idempotency.replay(principal, body)) is not None:
        return replayed
    await service.re_separate(session, principal, plan, body)
    return await http.done(
        idempotency,
        PlanRead.model_validate(plan),
        response=response,
        row=plan,
        resource=service.PLAN,
    )


@router.get(
    "/reintegration-plans/{plan_id}/monitoring",
    summary="The plan's monitoring visits, by due date",
    response_model=list[VisitRead],
    responses=error_responses(401, 403, 404, 422),
)
async def list_visits(
    plan: PlanForRead, session: Session, principal: CasesReader
) -> list[VisitRead]:
    service.read_plan(session, principal, plan)
    return [VisitRead.model_validate(v) for v in await service.visits_of(session, plan)]


async def visit_for_write(
    visit_id: uuid.UUID, plan: PlanForWrite, session: Session, principal: CasesWriter
) -> MonitoringVisit:
    return await service.visit_in_scope(session, principal, plan, visit_id)


@router.patch(
    "/reintegration-plans/{plan_id}/monitoring/{visit_id}",
    summary="Record a monitoring visit: when, and whether the placement is stable (If-Match)",
    response_model=VisitRead,
    responses=error_responses(401, 403, 404, 409, 412, 422, 428),
)
async def record_visit(
    plan: PlanForWrite,
    visit: Annotated[MonitoringVisit, Depends(visit_for_write)],
    body: VisitUpdate,
    response: Response,
    session: Session,
    principal: CasesWriter,
    if_match: IfMatch = None,
) -> VisitRead:
    await service.record_visit(session, principal, plan, visit, body, if_match=if_match)
    return http.shown(response, visit, VisitRead.model_validate(visit))
