"""The statements behind exports: in scope, filtered like the lists, in a stable order.

Each export selects plain columns (never ORM objects: a million of them would not stream in
flat memory), in a stable order: the list's natural key, oldest first, then the id. The
filters are the list endpoints' filters, as dependencies: explicit query parameters.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from fastapi import Query
from pydantic import AwareDatetime
from sqlalchemy import func
from sqlalchemy.sql import Select
from sqlmodel import col, select

from ovc_api.ages import age_band
from ovc_api.auth.principal import Principal
from ovc_api.cases.models import Case, CaseConcern, CaseStatus, ProtectionConcern, RiskLevel
from ovc_api.children.models import BirthRegistration, CareArrangement, Child, Schooling, Sex
from ovc_api.clock import local_today
from ovc_api.errors import Unprocessable
from ovc_api.exports.shapes import CONCERN_SEPARATOR, Pseudonyms, Shape
from ovc_api.geography import Province
from ovc_api.services.models import ServiceDelivery, ServiceType
from ovc_api.tenancy import organisation_wide
from ovc_api.text import search_pattern

DETAIL_LENGTH = 200


class Variant(StrEnum):
    identified = "identified"
    deidentified = "deidentified"


class ExportFilters:
    """The list filters an export takes; some single children out, so de-identified exports
    refuse them."""

    identifying: ClassVar[tuple[str, ...]] = ()
    # Filters whose value is never written to the audit log (a name searched for).
    private: ClassVar[tuple[str, ...]] = ("q",)

    def check(self, variant: Variant) -> None:
        if variant is not Variant.deidentified:
            return
        for name in self.identifying:
            if getattr(self, name) is not None:
                raise Unprocessable.field(
                    ["query", name],
                    f"`{name}` would single out children: not available in de-identified exports",
                )

    def apply(self, statement: Any, principal: Principal) -> Any:
        """The statement with the filters' conditions added."""
        raise NotImplementedError

    def describe(self) -> str:
        """The filters used, for the audit log (values, except searched names)."""
        parts = []
        for item in fields(self):  # type: ignore[arg-type]
            value = getattr(self, item.name)
            if value is None or value is False:
                continue
            if item.name in self.private:
                parts.append(item.name)
            elif isinstance(value, StrEnum):
                parts.append(f"{item.name}={value.value}")
            else:
                parts.append(f"{item.name}={value}")
        return " ".join(parts)


def _equal(statement: Any, equal: dict[Any, Any]) -> Any:
    for column, value in equal.items():
        if value is not None:
            statement = statement.where(col(column) == value)
    return statement


def _date_range(start: date | None, end: date | None, start_name: str, end_name: str) -> None:
    if start is not None and end is not None and start > end:
        raise Unprocessable.field(["query", start_name], f"must not be after {end_name}")


# --- cases --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseFilters(ExportFilters):
    """The filters of GET /api/v1/cases."""

    identifying: ClassVar[tuple[str, ...]] = ("child_id", "q")

    status: CaseStatus | None = None
    risk_level: RiskLevel | None = None
    concern: ProtectionConcern | None = None
    assigned_to: uuid.UUID | None = None
    child_id: Annotated[uuid.UUID | None, Query(description="Identified exports only")] = None
    province: Annotated[Province | None, Query(description="The child's province")] = None
    district: Annotated[str | None, Query(max_length=100, description="The child's district")] = (
        None
    )
    opened_from: Annotated[date | None, Query(description="Opened on or after")] = None
    opened_to: Annotated[date | None, Query(description="Opened on or before")] = None
    updated_since: AwareDatetime | None = None
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=100,
            description="Part of a child's name (identified exports only)",
        ),
    ] = None

    def check(self, variant: Variant) -> None:
        _date_range(self.opened_from, self.opened_to, "opened_from", "opened_to")
        super().check(variant)

    def apply(self, statement: Any, principal: Principal) -> Any:
        statement = _equal(
            statement,
            {
                Case.status: self.status,
                Case.risk_level: self.risk_level,
                Case.assigned_to: self.assigned_to,
                Case.child_id: self.child_id,
                Child.province: self.province,
                Child.district: self.district,
            },
        )
        if self.concern is not None:
            with_concern = select(col(CaseConcern.case_id)).where(
                organisation_wide(principal, CaseConcern),
                col(CaseConcern.concern) == self.concern.value,
            )
            statement = statement.where(col(Case.id).in_(with_concern))
        if self.opened_from is not None:
            statement = statement.where(col(Case.opened_on) >= self.opened_from)
        if self.opened_to is not None:
            statement = statement.where(col(Case.opened_on) <= self.opened_to)
        if self.updated_since is not None:
            statement = statement.where(col(Case.updated_at) >= self.updated_since)
        if self.q:
            statement = statement.where(
                col(Child.search_text).like(search_pattern(self.q), escape="\\")
            )
        return statement


