"""Member organisations: a directory every user reads; the network administrator edits it."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from sqlmodel import col, select

from ovc_api import API_V1, service_kit
from ovc_api.auth.principal import AnyPrincipal, OrganisationsAdmin, Principal
from ovc_api.concurrency import IfMatch, apply_changes, set_etag
from ovc_api.db import Session, unique_or_conflict
from ovc_api.errors import Conflict, NotFound, error_responses
from ovc_api.geography import PROVINCE_CODES, PROVINCE_NAMES, Province
from ovc_api.identity.models import Organisation, OrganisationKind
from ovc_api.organisations.schemas import (
    OrganisationCreate,
    OrganisationRead,
    OrganisationUpdate,
    ProvinceRead,
)
from ovc_api.pagination import Page, Pagination, fetch_page, parse_str, sort_options
from ovc_api.text import contains_pattern

router = APIRouter(prefix=API_V1, tags=["organisations"])
DUPLICATE = "An organisation with this name or short name already exists"
BY_NAME = sort_options(col(Organisation.id), name=(col(Organisation.name), parse_str))["name"]


async def get_organisation_or_404(
    session: Session, principal: Principal, organisation_id: uuid.UUID
) -> Organisation:
    organisation = await session.get(Organisation, organisation_id)
    if organisation is None or (not organisation.active and not principal.is_network_admin):
        raise NotFound()
    return organisation


@router.get(
    "/organisations",
    summary="List member organisations (active ones; the network administrator sees all)",
    response_model=Page[OrganisationRead],
    responses=error_responses(401, 422),
)
async def list_organisations(
    request: Request,
    response: Response,
    session: Session,
    principal: AnyPrincipal,
    pagination: Pagination,
    kind: OrganisationKind | None = None,
    active: Annotated[
        bool | None, Query(description="Network administrator only; others see active ones")
    ] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
) -> Page[OrganisationRead]:
    statement = select(Organisation)
    if not principal.is_network_admin:
        statement = statement.where(col(Organisation.active).is_(True))
    elif active is not None:
        statement = statement.where(col(Organisation.active).is_(active))
    if kind is not None:
        statement = statement.where(col(Organisation.kind) == kind.value)
    if q:
        pattern = contains_pattern(q)
        statement = statement.where(
            col(Organisation.name).ilike(pattern, escape="\\")
            | col(Organisation.short_name).ilike(pattern, escape="\\")
        )
    items, next_cursor = await fetch_page(
        session, statement, pagination, BY_NAME, request, response
    )
    return Page(items=[OrganisationRead.model_validate(o) for o in items], next_cursor=next_cursor)


@router.post(
    "/organisations",
    summary="Add a member organisation",
    status_code=201,
    response_model=OrganisationRead,
    responses=error_responses(401, 403, 409, 422),
)
async def create_organisation(
    body: OrganisationCreate, response: Response, session: Session, principal: OrganisationsAdmin
) -> OrganisationRead:
    organisation = Organisation(**body.model_dump(mode="json"))
    async with unique_or_conflict(session, DUPLICATE):
        session.add(organisation)
    service_kit.audit(session, principal, "organisation", "create", organisation.id)
    set_etag(response, organisation)
    response.headers["Location"] = f"/api/v1/organisations/{organisation.id}"
    return OrganisationRead.model_validate(organisation)


@router.get(
    "/organisations/{organisation_id}",
    summary="Read one organisation",
    response_model=OrganisationRead,
    responses=error_responses(401, 404, 422),
)
async def get_organisation(
    organisation_id: uuid.UUID, response: Response, session: Session, principal: AnyPrincipal
) -> OrganisationRead:
    organisation = await get_organisation_or_404(session, principal, organisation_id)
    set_etag(response, organisation)
    return OrganisationRead.model_validate(organisation)


@router.patch(
    "/organisations/{organisation_id}",
    summary="Update or deactivate an organisation (If-Match required)",
    response_model=OrganisationRead,
    responses=error_responses(401, 403, 404, 409, 412, 422, 428),
)
async def update_organisation(
    organisation_id: uuid.UUID,
    body: OrganisationUpdate,
    response: Response,
    session: Session,
    principal: OrganisationsAdmin,
    if_match: IfMatch = None,
) -> OrganisationRead:
    organisation = await get_organisation_or_404(session, principal, organisation_id)
    changes = body.model_dump(mode="json", exclude_unset=True)
    if "active" in changes and changes["active"] is None:
        changes.pop("active")
    if organisation.id == principal.organisation_id and changes.get("active") is False:
        raise Conflict("The network administrator's own organisation cannot be deactivated")
    async with unique_or_conflict(session, DUPLICATE):
        changed = await apply_changes(session, organisation, changes, if_match)
    if changed:
        verb = "deactivate" if changes.get("active") is False else "update"
        service_kit.audit(
            session, principal, "organisation", verb, organisation.id, changed_fields=changed
        )
    set_etag(response, organisation)
    return OrganisationRead.model_validate(organisation)


@router.get(
    "/provinces",
    summary="Cambodia's provinces and capital, with their codes",
    response_model=list[ProvinceRead],
    responses=error_responses(401),
)
async def list_provinces(principal: AnyPrincipal) -> list[ProvinceRead]:
    return [
        ProvinceRead(code=p, official_code=PROVINCE_CODES[p], name=PROVINCE_NAMES[p])
        for p in Province
    ]
