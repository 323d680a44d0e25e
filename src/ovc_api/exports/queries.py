"""The statements behind exports: in scope, filtered like the lists, in a stable order.

Each export selects plain columns (never ORM objects: a million of them would not stream in
flat memory), in a stable order: the list's natural key, oldest first, then the id. The
filters are the list endpoints' own filter objects (`<domain>/filters.py`).
"""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import Any

from sqlalchemy import func
from sqlalchemy.sql import Select
from sqlmodel import col, select

from ovc_api.ages import age_band
from ovc_api.auth.principal import Principal
from ovc_api.cases.filters import CaseFilters
from ovc_api.cases.models import Case, CaseConcern
from ovc_api.children.filters import ChildFilters
from ovc_api.children.models import Child
from ovc_api.clock import local_today
from ovc_api.exports.shapes import CONCERN_SEPARATOR, Pseudonyms, Shape
from ovc_api.services.filters import ServiceFilters
from ovc_api.services.models import ServiceDelivery
from ovc_api.tenancy import organisation_wide

DETAIL_LENGTH = 200


class Variant(StrEnum):
    identified = "identified"
    deidentified = "deidentified"


# --- cases --------------------------------------------------------------------------------


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
    at the case's opening as a band; months, not days (beside the district, an exact date
    can point at one child)."""
    return (
        Shape(postgres=postgres)
        .derived("child_pseudonym", Pseudonyms(), col(Case.child_id))
        .column("status", col(Case.status))
        .column("risk_level", col(Case.risk_level))
        .column("concerns", _concerns(principal), "concerns")
        .column("referral_source", col(Case.referral_source))
        .column("opened_month", col(Case.opened_on), "month")
        .column("closed_month", col(Case.closed_on), "month")
        .column("closure_reason", col(Case.closure_reason))
        .column("last_contact_month", col(Case.last_contact_on), "month")
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
    """No ids (the child as a per-export pseudonym), no free text; the month of delivery, not
    the day."""
    return (
        Shape(postgres=postgres)
        .derived("child_pseudonym", Pseudonyms(), col(ServiceDelivery.child_id))
        .column("service_type", col(ServiceDelivery.service_type))
        .column("delivered_month", col(ServiceDelivery.delivered_on), "month")
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
