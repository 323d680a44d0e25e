"""Referrals between organisations, with the family's consent, and what they share."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import AwareDatetime
from sqlmodel import col, select

from ovc_api import API_V1
from ovc_api.audit.service import record, record_read
from ovc_api.auth.principal import CasesReader, CasesWriter, Principal
from ovc_api.cases.models import Case, CaseStatus, CaseStatusChange, RiskLevel
from ovc_api.children.models import Child
from ovc_api.clock import local_today
from ovc_api.concurrency import apply_changes, set_etag
from ovc_api.db import Session, utcnow
from ovc_api.errors import Conflict, Unprocessable, error_responses
from ovc_api.idempotency import IdempotencyDep
from ovc_api.identity.models import Organisation, User
from ovc_api.pagination import Page, Pagination, fetch_page, parse_datetime, sort_options
from ovc_api.referrals.schemas import (
    DecisionBody,
    DeclineBody,
    ReceiverCaseCreate,
    ReferralCreate,
    ReferralRead,
    summary_of,
)
from ovc_api.referrals.service import consent_summary
from ovc_api.referrals.workflow import Side, next_status
from ovc_api.services.models import ServiceDelivery
from ovc_api.services.schemas import ServiceRead
from ovc_api.sharing.models import Referral, ReferralStatus, Urgency
from ovc_api.tenancy import get_visible_or_404, resolve_reference, scoped
from ovc_api.text import search_key

router = APIRouter(prefix=f"{API_V1}/referrals", tags=["referrals"])
RESOURCE = "referral"
SORTS = sort_options(
    col(Referral.id),
    created_at=(col(Referral.created_at), parse_datetime),
    updated_at=(col(Referral.updated_at), parse_datetime),
)
ReferralSort = Literal["created_at", "-created_at", "updated_at", "-updated_at"]
OPEN = frozenset({ReferralStatus.pending.value, ReferralStatus.accepted.value})


async def referral_for_read(
    referral_id: uuid.UUID, session: Session, principal: CasesReader
) -> Referral:
    return await get_visible_or_404(session, principal, Referral, referral_id)


async def referral_for_write(
    referral_id: uuid.UUID, session: Session, principal: CasesWriter
) -> Referral:
    return await get_visible_or_404(session, principal, Referral, referral_id)


ReferralForRead = Annotated[Referral, Depends(referral_for_read)]
ReferralForWrite = Annotated[Referral, Depends(referral_for_write)]


def side_of(referral: Referral, principal: Principal) -> Side:
    return Side.sender if referral.organisation_id == principal.organisation_id else Side.receiver


def present(
    referral: Referral, principal: Principal, response: Response | None = None
) -> ReferralRead:
    """The receiver sees the consent summary only, and the ids once it has accepted."""
    side = side_of(referral, principal)
    shows_ids = side is Side.sender or referral.status == ReferralStatus.accepted.value
    if response is not None:
        set_etag(response, referral)
    return ReferralRead(
        id=referral.id,
        direction="sent" if side is Side.sender else "received",
        organisation_id=referral.organisation_id,
        receiving_organisation_id=referral.receiving_organisation_id,
        status=ReferralStatus(referral.status),
        urgency=Urgency(referral.urgency),
        services_requested=referral.services_requested,
        reason=referral.reason,
        summary=summary_of(referral.summary),
        consent_given_by=referral.consent_given_by,
        consent_relation=referral.consent_relation,
        consent_given_on=referral.consent_given_on,
        consent_method=referral.consent_method,
        decision_reason=referral.decision_reason,
        decided_at=referral.decided_at,
        closed_at=referral.closed_at,
        case_id=referral.case_id if shows_ids else None,
        child_id=referral.child_id if shows_ids else None,
        family_id=referral.family_id if shows_ids else None,
        receiver_case_id=referral.receiver_case_id if side is Side.receiver else None,
        created_at=referral.created_at,
        updated_at=referral.updated_at,
    )


def _audit(session: Session, principal: Principal, referral: Referral, action: str) -> None:
    mine = side_of(referral, principal) is Side.sender
    record(
        session,
        principal,
        f"referral.{action}",
        resource_type=RESOURCE,
        resource_id=referral.id,
        case_id=referral.case_id if mine else None,
        via_referral_id=None if mine else referral.id,
    )


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
    case = await resolve_reference(session, principal, Case, body.case_id, "case_id")
    receiver = await session.get(Organisation, body.receiving_organisation_id)
    if receiver is None or not receiver.active:
        raise Unprocessable.field(["body", "receiving_organisation_id"], "no such organisation")
    if receiver.id == principal.organisation_id:
        raise Unprocessable.field(
            ["body", "receiving_organisation_id"], "a referral goes to another organisation"
        )
    if case.status == CaseStatus.closed.value:
        raise Conflict("The case is closed: reopen it before referring the child")
    if body.consent.given_on < case.opened_on:
        raise Unprocessable.field(
            ["body", "consent", "given_on"], "consent cannot predate the case"
        )
    duplicate = (
        await session.exec(
            scoped(select(Referral.id), principal, Referral).where(
                col(Referral.case_id) == case.id,
                col(Referral.receiving_organisation_id) == receiver.id,
                col(Referral.status).in_(OPEN),
            )
        )
    ).first()
    if duplicate is not None:
        raise Conflict(f"This case already has an open referral to that organisation: {duplicate}")
    child = await session.get(Child, case.child_id)
    assert child is not None
    services = [s.value for s in body.services_requested]
    referral = Referral(
        organisation_id=principal.organisation_id,
        receiving_organisation_id=receiver.id,
        case_id=case.id,
        child_id=case.child_id,
        family_id=case.family_id,
        services_requested=services,
        reason=body.reason,
        urgency=body.urgency.value,
        consent_given_by=body.consent.given_by,
        consent_relation=body.consent.relation.value if body.consent.relation else "child",
        consent_given_on=body.consent.given_on,
        consent_method=body.consent.method.value,
        summary=await consent_summary(session, case, child, services),
        created_by=principal.user_id,
    )
    session.add(referral)
    await session.flush()
    _audit(session, principal, referral, "create")
    response.headers["Location"] = f"{API_V1}/referrals/{referral.id}"
    result = present(referral, principal, response)
    await idempotency.remember(201, result, response)
    return result


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
    items, next_cursor = await fetch_page(
        session, statement, pagination, SORTS[sort], request, response
    )
    record_read(session, principal, RESOURCE, [r.id for r in items], single=False)
    return Page(items=[present(r, principal) for r in items], next_cursor=next_cursor)


@router.get(
    "/{referral_id}",
    summary="Read a referral (the receiver sees the consent summary until it accepts)",
    response_model=ReferralRead,
    responses=error_responses(401, 403, 404, 422),
)
async def get_referral(
    referral: ReferralForRead, response: Response, session: Session, principal: CasesReader
) -> ReferralRead:
    _audit(session, principal, referral, "read")
    return present(referral, principal, response)


async def _move(
    session: Session,
    principal: Principal,
    referral: Referral,
    action: str,
    changes: dict[str, Any],
    response: Response,
) -> ReferralRead:
    target = next_status(action, side_of(referral, principal), referral.status)
    now = utcnow()
    changes = {"status": target.value, **changes}
    if target in {ReferralStatus.declined, ReferralStatus.withdrawn, ReferralStatus.completed}:
        changes["closed_at"] = now
    if action in {"accept", "decline"}:
        changes.update(decided_by=principal.user_id, decided_at=now)
    await apply_changes(session, referral, changes, "*", principal)
    _audit(session, principal, referral, action)
    return present(referral, principal, response)


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
    return await _move(
        session, principal, referral, "accept", {"decision_reason": body.note}, response
    )


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
    return await _move(
        session, principal, referral, "decline", {"decision_reason": body.reason}, response
    )


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
    return await _move(
        session, principal, referral, "withdraw", {"decision_reason": body.note}, response
    )


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
    changes = {"decision_reason": body.note} if body.note else {}
    return await _move(session, principal, referral, "complete", changes, response)


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
    if side_of(referral, principal) is not Side.receiver:
        raise Conflict("Only the receiving organisation opens a linked case")
    if referral.status != ReferralStatus.accepted.value:
        raise Conflict("Accept the referral before opening a case for it")
    if referral.receiver_case_id is not None:
        raise Conflict(f"A linked case is already open: {referral.receiver_case_id}")
    assignee = principal.user_id
    if body.assigned_to is not None:
        assigned = await resolve_reference(
            session, principal, User, body.assigned_to, "assigned_to"
        )
        if not assigned.active or assigned.role not in {"caseworker", "case_manager"}:
            raise Unprocessable.field(["body", "assigned_to"], "no such caseworker")
        assignee = assigned.id
    source = await _shared_child(session, principal, referral)
    child = Child(
        **{k: getattr(source, k) for k in _CORE_CHILD_FIELDS},
        organisation_id=principal.organisation_id,
        created_by=principal.user_id,
        search_text=search_key(
            source.given_name_latin,
            source.family_name_latin,
            source.given_name_khmer,
            source.family_name_khmer,
        ),
    )
    session.add(child)
    await session.flush()
    case = Case(
        organisation_id=principal.organisation_id,
        child_id=child.id,
        assigned_to=assignee,
        referral_source="ngo",
        referral_source_detail=f"referral {referral.id}",
        risk_level=(body.risk_level or RiskLevel.medium).value,
        opened_on=body.opened_on or local_today(),
        created_by=principal.user_id,
    )
    session.add(case)
    await session.flush()
    session.add(
        CaseStatusChange(
            organisation_id=principal.organisation_id,
            case_id=case.id,
            to_status=case.status,
            changed_by=principal.user_id,
            note=f"opened for referral {referral.id}",
        )
    )
    await apply_changes(session, referral, {"receiver_case_id": case.id}, "*", principal)
    record(
        session,
        principal,
        "case.create",
        resource_type="case",
        resource_id=case.id,
        case_id=case.id,
        via_referral_id=referral.id,
    )
    response.headers["Location"] = f"{API_V1}/cases/{case.id}"
    return present(referral, principal, response)


_CORE_CHILD_FIELDS = (
    "given_name_latin",
    "family_name_latin",
    "given_name_khmer",
    "family_name_khmer",
    "sex",
    "date_of_birth",
    "birth_date_estimated",
    "birth_registration",
    "disability",
    "schooling_status",
    "care_arrangement",
    "province",
    "district",
    "commune",
    "village",
)


async def _shared_child(session: Session, principal: Principal, referral: Referral) -> Child:
    """Read the referred child for copying: a read through the referral, audited as such."""
    child = await get_visible_or_404(session, principal, Child, referral.child_id, shared=True)
    record_read(
        session,
        principal,
        "child",
        [child.id],
        via_referral=(referral.id, referral.organisation_id),
    )
    return child


@router.get(
    "/{referral_id}/services",
    summary="Services delivered under a referral (seen by both sender and receiver)",
    response_model=list[ServiceRead],
    responses=error_responses(401, 403, 404, 422),
)
async def list_referral_services(
    referral: ReferralForRead, session: Session, principal: CasesReader
) -> list[ServiceRead]:
    statement = (
        scoped(select(ServiceDelivery), principal, ServiceDelivery)
        .where(col(ServiceDelivery.referral_id) == referral.id)
        .order_by(col(ServiceDelivery.delivered_on), col(ServiceDelivery.id))
        .limit(500)
    )
    services = (await session.exec(statement)).all()
    record_read(session, principal, "service", [s.id for s in services], single=False)
    return [ServiceRead.model_validate(s) for s in services]
