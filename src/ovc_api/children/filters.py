"""The filters of the children list and of its export."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal

from fastapi import Query
from pydantic import AwareDatetime
from sqlalchemy import ColumnElement
from sqlmodel import col

from ovc_api.auth.principal import Principal
from ovc_api.children.models import BirthRegistration, CareArrangement, Child, Schooling, Sex
from ovc_api.filtering import ListFilters, equal_to, matching, within
from ovc_api.geography import Province

ChildSort = Literal[
    "created_at", "-created_at", "updated_at", "-updated_at", "date_of_birth", "-date_of_birth"
]


@dataclass(frozen=True)
class ChildFilters(ListFilters):
    """GET /api/v1/children and /api/v1/exports/children."""

    identifying: ClassVar[tuple[str, ...]] = ("q", "commune", "family_id")

    q: Annotated[str | None, Query(min_length=1, max_length=100)] = None
    province: Province | None = None
    district: Annotated[str | None, Query(max_length=100)] = None
    commune: Annotated[str | None, Query(max_length=100)] = None
    sex: Sex | None = None
    care_arrangement: CareArrangement | None = None
    birth_registration: BirthRegistration | None = None
    schooling_status: Schooling | None = None
    family_id: uuid.UUID | None = None
    archived: Annotated[bool, Query(description="List archived children instead")] = False
    updated_since: AwareDatetime | None = None

    def clauses(self, principal: Principal) -> list[ColumnElement[bool]]:
        archived_at = col(Child.archived_at)
        clauses: list[ColumnElement[bool]] = [
            archived_at.is_not(None) if self.archived else archived_at.is_(None)
        ]
        clauses += equal_to(
            {
                Child.province: self.province,
                Child.sex: self.sex,
                Child.care_arrangement: self.care_arrangement,
                Child.birth_registration: self.birth_registration,
                Child.schooling_status: self.schooling_status,
                Child.family_id: self.family_id,
                Child.district: self.district,
                Child.commune: self.commune,
            }
        )
        clauses += matching(col(Child.search_text), self.q)
        clauses += within(Child.updated_at, self.updated_since, None)
        return clauses


@dataclass(frozen=True)
class ChildListQuery(ChildFilters):
    """The list's filters and its order."""

    sort: ChildSort = "-created_at"
