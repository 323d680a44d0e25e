"""The rules of the services directory and of services delivered: an organisation declares
its own offers; a delivery reaches a case's child, a family, or a child referred to the
caller (an accepted referral it received), never before the case or the referral; only the
delivering organisation corrects it; every read and change audited (a delivery under a
referral in the referring organisation's terms).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api import service_kit
from ovc_api.auth.principal import Principal
from ovc_api.cases.models import Case
from ovc_api.children.models import Child
from ovc_api.errors import Forbidden, Unprocessable
from ovc_api.families.models import Family
from ovc_api.geography import Province
from ovc_api.identity.models import Organisation
from ovc_api.services.models import OrganisationService, ServiceDelivery, ServiceType
from ovc_api.services.schemas import (
    DirectoryEntry,
    ServiceCreate,
    ServiceOfferRead,
    ServiceOffers,
    ServiceUpdate,
)
from ovc_api.sharing.models import Referral, ReferralStatus
from ovc_api.tenancy import get_visible, get_visible_or_404, resolve_reference

RESOURCE = "service"
# What the directory shows of each organisation offering a service.
DIRECTORY_FIELDS = {"name", "short_name", "kind", "contact_email", "contact_phone"}


# --- the directory ---------------------------------------------------------------------------


async def offers_of(session: AsyncSession, organisation: Organisation) -> list[ServiceOfferRead]:
    """What an organisation offers, each service with its provinces."""
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


async def declare_offers(
    session: AsyncSession, principal: Principal, organisation: Organisation, data: ServiceOffers
) -> list[ServiceOfferRead]:
    """Replace the organisation's offers: an organisation declares only its own."""
    if organisation.id != principal.organisation_id:
        raise Forbidden("An organisation declares its own services")
    await session.exec(
        delete(OrganisationService).where(
            col(OrganisationService.organisation_id) == organisation.id
        )
    )
    for offer in data.offers:
        for province in sorted(set(offer.provinces)):
            session.add(
                OrganisationService(
                    organisation_id=organisation.id,
                    service_type=offer.service_type.value,
                    province=province.value,
                    description=offer.description,
                )
            )
    service_kit.audit(session, principal, "organisation", "services_update", organisation.id)
    return [
        ServiceOfferRead(
            service_type=o.service_type,
            provinces=sorted(set(o.provinces)),
            description=o.description,
        )
        for o in data.offers
    ]


def offering(service_type: ServiceType, province: Province | None) -> Any:
    """Active organisations offering a service (in a province): the directory's statement."""
    offered = select(col(OrganisationService.organisation_id)).where(
        col(OrganisationService.service_type) == service_type.value
    )
    if province is not None:
        offered = offered.where(col(OrganisationService.province) == province.value)
    return select(Organisation).where(
        col(Organisation.active).is_(True), col(Organisation.id).in_(offered)
    )


async def directory_entries(
    session: AsyncSession, service_type: ServiceType, organisations: Sequence[Organisation]
) -> list[DirectoryEntry]:
    """Directory entries for a page of organisations, with how each describes the service."""
    descriptions = dict(
        (
            await session.exec(
                select(OrganisationService.organisation_id, OrganisationService.description).where(
                    col(OrganisationService.service_type) == service_type.value,
                    col(OrganisationService.organisation_id).in_([o.id for o in organisations]),
                )
            )
        ).all()
    )
    return [
        DirectoryEntry(
            **o.model_dump(include=DIRECTORY_FIELDS),
            organisation_id=o.id,
            description=descriptions.get(o.id),
        )
        for o in organisations
    ]


# --- services delivered ----------------------------------------------------------------------


async def delivery_in_scope(
    session: AsyncSession, principal: Principal, service_id: uuid.UUID, *, for_write: bool = False
) -> ServiceDelivery:
    """A delivery the caller may see (404 otherwise); only the delivering organisation may
    correct it (403)."""
    delivery = await get_visible_or_404(session, principal, ServiceDelivery, service_id)
    if for_write and delivery.organisation_id != principal.organisation_id:
        raise Forbidden("Only the organisation that delivered a service corrects it")
    return delivery


