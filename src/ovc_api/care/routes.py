"""Alternative care over HTTP: the facilities directory, a child's placements and family
tracing. HTTP only: the rules and the audit are in `care/service.py`."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from sqlmodel import col

from ovc_api import API_V1
from ovc_api import record_routes as kit
from ovc_api.auth.principal import AnyPrincipal, CasesReader, CasesWriter, FacilitiesWriter
from ovc_api.care import schemas, service
from ovc_api.care.filters import FacilityListQuery
from ovc_api.care.models import CareFacility, Placement, TracingAttempt
from ovc_api.children.routes import ChildForRead, ChildForWrite
from ovc_api.db import Session
from ovc_api.errors import error_responses
from ovc_api.pagination import parse_str, sort_options

router = APIRouter(prefix=API_V1, tags=["alternative care"])
BY_NAME = sort_options(col(CareFacility.id), name=(col(CareFacility.name), parse_str))["name"]
SHOW_FACILITY = kit.validated(schemas.FacilityRead)
SHOW_TRACING = kit.validated(schemas.TracingRead)


async def facility_or_404(
    facility_id: uuid.UUID, session: Session, principal: AnyPrincipal
) -> CareFacility:
    """Depends on the caller so the transaction is bound to its organisation first (on
    PostgreSQL the directory is readable only by a bound member)."""
    return await service.facility_or_404(session, facility_id)


Facility = Annotated[CareFacility, Depends(facility_or_404)]


kit.add_page(
    router,
    "/facilities",
    "list_facilities",
    "The care facilities directory (residential care institutions and others)",
    schemas.FacilityRead,
    error_responses(401, 422),
    AnyPrincipal,
    (),
    FacilityListQuery,
    lambda _principal: service.facilities(),
    BY_NAME,
    description="Shared reference data every member reads; residents are never listed here.",
)
kit.add_create(
    router,
    "/facilities",
    "create_facility",
    "Record a care facility (operator organisation's or network administrator)",
    schemas.FacilityRead,
    error_responses(401, 403, 422),
    FacilitiesWriter,
    (),
    schemas.FacilityCreate,
    service.record_facility,
    SHOW_FACILITY,
    lambda facility: f"{API_V1}/facilities/{facility.id}",
    service.FACILITY,
)
FACILITY = [("facility", Facility)]
kit.add_read(
    router,
    "/facilities/{facility_id}",
    "get_facility",
    "Read a care facility",
    schemas.FacilityRead,
    error_responses(401, 404, 422),
    None,
    FACILITY,
    SHOW_FACILITY,
)
kit.add_correct(
    router,
    "/facilities/{facility_id}",
    "update_facility",
    "Correct a care facility (its operator or the network administrator; If-Match)",
    schemas.FacilityRead,
    error_responses(401, 403, 404, 412, 422, 428),
    FacilitiesWriter,
    FACILITY,
    schemas.FacilityUpdate,
    service.correct_facility,
    SHOW_FACILITY,
)


# --- placements ------------------------------------------------------------------------------


CHILD = [("child", ChildForRead)]
OF_CHILD = [("child", ChildForWrite)]
_, placement_for_write = kit.loaders(
    service.placement_in_scope, "placement_id", parent=(None, ChildForWrite)
)
_, tracing_for_write = kit.loaders(
    service.tracing_in_scope, "tracing_id", parent=(None, ChildForWrite)
)


async def _placement_read(
    session: Any, _principal: Any, placement: Placement
) -> schemas.PlacementRead:
    (result,) = await service.present_placements(session, [placement])
    return result


kit.add_call(
    router,
    "GET",
    "/children/{child_id}/placements",
    "list_placements",
    "A child's care history: its placements, oldest first",
    list[schemas.PlacementRead],
    error_responses(401, 403, 404, 422),
    CasesReader,
    CHILD,
    service.read_placements,
)
kit.add_create(
    router,
    "/children/{child_id}/placements",
    "create_placement",
    "Record a placement (the open one ends the current placement on its start)",
    schemas.PlacementRead,
    error_responses(401, 403, 404, 409, 422),
    CasesWriter,
    OF_CHILD,
    schemas.PlacementCreate,
    service.record_placement,
    _placement_read,
    lambda row: f"{API_V1}/children/{row.child_id}/placements/{row.id}",
    service.PLACEMENT,
    description="Residential care and group homes need a facility of that kind and the "
    "gatekeeping decision with the family tracing before it (422 otherwise). The child's "
    "`care_arrangement` follows the open placement.",
)
PLACEMENT = [("placement", Annotated[Placement, Depends(placement_for_write)])]
kit.add_correct(
    router,
    "/children/{child_id}/placements/{placement_id}",
    "update_placement",
    "Correct a placement's caregiver, reasons or decision reference (If-Match)",
    schemas.PlacementRead,
    error_responses(401, 403, 404, 412, 422, 428),
    CasesWriter,
    PLACEMENT,
    schemas.PlacementUpdate,
    service.correct_placement,
    _placement_read,
)

# --- family tracing --------------------------------------------------------------------------

kit.add_call(
    router,
    "GET",
    "/children/{child_id}/tracing",
    "list_tracing",
    "Attempts to find a child's family and relatives, oldest first",
    list[schemas.TracingRead],
    error_responses(401, 403, 404, 422),
    CasesReader,
    CHILD,
    service.read_tracing,
)
kit.add_create(
    router,
    "/children/{child_id}/tracing",
    "create_tracing",
    "Record a family-tracing attempt",
    schemas.TracingRead,
    error_responses(401, 403, 404, 422),
    CasesWriter,
    OF_CHILD,
    schemas.TracingCreate,
    service.record_tracing,
    SHOW_TRACING,
    lambda row: f"{API_V1}/children/{row.child_id}/tracing/{row.id}",
    service.TRACING,
)
TRACING_ATTEMPT = [("attempt", Annotated[TracingAttempt, Depends(tracing_for_write)])]
kit.add_correct(
    router,
    "/children/{child_id}/tracing/{tracing_id}",
    "update_tracing",
    "Record a tracing attempt's outcome or correct its notes (If-Match)",
    schemas.TracingRead,
    error_responses(401, 403, 404, 412, 422, 428),
    CasesWriter,
    TRACING_ATTEMPT,
    schemas.TracingUpdate,
    service.correct_tracing,
    SHOW_TRACING,
)
