"""The services directory (who offers what, where) and services delivered.

HTTP only: the rules and the audit are in `services/service.py` (imported as `rules`, since
`service` is a query parameter here); answers go through `http_epilogue`.
"""

from __future__ import annotations

import uuid
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from sqlmodel import col

from ovc_api import API_V1
from ovc_api import http_epilogue as http
from ovc_api.auth.principal import AnyPrincipal, CasesReader, CasesWriter, UsersAdmin
from ovc_api.db import Session
from ovc_api.errors import error_responses
from ovc_api.geography import Province
from ovc_api.identity.models import Organisation
from ovc_api.organisations.deps import OrganisationForAdmin, OrganisationForRead
from ovc_api.pagination import (
    Page,
    Pagination,
    parse_date,
    parse_datetime,
    parse_str,
    sort_options,
)
from ovc_api.record_routes import RecordKind, add_call, add_routes
from ovc_api.row_reads import table_reads
from ovc_api.services import service as rules
from ovc_api.services.filters import ServiceListQuery
from ovc_api.services.models import ServiceDelivery, ServiceType
from ovc_api.services.schemas import (
    DirectoryEntry,
    ServiceCreate,
    ServiceOfferRead,
    ServiceOffers,
    ServiceRead,
    ServiceUpdate,
)

router = APIRouter(prefix=API_V1, tags=["services"])
RESOURCE = rules.RESOURCE
SORTS = sort_options(
    col(ServiceDelivery.id),
    delivered_on=(col(ServiceDelivery.delivered_on), parse_date),
    created_at=(col(ServiceDelivery.created_at), parse_datetime),
    updated_at=(col(ServiceDelivery.updated_at), parse_datetime),
)
BY_NAME = sort_options(col(Organisation.id), name=(col(Organisation.name), parse_str))["name"]


# --- the directory ------------------------------------------------------------------------


ORGANISATION = [("organisation", OrganisationForRead)]
add_call(
    router,
    "GET",
    "/organisations/{organisation_id}/services",
    "list_organisation_services",
    "The services an organisation offers, and where",
    list[ServiceOfferRead],
    error_responses(401, 404, 422),
    AnyPrincipal,
    ORGANISATION,
    lambda session, _principal, organisation: rules.offers_of(session, organisation),
)
OWN_ORGANISATION = [("organisation", OrganisationForAdmin)]
add_call(
    router,
    "PUT",
    "/organisations/{organisation_id}/services",
    "set_organisation_services",
    "Declare the services your organisation offers (replaces the list)",
    list[ServiceOfferRead],
    error_responses(401, 403, 404, 422),
    UsersAdmin,
    OWN_ORGANISATION,
    rules.declare_offers,
    ServiceOffers,
)


@router.get(
    "/directory",
    summary="Find organisations offering a service in a province",
    response_model=Page[DirectoryEntry],
    responses=error_responses(401, 422),
)
async def search_directory(
    request: Request,
    response: Response,
    session: Session,
    principal: AnyPrincipal,
    pagination: Pagination,
    service: ServiceType,
    province: Province | None = None,
) -> Page[DirectoryEntry]:
    return await http.page(
        session,
        principal,
        rules.offering(service, province),
        partial(rules.directory_entries, session, service),
        pagination,
        BY_NAME,
        request,
        response,
    )


# --- services delivered -------------------------------------------------------------------


async def service_for_read(
    service_id: uuid.UUID, session: Session, principal: CasesReader
) -> ServiceDelivery:
    return await rules.delivery_in_scope(session, principal, service_id)


async def service_for_write(
    service_id: uuid.UUID, session: Session, principal: CasesWriter
) -> ServiceDelivery:
    return await rules.delivery_in_scope(session, principal, service_id, for_write=True)


ServiceForRead = Annotated[ServiceDelivery, Depends(service_for_read)]
ServiceForWrite = Annotated[ServiceDelivery, Depends(service_for_write)]


SERVICES = RecordKind(
    name="service",
    plural="services",
    path="/services",
    model=ServiceDelivery,
    read=ServiceRead,
    create=ServiceCreate,
    update=ServiceUpdate,
    query=ServiceListQuery,
    sorts=SORTS,
    resource=RESOURCE,
    for_read=ServiceForRead,
    for_write=ServiceForWrite,
    add=rules.record_delivery,
    audit_read=rules.read_delivery,
    correct=rules.correct_delivery,
    location=lambda delivery: f"{API_V1}/services/{delivery.id}",
    via=rules.via_referral,
    rows=table_reads(
        "service",
        ServiceDelivery,
        ServiceRead,
        from_record={"case_id": "case_id", "via_referral_id": "referral_id"},
        audits_rows=True,
    ),
    summaries=(
        "Record a service delivered to a case's child, a family, or under a referral",
        "List services delivered (yours, and those delivered under your referrals)",
        "Read a service delivery",
        "Correct a service delivery (If-Match required; history is kept)",
    ),
)
add_routes(router, SERVICES)
