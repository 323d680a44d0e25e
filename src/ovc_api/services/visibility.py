"""Caseworkers see the services of their own cases and those they recorded."""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_
from sqlmodel import col

from ovc_api.auth.principal import Principal
from ovc_api.cases.visibility import is_me, my_case_ids, sees_all_cases
from ovc_api.services.models import ServiceDelivery
from ovc_api.tenancy import VisibilityRules


def _own_services(principal: Principal) -> ColumnElement[bool] | None:
    if sees_all_cases(principal):
        return None
    return or_(
        is_me(col(ServiceDelivery.recorded_by), principal),
        col(ServiceDelivery.case_id).in_(my_case_ids(principal)),
    )


def add_rules(rules: VisibilityRules) -> None:
    rules.narrow(ServiceDelivery, _own_services)