def _concerns(principal: Principal) -> Any:
    """The case's concerns as one "a;b" value (ordered in Python), one index probe per case."""
    return (
        select(func.aggregate_strings(col(CaseConcern.concern), CONCERN_SEPARATOR))
        .where(col(CaseConcern.case_id) == col(Case.id), organisation_wide(principal, CaseConcern))
        .scalar_subquery()
    )


def _identified_cases(principal: Principal, postgres: bool) -> Shape:
    return (
        Shape(postgres=postgres)
        .column("case_id", col(Case.id), "uuid")
        .column("child_id", col(Case.child_id), "uuid")
        .column("family_id", col(Case.family_id), "uuid")
        .column("assigned_to", col(Case.assigned_to), "uuid")
        .column("status", col(Case.status))
        .column("risk_level", col(Case.risk_level))
        .column("concerns", _concerns(principal), "concerns")
        .column("referral_source", col(Case.referral_source))
        .column("referral_source_detail", col(Case.referral_source_detail))
        .column("opened_on", col(Case.opened_on), "date")
        .column("closed_on", col(Case.closed_on), "date")
        .column("closure_reason", col(Case.closure_reason))
        .column("last_contact_on", col(Case.last_contact_on), "date")
        .column("summary", col(Case.summary))
        .column("given_name_latin", col(Child.given_name_latin))
        .column("family_name_latin", col(Child.family_name_latin))
        .column("given_name_khmer", col(Child.given_name_khmer))
        .column("family_name_khmer", col(Child.family_name_khmer))
        .column("sex", col(Child.sex))
        .column("date_of_birth", col(Child.date_of_birth), "date")
        .column("birth_date_estimated", col(Child.birth_date_estimated), "bool")
        .column("province", col(Child.province))
        .column("district", col(Child.district))
        .column("commune", col(Child.commune))
        .column("village", col(Child.village))
        .column("created_at", col(Case.created_at), "datetime")
        .column("updated_at", col(Case.updated_at), "datetime")
    )


def _deidentified_cases(principal: Principal, postgres: bool) -> Shape:
    """No names, free text, village or commune; the child as a per-export pseudonym; the age
    at the case's opening as a band."""
    return (
        Shape(postgres=postgres)
        .derived("child_pseudonym", Pseudonyms(), col(Case.child_id))
        .column("status", col(Case.status))
        .column("risk_level", col(Case.risk_level))
        .column("concerns", _concerns(principal), "concerns")
        .column("referral_source", col(Case.referral_source))
        .column("opened_on", col(Case.opened_on), "date")
        .column("closed_on", col(Case.closed_on), "date")
        .column("closure_reason", col(Case.closure_reason))
        .column("last_contact_on", col(Case.last_contact_on), "date")
        .column("sex", col(Child.sex))
        .derived("age_band", age_band, col(Child.date_of_birth), col(Case.opened_on))
        .column("province", col(Child.province))
        .column("district", col(Child.district))
    )


def case_export(
    principal: Principal, variant: Variant, filters: CaseFilters, postgres: bool = False
) -> tuple[Select[Any], Shape]:
    """Cases with their child, in order of opening."""
    make = _identified_cases if variant is Variant.identified else _deidentified_cases
    shape = make(principal, postgres)
    statement = (
        select(*shape.selected)
        .select_from(Case)
        .join(Child, col(Child.id) == col(Case.child_id))
        .where(organisation_wide(principal, Case))
    )
    statement = filters.apply(statement, principal)
    return statement.order_by(col(Case.opened_on), col(Case.id)), shape


