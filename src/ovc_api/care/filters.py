"""The list filters of the facilities directory and of reintegration plans."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Query
from sqlalchemy import ColumnElement
from sqlmodel import col

from ovc_api.auth.principal import Principal
from ovc_api.care.models import CareFacility, FacilityKind, PlanStatus, ReintegrationPlan
from ovc_api.filtering import ListFilters, equal_to
from ovc_api.geography import Province


@dataclass(frozen=True)
class FacilityListQuery(ListFilters):
    kind: FacilityKind | None = None
    province: Province | None = None
    transitioning: Annotated[
        bool | None, Query(description="Only facilities transitioning to family-based care")
    ] = None
    organisation_id: uuid.UUID | None = None

    def clauses(self, principal: Principal) -> list[ColumnElement[bool]]:
        clauses = equal_to(
            {
                CareFacility.kind: self.kind,
                CareFacility.province: self.province,
                CareFacility.organisation_id: self.organisation_id,
            }
        )
        if self.transitioning is not None:
            since = col(CareFacility.transitioning_since)
            clauses.append(since.is_not(None) if self.transitioning else since.is_(None))
        return clauses


@dataclass(frozen=True)
class PlanListQuery(ListFilters):
    status: PlanStatus | None = None
    child_id: uuid.UUID | None = None
    case_id: uuid.UUID | None = None

    def clauses(self, principal: Principal) -> list[ColumnElement[bool]]:
        return equal_to(
            {
                ReintegrationPlan.status: self.status,
                ReintegrationPlan.child_id: self.child_id,
                ReintegrationPlan.case_id: self.case_id,
            }
        )