async def _target(
    session: AsyncSession, principal: Principal, data: ServiceCreate
) -> dict[str, Any]:
    """Whom the service reached, and where: from the referral, the case or the family."""
    if data.referral_id is not None:
        referral = await get_visible(session, principal, Referral, data.referral_id)
        if (
            referral is None
            or referral.receiving_organisation_id != principal.organisation_id
            or referral.status != ReferralStatus.accepted.value
        ):
            raise Unprocessable.field(
                ["body", "referral_id"], "no accepted referral received by your organisation"
            )
        if data.delivered_on < referral.consent_given_on:
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
    if data.family_id is not None:
        family = await resolve_reference(session, principal, Family, data.family_id, "family_id")
        target.update(family_id=family.id, province=family.province, district=family.district)
    if data.case_id is not None:
        case = await resolve_reference(session, principal, Case, data.case_id, "case_id")
        if data.delivered_on < case.opened_on:
            raise Unprocessable.field(["body", "delivered_on"], "cannot predate the case")
        child = await session.get(Child, case.child_id)
        assert child is not None
        target.update(
            case_id=case.id, child_id=child.id, province=child.province, district=child.district
        )
        target.setdefault("family_id", case.family_id)
    return target


async def record_delivery(
    session: AsyncSession, principal: Principal, data: ServiceCreate
) -> ServiceDelivery:
    """A service delivered to a case's child, a family, or under a referral received."""
    target = await _target(session, principal, data)
    delivery = ServiceDelivery(
        **service_kit.stored(data, exclude={"case_id", "family_id", "referral_id"}),
        **target,
        organisation_id=principal.organisation_id,
        recorded_by=principal.user_id,
    )
    session.add(delivery)
    await session.flush()
    own_case = None if data.referral_id else delivery.case_id
    service_kit.audit(
        session,
        principal,
        RESOURCE,
        "create",
        delivery.id,
        case_id=own_case,
        via_referral_id=data.referral_id,
    )
    return delivery


async def record_child_delivery(
    session: AsyncSession, principal: Principal, child: Child, values: dict[str, Any]
) -> ServiceDelivery:
    """A service to a child without an open case (a campaign reaching children the
    organisation recorded): attached to the child alone."""
    delivery = ServiceDelivery(
        **values,
        **child.model_dump(include={"family_id", "province", "district"}),
        child_id=child.id,
        organisation_id=principal.organisation_id,
        recorded_by=principal.user_id,
    )
    return await service_kit.insert(session, principal, delivery, resource=RESOURCE)


def via_referral(delivery: ServiceDelivery) -> uuid.UUID | None:
    """The referral through which the sender reads a delivery (for its owner's log)."""
    return delivery.referral_id


def read_delivery(
    session: AsyncSession, principal: Principal, delivery: ServiceDelivery
) -> ServiceDelivery:
    """Audit a read; the case is named only in the delivering organisation's own terms. The
    sender's read of its receiver's delivery is in the receiver's log too."""
    own = delivery.organisation_id == principal.organisation_id
    return service_kit.read_both_sides(
        session,
        principal,
        delivery,
        resource=RESOURCE,
        via=via_referral,
        case_id=delivery.case_id if own else None,
        via_referral_id=delivery.referral_id,
    )


async def correct_delivery(
    session: AsyncSession,
    principal: Principal,
    delivery: ServiceDelivery,
    data: ServiceUpdate,
    *,
    if_match: str | None,
) -> ServiceDelivery:
    """A correction; `other_description` goes with the `other` service type only."""
    changes = service_kit.stored(data, sent_only=True, not_null={"delivered_on"})
    merged_other = changes.get("other_description", delivery.other_description)
    if (delivery.service_type == ServiceType.other.value) != (merged_other is not None):
        raise Unprocessable.field(["body", "other_description"], "required for `other` only")
    return await service_kit.correct(
        session,
        principal,
        delivery,
        changes,
        if_match=if_match,
        resource=RESOURCE,
        case_id=delivery.case_id,
    )
