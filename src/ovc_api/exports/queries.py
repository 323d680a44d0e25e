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
NAMES = ("given_name_latin", "family_name_latin", "given_name_khmer", "family_name_khmer")
CIRCUMSTANCES = ("birth_registration", "disability", "schooling_status", "care_arrangement")


class Variant(StrEnum):
    identified = "identified"
    deidentified = "deidentified"


def _in_order(
    model: Any,
    shape: Shape,
    principal: Principal,
    filters: Any,
    key: Any,
    *joins: tuple[Any, Any],
) -> tuple[Select[Any], Shape]:
    """The organisation's rows of `model` (with `joins`: (model, on) pairs), filtered like its
    list, ordered by `key` then id."""
    statement = select(*shape.selected).select_from(model)
    for joined, on in joins:
        statement = statement.join(joined, on)
    statement = filters.apply(statement.where(organisation_wide(principal, model)), principal)
    return statement.order_by(key, col(model.id)), shape


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
        .fields(Case, "child_id", "family_id", "assigned_to", kind="uuid")
        .fields(Case, "status", "risk_level")
        .column("concerns", _concerns(principal), "concerns")
        .fields(Case, "referral_source", "referral_source_detail")
        .fields(Case, "opened_on", "closed_on", kind="date")
        .fields(Case, "closure_reason")
        .fields(Case, "last_contact_on", kind="date")
        .fields(Case, "summary")
        .fields(Child, *NAMES, "sex")
        .fields(Child, "date_of_birth", kind="date")
        .fields(Child, "birth_date_estimated", kind="bool")
        .fields(Child, "province", "district", "commune", "village")
        .fields(Case, "created_at", "updated_at", kind="datetime")
    )


def _deidentified_cases(principal: Principal, postgres: bool) -> Shape:
    """No names, free text, village or commune; the child as a per-export pseudonym; the age
    at the case's opening as a band; months, not days (beside the district, an exact date
    can point at one child)."""
    return (
        Shape(postgres=postgres)
        .derived("child_pseudonym", Pseudonyms(), col(Case.child_id))
        .fields(Case, "status", "risk_level")
        .column("concerns", _concerns(principal), "concerns")
        .fields(Case, "referral_source")
        .column("opened_month", col(Case.opened_on), "month")
        .column("closed_month", col(Case.closed_on), "month")
        .fields(Case, "closure_reason")
        .column("last_contact_month", col(Case.last_contact_on), "month")
        .fields(Child, "sex")
        .derived("age_band", age_band, col(Child.date_of_birth), col(Case.opened_on))
        .fields(Child, "province", "district")
    )


def case_export(
    principal: Principal, variant: Variant, filters: CaseFilters, postgres: bool = False
) -> tuple[Select[Any], Shape]:
    """Cases with their child, in order of opening."""
    make = _identified_cases if variant is Variant.identified else _deidentified_cases
    child = (Child, col(Child.id) == col(Case.child_id))
    return _in_order(
        Case, make(principal, postgres), principal, filters, col(Case.opened_on), child
    )


# --- children -----------------------------------------------------------------------------


def _identified_children(postgres: bool) -> Shape:
    return (
        Shape(postgres=postgres)
        .column("child_id", col(Child.id), "uuid")
        .fields(Child, "family_id", kind="uuid")
        .fields(Child, *NAMES, "sex")
        .fields(Child, "date_of_birth", kind="date")
        .fields(Child, "birth_date_estimated", kind="bool")
        .fields(Child, *CIRCUMSTANCES, "province", "district", "commune", "village")
        .fields(Child, "archived_at", "created_at", "updated_at", kind="datetime")
    )


def _deidentified_children(postgres: bool) -> Shape:
    """No id at all (one row per child), no names, commune or village; the age today as a
    band."""
    today = local_today()

    def band_today(born: date | None) -> str:
        return age_band(born, today)

    return (
        Shape(postgres=postgres)
        .fields(Child, "sex")
        .derived("age_band", band_today, col(Child.date_of_birth))
        .fields(Child, *CIRCUMSTANCES, "province", "district")
    )


def child_export(
    principal: Principal, variant: Variant, filters: ChildFilters, postgres: bool = False
) -> tuple[Select[Any], Shape]:
    """Children, oldest record first."""
    make = _identified_children if variant is Variant.identified else _deidentified_children
    return _in_order(Child, make(postgres), principal, filters, col(Child.created_at))


# --- services delivered -------------------------------------------------------------------


def _identified_services(postgres: bool) -> Shape:
    return (
        Shape(postgres=postgres)
        .column("service_id", col(ServiceDelivery.id), "uuid")
        .fields(ServiceDelivery, "case_id", "child_id", "family_id", "referral_id", kind="uuid")
        .fields(ServiceDelivery, "service_type", "other_description")
        .fields(ServiceDelivery, "delivered_on", kind="date")
        .fields(ServiceDelivery, "quantity", kind="decimal")
        .fields(ServiceDelivery, "unit")
        .fields(ServiceDelivery, "cost", kind="decimal")
        .fields(ServiceDelivery, "currency", "province", "district", "notes")
        .fields(ServiceDelivery, "recorded_by", kind="uuid")
        .fields(ServiceDelivery, "created_at", "updated_at", kind="datetime")
    )


def _under_referral(referral_id: uuid.UUID | None) -> bool:
    return referral_id is not None


def _deidentified_services(postgres: bool) -> Shape:
    """No ids (the child as a per-export pseudonym), no free text; the month of delivery, not
    the day."""
    return (
        Shape(postgres=postgres)
        .derived("child_pseudonym", Pseudonyms(), col(ServiceDelivery.child_id))
        .fields(ServiceDelivery, "service_type")
        .column("delivered_month", col(ServiceDelivery.delivered_on), "month")
        .fields(ServiceDelivery, "quantity", kind="decimal")
        .fields(ServiceDelivery, "unit")
        .fields(ServiceDelivery, "cost", kind="decimal")
        .fields(ServiceDelivery, "currency", "province", "district")
        .derived("under_referral", _under_referral, col(ServiceDelivery.referral_id), kind="bool")
    )


def service_export(
    principal: Principal, variant: Variant, filters: ServiceFilters, postgres: bool = False
) -> tuple[Select[Any], Shape]:
    """Services the organisation delivered, oldest first."""
    make = _identified_services if variant is Variant.identified else _deidentified_services
    delivered_on = col(ServiceDelivery.delivered_on)
    return _in_order(ServiceDelivery, make(postgres), principal, filters, delivered_on)
