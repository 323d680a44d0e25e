"""A case's assessments: the child's situation scored on the Child Status Index domains."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import Depends, Request, Response
from sqlmodel import col, select

from ovc_api.auth.principal import CasesReader, CasesWriter
from ovc_api.cases.deps import CaseForRead, CaseForWrite
from ovc_api.casework.common import (
    ensure_open,
    in_case,
    location,
    not_before_opening,
    plain_changes,
)
from ovc_api.casework.models import Assessment, AssessmentKind
from ovc_api.casework.router import router
from ovc_api.casework.schemas import AssessmentCreate, AssessmentRead, AssessmentUpdate
from ovc_api.concurrency import IfMatch, check_if_match
from ovc_api.crud import Audited
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
from ovc_api.tenancy import scoped

RESOURCE = "assessment"
COLLECTION = "assessments"
SORTS = sort_options(
    col(Assessment.id),
    assessed_on=(col(Assessment.assessed_on), parse_date),
    created_at=(col(Assessment.created_at), parse_datetime),
)
AssessmentSort = Literal["assessed_on", "-assessed_on", "created_at", "-created_at"]


async def assessment_for_read(
    assessment_id: uuid.UUID, case: CaseForRead, session: Session, principal: CasesReader
) -> Assessment:
    return await in_case(session, principal, Assessment, case, assessment_id)


async def assessment_for_write(
    assessment_id: uuid.UUID, case: CaseForWrite, session: Session, principal: CasesWriter
) -> Assessment:
    return await in_case(session, principal, Assessment, case, assessment_id)


AssessmentForRead = Annotated[Assessment, Depends(assessment_for_read)]
AssessmentForWrite = Annotated[Assessment, Depends(assessment_for_write)]


ASSESSMENTS = Audited(RESOURCE, AssessmentRead)


@router.post(
    "/cases/{case_id}/assessments",
    summary="Record an initial or review assessment of the child (CSI domains scored 1-4)",
    status_code=201,
    response_model=AssessmentRead,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def create_case_assessment(
    case: CaseForWrite,
    body: AssessmentCreate,
    response: Response,
    session: Session,
    principal: CasesWriter,
    idempotency: IdempotencyDep,
) -> Any:
    if (replayed := await idempotency.replay(principal, body)) is not None:
        return replayed
    ensure_open(case)
    not_before_opening(case, assessed_on=body.assessed_on)
    assessment = Assessment(
        organisation_id=principal.organisation_id,
        case_id=case.id,
        kind=body.kind.value,
        assessed_on=body.assessed_on,
        assessed_by=principal.user_id,
        domains=body.model_dump(mode="json")["domains"],
        summary=body.summary,
    )
    return await ASSESSMENTS.created(
        session,
        principal,
        assessment,
        response,
        idempotency,
        location=location(case, COLLECTION, assessment.id),
        case_id=case.id,
    )


@router.get(
    "/cases/{case_id}/assessments",
    summary="List a case's assessments, newest first by default",
    response_model=Page[AssessmentRead],
    responses=error_responses(401, 403, 404, 422),
)
async def list_case_assessments(
    case: CaseForRead,
    request: Request,
    response: Response,
    session: Session,
    principal: CasesReader,
    pagination: Pagination,
    kind: AssessmentKind | None = None,
    sort: AssessmentSort = "-assessed_on",
) -> Page[AssessmentRead]:
    statement = scoped(select(Assessment), principal, Assessment).where(
        col(Assessment.case_id) == case.id
    )
    if kind is not None:
        statement = statement.where(col(Assessment.kind) == kind.value)
    return await ASSESSMENTS.page(
        session,
        principal,
        statement,
        pagination,
        SORTS[sort],
        request,
        response,
        case_id=case.id,
    )


@router.get(
    "/cases/{case_id}/assessments/{assessment_id}",
    summary="Read one assessment of a case",
    response_model=AssessmentRead,
    responses=error_responses(401, 403, 404, 422),
)
async def get_case_assessment(
    case: CaseForRead,
    assessment: AssessmentForRead,
    response: Response,
    session: Session,
    principal: CasesReader,
) -> AssessmentRead:
    return ASSESSMENTS.read(session, principal, assessment, response, case_id=case.id)


@router.patch(
    "/cases/{case_id}/assessments/{assessment_id}",
    summary="Correct an assessment (If-Match required; history is kept)",
    response_model=AssessmentRead,
    responses=error_responses(401, 403, 404, 409, 412, 422, 428),
)
async def update_case_assessment(
    case: CaseForWrite,
    assessment: AssessmentForWrite,
    body: AssessmentUpdate,
    response: Response,
    session: Session,
    principal: CasesWriter,
    if_match: IfMatch = None,
) -> AssessmentRead:
    ensure_open(case)
    check_if_match(if_match, assessment)
    changes = plain_changes(body)
    if "domains" in changes:
        changes["domains"] = body.model_dump(mode="json", include={"domains"})["domains"]
    not_before_opening(case, assessed_on=changes.get("assessed_on"))
    return await ASSESSMENTS.updated(
        session, principal, assessment, changes, if_match, response, case_id=case.id
    )
