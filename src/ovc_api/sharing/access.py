"""What an accepted referral shares with its receiver, written once.

:func:`accepted_by` is the one definition of "a referral the caller's organisation received
and accepted"; :class:`ThroughAcceptedReferral` uses it both to admit a read of a shared
record and to name the referral behind that read for the audit log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api.auth.principal import Principal
from ovc_api.sharing.models import Referral, ReferralStatus
from ovc_api.tenancy import ReadSource


def accepted_by(principal: Principal) -> ColumnElement[bool]:
    """Referrals the caller's organisation received and accepted (and has not finished)."""
    return and_(
        col(Referral.receiving_organisation_id) == principal.organisation_id,
        col(Referral.status) == ReferralStatus.accepted.value,
    )


@dataclass(frozen=True)
class ThroughAcceptedReferral:
    """Records whose `key` is the referral's `referred` column, while it is accepted, for
    the receiver's callers that `reader` admits (those who may see the referral itself: a
    caller narrowed to its assigned cases cannot, so it reads nothing through it)."""

    key: Any
    referred: Any
    reader: Callable[[Principal], bool] = lambda principal: True

    def clause(self, principal: Principal) -> ColumnElement[bool] | None:
        if not self.reader(principal):
            return None
        return col(self.key).in_(select(col(self.referred)).where(accepted_by(principal)))

    async def source(
        self, session: AsyncSession, principal: Principal, record: Any
    ) -> ReadSource | None:
        if not self.reader(principal):
            return None
        referral_id = (
            await session.exec(
                select(col(Referral.id)).where(
                    accepted_by(principal), col(self.referred) == record.id
                )
            )
        ).first()
        return (referral_id, record.organisation_id) if referral_id else None
