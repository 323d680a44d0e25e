"""Work that other organisations send: referrals to decide, conference actions to do."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

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

Item = TypeVar("Item")
URGENCY_ORDER = case_when(
    (col(Referral.urgency) == Urgency.emergency.value, 0),
    (col(Referral.urgency) == Urgency.urgent.value, 1),
    else_=2,
)


async def _section(
    session: AsyncSession, statement: Any, item: Callable[[Any], Item]
) -> tuple[int, list[Item]]:
    """A section's total (each row carries the count over the whole query) and its items."""
    rows = (await session.exec(statement)).all()
    return (rows[0].total if rows else 0), [item(row[0]) for row in rows]


def _incoming(referral: Referral) -> IncomingReferral:
    return IncomingReferral(
        **referral.model_dump(include={"urgency", "services_requested"}),
        referral_id=referral.id,
        from_organisation_id=referral.organisation_id,
        received_on=referral.created_at.date(),
        child_first_name=referral.summary.get("child_first_name"),
    )


def _action_task(action: ConferenceAction) -> ConferenceActionTask:
    return ConferenceActionTask(
        **action.model_dump(include={"conference_id", "organiser_organisation_id", "description"}),
        action_id=action.id,
        on=action.due_on,
    )


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
    total, items = await _section(session, statement, _incoming)
    return IncomingReferrals(total=total, items=items)


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
    total, items = await _section(session, statement, _action_task)
    return ConferenceActionTasks(total=total, items=items)
