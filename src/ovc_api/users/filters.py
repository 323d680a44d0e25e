"""The list filters of users (those the caller manages)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Query
from sqlalchemy import ColumnElement
from sqlmodel import col

from ovc_api.auth.principal import Principal
from ovc_api.auth.scopes import Role
from ovc_api.filtering import ListFilters
from ovc_api.identity.models import User
from ovc_api.text import contains_pattern


@dataclass(frozen=True)
class UserListQuery(ListFilters):
    role: Role | None = None
    active: bool | None = None
    organisation_id: uuid.UUID | None = None
    q: Annotated[str | None, Query(min_length=1, max_length=100, description="Name or email")] = (
        None
    )

    def clauses(self, principal: Principal) -> list[ColumnElement[bool]]:
        clauses: list[ColumnElement[bool]] = []
        if self.role is not None:
            clauses.append(col(User.role) == self.role.value)
        if self.active is not None:
            clauses.append(col(User.active).is_(self.active))
        if self.organisation_id is not None:
            clauses.append(col(User.organisation_id) == self.organisation_id)
        if self.q:
            pattern = contains_pattern(self.q)
            clauses.append(
                col(User.email).ilike(pattern, escape="\\")
                | col(User.full_name).ilike(pattern, escape="\\")
            )
        return clauses