# --- children -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ChildFilters(ExportFilters):
    """The filters of GET /api/v1/children."""

    identifying: ClassVar[tuple[str, ...]] = ("q", "commune", "family_id")

    q: Annotated[
        str | None,
        Query(min_length=1, max_length=100, description="Part of a name (identified only)"),
    ] = None
    province: Province | None = None
    district: Annotated[str | None, Query(max_length=100)] = None
    commune: Annotated[str | None, Query(max_length=100, description="Identified exports only")] = (
        None
    )
    sex: Sex | None = None
    care_arrangement: CareArrangement | None = None
    birth_registration: BirthRegistration | None = None
    schooling_status: Schooling | None = None
    family_id: Annotated[uuid.UUID | None, Query(description="Identified exports only")] = None
    archived: Annotated[bool, Query(description="Export archived children instead")] = False
    updated_since: AwareDatetime | None = None

    def apply(self, statement: Any, principal: Principal) -> Any:
        archived_at = col(Child.archived_at)
        statement = statement.where(
            archived_at.is_not(None) if self.archived else archived_at.is_(None)
        )
        statement = _equal(
            statement,
            {
                Child.province: self.province,
                Child.sex: self.sex,
                Child.care_arrangement: self.care_arrangement,
                Child.birth_registration: self.birth_registration,
                Child.schooling_status: self.schooling_status,
                Child.family_id: self.family_id,
                Child.district: self.district,
                Child.commune: self.commune,
            },
        )
        if self.q:
            statement = statement.where(
                col(Child.search_text).like(search_pattern(self.q), escape="\\")
            )
        if self.updated_since is not None:
            statement = statement.where(col(Child.updated_at) >= self.updated_since)
        return statement


def _identified_children(postgres: bool) -> Shape:
    return (
        Shape(postgres=postgres)
        .column("child_id", col(Child.id), "uuid")
        .column("family_id", col(Child.family_id), "uuid")
        .column("given_name_latin", col(Child.given_name_latin))
        .column("family_name_latin", col(Child.family_name_latin))
        .column("given_name_khmer", col(Child.given_name_khmer))
        .column("family_name_khmer", col(Child.family_name_khmer))
        .column("sex", col(Child.sex))
        .column("date_of_birth", col(Child.date_of_birth), "date")
        .column("birth_date_estimated", col(Child.birth_date_estimated), "bool")
        .column("birth_registration", col(Child.birth_registration))
        .column("disability", col(Child.disability))
        .column("schooling_status", col(Child.schooling_status))
        .column("care_arrangement", col(Child.care_arrangement))
        .column("province", col(Child.province))
        .column("district", col(Child.district))
        .column("commune", col(Child.commune))
        .column("village", col(Child.village))
        .column("archived_at", col(Child.archived_at), "datetime")
        .column("created_at", col(Child.created_at), "datetime")
        .column("updated_at", col(Child.updated_at), "datetime")
    )


def _deidentified_children(postgres: bool) -> Shape:
    """No id at all (one row per child), no names, commune or village; the age today as a
    band."""
    today = local_today()

    def band_today(born: date | None) -> str:
        return age_band(born, today)

    return (
        Shape(postgres=postgres)
        .column("sex", col(Child.sex))
        .derived("age_band", band_today, col(Child.date_of_birth))
        .column("birth_registration", col(Child.birth_registration))
        .column("disability", col(Child.disability))
        .column("schooling_status", col(Child.schooling_status))
        .column("care_arrangement", col(Child.care_arrangement))
        .column("province", col(Child.province))
        .column("district", col(Child.district))
    )


def child_export(
    principal: Principal, variant: Variant, filters: ChildFilters, postgres: bool = False
) -> tuple[Select[Any], Shape]:
    """Children, oldest record first."""
    make = _identified_children if variant is Variant.identified else _deidentified_children
    shape = make(postgres)
    statement = (
        select(*shape.selected).select_from(Child).where(organisation_wide(principal, Child))
    )
    statement = filters.apply(statement, principal)
    return statement.order_by(col(Child.created_at), col(Child.id)), shape


