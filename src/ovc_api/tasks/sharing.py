"""Work that other organisations send: referrals to decide, conference actions to do."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case as case_when
from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api.auth.principal import Principal
from ovc_api.conferences.models import ConferenceAction
from ovc_api.sharing.models import Referral, ReferralStatus, Urgency
from ovc_api.tasks.queries import SECTION_LIMIT
from ovc_api.tasks.schemas import (
    ConferenceActionTask,
    ConferenceActionTasks,
    IncomingReferral,
    IncomingReferrals,
)
from ovc_api.tenancy import scoped

URGENCY_ORDER = case_when(
    (col(Referral.urgency) == Urgency.emergency.value, 0),
    (col(Referral.urgency) == Urgency.urgent.value, 1),
    else_=2,
)


async def _section(session: AsyncSession, statement: Any) -> tuple[int, list[Any]]:
    """A section's total (each row carries the count over the whole query) and its records."""
    rows = (await session.exec(statement)).all()
    return (rows[0].total if rows else 0), [row[0] for row in rows]


async def incoming_referrals(session: AsyncSession, principal: Principal) -> IncomingReferrals:
    statement: Any = (
        scoped(select(Referral, func.count().over().label("total")), principal, Referral)
        .where(
            col(Referral.receiving_organisation_id) == principal.organisation_id,
            col(Referral.status) == ReferralStatus.pending.value,
        )
        .order_by(URGENCY_ORDER, col(Referral.created_at), col(Referral.id))
        .limit(SECTION_LIMIT)
    )
    total, referrals = await _section(session, statement)
    return IncomingReferrals(
        total=total,
        items=[
            IncomingReferral(
                **r.model_dump(include={"urgency", "services_requested"}),
                referral_id=r.id,
                from_organisation_id=r.organisation_id,
                received_on=r.created_at.date(),
                child_first_name=r.summary.get("child_first_name"),
            )
            for r in referrals
        ],
    )


async def conference_actions(session: AsyncSession, principal: Principal) -> ConferenceActionTasks:
    statement: Any = (
        scoped(
            select(ConferenceAction, func.count().over().label("total")),
            principal,
            ConferenceAction,
        )
        .where(
            col(ConferenceAction.organisation_id) == principal.organisation_id,
            col(ConferenceAction.done_on).is_(None),
        )
        .order_by(col(ConferenceAction.due_on), col(ConferenceAction.id))
        .limit(SECTION_LIMIT)
    )
    total, actions = await _section(session, statement)
    return ConferenceActionTasks(
        total=total,
        items=[
            ConferenceActionTask(
                **a.model_dump(
                    include={"conference_id", "organiser_organisation_id", "description"}
                ),
                action_id=a.id,
                on=a.due_on,
            )
            for a in actions
        ],
    )
