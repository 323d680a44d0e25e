"""Auth-matrix entries for alternative care: facilities, placements and family tracing."""

from __future__ import annotations

from .matrix_base import ADMINS, ALL_ROLES, CASE_ROLES, Endpoint

SOME_ID = "7b0c5f4e-0000-4000-8000-000000000001"

NEW_FACILITY = {
    "name": "Kdol Children's Home",
    "kind": "residential_care_institution",
    "province": "battambang",
}

ENDPOINTS: list[Endpoint] = [
    Endpoint("GET", "/api/v1/facilities", ALL_ROLES),
    Endpoint("POST", "/api/v1/facilities", ADMINS, body=NEW_FACILITY),
    # The directory is shared: every member reads every facility (no 404 across tenants).
    Endpoint("GET", "/api/v1/facilities/{facility_id}", ALL_ROLES),
    Endpoint("PATCH", "/api/v1/facilities/{facility_id}", ADMINS, body={"capacity": 30}),
    Endpoint("GET", "/api/v1/children/{child_id}/placements", CASE_ROLES, tenant_owned=True),
    Endpoint(
        "POST",
        "/api/v1/children/{child_id}/placements",
        CASE_ROLES,
        body={"placement_type": "kinship_care", "started_on": "2026-02-01"},
        tenant_owned=True,
    ),
    Endpoint(
        "PATCH",
        "/api/v1/children/{child_id}/placements/{placement_id}",
        CASE_ROLES,
        body={"caregiver": "Yeay Phan"},
        tenant_owned=True,
    ),
    Endpoint("GET", "/api/v1/children/{child_id}/tracing", CASE_ROLES, tenant_owned=True),
    Endpoint(
        "POST",
        "/api/v1/children/{child_id}/tracing",
        CASE_ROLES,
        body={
            "sought": "Uncle in Poipet",
            "method": "phone",
            "attempted_on": "2026-02-01",
            "outcome": "in_progress",
        },
        tenant_owned=True,
    ),
    Endpoint(
        "PATCH",
        "/api/v1/children/{child_id}/tracing/{tracing_id}",
        CASE_ROLES,
        body={"notes": "Called twice"},
        tenant_owned=True,
    ),
    Endpoint("GET", "/api/v1/organisations/{organisation_id}/care-settings", ALL_ROLES),
    Endpoint(
        "PUT",
        "/api/v1/organisations/{organisation_id}/care-settings",
        ADMINS,
        body={"monitoring_months": [1, 3, 6, 12]},
    ),
    Endpoint(
        "POST",
        "/api/v1/reintegration-plans",
        CASE_ROLES,
        body={"case_id": SOME_ID, "target_placement_type": "kinship_care", "caregiver": "x"},
    ),
    Endpoint("GET", "/api/v1/reintegration-plans", CASE_ROLES),
    Endpoint("GET", "/api/v1/reintegration-plans/{plan_id}", CASE_ROLES, tenant_owned=True),
    Endpoint(
        "PATCH",
        "/api/v1/reintegration-plans/{plan_id}",
        CASE_ROLES,
        body={"support_package": []},
        tenant_owned=True,
    ),
    Endpoint(
        "POST",
        "/api/v1/reintegration-plans/{plan_id}/move",
        CASE_ROLES,
        body={"moved_on": "2026-02-01"},
        tenant_owned=True,
    ),
    Endpoint(
        "POST",
        "/api/v1/reintegration-plans/{plan_id}/re-separation",
        CASE_ROLES,
        body={"separated_on": "2026-03-01", "placement_type": "other", "reason": "x"},
        tenant_owned=True,
    ),
    Endpoint(
        "GET", "/api/v1/reintegration-plans/{plan_id}/monitoring", CASE_ROLES, tenant_owned=True
    ),
    Endpoint(
        "PATCH",
        "/api/v1/reintegration-plans/{plan_id}/monitoring/{visit_id}",
        CASE_ROLES,
        body={"visited_on": "2025-02-01", "placement_stable": True},
        tenant_owned=True,
    ),
]
