"""Sending referrals: what the receiver learns before accepting."""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api.ages import age_on
from ovc_api.cases.models import Case, CaseConcern
from ovc_api.children.models import Child
from ovc_api.clock import local_today


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
