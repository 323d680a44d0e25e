"""The filters of the case list, its export, and nothing else (statistics filter otherwise)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Annotated, ClassVar, Literal

from fastapi import Query
from pydantic import AwareDatetime
from sqlalchemy import ColumnElement
from sqlmodel import col, select

from ovc_api.auth.principal import Principal
from ovc_api.cases.models import Case, CaseConcern, CaseStatus, ProtectionConcern, RiskLevel
from ovc_api.children.models import Child
from ovc_api.filtering import ListFilters, check_order, equal_to, matching, within
from ovc_api.geography import Province
from ovc_api.tenancy import organisation_wide

CaseSort = Literal[
    "opened_on", "-opened_on", "created_at", "-created_at", "updated_at", "-updated_at"
]


@dataclass(frozen=True)
class CaseFilters(ListFilters):
    """GET /api/v1/cases and /api/v1/exports/cases: conditions on a statement that joins each
    case to its child."""

    identifying: ClassVar[tuple[str, ...]] = ("child_id", "q")

    status: CaseStatus | None = None
    risk_level: RiskLevel | None = None
    concern: ProtectionConcern | None = None
    assigned_to: uuid.UUID | None = None
    child_id: uuid.UUID | None = None
    province: Annotated[Province | None, Query(description="The child's province")] = None
    district: Annotated[str | None, Query(max_length=100, description="The child's district")] = (
        None
    )
    opened_from: Annotated[date | None, Query(description="Opened on or after")] = None
    opened_to: Annotated[date | None, Query(description="Opened on or before")] = None
    updated_since: AwareDatetime | None = None
    q: Annotated[
        str | None, Query(min_length=1, max_length=100, description="Part of a child's name")
    ] = None

    def __post_init__(self) -> None:
        check_order(self.opened_from, self.opened_to, "opened_from", "opened_to")

    def clauses(self, principal: Principal) -> list[ColumnElement[bool]]:
        clauses = equal_to(
            {
                Case.status: self.status,
                Case.risk_level: self.risk_level,
                Case.assigned_to: self.assigned_to,
                Case.child_id: self.child_id,
                Child.province: self.province,
                Child.district: self.district,
            }
        )
        if self.concern is not None:
            # Which cases have the concern; the statement itself decides which cases are seen.
            with_concern = select(col(CaseConcern.case_id)).where(
                organisation_wide(principal, CaseConcern),
                col(CaseConcern.concern) == self.concern.value,
            )
            clauses.append(col(Case.id).in_(with_concern))
        clauses += within(Case.opened_on, self.opened_from, self.opened_to)
        clauses += within(Case.updated_at, self.updated_since, None)
        clauses += matching(col(Child.search_text), self.q)
        return clauses


@dataclass(frozen=True)
class CaseListQuery(CaseFilters):
    """The list's filters and its order."""

    sort: CaseSort = "-opened_on"