# --- services delivered -------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceFilters(ExportFilters):
    """The filters of GET /api/v1/services."""

    identifying: ClassVar[tuple[str, ...]] = ("case_id", "family_id", "referral_id")

    service_type: ServiceType | None = None
    delivered_from: date | None = None
    delivered_to: Annotated[date | None, Query(description="Inclusive")] = None
    case_id: Annotated[uuid.UUID | None, Query(description="Identified exports only")] = None
    family_id: Annotated[uuid.UUID | None, Query(description="Identified exports only")] = None
    referral_id: Annotated[uuid.UUID | None, Query(description="Identified exports only")] = None
    province: Province | None = None
    updated_since: AwareDatetime | None = None

    def check(self, variant: Variant) -> None:
        _date_range(self.delivered_from, self.delivered_to, "delivered_from", "delivered_to")
        super().check(variant)

    def apply(self, statement: Any, principal: Principal) -> Any:
        statement = _equal(
            statement,
            {
                ServiceDelivery.service_type: self.service_type,
                ServiceDelivery.case_id: self.case_id,
                ServiceDelivery.family_id: self.family_id,
                ServiceDelivery.referral_id: self.referral_id,
                ServiceDelivery.province: self.province,
            },
        )
        delivered_on = col(ServiceDelivery.delivered_on)
        if self.delivered_from is not None:
            statement = statement.where(delivered_on >= self.delivered_from)
        if self.delivered_to is not None:
            statement = statement.where(delivered_on <= self.delivered_to)
        if self.updated_since is not None:
            statement = statement.where(col(ServiceDelivery.updated_at) >= self.updated_since)
        return statement


def _identified_services(postgres: bool) -> Shape:
    return (
        Shape(postgres=postgres)
        .column("service_id", col(ServiceDelivery.id), "uuid")
        .column("case_id", col(ServiceDelivery.case_id), "uuid")
        .column("child_id", col(ServiceDelivery.child_id), "uuid")
        .column("family_id", col(ServiceDelivery.family_id), "uuid")
        .column("referral_id", col(ServiceDelivery.referral_id), "uuid")
        .column("service_type", col(ServiceDelivery.service_type))
        .column("other_description", col(ServiceDelivery.other_description))
        .column("delivered_on", col(ServiceDelivery.delivered_on), "date")
        .column("quantity", col(ServiceDelivery.quantity), "decimal")
        .column("unit", col(ServiceDelivery.unit))
        .column("cost", col(ServiceDelivery.cost), "decimal")
        .column("currency", col(ServiceDelivery.currency))
        .column("province", col(ServiceDelivery.province))
        .column("district", col(ServiceDelivery.district))
        .column("notes", col(ServiceDelivery.notes))
        .column("recorded_by", col(ServiceDelivery.recorded_by), "uuid")
        .column("created_at", col(ServiceDelivery.created_at), "datetime")
        .column("updated_at", col(ServiceDelivery.updated_at), "datetime")
    )


def _under_referral(referral_id: uuid.UUID | None) -> bool:
    return referral_id is not None


def _deidentified_services(postgres: bool) -> Shape:
    """No ids (the child as a per-export pseudonym), no free text."""
    return (
        Shape(postgres=postgres)
        .derived("child_pseudonym", Pseudonyms(), col(ServiceDelivery.child_id))
        .column("service_type", col(ServiceDelivery.service_type))
        .column("delivered_on", col(ServiceDelivery.delivered_on), "date")
        .column("quantity", col(ServiceDelivery.quantity), "decimal")
        .column("unit", col(ServiceDelivery.unit))
        .column("cost", col(ServiceDelivery.cost), "decimal")
        .column("currency", col(ServiceDelivery.currency))
        .column("province", col(ServiceDelivery.province))
        .column("district", col(ServiceDelivery.district))
        .derived("under_referral", _under_referral, col(ServiceDelivery.referral_id), kind="bool")
    )


def service_export(
    principal: Principal, variant: Variant, filters: ServiceFilters, postgres: bool = False
) -> tuple[Select[Any], Shape]:
    """Services the organisation delivered, oldest first."""
    make = _identified_services if variant is Variant.identified else _deidentified_services
    shape = make(postgres)
    statement = (
        select(*shape.selected)
        .select_from(ServiceDelivery)
        .where(organisation_wide(principal, ServiceDelivery))
    )
    statement = filters.apply(statement, principal)
    return statement.order_by(col(ServiceDelivery.delivered_on), col(ServiceDelivery.id)), shape
