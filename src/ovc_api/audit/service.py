"""Recording audit events, in the same transaction as the change they describe."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api.audit.models import AuditEvent
from ovc_api.auth.principal import Principal
from ovc_api.db import utcnow


def record(
    session: AsyncSession,
    principal: Principal,
    action: str,
    *,
    resource_type: str | None = None,
    resource_id: uuid.UUID | None = None,
    changed_fields: Iterable[str] | None = None,
    via_referral_id: uuid.UUID | None = None,
    detail: str | None = None,
    case_id: uuid.UUID | None = None,
    record_ids: Iterable[uuid.UUID] | None = None,
    owner_organisation_id: uuid.UUID | None = None,
) -> None:
    """`owner_organisation_id`: access through a referral lands in the data owner's log."""
    session.add(
        AuditEvent(
            organisation_id=owner_organisation_id or principal.organisation_id,
            actor_user_id=principal.user_id,
            actor_api_key_id=principal.api_key_id,
            action=action,
            resource_type=resource_type,
            resource_id=resource_id,
            changed_fields=sorted(changed_fields) if changed_fields is not None else None,
            via_referral_id=via_referral_id,
            case_id=case_id,
            record_ids=list(record_ids) if record_ids is not None else None,
            request_id=principal.request_id,
            client_ip=principal.client_ip,
            detail=detail,
            at=utcnow(),
        )
    )


def record_read(
    session: AsyncSession,
    principal: Principal,
    resource_type: str,
    record_ids: Iterable[uuid.UUID],
    *,
    case_id: uuid.UUID | None = None,
    single: bool = True,
    via_referral: tuple[uuid.UUID, uuid.UUID] | None = None,
) -> None:
    """Reads of children's records: one row per request, naming every record returned.

    `via_referral` (referral id, owning organisation) marks a read through a referral; it is
    recorded in the owner's log, so the organisation that shared the record sees who read it.
    """
    ids = list(record_ids)
    record(
        session,
        principal,
        f"{resource_type}.read" if single else f"{resource_type}.list",
        resource_type=resource_type,
        resource_id=ids[0] if single and ids else None,
        case_id=case_id,
        record_ids=None if single else ids,
        via_referral_id=via_referral[0] if via_referral else None,
        owner_organisation_id=via_referral[1] if via_referral else None,
    )


def record_owner_reads(
    session: AsyncSession,
    principal: Principal,
    resource_type: str,
    rows: Iterable[Any],
    *,
    single: bool = True,
    via: Callable[[Any], uuid.UUID | None] | None = None,
) -> None:
    """Reads of other organisations' records through a widening (a referral's sender reading
    the services its receiver recorded, a participant reading a conference, a receiver its
    referral): besides the reader's own row, one row per such record in its owner's log, so
    the owner sees who read it (as reads through a referral's share already are).

    `via` names the referral a record was reached through (the second wall admits the
    owner's row on that ground). Rows of the caller's own organisation are skipped.
    """
    for row in rows:
        owner = getattr(row, "organisation_id", None)
        if owner is None or owner == principal.organisation_id:
            continue
        record(
            session,
            principal,
            f"{resource_type}.read" if single else f"{resource_type}.list",
            resource_type=resource_type,
            resource_id=row.id,
            via_referral_id=via(row) if via is not None else None,
            owner_organisation_id=owner,
        )


def record_anonymous(
    session: AsyncSession,
    action: str,
    *,
    organisation_id: uuid.UUID | None,
    user_id: uuid.UUID | None,
    request_id: str | None,
    client_ip: str | None,
    detail: str | None = None,
) -> None:
    """Events before a principal exists: logins, refreshes, failures."""
    session.add(
        AuditEvent(
            organisation_id=organisation_id,
            actor_user_id=user_id,
            action=action,
            resource_type="user" if user_id else None,
            resource_id=user_id,
            request_id=request_id,
            client_ip=client_ip,
            detail=detail,
            at=utcnow(),
        )
    )
