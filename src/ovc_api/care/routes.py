"""Alternative care over HTTP: the facilities directory, a child's placements and family
tracing. HTTP only: the rules and the audit are in `care/service.py`."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlmodel import col

from ovc_api import API_V1
from ovc_api import http_epilogue as http
from ovc_api.auth.principal import AnyPrincipal, CasesReader, CasesWriter, FacilitiesWriter
from ovc_api.care import service
from ovc_api.care.models import CareFacility, FacilityKind, Placement, TracingAttempt
from ovc_api.care.schemas import (
    FacilityCreate,
    FacilityRead,
    FacilityUpdate,
    PlacementCreate,
    PlacementRead,
    PlacementUpdate,
    TracingCreate,
    TracingRead,
    TracingUpdate,
)
from ovc_api.children.routes import ChildForRead, ChildForWrite
from ovc_api.concurrency import IfMatch
from ovc_api.db import Session
from ovc_api.errors import error_responses
from ovc_api.geography import Province
from ovc_api.idempotency import IdempotencyDep
from ovc_api.pagination import Page, Pagination, parse_str, sort_options

router = APIRouter(prefix=API_V1, tags=["alternative care"])
BY_NAME = sort_options(col(CareFacility.id), name=(col(CareFacility.name), parse_str))["name"]


async def facility_or_404(
    facility_id: uuid.UUID, session: Session, principal: AnyPrincipal
) -> CareFacility:
    """Depends on the caller so the transaction is bound to its organisation first (on
    PostgreSQL the directory is readable only by a bound member)."""
    return await service.facility_or_404(session, facility_id)


Facility = Annotated[CareFacility, Depends(facility_or_404)]


@router.get(
    "/facilities",
    summary="The care facilities directory (residential care institutions and others)",
    description="Shared reference data every member reads; residents are never listed here.",
    response_model=Page[FacilityRead],
    responses=error_responses(401, 422),
)
async def list_facilities(
    request: Request,
    response: Response,
    session: Session,
    principal: AnyPrincipal,
    pagination: Pagination,
    kind: FacilityKind | None = None,
    province: Province | None = None,
    transitioning: Annotated[
        bool | None, Query(description="Only facilities transitioning to family-based care")
    ] = None,
    organisation_id: uuid.UUID | None = None,
) -> Page[FacilityRead]:
    statement = service.facilities()
    if kind is not None:
        statement = statement.where(col(CareFacility.kind) == kind.value)
    if province is not None:
        statement = statement.where(col(CareFacility.province) == province.value)
    if organisation_id is not None:
        statement = statement.where(col(CareFacility.organisation_id) == organisation_id)
    if transitioning is not None:
        since = col(CareFacility.transitioning_since)
        statement = statement.where(since.is_not(None) if transitioning else since.is_(None))
    return await http.page(
        session, principal, statement, FacilityRead, pagination, BY_NAME, request, response
    )


@router.post(
    "/facilities",
    summary="Record a care facility (operator organisation's or network administrator)",
    status_code=201,
    response_model=FacilityRead,
    responses=error_responses(401, 403, 422),
)
async def create_facility(
    body: FacilityCreate,
    response: Response,
    session: Session,
    principal: FacilitiesWriter,
    idempotency: IdempotencyDep,
) -> Any:
    if (replayed := await idempotency.replay(principal, body)) is not None:
        return replayed
    facility = await service.record_facility(session, principal, body)
    result = FacilityRead.model_validate(facility)
    location = f"{API_V1}/facilities/{facility.id}"
    return await http.created(
        response, idempotency, facility, result, location=location, resource=service.FACILITY
    )


@router.get(
    "/facilities/{facility_id}",
    summary="Read a care facility",
    response_model=FacilityRead,
    responses=error_responses(401, 404, 422),
)
async def get_facility(
    facility: Facility, response: Response, principal: AnyPrincipal
) -> FacilityRead:
    return http.shown(response, facility, FacilityRead.model_validate(facility))


@router.patch(
    "/facilities/{facility_id}",
    summary="Correct a care facility (its operator or the network administrator; If-Match)",
    response_model=FacilityRead,
    responses=error_responses(401, 403, 404, 412, 422, 428),
)
async def update_facility(
    facility: Facility,
    body: FacilityUpdate,
    response: Response,
    session: Session,
    principal: FacilitiesWriter,
    if_match: IfMatch = None,
) -> FacilityRead:
    await service.correct_facility(session, principal, facility, body, if_match=if_match)
    return http.shown(response, facility, FacilityRead.model_validate(facility))


# --- placements ------------------------------------------------------------------------------


@router.get(
    "/children/{child_id}/placements",
    summary="A child's care history: its placements, oldest first",
    response_model=list[PlacementRead],
    responses=error_responses(401, 403, 404, 422),
)
async def list_placements(
    child: ChildForRead, session: Session, principal: CasesReader
) -> list[PlacementRead]:
    placements = await service.placements_of(session, child)
    service.read_child_care(
        session, principal, child, service.PLACEMENT, [p.id for p in placements]
    )
    return await service.present_placements(session, placements)


@router.post(
    "/children/{child_id}/placements",
    summary="Record a placement (the open one ends the current placement on its start)",
    description="Residential care and group homes need a facility of that kind and the "
    "gatekeeping decision with the family tracing before it (422 otherwise). The child's "
    "`care_arrangement` follows the open placement.",
    status_code=201,
    response_model=PlacementRead,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def create_placement(
    child: ChildForWrite,
    body: PlacementCreate,
    response: Response,
    session: Session,
    principal: CasesWriter,
    idempotency: IdempotencyDep,
) -> Any:
    if (replayed := await idempotency.replay(principal, body)) is not None:
        return replayed
    placement = await service.record_placement(session, principal, child, body)
    (result,) = await service.present_placements(session, [placement])
    location = f"{API_V1}/children/{child.id}/placements/{placement.id}"
    return await http.created(
        response, idempotency, placement, result, location=location, resource=service.PLACEMENT
    )


async def placement_for_write(
    placement_id: uuid.UUID, child: ChildForWrite, session: Session, principal: CasesWriter
) -> Placement:
    return await service.placement_in_scope(session, principal, child, placement_id)


@router.patch(
    "/children/{child_id}/placements/{placement_id}",
    summary="Correct a placement's caregiver, reasons or decision reference (If-Match)",
    response_model=PlacementRead,
    responses=error_responses(401, 403, 404, 412, 422, 428),
)
async def update_placement(
    placement: Annotated[Placement, Depends(placement_for_write)],
    body: PlacementUpdate,
    response: Response,
    session: Session,
    principal: CasesWriter,
    if_match: IfMatch = None,
) -> PlacementRead:
    await service.correct_placement(session, principal, placement, body, if_match=if_match)
    (result,) = await service.present_placements(session, [placement])
    return http.shown(response, placement, result)


# --- family tracing --------------------------------------------------------------------------


@router.get(
    "/children/{child_id}/tracing",
    summary="Attempts to find a child's family and relatives, oldest first",
    response_model=list[TracingRead],
    responses=error_responses(401, 403, 404, 422),
)
async def list_tracing(
    child: ChildForRead, session: Session, principal: CasesReader
) -> list[TracingRead]:
    attempts = await service.tracing_of(session, child)
    service.read_child_care(session, principal, child, service.TRACING, [a.id for a in attempts])
    return [TracingRead.model_validate(a) for a in attempts]


@router.post(
    "/children/{child_id}/tracing",
    summary="Record a family-tracing attempt",
    status_code=201,
    response_model=TracingRead,
    responses=error_responses(401, 403, 404, 422),
)
async def create_tracing(
    child: ChildForWrite,
    body: TracingCreate,
    response: Response,
    session: Session,
    principal: CasesWriter,
    idempotency: IdempotencyDep,
) -> Any:
    if (replayed := await idempotency.replay(principal, body)) is not None:
        return replayed
    attempt = await service.record_tracing(session, principal, child, body)
    result = TracingRead.model_validate(attempt)
    location = f"{API_V1}/children/{child.id}/tracing/{attempt.id}"
    return await http.created(
        response, idempotency, attempt, result, location=location, resource=service.TRACING
    )


async def tracing_for_write(
    tracing_id: uuid.UUID, child: ChildForWrite, session: Session, principal: CasesWriter
) -> TracingAttempt:
    return await service.tracing_in_scope(session, principal, child, tracing_id)


@router.patch(
    "/children/{child_id}/tracing/{tracing_id}",
    summary="Record a tracing attempt's outcome or correct its notes (If-Match)",
    response_model=TracingRead,
    responses=error_responses(401, 403, 404, 412, 422, 428),
)
async def update_tracing(
    attempt: Annotated[TracingAttempt, Depends(tracing_for_write)],
    body: TracingUpdate,
    response: Response,
    session: Session,
    principal: CasesWriter,
    if_match: IfMatch = None,
) -> TracingRead:
    await service.correct_tracing(session, principal, attempt, body, if_match=if_match)
    return http.shown(response, attempt, TracingRead.model_validate(attempt))
