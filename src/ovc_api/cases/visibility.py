"""Who sees which case data within an organisation.

Holders of `cases:all` (case managers, org admins) see all of their organisation's case data.
Everyone else with `cases:read` (caseworkers) sees the cases assigned to them, those cases'
children and families, and the children and families they recorded themselves.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_, select
from sqlmodel import col

from ovc_api.auth.principal import Principal
from ovc_api.auth.scopes import Scope
from ovc_api.cases.models import Case
from ovc_api.children.models import Child
from ovc_api.families.models import Family
from ovc_api.tenancy import narrow_visibility


def sees_all_cases(principal: Principal) -> bool:
    return principal.has(Scope.cases_all)


def _my_cases(principal: Principal):  # type: ignore[no-untyped-def]
    return select(col(Case.id), col(Case.child_id), col(Case.family_id)).where(
        col(Case.organisation_id) == principal.organisation_id,
        col(Case.assigned_to) == principal.user_id,
    )


def _cases(principal: Principal) -> ColumnElement[bool] | None:
    return None if sees_all_cases(principal) else col(Case.assigned_to) == principal.user_id


def _children(principal: Principal) -> ColumnElement[bool] | None:
    if sees_all_cases(principal):
        return None
    mine = _my_cases(principal).subquery()
    return or_(
        col(Child.created_by) == principal.user_id,
        col(Child.id).in_(select(mine.c.child_id)),
    )


def _families(principal: Principal) -> ColumnElement[bool] | None:
    if sees_all_cases(principal):
        return None
    mine = _my_cases(principal).subquery()
    return or_(
        col(Family.created_by) == principal.user_id,
        col(Family.id).in_(select(mine.c.family_id)),
        col(Family.id).in_(
            select(col(Child.family_id)).where(col(Child.id).in_(select(mine.c.child_id)))
        ),
    )


narrow_visibility(Case, _cases)
narrow_visibility(Child, _children)
narrow_visibility(Family, _families)
