"""The services directory (who offers what, where) and services delivered.

HTTP only: the rules and the audit are in `services/service.py` (imported as `rules`, since
`service` is a query parameter here); answers go through `http_epilogue`.
"""

from __future__ import annotations

import uuid
from functools import partial
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from sqlmodel import col, select

from ovc_api import API_V1
from ovc_api import http_epilogue as http
from ovc_api.auth.principal import AnyPrincipal, CasesReader, CasesWriter, UsersAdmin
from ovc_api.concurrency import IfMatch
from ovc_api.db import Session
from ovc_api.errors import error_responses
from ovc_api.geography import Province
from ovc_api.idempotency import IdempotencyDep
from ovc_api.identity.models import Organisation
from ovc_api.organisations.routes import get_organisation_or_404
from ovc_api.pagination import (
    Page,
    Pagination,
    parse_date,
    parse_datetime,
    parse_str,
    sort_options,
)
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
from ovc_api.tenancy import scoped

router = APIRouter(prefix=API_V1, tags=["services"])
RESOURCE = rules.RESOURCE
SORTS = sort_options(
    col(ServiceDelivery.id),
    delivered_on=(col(ServiceDelivery.delivered_on), parse_date),
    created_at=(col(ServiceDelivery.created_at), parse_datetime),
    updated_at=(col(ServiceDelivery.updated_at), parse_datetime),
)
ServiceSort = Literal[
    "delivered_on", "-delivered_on", "created_at", "-created_at", "updated_at", "-updated_at"
]
BY_NAME = sort_options(col(Organisation.id), name=(col(Organisation.name), parse_str))["name"]


# --- the directory ------------------------------------------------------------------------


@router.get(
    "/organisations/{organisation_id}/services",
    summary="The services an organisation offers, and where",
    response_model=list[ServiceOfferRead],
    responses=error_responses(401, 404, 422),
)
async def list_organisation_services(
    organisation_id: uuid.UUID, session: Session, principal: AnyPrincipal
) -> list[ServiceOfferRead]:
    organisation = await get_organisation_or_404(session, principal, organisation_id)
    return await rules.offers_of(session, organisation)


@router.put(
    "/organisations/{organisation_id}/services",
    summary="Declare the services your organisation offers (replaces the list)",
    response_model=list[ServiceOfferRead],
    responses=error_responses(401, 403, 404, 422),
)
async def set_organisation_services(
    organisation_id: uuid.UUID, body: ServiceOffers, session: Session, principal: UsersAdmin
) -> list[ServiceOfferRead]:
    organisation = await get_organisation_or_404(session, principal, organisation_id)
    return await rules.declare_offers(session, principal, organisation, body)


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


@router.post(
    "/services",
    summary="Record a service delivered to a case's child, a family, or under a referral",
    status_code=201,
    response_model=ServiceRead,
    responses=error_responses(401, 403, 409, 422),
)
async def create_service(
    body: ServiceCreate,
    response: Response,
    session: Session,
    principal: CasesWriter,
    idempotency: IdempotencyDep,
) -> Any:
    if (replayed := await idempotency.replay(principal, body)) is not None:
        return replayed
    delivery = await rules.record_delivery(session, principal, body)
    result = ServiceRead.model_validate(delivery)
    location = f"{API_V1}/services/{delivery.id}"
    return await http.created(response, idempotency, delivery, result, location=location)


@router.get(
    "/services",
    summary="List services delivered (yours, and those delivered under your referrals)",
    response_model=Page[ServiceRead],
    responses=error_responses(401, 403, 422),
)
async def list_services(
    request: Request,
    response: Response,
    session: Session,
    principal: CasesReader,
    query: Annotated[ServiceListQuery, Depends()],
    pagination: Pagination,
) -> Page[ServiceRead]:
    statement = query.apply(scoped(select(ServiceDelivery), principal, ServiceDelivery), principal)
    return await http.page(
        session,
        principal,
        statement,
        ServiceRead,
        pagination,
        SORTS[query.sort],
        request,
        response,
        audit_as=RESOURCE,
    )


@router.get(
    "/services/{service_id}",
    summary="Read a service delivery",
    response_model=ServiceRead,
    responses=error_responses(401, 403, 404, 422),
)
async def get_service(
    service: ServiceForRead, response: Response, session: Session, principal: CasesReader
) -> ServiceRead:
    rules.read_delivery(session, principal, service)
    return http.shown(response, service, ServiceRead.model_validate(service))


@router.patch(
    "/services/{service_id}",
    summary="Correct a service delivery (If-Match required; history is kept)",
    response_model=ServiceRead,
    responses=error_responses(401, 403, 404, 412, 422, 428),
)
async def update_service(
    service: ServiceForWrite,
    body: ServiceUpdate,
    response: Response,
    session: Session,
    principal: CasesWriter,
    if_match: IfMatch = None,
) -> ServiceRead:
    await rules.correct_delivery(session, principal, service, body, if_match=if_match)
    return http.shown(response, service, ServiceRead.model_validate(service))
