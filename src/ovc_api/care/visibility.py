"""Caseworkers see the alternative-care records of the cases and children they see."""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_, select
from sqlmodel import col

from ovc_api.auth.principal import Principal
from ovc_api.care.models import MonitoringVisit, Placement, ReintegrationPlan, TracingAttempt
from ovc_api.cases.visibility import is_me, my_case_ids, sees_all_cases
from ovc_api.children.models import Child
from ovc_api.tenancy import VisibilityRules, visible


def _by_case(model: type) -> object:
    def rule(principal: Principal) -> ColumnElement[bool] | None:
        if sees_all_cases(principal):
            return None
        return col(model.case_id).in_(my_case_ids(principal))  # type: ignore[attr-defined]

    return rule


def _by_child(model: type) -> object:
    def rule(principal: Principal) -> ColumnElement[bool] | None:
        if sees_all_cases(principal):
            return None
        children = select(col(Child.id)).where(visible(principal, Child))
        return or_(
            col(model.child_id).in_(children),  # type: ignore[attr-defined]
            is_me(col(model.recorded_by), principal),  # type: ignore[attr-defined]
        )

    return rule


def add_rules(rules: VisibilityRules) -> None:
    """Registered at start-up with the other domains' rules (ovc_api.visibility)."""
    rules.narrow(ReintegrationPlan, _by_case(ReintegrationPlan))  # type: ignore[arg-type]
    rules.narrow(MonitoringVisit, _by_case(MonitoringVisit))  # type: ignore[arg-type]
    rules.narrow(Placement, _by_child(Placement))  # type: ignore[arg-type]
    rules.narrow(TracingAttempt, _by_child(TracingAttempt))  # type: ignore[arg-type]
