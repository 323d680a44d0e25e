"""The quarterly report's document: every figure of a donor or ministry report, in one place."""

from __future__ import annotations

import uuid
from datetime import date

from pydantic import BaseModel, Field

from ovc_api.cases.models import ClosureReason, ProtectionConcern
from ovc_api.geography import Province
from ovc_api.services.models import ServiceType


class ReportOrganisation(BaseModel):
    id: uuid.UUID
    name: str


class ReportCases(BaseModel):
    new: int = Field(description="Cases opened in the quarter")
    active: int = Field(description="Cases open on at least one day of the quarter")
    closed: int = Field(description="Cases closed in the quarter")


class ReportServiceType(BaseModel):
    service_type: ServiceType
    services: int
    children: int = Field(description="Distinct children who received it")
    families: int = Field(description="Distinct families who received it")


class ReportConcern(BaseModel):
    concern: ProtectionConcern
    cases: int = Field(description="Active cases with this concern")
    children: int


class ReportDistrict(BaseModel):
    province: Province
    district: str | None
    cases: int = Field(description="Active cases of children living in the district")
    children: int


class ReportOutcomes(BaseModel):
    children_reunified: int
    children_placed_in_kinship_care: int
    children_placed_in_foster_care: int
    birth_certificates: int = Field(
        description="Distinct children who received birth-certificate support"
    )
    school_enrolments: int = Field(
        description="Distinct children who received school-enrolment support"
    )
    cases_closed_by_reason: dict[ClosureReason, int] = Field(
        description="Cases closed in the quarter, by closure reason (reasons with none left out)"
    )
    median_days_to_closure: float | None


class ReportReferrals(BaseModel):
    made: int = Field(description="Referrals the organisation sent in the quarter")
    accepted: int = Field(description="Of its referrals, those accepted in the quarter")
    completed: int = Field(description="Of its referrals, those completed in the quarter")


class ReportCare(BaseModel):
    """Alternative care (definitions as GET /stats/care)."""

    children_in_residential_care: int = Field(description="On the quarter's last day")
    moves_to_family_care: int = Field(description="From residential to family-based care")
    mean_days_in_care_before_move: float | None
    followed_6_months: int = Field(description="All moves 182+ days before the quarter's end")
    stable_6_months: int = Field(description="Of those, still in that family 182 days on")
    followed_12_months: int
    stable_12_months: int
    tracing_concluded: int = Field(description="Family-tracing attempts concluded")
    tracing_found: int = Field(description="Of those, a relative was found")


class QuarterlyReport(BaseModel):
    organisation: ReportOrganisation
    year: int
    quarter: int
    period: str = Field(examples=["2026-Q1"])
    period_start: date
    period_end: date
    cases: ReportCases
    children_supported: int = Field(
        description="Distinct children with an active case or a service in the quarter"
    )
    families_supported: int = Field(
        description="Distinct families of the active cases or served in the quarter"
    )
    services_by_type: list[ReportServiceType]
    outcomes: ReportOutcomes
    cases_by_concern: list[ReportConcern]
    cases_by_district: list[ReportDistrict]
    referrals: ReportReferrals
    alternative_care: ReportCare
    highlights: list[str] = Field(
        description="The main figures as sentences, ready for a report (English)"
    )
