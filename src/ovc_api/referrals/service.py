"""The rules of referrals: sending one (with the family's consent), deciding, closing, the
receiver's linked case, what each side is shown, and finding the referral behind a shared
read."""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api import service_kit
from ovc_api.ages import age_on
from ovc_api.audit.service import record_owner_reads, record_read
from ovc_api.auth.principal import Principal
from ovc_api.cases.models import Case, CaseConcern, CaseStatus, RiskLevel
from ovc_api.cases.workflow import status_change
from ovc_api.children import service as children
from ovc_api.children.models import Child
from ovc_api.clock import local_today
from ovc_api.concurrency import apply_changes
from ovc_api.db import utcnow
from ovc_api.errors import Conflict, Unprocessable
from ovc_api.identity.models import Organisation, User
from ovc_api.referrals.schemas import (
    ReceiverCaseCreate,
    ReferralCreate,
    ReferralRead,
    summary_of,
)
from ovc_api.referrals.workflow import Side, next_status
from ovc_api.services.models import ServiceDelivery
from ovc_api.services.service import via_referral
from ovc_api.sharing.models import Referral, ReferralStatus, Urgency
from ovc_api.tenancy import get_visible_or_404, resolve_reference, scoped


async def consent_summary(
    session: AsyncSession, case: Case, child: Child, services: list[str]
) -> dict[str, object]:
    """The minimum a receiver needs to decide: frozen when the referral is sent."""
    concerns = (
        await session.exec(select(CaseConcern.concern).where(CaseConcern.case_id == case.id))
    ).all()
    return {
        "child_first_name": child.given_name_latin or child.given_name_khmer,
        "age": age_on(child.date_of_birth, local_today()),
        "sex": child.sex,
        "province": child.province,
        "district": child.district,
        "concerns": sorted(concerns),
        "services_requested": services,
    }


# --- the referral's life: sending, deciding, closing, the receiver's case --------------------
# The rules of referrals: the family's consent, no second open referral of a case to the same
# organisation, who may move a referral when (`workflow.py`), what the receiver is shown, and
# the audit of every read and change (a receiver's in the owner's terms). Operations never
# commit and know nothing of HTTP.

RESOURCE = "referral"
OPEN = frozenset({ReferralStatus.pending.value, ReferralStatus.accepted.value})


# A referral the caller sent or received (404 otherwise).
referral_in_scope = service_kit.Records(Referral, RESOURCE).in_scope


def side_of(referral: Referral, principal: Principal) -> Side:
    return Side.sender if referral.organisation_id == principal.organisation_id else Side.receiver


