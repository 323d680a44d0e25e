"""Referrals between organisations, with the family's consent, and what they share.

HTTP only: the rules and the audit are in `referrals/service.py`; answers go through
`http_epilogue`.
"""

from __future__ import annotations

import uuid
from functools import partial
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import AwareDatetime
from sqlmodel import col, select

from ovc_api import API_V1
from ovc_api import http_epilogue as http
from ovc_api.auth.principal import CasesReader, CasesWriter
from ovc_api.db import Session
from ovc_api.errors import error_responses
from ovc_api.idempotency import IdempotencyDep
from ovc_api.pagination import Page, Pagination, parse_datetime, sort_options
from ovc_api.referrals import service
from ovc_api.referrals.schemas import (
    DecisionBody,
    DeclineBody,
    ReceiverCaseCreate,
    ReferralCreate,
    ReferralRead,
)
from ovc_api.services.schemas import ServiceRead
from ovc_api.sharing.models import Referral, ReferralStatus, Urgency
from ovc_api.tenancy import scoped

router = APIRouter(prefix=f"{API_V1}/referrals", tags=["referrals"])
RESOURCE = service.RESOURCE
SORTS = sort_options(
    col(Referral.id),
    created_at=(col(Referral.created_at), parse_datetime),
    updated_at=(col(Referral.updated_at), parse_datetime),
)
ReferralSort = Literal["created_at", "-created_at", "updated_at", "-updated_at"]


async def referral_for_read(
    referral_id: uuid.UUID, session: Session, principal: CasesReader
) -> Referral:
    return await service.referral_in_scope(session, principal, referral_id)


async def referral_for_write(
    referral_id: uuid.UUID, session: Session, principal: CasesWriter
) -> Referral:
    return await service.referral_in_scope(session, principal, referral_id)


ReferralForRead = Annotated[Referral, Depends(referral_for_read)]
ReferralForWrite = Annotated[Referral, Depends(referral_for_write)]


@router.post(
    "",
    summary="Refer a case to another organisation (the family's consent is required)",
    status_code=201,
    response_model=ReferralRead,
    responses=error_responses(401, 403, 409, 422),
)
async def create_referral(
    body: ReferralCreate,
    response: Response,
    session: Session,
    principal: CasesWriter,
    idempotency: IdempotencyDep,
) -> Any:
    if (replayed := await idempotency.replay(principal, body)) is not None:
        return replayed
    referral = await service.send_referral(session, principal, body)
    result = service.referral_read(referral, principal)
    location = f"{API_V1}/referrals/{referral.id}"
    return await http.created(
        response, idempotency, referral, result, location=location, resource=RESOURCE
    )


@router.get(
    "",
    summary="Referrals sent and received by the organisation",
    response_model=Page[ReferralRead],
    responses=error_responses(401, 403, 422),
)
async def list_referrals(
    request: Request,
    response: Response,
    session: Session,
    principal: CasesReader,
    pagination: Pagination,
    direction: Literal["sent", "received"] | None = None,
    status: ReferralStatus | None = None,
    urgency: Urgency | None = None,
    case_id: uuid.UUID | None = None,
    updated_since: AwareDatetime | None = None,
    sort: ReferralSort = "-created_at",
) -> Page[ReferralRead]:
    statement = scoped(select(Referral), principal, Referral)
    if direction == "sent":
        statement = statement.where(col(Referral.organisation_id) == principal.organisation_id)
    elif direction == "received":
        statement = statement.where(
            col(Referral.receiving_organisation_id) == principal.organisation_id
        )
    if status is not None:
        statement = statement.where(col(Referral.status) == status.value)
    if urgency is not None:
        statement = statement.where(col(Referral.urgency) == urgency.value)
    if case_id is not None:
        statement = statement.where(
            col(Referral.case_id) == case_id,
            col(Referral.organisation_id) == principal.organisation_id,
        )
    if updated_since is not None:
        statement = statement.where(col(Referral.updated_at) >= updated_since)
    return await http.page(
        session,
        principal,
        statement,
        partial(service.referral_reads, principal),
        pagination,
        SORTS[sort],
        request,
        response,
        audit_as=RESOURCE,
        via=service.via_itself,
    )


@router.get(
    "/{referral_id}",
    summary="Read a referral (the receiver sees the consent summary until it accepts)",
    response_model=ReferralRead,
    responses=error_responses(401, 403, 404, 422),
)
async def get_referral(
    referral: ReferralForRead, response: Response, session: Session, principal: CasesReader
) -> ReferralRead:
    service.read_referral(session, principal, referral)
    return http.shown(response, referral, service.referral_read(referral, principal))


async def _move(
    session: Session,
    principal: CasesWriter,
    referral: Referral,
    action: str,
    note: str | None,
    response: Response,
) -> ReferralRead:
    await service.move(session, principal, referral, action, note)
    return http.shown(response, referral, service.referral_read(referral, principal))


@router.post(
    "/{referral_id}/accept",
    summary="Accept a referral received (its child, family and case become readable)",
    response_model=ReferralRead,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def accept_referral(
    referral: ReferralForWrite,
    body: DecisionBody,
    response: Response,
    session: Session,
    principal: CasesWriter,
) -> ReferralRead:
    return await _move(session, principal, referral, "accept", body.note, response)


@router.post(
    "/{referral_id}/decline",
    summary="Decline a referral received, with the reason",
    response_model=ReferralRead,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def decline_referral(
    referral: ReferralForWrite,
    body: DeclineBody,
    response: Response,
    session: Session,
    principal: CasesWriter,
) -> ReferralRead:
    return await _move(session, principal, referral, "decline", body.reason, response)


@router.post(
    "/{referral_id}/withdraw",
    summary="Withdraw a referral sent (while pending or accepted); sharing ends",
    response_model=ReferralRead,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def withdraw_referral(
    referral: ReferralForWrite,
    body: DecisionBody,
    response: Response,
    session: Session,
    principal: CasesWriter,
) -> ReferralRead:
    return await _move(session, principal, referral, "withdraw", body.note, response)


@router.post(
    "/{referral_id}/complete",
    summary="Complete a referral received; sharing ends, what the receiver recorded stays",
    response_model=ReferralRead,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def complete_referral(
    referral: ReferralForWrite,
    body: DecisionBody,
    response: Response,
    session: Session,
    principal: CasesWriter,
) -> ReferralRead:
    return await _move(session, principal, referral, "complete", body.note, response)


@router.post(
    "/{referral_id}/case",
    summary="Open the receiver's own case for an accepted referral (copies the child's record)",
    status_code=201,
    response_model=ReferralRead,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def open_receiver_case(
    referral: ReferralForWrite,
    body: ReceiverCaseCreate,
    response: Response,
    session: Session,
    principal: CasesWriter,
) -> ReferralRead:
    case = await service.open_receiver_case(session, principal, referral, body)
    result = service.referral_read(referral, principal)
    return await http.created(
        response, None, referral, result, location=f"{API_V1}/cases/{case.id}", resource=RESOURCE
    )


@router.get(
    "/{referral_id}/services",
    summary="Services delivered under a referral (seen by both sender and receiver)",
    response_model=list[ServiceRead],
    responses=error_responses(401, 403, 404, 422),
)
async def list_referral_services(
    referral: ReferralForRead, session: Session, principal: CasesReader
) -> list[ServiceRead]:
    services = await service.services_under(session, principal, referral)
    return [ServiceRead.model_validate(delivery) for delivery in services]
