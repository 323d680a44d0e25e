"""Referrals between organisations, with the family's consent, and what they share.

HTTP only: the rules and the audit are in `referrals/service.py`; answers go through
`http_epilogue`.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from functools import partial
from operator import attrgetter
from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, Depends, Request, Response
from pydantic import AwareDatetime
from sqlmodel import col

from ovc_api import API_V1
from ovc_api import http_epilogue as http
from ovc_api.auth.principal import CasesReader, CasesWriter, Principal
from ovc_api.concurrency import set_etag
from ovc_api.db import Session
from ovc_api.errors import error_responses
from ovc_api.pagination import Page, Pagination, parse_datetime, sort_options
from ovc_api.record_routes import add_action, add_create, loaders
from ovc_api.referrals import service
from ovc_api.referrals.schemas import (
    DecisionBody,
    DeclineBody,
    ReceiverCaseCreate,
    ReferralCreate,
    ReferralRead,
)
from ovc_api.row_reads import list_rows, read_one, table_reads
from ovc_api.services.schemas import ServiceRead
from ovc_api.sharing.models import Referral, ReferralStatus, Urgency

router = APIRouter(prefix=f"{API_V1}/referrals", tags=["referrals"])
RESOURCE = service.RESOURCE
SORTS = sort_options(
    col(Referral.id),
    created_at=(col(Referral.created_at), parse_datetime),
    updated_at=(col(Referral.updated_at), parse_datetime),
)
ReferralSort = Literal["created_at", "-created_at", "updated_at", "-updated_at"]
# A referral's fields as Core rows; what the receiver sees is decided per row and caller.
ROWS = table_reads("referral", Referral, ReferralRead, from_record={"case_id": "case_id"})


referral_for_read, referral_for_write = loaders(service.referral_in_scope, "referral_id")
ReferralForRead = Annotated[Referral, Depends(referral_for_read)]
ReferralForWrite = Annotated[Referral, Depends(referral_for_write)]


def _shown(_session: Any, principal: Principal, referral: Referral) -> ReferralRead:
    return service.referral_read(referral, principal)


add_create(
    router,
    "",
    "create_referral",
    "Refer a case to another organisation (the family's consent is required)",
    ReferralRead,
    error_responses(401, 403, 409, 422),
    CasesWriter,
    (),
    ReferralCreate,
    service.send_referral,
    _shown,
    lambda referral: f"{API_V1}/referrals/{referral.id}",
    RESOURCE,
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
) -> Response:
    def where(statement: Any, caller: Principal) -> Any:
        if direction == "sent":
            statement = statement.where(col(Referral.organisation_id) == caller.organisation_id)
        elif direction == "received":
            statement = statement.where(
                col(Referral.receiving_organisation_id) == caller.organisation_id
            )
        if status is not None:
            statement = statement.where(col(Referral.status) == status.value)
        if urgency is not None:
            statement = statement.where(col(Referral.urgency) == urgency.value)
        if case_id is not None:
            statement = statement.where(
                col(Referral.case_id) == case_id,
                col(Referral.organisation_id) == caller.organisation_id,
            )
        if updated_since is not None:
            statement = statement.where(col(Referral.updated_at) >= updated_since)
        return statement

    valued = (status, urgency, case_id, updated_since) != (None, None, None, None)
    return await list_rows(
        ROWS,
        session,
        principal,
        pagination,
        SORTS[sort],
        request,
        response,
        audit_as=RESOURCE,
        where=where,
        # Filters with values are in the statement: such lists are built per request.
        key=None if valued else (direction,),
        item=partial(service.referral_read, principal=principal),
        via=service.via_itself,
    )


@router.get(
    "/{referral_id}",
    summary="Read a referral (the receiver sees the consent summary until it accepts)",
    response_model=ReferralRead,
    responses=error_responses(401, 403, 404, 422),
)
async def get_referral(
    referral_id: uuid.UUID, response: Response, session: Session, principal: CasesReader
) -> Response:
    # A receiver's read (the sender owns the referral) is audited by `read_referral`.
    row = await read_one(
        ROWS, session, principal, referral_id, resource=RESOURCE, audit=service.read_referral
    )
    set_etag(response, row)
    body = ROWS.one.dump_json(service.referral_read(cast(Any, row), principal))
    return http.json_response(body, response)


def _mover(action: str, said: Callable[[Any], str | None]) -> Callable[..., Awaitable[Referral]]:
    """The service's move `action`, recording what the body `said` (a note or a reason)."""

    async def act(session: Any, principal: Principal, referral: Referral, body: Any) -> Referral:
        return await service.move(session, principal, referral, action, said(body))

    return act


NOTE, REASON = attrgetter("note"), attrgetter("reason")
# The workflow's moves: (action, its body, what the service records of it, summary)
MOVES = (
    (
        "accept",
        DecisionBody,
        NOTE,
        "Accept a referral received (its child, family and case become readable)",
    ),
    ("decline", DeclineBody, REASON, "Decline a referral received, with the reason"),
    (
        "withdraw",
        DecisionBody,
        NOTE,
        "Withdraw a referral sent (while pending or accepted); sharing ends",
    ),
    (
        "complete",
        DecisionBody,
        NOTE,
        "Complete a referral received; sharing ends, what the receiver recorded stays",
    ),
)
for action, body, said, summary in MOVES:
    add_action(
        router,
        f"/{{referral_id}}/{action}",
        f"{action}_referral",
        summary,
        ReferralRead,
        error_responses(401, 403, 404, 409, 422),
        CasesWriter,
        [("referral", ReferralForWrite)],
        body,
        _mover(action, said),
        _shown,
    )


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
