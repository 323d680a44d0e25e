"""The list filter of API keys."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement
from sqlmodel import col

from ovc_api.auth.principal import Principal
from ovc_api.filtering import ListFilters
from ovc_api.identity.models import ApiKey


@dataclass(frozen=True)
class ApiKeyListQuery(ListFilters):
    revoked: bool | None = None

    def clauses(self, principal: Principal) -> list[ColumnElement[bool]]:
        if self.revoked is None:
            return []
        column = col(ApiKey.revoked_at)
        return [column.is_not(None) if self.revoked else column.is_(None)]
