"""Sending referrals, and finding the referral behind a shared read."""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api.ages import age_on
from ovc_api.auth.principal import Principal
from ovc_api.cases.models import Case, CaseConcern
from ovc_api.children.models import Child
from ovc_api.clock import local_today
from ovc_api.referrals.models import Referral, ReferralStatus


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


async def referral_behind(
    session: AsyncSession, principal: Principal, record: Any, column: Any
) -> tuple[uuid.UUID, uuid.UUID] | None:
    """For a record of another organisation read through an accepted referral: the referral
    id and the owner, so the read is audited as such (None for the caller's own records)."""
    owner = getattr(record, "organisation_id", None)
    if owner is None or owner == principal.organisation_id:
        return None
    referral_id = (
        await session.exec(
            select(Referral.id).where(
                col(Referral.receiving_organisation_id) == principal.organisation_id,
                col(Referral.status) == ReferralStatus.accepted.value,
                column == record.id,
            )
        )
    ).first()
    return (referral_id, owner) if referral_id else None
