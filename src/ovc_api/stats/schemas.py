"""Response schemas of the statistics, for the OpenAPI document and generated clients.

A row carries the values of the keys named in `group_by` (and only those) followed by its
counts. Network rows may have null counts: those are withheld, and named in `suppressed`.
The models are built from the same key and count lists the queries use, so they cannot
drift apart.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field, create_model

from ovc_api.ages import AgeBand
from ovc_api.cases.models import (
    CaseStatus,
    ClosureReason,
    ProtectionConcern,
    ReferralSource,
    RiskLevel,
)
from ovc_api.children.models import CareArrangement, Sex
from ovc_api.geography import Province
from ovc_api.identity.models import OrganisationKind
from ovc_api.services.models import ServiceType
from ovc_api.stats.dimensions import CaseKey, Period, ServiceKey
from ovc_api.stats.engine import CASE_COUNTS, SERVICE_COUNTS
from ovc_api.stats.network_space import (
    NETWORK_CASE_KEYS,
    NETWORK_SERVICE_KEYS,
    NetworkCaseKey,
    NetworkPeriod,
    NetworkServiceKey,
)
from ovc_api.stats.perturbation import MAX_PERTURBATION
from ovc_api.stats.tables import OUTCOME_COUNTS

PERIOD_FIELDS: dict[str, Any] = {
    "month": (str | None, Field(None, examples=["2026-03"], description="YYYY-MM")),
    "quarter": (str | None, Field(None, examples=["2026-Q1"], description="YYYY-Qn")),
    "year": (str | None, Field(None, examples=["2026"], description="YYYY")),
}
KEY_FIELDS: dict[str, Any] = {
    "status": (CaseStatus | None, None),
    "risk_level": (RiskLevel | None, None),
    "concern": (ProtectionConcern | None, None),
    "province": (Province | None, None),
    "district": (str | None, None),
    "sex": (Sex | None, None),
    "age_band": (AgeBand | None, None),
    "care_arrangement": (CareArrangement | None, None),
    "referral_source": (ReferralSource | None, None),
    "assigned_to": (uuid.UUID | None, Field(None, description="The assignee's user id")),
    "service_type": (ServiceType | None, None),
    "closure_reason": (ClosureReason | None, Field(None, description="null: the case is open")),
    "organisation_kind": (OrganisationKind | None, None),
    **PERIOD_FIELDS,
}
SUPPRESSED: tuple[Any, Any] = (
    list[str],
    Field(
        default_factory=list,
        description="Names of this row's counts that are withheld (null): below the "
        "suppression threshold, or withheld so that no withheld count can be worked out",
    ),
)
ROW_DOC = "One group: the values of the keys named in `group_by` (only those), then its counts."


def _counts(names: Sequence[str], network: bool) -> dict[str, Any]:
    if network:
        noisy = f"Perturbed: within {MAX_PERTURBATION} of the true count; null: withheld"
        return {name: (int | None, Field(..., ge=0, description=noisy)) for name in names}
    return {name: (int, Field(..., ge=0)) for name in names}


def _statistic(
    name: str, keys: Sequence[str], key_type: Any, counts: Sequence[str], *, network: bool
) -> type[BaseModel]:
    prefix = "Network" if network else ""
    extra = {"suppressed": SUPPRESSED} if network else {}
    row = create_model(  # type: ignore[call-overload]
        f"{prefix}{name}Row",
        __doc__=ROW_DOC,
        **{k: KEY_FIELDS[k] for k in keys},
        **_counts(counts, network),
        **extra,
    )
    totals = create_model(  # type: ignore[call-overload]
        f"{prefix}{name}Totals",
        __doc__="The counts over everything the filters select (distinct children once).",
        **_counts(counts, network),
        **extra,
    )
    fields: dict[str, Any] = {
        "group_by": (list[key_type], ...),
        "filters": (dict[str, Any], Field(..., description="The filters applied, as given")),
        "rows": (list[row], ...),
        "totals": (totals, ...),
    }
    if network:
        fields["suppression_threshold"] = (
            int,
            Field(..., description="Counts from 1 to this value minus one are withheld"),
        )
    model: type[BaseModel] = create_model(f"{prefix}{name}", **fields)
    return model


CaseStatistic = _statistic("CaseStats", list(CaseKey), CaseKey, CASE_COUNTS, network=False)
NetworkCaseStatistic = _statistic(
    "CaseStats", NETWORK_CASE_KEYS, NetworkCaseKey, CASE_COUNTS, network=True
)
ServiceStatistic = _statistic(
    "ServiceStats", list(ServiceKey), ServiceKey, SERVICE_COUNTS, network=False
)
NetworkServiceStatistic = _statistic(
    "ServiceStats", NETWORK_SERVICE_KEYS, NetworkServiceKey, SERVICE_COUNTS, network=True
)


def _outcomes(network: bool) -> type[BaseModel]:
    prefix = "Network" if network else ""
    median = (
        float | None,
        Field(..., description="Median days from opening to closure of the cases closed"),
    )
    extra = {"suppressed": SUPPRESSED} if network else {}
    row = create_model(  # type: ignore[call-overload]
        f"{prefix}OutcomeStatsRow",
        __doc__="One period (the key named in `group_by`) and its outcomes.",
        **{k: v for k, v in PERIOD_FIELDS.items() if not network or k in list(NetworkPeriod)},
        **_counts(OUTCOME_COUNTS, network),
        median_days_to_closure=median,
        **extra,
    )
    totals = create_model(  # type: ignore[call-overload]
        f"{prefix}OutcomeStatsTotals",
        __doc__="The outcomes over the whole range (distinct children once).",
        **_counts(OUTCOME_COUNTS, network),
        median_days_to_closure=median,
        **extra,
    )
    fields: dict[str, Any] = {
        "group_by": (list[NetworkPeriod] if network else list[Period], ...),
        "filters": (dict[str, Any], ...),
        "rows": (list[row], ...),
        "totals": (totals, ...),
    }
    if network:
        fields["suppression_threshold"] = (int, ...)
    model: type[BaseModel] = create_model(f"{prefix}OutcomeStats", **fields)
    return model


OutcomeStatistic = _outcomes(network=False)
NetworkOutcomeStatistic = _outcomes(network=True)
