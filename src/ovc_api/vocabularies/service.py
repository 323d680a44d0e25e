"""Every code list the API accepts, with English and Khmer labels: built once from the
enumerations themselves (so a new code cannot be missing here) and served with an ETag."""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum
from functools import cache
from typing import Any

from ovc_api.care.models import (
    FacilityKind,
    GatekeepingAuthority,
    PlacementType,
    PlanStatus,
    TracingMethod,
    TracingOutcome,
    VisitStatus,
)
from ovc_api.cases.models import (
    CaseStatus,
    ClosureReason,
    ClosureRequestStatus,
    ProtectionConcern,
    ReferralSource,
    RiskLevel,
)
from ovc_api.casework.models import (
    AssessmentKind,
    CsiDomain,
    FollowUpKind,
    FollowUpStatus,
    GoalStatus,
)
from ovc_api.children.models import BirthRegistration, CareArrangement, Disability, Schooling, Sex
from ovc_api.families.models import IdPoorStatus, IncomeSource, Relation
from ovc_api.geography import PROVINCE_NAMES, Province
from ovc_api.identity.models import OrganisationKind
from ovc_api.services.models import Currency, ServiceType
from ovc_api.sharing.models import ConsentMethod, ReferralStatus, Urgency
from ovc_api.vocabularies.khmer import KHMER

LANGUAGES = ("en", "km")
VOCABULARIES: dict[str, type[StrEnum]] = {
    "provinces": Province,
    "sex": Sex,
    "birth_registration": BirthRegistration,
    "disability": Disability,
    "schooling_status": Schooling,
    "care_arrangement": CareArrangement,
    "placement_type": PlacementType,
    "facility_kind": FacilityKind,
    "gatekeeping_authority": GatekeepingAuthority,
    "tracing_method": TracingMethod,
    "tracing_outcome": TracingOutcome,
    "reintegration_plan_status": PlanStatus,
    "monitoring_visit_status": VisitStatus,
    "service_type": ServiceType,
    "currency": Currency,
    "case_status": CaseStatus,
    "risk_level": RiskLevel,
    "referral_source": ReferralSource,
    "protection_concern": ProtectionConcern,
    "closure_reason": ClosureReason,
    "closure_request_status": ClosureRequestStatus,
    "csi_domain": CsiDomain,
    "assessment_kind": AssessmentKind,
    "goal_status": GoalStatus,
    "follow_up_kind": FollowUpKind,
    "follow_up_status": FollowUpStatus,
    "referral_status": ReferralStatus,
    "urgency": Urgency,
    "consent_method": ConsentMethod,
    "id_poor_status": IdPoorStatus,
    "income_source": IncomeSource,
    "relation": Relation,
    "organisation_kind": OrganisationKind,
}
# English labels where the code alone does not read well.
ENGLISH: dict[str, dict[str, str]] = {
    "provinces": {p.value: name for p, name in PROVINCE_NAMES.items()},
    "gatekeeping_authority": {
        "dosvy": "Provincial Department of Social Affairs (DoSVY)",
        "ccwc": "Commune Committee for Women and Children (CCWC)",
        "mosvy": "Ministry of Social Affairs (MoSVY)",
    },
    "referral_source": {
        "provincial_social_affairs": "Provincial Department of Social Affairs (DoSVY)",
        "commune_committee": "Commune Committee for Women and Children (CCWC)",
        "ngo": "NGO",
    },
    "service_type": {"id_poor_card_support": "ID Poor card support"},
    "id_poor_status": {"level_1": "ID Poor level 1", "level_2": "ID Poor level 2"},
    "organisation_kind": {"ngo": "NGO", "residential_care": "Residential care institution"},
    "currency": {"KHR": "Cambodian riel", "USD": "US dollar", "THB": "Thai baht"},
    "csi_domain": {"psychosocial": "Psychosocial wellbeing"},
}


def english(vocabulary: str, code: str) -> str:
    return ENGLISH.get(vocabulary, {}).get(code) or code.replace("_", " ").capitalize()


def language_of(accept_language: str | None) -> str:
    """The first of km or en the client accepts (by q-value), else English."""
    if not accept_language:
        return "en"
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, position, primary))
    return min(ranked)[2] if ranked else "en"


@cache
def vocabulary(name: str, language: str) -> dict[str, object]:
    codes = VOCABULARIES[name]
    labels = KHMER[name] if language == "km" else {}
    return {
        "name": name,
        "language": language,
        "items": [
            {"code": member.value, "label": labels.get(member.value) or english(name, member.value)}
            for member in codes
        ],
    }


@cache
def all_vocabularies(language: str) -> dict[str, object]:
    return {
        "language": language,
        "vocabularies": [vocabulary(name, language) for name in VOCABULARIES],
    }


def etag_of(document: dict[str, object]) -> str:
    digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()
    return f'"{digest[:32]}"'


def describe_enums(components: dict[str, Any]) -> None:
    """Give every enumeration component of the OpenAPI schema that is a code list the
    English label of each code (generated clients and /docs show them)."""
    by_codes = {frozenset(m.value for m in codes): name for name, codes in VOCABULARIES.items()}
    for component in components.values():
        codes = component.get("enum")
        if not isinstance(codes, list) or (name := by_codes.get(frozenset(codes))) is None:
            continue
        labels = "; ".join(f"`{code}`: {english(name, code)}" for code in codes)
        component["description"] = f"Code list `{name}` (GET /api/v1/vocabularies/{name}): {labels}"
