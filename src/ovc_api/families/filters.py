"""The filters of the household list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Query
from pydantic import AwareDatetime
from sqlalchemy import ColumnElement, func
from sqlmodel import col

from ovc_api.auth.principal import Principal
from ovc_api.families.models import Family, IdPoorStatus
from ovc_api.filtering import ListFilters, equal_to, matching, within
from ovc_api.geography import Province

FamilySort = Literal["created_at", "-created_at", "updated_at", "-updated_at"]


@dataclass(frozen=True)
class FamilyFilters(ListFilters):
    """GET /api/v1/families."""

    q: Annotated[
        str | None, Query(min_length=1, max_length=100, description="Part of the name")
    ] = None
    province: Province | None = None
    district: Annotated[str | None, Query(max_length=100)] = None
    commune: Annotated[str | None, Query(max_length=100)] = None
    id_poor_status: IdPoorStatus | None = None
    archived: Annotated[bool, Query(description="List archived households instead")] = False
    updated_since: AwareDatetime | None = None

    def clauses(self, principal: Principal) -> list[ColumnElement[bool]]:
        archived_at = col(Family.archived_at)
        clauses: list[ColumnElement[bool]] = [
            archived_at.is_not(None) if self.archived else archived_at.is_(None)
        ]
        clauses += equal_to(
            {
                Family.province: self.province,
                Family.district: self.district,
                Family.commune: self.commune,
                Family.id_poor_status: self.id_poor_status,
            }
        )
        clauses += matching(func.lower(col(Family.name)), self.q)
        clauses += within(Family.updated_at, self.updated_since, None)
        return clauses


@dataclass(frozen=True)
class FamilyListQuery(FamilyFilters):
    """The list's filters and its order."""

    sort: FamilySort = "-created_at"