def referral_read(referral: Referral, principal: Principal) -> ReferralRead:
    """While the referral is pending the receiver sees the consent summary only: not the
    sender's free-text reason, nor who consented and how they are related (a person's name);
    those and the ids once it has accepted (and keeps them afterwards)."""
    side = side_of(referral, principal)
    shows_ids = side is Side.sender or referral.status == ReferralStatus.accepted.value
    shows_detail = side is Side.sender or referral.status != ReferralStatus.pending.value
    return ReferralRead(
        id=referral.id,
        direction="sent" if side is Side.sender else "received",
        organisation_id=referral.organisation_id,
        receiving_organisation_id=referral.receiving_organisation_id,
        status=ReferralStatus(referral.status),
        urgency=Urgency(referral.urgency),
        services_requested=referral.services_requested,
        reason=referral.reason if shows_detail else None,
        summary=summary_of(referral.summary),
        consent_given_by=referral.consent_given_by if shows_detail else None,
        consent_relation=referral.consent_relation if shows_detail else None,
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


def _audit_terms(referral: Referral, principal: Principal) -> dict[str, Any]:
    """The sender's audit rows name the case; the receiver's, the referral it reads through."""
    mine = side_of(referral, principal) is Side.sender
    return {
        "case_id": referral.case_id if mine else None,
        "via_referral_id": None if mine else referral.id,
    }


def _audit(session: AsyncSession, principal: Principal, referral: Referral, action: str) -> None:
    terms = _audit_terms(referral, principal)
    service_kit.audit(session, principal, RESOURCE, action, referral.id, **terms)


async def send_referral(
    session: AsyncSession, principal: Principal, data: ReferralCreate
) -> Referral:
    """Refer an open case to another active organisation, with the family's consent; the
    receiver gets a frozen consent summary until it accepts."""
    case = await resolve_reference(session, principal, Case, data.case_id, "case_id")
    receiver = await session.get(Organisation, data.receiving_organisation_id)
    if receiver is None or not receiver.active:
        raise Unprocessable.field(["body", "receiving_organisation_id"], "no such organisation")
    if receiver.id == principal.organisation_id:
        raise Unprocessable.field(
            ["body", "receiving_organisation_id"], "a referral goes to another organisation"
        )
    if case.status == CaseStatus.closed.value:
        raise Conflict("The case is closed: reopen it before referring the child")
    if data.consent.given_on < case.opened_on:
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
    services = [s.value for s in data.services_requested]
    consent = {f"consent_{k}": v for k, v in service_kit.stored(data.consent).items()}
    consent["consent_relation"] = consent["consent_relation"] or "child"  # the child consented
    referral = Referral(
        **consent,
        **service_kit.stored(data, include={"reason", "urgency"}),
        services_requested=services,
        summary=await consent_summary(session, case, child, services),
        organisation_id=principal.organisation_id,
        receiving_organisation_id=receiver.id,
        case_id=case.id,
        child_id=case.child_id,
        family_id=case.family_id,
        created_by=principal.user_id,
    )
    session.add(referral)
    await session.flush()
    _audit(session, principal, referral, "create")
    return referral


def via_itself(referral: Referral) -> uuid.UUID:
    """A receiver reads the sender's referral through that referral (for its owner's log)."""
    return referral.id


def read_referral(session: AsyncSession, principal: Principal, referral: Referral) -> Referral:
    """Audit a read; the receiver's is in the sender's log too."""
    terms = _audit_terms(referral, principal)
    return service_kit.read_both_sides(
        session, principal, referral, resource=RESOURCE, via=via_itself, **terms
    )


async def move(
    session: AsyncSession,
    principal: Principal,
    referral: Referral,
    action: str,
    note: str | None,
) -> Referral:
    """accept, decline, withdraw or complete, if the workflow lets this side do it now."""
    target = next_status(action, side_of(referral, principal), referral.status)
    now = utcnow()
    changes: dict[str, Any] = {"status": target.value}
    if action != "complete" or note:
        changes["decision_reason"] = note
    if target in {ReferralStatus.declined, ReferralStatus.withdrawn, ReferralStatus.completed}:
        changes["closed_at"] = now
    if action in {"accept", "decline"}:
        changes.update(decided_by=principal.user_id, decided_at=now)
    await apply_changes(session, referral, changes, "*", principal)
    _audit(session, principal, referral, action)
    return referral


async def _shared_child(session: AsyncSession, principal: Principal, referral: Referral) -> Child:
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


async def open_receiver_case(
    session: AsyncSession, principal: Principal, referral: Referral, data: ReceiverCaseCreate
) -> Case:
    """The receiver's own case for an accepted referral, on a copy of the child's record."""
    if side_of(referral, principal) is not Side.receiver:
        raise Conflict("Only the receiving organisation opens a linked case")
    if referral.status != ReferralStatus.accepted.value:
        raise Conflict("Accept the referral before opening a case for it")
    if referral.receiver_case_id is not None:
        raise Conflict(f"A linked case is already open: {referral.receiver_case_id}")
    assignee = principal.user_id
    if data.assigned_to is not None:
        assigned = await resolve_reference(
            session, principal, User, data.assigned_to, "assigned_to"
        )
        if not assigned.active or assigned.role not in {"caseworker", "case_manager"}:
            raise Unprocessable.field(["body", "assigned_to"], "no such caseworker")
        assignee = assigned.id
    source = await _shared_child(session, principal, referral)
    child = Child(
        **{k: getattr(source, k) for k in children.DESCRIPTION_FIELDS},
        organisation_id=principal.organisation_id,
        created_by=principal.user_id,
        search_text=children.search_text(source),
    )
    session.add(child)
    await session.flush()
    case = Case(
        organisation_id=principal.organisation_id,
        child_id=child.id,
        assigned_to=assignee,
        referral_source="ngo",
        referral_source_detail=f"referral {referral.id}",
        risk_level=(data.risk_level or RiskLevel.medium).value,
        opened_on=data.opened_on or local_today(),
        created_by=principal.user_id,
    )
    session.add(case)
    await session.flush()
    session.add(status_change(case, principal, None, note=f"opened for referral {referral.id}"))
    await apply_changes(session, referral, {"receiver_case_id": case.id}, "*", principal)
    service_kit.audit(
        session, principal, "case", "create", case.id, case_id=case.id, via_referral_id=referral.id
    )
    return case


async def services_under(
    session: AsyncSession, principal: Principal, referral: Referral
) -> list[ServiceDelivery]:
    """Services delivered under the referral (both sides see them), the read audited."""
    statement = (
        scoped(select(ServiceDelivery), principal, ServiceDelivery)
        .where(col(ServiceDelivery.referral_id) == referral.id)
        .order_by(col(ServiceDelivery.delivered_on), col(ServiceDelivery.id))
        .limit(500)
    )
    services = list((await session.exec(statement)).all())
    record_read(session, principal, "service", [s.id for s in services], single=False)
    record_owner_reads(session, principal, "service", services, single=False, via=via_referral)
    return services
