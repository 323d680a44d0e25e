"""The services directory (who offers what, where) and services delivered."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import delete
from sqlmodel import col, select

from ovc_api import API_V1
from ovc_api.audit.service import record, record_read
from ovc_api.auth.principal import AnyPrincipal, CasesReader, CasesWriter, Principal, UsersAdmin
from ovc_api.cases.models import Case
from ovc_api.children.models import Child
from ovc_api.concurrency import IfMatch, apply_changes, set_etag
from ovc_api.db import Session
from ovc_api.errors import Forbidden, Unprocessable, error_responses
from ovc_api.families.models import Family
from ovc_api.geography import Province
from ovc_api.idempotency import IdempotencyDep
from ovc_api.identity.models import Organisation
from ovc_api.organisations.routes import get_organisation_or_404
from ovc_api.pagination import (
    Page,
    Pagination,
    fetch_page,
    parse_date,
    parse_datetime,
    parse_str,
    sort_options,
)
from ovc_api.services.filters import ServiceListQuery
from ovc_api.services.models import OrganisationService, ServiceDelivery, ServiceType
from ovc_api.services.schemas import (
    DirectoryEntry,
    ServiceCreate,
    ServiceOfferRead,
    ServiceOffers,
    ServiceRead,
    ServiceUpdate,
)
from ovc_api.sharing.models import Referral, ReferralStatus
from ovc_api.tenancy import get_visible, get_visible_or_404, resolve_reference, scoped

router = APIRouter(prefix=API_V1, tags=["services"])
RESOURCE = "service"
SORTS = sort_options(
    col(ServiceDelivery.id),
    delivered_on=(col(ServiceDelivery.delivered_on), parse_date),
    created_at=(col(ServiceDelivery.created_at), parse_datetime),
    updated_at=(col(ServiceDelivery.updated_at), parse_datetime),
)
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
    rows = (
        await session.exec(
            select(OrganisationService)
            .where(col(OrganisationService.organisation_id) == organisation.id)
            .order_by(col(OrganisationService.service_type), col(OrganisationService.province))
        )
    ).all()
    offers: dict[str, ServiceOfferRead] = {}
    for row in rows:
        offer = offers.setdefault(
            row.service_type,
            ServiceOfferRead(
                service_type=ServiceType(row.service_type),
                provinces=[],
                description=row.description,
            ),
        )
        offer.provinces.append(Province(row.province))
    return list(offers.values())


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
    if organisation.id != principal.organisation_id:
        raise Forbidden("An organisation declares its own services")
    await session.exec(
        delete(OrganisationService).where(
            col(OrganisationService.organisation_id) == organisation.id
        )
    )
    for offer in body.offers:
        for province in sorted(set(offer.provinces)):
            session.add(
                OrganisationService(
                    organisation_id=organisation.id,
                    service_type=offer.service_type.value,
                    province=province.value,
                    description=offer.description,
                )
            )
    record(
        session,
        principal,
        "organisation.services_update",
        resource_type="organisation",
        resource_id=organisation.id,
    )
    return [
        ServiceOfferRead(
            service_type=o.service_type,
            provinces=sorted(set(o.provinces)),
            description=o.description,
        )
        for o in body.offers
    ]


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
    offering = select(col(OrganisationService.organisation_id)).where(
        col(OrganisationService.service_type) == service.value
    )
    if province is not None:
        offering = offering.where(col(OrganisationService.province) == province.value)
    statement = select(Organisation).where(
        col(Organisation.active).is_(True), col(Organisation.id).in_(offering)
    )
    items, next_cursor = await fetch_page(
        session, statement, pagination, BY_NAME, request, response
    )
    descriptions = dict(
        (
            await session.exec(
                select(OrganisationService.organisation_id, OrganisationService.description).where(
                    col(OrganisationService.service_type) == service.value,
                    col(OrganisationService.organisation_id).in_([o.id for o in items]),
                )
            )
        ).all()
    )
    return Page(
        items=[
            DirectoryEntry(
                organisation_id=o.id,
                name=o.name,
                short_name=o.short_name,
                kind=o.kind,
                contact_email=o.contact_email,
                contact_phone=o.contact_phone,
                description=descriptions.get(o.id),
            )
            for o in items
        ],
        next_cursor=next_cursor,
    )


# --- services delivered -------------------------------------------------------------------


async def service_for_read(
    service_id: uuid.UUID, session: Session, principal: CasesReader
) -> ServiceDelivery:
    return await get_visible_or_404(session, principal, ServiceDelivery, service_id)


async def service_for_write(
    service_id: uuid.UUID, session: Session, principal: CasesWriter
) -> ServiceDelivery:
    service = await get_visible_or_404(session, principal, ServiceDelivery, service_id)
    if service.organisation_id != principal.organisation_id:
        raise Forbidden("Only the organisation that delivered a service corrects it")
    return service


ServiceForRead = Annotated[ServiceDelivery, Depends(service_for_read)]
ServiceForWrite = Annotated[ServiceDelivery, Depends(service_for_write)]


async def _target(session: Session, principal: Principal, body: ServiceCreate) -> dict[str, Any]:
    """Whom the service reached, and where: from the referral, the case or the family."""
    if body.referral_id is not None:
        referral = await get_visible(session, principal, Referral, body.referral_id)
        if (
            referral is None
            or referral.receiving_organisation_id != principal.organisation_id
            or referral.status != ReferralStatus.accepted.value
        ):
            raise Unprocessable.field(
                ["body", "referral_id"], "no accepted referral received by your organisation"
            )
        if body.delivered_on < referral.consent_given_on:
            raise Unprocessable.field(["body", "delivered_on"], "cannot predate the referral")
        return {
            "referral_id": referral.id,
            "case_id": referral.case_id,
            "child_id": referral.child_id,
            "family_id": referral.family_id,
            "province": referral.summary["province"],
            "district": referral.summary.get("district"),
        }
    target: dict[str, Any] = {}
    if body.family_id is not None:
        family = await resolve_reference(session, principal, Family, body.family_id, "family_id")
        target.update(family_id=family.id, province=family.province, district=family.district)
    if body.case_id is not None:
        case = await resolve_reference(session, principal, Case, body.case_id, "case_id")
        if body.delivered_on < case.opened_on:
            raise Unprocessable.field(["body", "delivered_on"], "cannot predate the case")
        child = await session.get(Child, case.child_id)
        assert child is not None
        target.update(
            case_id=case.id, child_id=child.id, province=child.province, district=child.district
        )
        target.setdefault("family_id", case.family_id)
    return target


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
    target = await _target(session, principal, body)
    values = body.model_dump(mode="json", exclude={"case_id", "family_id", "referral_id"})
    service = ServiceDelivery(
        **{
            **values,
            "delivered_on": body.delivered_on,
            "quantity": body.quantity,
            "cost": body.cost,
        },
        **target,
        organisation_id=principal.organisation_id,
        recorded_by=principal.user_id,
    )
    session.add(service)
    await session.flush()
    own_case = None if body.referral_id else service.case_id
    record(
        session,
        principal,
        "service.create",
        resource_type=RESOURCE,
        resource_id=service.id,
        case_id=own_case,
        via_referral_id=body.referral_id,
    )
    response.headers["Location"] = f"{API_V1}/services/{service.id}"
    set_etag(response, service)
    result = ServiceRead.model_validate(service)
    await idempotency.remember(201, result, response)
    return result


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
    items, next_cursor = await fetch_page(
        session, statement, pagination, SORTS[query.sort], request, response
    )
    record_read(session, principal, RESOURCE, [s.id for s in items], single=False)
    return Page(items=[ServiceRead.model_validate(s) for s in items], next_cursor=next_cursor)


@router.get(
    "/services/{service_id}",
    summary="Read a service delivery",
    response_model=ServiceRead,
    responses=error_responses(401, 403, 404, 422),
)
async def get_service(
    service: ServiceForRead, response: Response, session: Session, principal: CasesReader
) -> ServiceRead:
    own_case = service.case_id if service.organisation_id == principal.organisation_id else None
    record(
        session,
        principal,
        "service.read",
        resource_type=RESOURCE,
        resource_id=service.id,
        case_id=own_case,
        via_referral_id=service.referral_id,
    )
    set_etag(response, service)
    return ServiceRead.model_validate(service)


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
    changes = body.model_dump(exclude_unset=True)
    if "delivered_on" in changes and changes["delivered_on"] is None:
        changes.pop("delivered_on")
    if "currency" in changes and changes["currency"] is not None:
        changes["currency"] = changes["currency"].value
    merged_other = changes.get("other_description", service.other_description)
    if (service.service_type == ServiceType.other.value) != (merged_other is not None):
        raise Unprocessable.field(["body", "other_description"], "required for `other` only")
    changed = await apply_changes(session, service, changes, if_match, principal)
    if changed:
        record(
            session,
            principal,
            "service.update",
            resource_type=RESOURCE,
            resource_id=service.id,
            case_id=service.case_id,
            changed_fields=changed,
        )
    set_etag(response, service)
    return ServiceRead.model_validate(service)
