"""Member organisations: a directory every user reads; the network administrator edits it."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from sqlmodel import col, select

from ovc_api import API_V1
from ovc_api.auth.principal import AnyPrincipal, OrganisationsAdmin
from ovc_api.errors import error_responses
from ovc_api.geography import PROVINCE_CODES, PROVINCE_NAMES, Province
from ovc_api.identity.models import Organisation
from ovc_api.organisations import service
from ovc_api.organisations.filters import OrganisationListQuery
from ovc_api.organisations.schemas import (
    OrganisationCreate,
    OrganisationRead,
    OrganisationUpdate,
    ProvinceRead,
)
from ovc_api.pagination import parse_str, sort_options
from ovc_api.record_routes import Lead, add_correct, add_create, add_page, add_read, validated

router = APIRouter(prefix=API_V1, tags=["organisations"])
BY_NAME = sort_options(col(Organisation.id), name=(col(Organisation.name), parse_str))["name"]
ORGANISATION: list[Lead] = [("organisation_id", uuid.UUID)]
SHOWN = validated(OrganisationRead)


add_page(
    router,
    "/organisations",
    "list_organisations",
    "List member organisations (active ones; the network administrator sees all)",
    OrganisationRead,
    error_responses(401, 422),
    AnyPrincipal,
    (),
    OrganisationListQuery,
    lambda _principal: select(Organisation),
    BY_NAME,
)


add_create(
    router,
    "/organisations",
    "create_organisation",
    "Add a member organisation",
    OrganisationRead,
    error_responses(401, 403, 409, 422),
    OrganisationsAdmin,
    (),
    OrganisationCreate,
    service.add_organisation,
    SHOWN,
    lambda organisation: f"{API_V1}/organisations/{organisation.id}",
    service.RESOURCE,
    idempotent=False,
)
add_read(
    router,
    "/organisations/{organisation_id}",
    "get_organisation",
    "Read one organisation",
    OrganisationRead,
    error_responses(401, 404, 422),
    AnyPrincipal,
    ORGANISATION,
    SHOWN,
    service.get_organisation_or_404,
)
add_correct(
    router,
    "/organisations/{organisation_id}",
    "update_organisation",
    "Update or deactivate an organisation (If-Match required)",
    OrganisationRead,
    error_responses(401, 403, 404, 409, 412, 422, 428),
    OrganisationsAdmin,
    ORGANISATION,
    OrganisationUpdate,
    service.update_organisation,
    SHOWN,
)


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
