"""Reintegration over HTTP: plans, the move, monitoring visits, re-separation, and each
organisation's monitoring schedule. HTTP only: the rules are in `care/reintegration.py`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from sqlmodel import col

from ovc_api import API_V1
from ovc_api import record_routes as kit
from ovc_api.auth.principal import AnyPrincipal, CasesReader, CasesWriter, UsersAdmin
from ovc_api.care import reintegration as service
from ovc_api.care.filters import PlanListQuery
from ovc_api.care.models import MonitoringVisit, ReintegrationPlan
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
from ovc_api.errors import error_responses
from ovc_api.organisations.deps import OrganisationForAdmin, OrganisationForRead
from ovc_api.pagination import parse_datetime, sort_options

router = APIRouter(prefix=API_V1, tags=["alternative care"])
PLANS = f"{API_V1}/reintegration-plans"
NEWEST = sort_options(
    col(ReintegrationPlan.id), created_at=(col(ReintegrationPlan.created_at), parse_datetime)
)["-created_at"]


plan_for_read, plan_for_write = kit.loaders(service.plan_in_scope, "plan_id")
PlanForRead = Annotated[ReintegrationPlan, Depends(plan_for_read)]
PlanForWrite = Annotated[ReintegrationPlan, Depends(plan_for_write)]
_, visit_for_write = kit.loaders(service.visit_in_scope, "visit_id", parent=(None, PlanForWrite))
PLAN = [("plan", PlanForWrite)]
SHOWN = kit.validated(PlanRead)


ORGANISATION = [("organisation", OrganisationForRead)]
kit.add_call(
    router,
    "GET",
    "/organisations/{organisation_id}/care-settings",
    "get_care_settings",
    "An organisation's alternative-care settings (the monitoring schedule)",
    CareSettings,
    error_responses(401, 404, 422),
    AnyPrincipal,
    ORGANISATION,
    service.care_settings,
)
OWN_ORGANISATION = [("organisation", OrganisationForAdmin)]
kit.add_call(
    router,
    "PUT",
    "/organisations/{organisation_id}/care-settings",
    "put_care_settings",
    "Set one's own organisation's monitoring schedule (months after a move)",
    CareSettings,
    error_responses(401, 403, 404, 422),
    UsersAdmin,
    OWN_ORGANISATION,
    service.set_care_settings,
    CareSettings,
)
kit.add_create(
    router,
    "/reintegration-plans",
    "create_plan",
    "Open a reintegration plan for a child leaving care (one active per child)",
    PlanRead,
    error_responses(401, 403, 409, 422),
    CasesWriter,
    (),
    PlanCreate,
    service.open_plan,
    SHOWN,
    lambda plan: f"{PLANS}/{plan.id}",
    service.PLAN,
)


kit.add_page(
    router,
    "/reintegration-plans",
    "list_plans",
    "List reintegration plans, newest first",
    PlanRead,
    error_responses(401, 403, 422),
    CasesReader,
    (),
    PlanListQuery,
    service.plans,
    NEWEST,
    audit_as=service.PLAN,
)
PLAN_READ = [("plan", PlanForRead)]
kit.add_read(
    router,
    "/reintegration-plans/{plan_id}",
    "get_plan",
    "Read a reintegration plan",
    PlanRead,
    error_responses(401, 403, 404, 422),
    CasesReader,
    PLAN_READ,
    SHOWN,
    service.read_plan,
)
kit.add_correct(
    router,
    "/reintegration-plans/{plan_id}",
    "update_plan",
    "Revise a plan: target, readiness, preparation steps, support package (If-Match)",
    PlanRead,
    error_responses(401, 403, 404, 409, 412, 422, 428),
    CasesWriter,
    PLAN,
    PlanUpdate,
    service.correct_plan,
    SHOWN,
)
# The plan's two moves: (path, name, summary, description, body, operation)
MOVES = (
    (
        "move",
        "move_child",
        "The child moves to the family: placement starts, monitoring is scheduled",
        "Monitoring visits fall due at the organisation's months after the move "
        "(1, 3, 6 and 12 by default) and appear in `/api/v1/tasks`.",
        MoveBody,
        service.move,
    ),
    (
        "re-separation",
        "re_separate",
        "The family placement broke down: record where the child went; planning reopens",
        None,
        ReSeparationBody,
        service.re_separate,
    ),
)
for step, name, summary, description, body, operation in MOVES:
    kit.add_action(
        router,
        f"/reintegration-plans/{{plan_id}}/{step}",
        name,
        summary,
        PlanRead,
        error_responses(401, 403, 404, 409, 422),
        CasesWriter,
        PLAN,
        body,
        operation,
        SHOWN,
        description=description,
        resource=service.PLAN,
    )
kit.add_call(
    router,
    "GET",
    "/reintegration-plans/{plan_id}/monitoring",
    "list_visits",
    "The plan's monitoring visits, by due date",
    list[VisitRead],
    error_responses(401, 403, 404, 422),
    CasesReader,
    PLAN_READ,
    service.read_visits,
)
VISIT = [*PLAN, ("visit", Annotated[MonitoringVisit, Depends(visit_for_write)])]
kit.add_correct(
    router,
    "/reintegration-plans/{plan_id}/monitoring/{visit_id}",
    "record_visit",
    "Record a monitoring visit: when, and whether the placement is stable (If-Match)",
    VisitRead,
    error_responses(401, 403, 404, 409, 412, 422, 428),
    CasesWriter,
    VISIT,
    VisitUpdate,
    service.record_visit,
    kit.validated(VisitRead),
)
