"""Who sees which case data within an organisation.

Holders of `cases:all` (case managers, org admins) see all of their organisation's case data.
Everyone else with `cases:read` (caseworkers) sees the cases assigned to them, those cases'
children and families, and the children and families they recorded themselves.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import ColumnElement, Select, false, or_, select
from sqlmodel import col

from ovc_api.auth.principal import Principal
from ovc_api.auth.scopes import Scope
from ovc_api.cases.models import Case
from ovc_api.children.models import Child
from ovc_api.families.models import Family
from ovc_api.tenancy import VisibilityRules


def sees_all_cases(principal: Principal) -> bool:
    return principal.has(Scope.cases_all)


def is_me(column: Any, principal: Principal) -> ColumnElement[bool]:
    """`column` names the calling user. An API key is nobody: never `IS NULL`, which would
    match every unassigned case."""
    if principal.user_id is None:
        return false()
    return cast(ColumnElement[bool], column == principal.user_id)


def my_case_ids(principal: Principal) -> Select[Any]:
    return select(col(Case.id)).where(
        col(Case.organisation_id) == principal.organisation_id,
        is_me(col(Case.assigned_to), principal),
    )


def _my_cases(principal: Principal) -> Select[Any, Any, Any]:
    return select(col(Case.id), col(Case.child_id), col(Case.family_id)).where(
        col(Case.organisation_id) == principal.organisation_id,
        is_me(col(Case.assigned_to), principal),
    )


def _cases(principal: Principal) -> ColumnElement[bool] | None:
    return None if sees_all_cases(principal) else is_me(col(Case.assigned_to), principal)


def _children(principal: Principal) -> ColumnElement[bool] | None:
    if sees_all_cases(principal):
        return None
    mine = _my_cases(principal).subquery()
    return or_(
        is_me(col(Child.created_by), principal),
        col(Child.id).in_(select(mine.c.child_id)),
    )


def _families(principal: Principal) -> ColumnElement[bool] | None:
    if sees_all_cases(principal):
        return None
    mine = _my_cases(principal).subquery()
    return or_(
        is_me(col(Family.created_by), principal),
        col(Family.id).in_(select(mine.c.family_id)),
        col(Family.id).in_(
            select(col(Child.family_id)).where(col(Child.id).in_(select(mine.c.child_id)))
        ),
    )


def add_rules(rules: VisibilityRules) -> None:
    rules.narrow(Case, _cases)
    rules.narrow(Child, _children)
    rules.narrow(Family, _families)
