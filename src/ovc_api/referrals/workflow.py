"""The referral state machine: who may move a referral from which status to which.

pending  --accept (receiver)-->   accepted --complete (receiver)--> completed
pending  --decline (receiver)-->  declined
pending | accepted --withdraw (sender)--> withdrawn
"""

from __future__ import annotations

from enum import StrEnum

from ovc_api.errors import Conflict, Forbidden
from ovc_api.sharing.models import ReferralStatus


class Side(StrEnum):
    sender = "sender"
    receiver = "receiver"


PENDING, ACCEPTED = ReferralStatus.pending, ReferralStatus.accepted
TRANSITIONS: dict[str, tuple[Side, frozenset[ReferralStatus], ReferralStatus]] = {
    #  action     who            from                           to
    "accept": (Side.receiver, frozenset({PENDING}), ACCEPTED),
    "decline": (Side.receiver, frozenset({PENDING}), ReferralStatus.declined),
    "complete": (Side.receiver, frozenset({ACCEPTED}), ReferralStatus.completed),
    "withdraw": (Side.sender, frozenset({PENDING, ACCEPTED}), ReferralStatus.withdrawn),
}


def next_status(action: str, side: Side, current: str) -> ReferralStatus:
    who, sources, target = TRANSITIONS[action]
    if side is not who:
        # The other party may see the referral but this action is not theirs to take.
        raise Forbidden(f"Only the {who.value} of a referral can {action} it")
    if ReferralStatus(current) not in sources:
        allowed = sorted(
            name
            for name, (who_may, src, _) in TRANSITIONS.items()
            if who_may is side and ReferralStatus(current) in src
        )
        raise Conflict(
            f"A {current} referral cannot be {target.value}; allowed actions for you now: "
            + (", ".join(allowed) or "none"),
            extra={"allowed": allowed},
        )
    return target
