"""A case's assessments: the child's situation scored on the Child Status Index domains.

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
from ovc_api.casework.models import Assessment, AssessmentKind
from ovc_api.casework.schemas import AssessmentCreate, AssessmentRead, AssessmentUpdate
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

RESOURCE = service.ASSESSMENT
COLLECTION = "assessments"
SORTS = sort_options(
    col(Assessment.id),
    assessed_on=(col(Assessment.assessed_on), parse_date),
    created_at=(col(Assessment.created_at), parse_datetime),
)
AssessmentSort = Literal["assessed_on", "-assessed_on", "created_at", "-created_at"]


router = APIRouter(prefix=API_V1, tags=["casework"])


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
    assessment = await service.record_assessment(session, principal, case, body)
    result = AssessmentRead.model_validate(assessment)
    where = location(case, COLLECTION, assessment.id)
    return await http.created(response, idempotency, assessment, result, location=where)


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
    statement = service.of_case(principal, Assessment, case)
    if kind is not None:
        statement = statement.where(col(Assessment.kind) == kind.value)
    return await http.page(
        session,
        principal,
        statement,
        AssessmentRead,
        pagination,
        SORTS[sort],
        request,
        response,
        audit_as=RESOURCE,
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
    service.read(session, principal, assessment, RESOURCE)
    return http.shown(response, assessment, AssessmentRead.model_validate(assessment))


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
    await service.correct_assessment(session, principal, case, assessment, body, if_match=if_match)
    return http.shown(response, assessment, AssessmentRead.model_validate(assessment))
