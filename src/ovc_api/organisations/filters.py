"""The list filters of the member organisations' directory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Query
from sqlalchemy import ColumnElement
from sqlmodel import col

from ovc_api.auth.principal import Principal
from ovc_api.filtering import ListFilters
from ovc_api.identity.models import Organisation, OrganisationKind
from ovc_api.text import contains_pattern


@dataclass(frozen=True)
class OrganisationListQuery(ListFilters):
    """Others than the network administrator see active organisations only."""

    kind: OrganisationKind | None = None
    active: Annotated[
        bool | None, Query(description="Network administrator only; others see active ones")
    ] = None
    q: Annotated[str | None, Query(min_length=1, max_length=100)] = None

    def clauses(self, principal: Principal) -> list[ColumnElement[bool]]:
        clauses: list[ColumnElement[bool]] = []
        if not principal.is_network_admin:
            clauses.append(col(Organisation.active).is_(True))
        elif self.active is not None:
            clauses.append(col(Organisation.active).is_(self.active))
        if self.kind is not None:
            clauses.append(col(Organisation.kind) == self.kind.value)
        if self.q:
            pattern = contains_pattern(self.q)
            clauses.append(
                col(Organisation.name).ilike(pattern, escape="\\")
                | col(Organisation.short_name).ilike(pattern, escape="\\")
            )
        return clauses
