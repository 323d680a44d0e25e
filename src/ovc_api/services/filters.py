"""The filters of the list of services delivered and of its export (statistics of services
filter otherwise: several values per filter, periods)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Annotated, ClassVar, Literal

from fastapi import Query
from pydantic import AwareDatetime
from sqlalchemy import ColumnElement

from ovc_api.auth.principal import Principal
from ovc_api.filtering import ListFilters, check_order, equal_to, within
from ovc_api.geography import Province
from ovc_api.services.models import ServiceDelivery, ServiceType

ServiceSort = Literal[
    "delivered_on", "-delivered_on", "created_at", "-created_at", "updated_at", "-updated_at"
]


@dataclass(frozen=True)
class ServiceFilters(ListFilters):
    """GET /api/v1/services and /api/v1/exports/services."""

    identifying: ClassVar[tuple[str, ...]] = ("case_id", "family_id", "referral_id")

    service_type: ServiceType | None = None
    delivered_from: date | None = None
    delivered_to: Annotated[date | None, Query(description="Inclusive")] = None
    case_id: uuid.UUID | None = None
    family_id: uuid.UUID | None = None
    referral_id: uuid.UUID | None = None
    province: Province | None = None
    updated_since: AwareDatetime | None = None

    def __post_init__(self) -> None:
        check_order(self.delivered_from, self.delivered_to, "delivered_from", "delivered_to")

    def clauses(self, principal: Principal) -> list[ColumnElement[bool]]:
        clauses = equal_to(
            {
                ServiceDelivery.service_type: self.service_type,
                ServiceDelivery.case_id: self.case_id,
                ServiceDelivery.family_id: self.family_id,
                ServiceDelivery.referral_id: self.referral_id,
                ServiceDelivery.province: self.province,
            }
        )
        clauses += within(ServiceDelivery.delivered_on, self.delivered_from, self.delivered_to)
        clauses += within(ServiceDelivery.updated_at, self.updated_since, None)
        return clauses


@dataclass(frozen=True)
class ServiceListQuery(ServiceFilters):
    """The list's filters and its order."""

    sort: ServiceSort = "-delivered_on"
