"""The change feed's rule: the caller's organisation's outbox rows, in commit order, of the
records the caller may see.

Rows are numbered (`position`) at commit, in commit order (see `ovc_api.outbox`), so reading
"after position N" never skips a row that a long transaction commits later: it gets a
higher number than anything handed out before its commit. Holders of `cases:all` see every
row for their organisation; others (caseworkers) only rows of records they may see now,
through the same visibility rules as every list, and of cases they may see.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, or_
from sqlmodel import col, select

from ovc_api.auth.principal import Principal
from ovc_api.care.models import MonitoringVisit, ReintegrationPlan, TracingAttempt
from ovc_api.cases.models import Case, ClosureRequest
from ovc_api.cases.visibility import sees_all_cases
from ovc_api.casework.models import Assessment, CaseNote, CasePlanAction, CasePlanGoal, FollowUp
from ovc_api.children.models import Child
from ovc_api.children.placements import Placement
from ovc_api.conferences.models import CaseConference, ConferenceAction
from ovc_api.families.models import Family, FamilyMember
from ovc_api.outbox import FEED_RESOURCES, Event
from ovc_api.services.models import ServiceDelivery
from ovc_api.sharing.models import Referral
from ovc_api.tenancy import scoped, visible

MODELS: dict[str, type[Any]] = {
    "child": Child,
    "family": Family,
    "family_member": FamilyMember,
    "case": Case,
    "closure_request": ClosureRequest,
    "assessment": Assessment,
    "case_note": CaseNote,
    "case_plan_goal": CasePlanGoal,
    "case_plan_action": CasePlanAction,
    "follow_up": FollowUp,
    "service": ServiceDelivery,
    "referral": Referral,
    "case_conference": CaseConference,
    "conference_action": ConferenceAction,
    "placement": Placement,
    "tracing_attempt": TracingAttempt,
    "reintegration_plan": ReintegrationPlan,
    "monitoring_visit": MonitoringVisit,
}
assert set(MODELS) == set(FEED_RESOURCES), "every record of the feed has its visibility"


def _narrowed(principal: Principal) -> Any:
    """Rows of records (and cases) the caller may see now."""
    records = or_(
        *(
            and_(
                col(Event.resource_type) == name,
                col(Event.resource_id).in_(select(model.id).where(visible(principal, model))),
            )
            for name, model in MODELS.items()
        )
    )
    cases = or_(
        col(Event.case_id).is_(None),
        col(Event.case_id).in_(select(col(Case.id)).where(visible(principal, Case))),
    )
    return and_(records, cases)


def changes_after(principal: Principal, position: int, types: list[str] | None, limit: int) -> Any:
    """One page of the feed after `position` (one row more than `limit`, to tell if more)."""
    statement = scoped(select(Event), principal, Event).where(
        col(Event.position).is_not(None), col(Event.position) > position
    )
    if types:
        statement = statement.where(col(Event.resource_type).in_(types))
    if not sees_all_cases(principal):
        statement = statement.where(_narrowed(principal))
    return statement.order_by(col(Event.position)).limit(limit + 1)
