"""Auth-matrix entries for services, the directory, referrals and case conferences."""

from __future__ import annotations

from .matrix_base import ADMINS, ALL_ROLES, CASE_ROLES, Endpoint

SOME_ID = "7b0c5f4e-0000-4000-8000-000000000001"
CONSENT = {
    "given_by": "Yeay Phan",
    "relation": "grandmother",
    "given_on": "2026-01-20",
    "method": "verbal",
}

ENDPOINTS: list[Endpoint] = [
    Endpoint("GET", "/api/v1/organisations/{organisation_id}/services", ALL_ROLES),
    Endpoint(
        "PUT",
        "/api/v1/organisations/{organisation_id}/services",
        ADMINS,
        body={"offers": [{"service_type": "counselling", "provinces": ["pursat"]}]},
    ),
    Endpoint("GET", "/api/v1/directory", ALL_ROLES, params={"service": "counselling"}),
    Endpoint(
        "POST",
        "/api/v1/services",
        CASE_ROLES,
        body={"service_type": "counselling", "delivered_on": "2026-02-01", "case_id": SOME_ID},
    ),
    Endpoint(
        "POST",
        "/api/v1/services/group-events",
        CASE_ROLES,
        body={
            "service_type": "birth_certificate_support",
            "delivered_on": "2026-02-01",
            "rows": [{"case_id": SOME_ID}],
        },
    ),
    Endpoint("GET", "/api/v1/services", CASE_ROLES),
    Endpoint("GET", "/api/v1/services/{service_id}", CASE_ROLES, tenant_owned=True),
    Endpoint(
        "PATCH", "/api/v1/services/{service_id}", CASE_ROLES, body={"notes": "x"}, tenant_owned=True
    ),
    Endpoint(
        "POST",
        "/api/v1/referrals",
        CASE_ROLES,
        body={
            "case_id": SOME_ID,
            "receiving_organisation_id": SOME_ID,
            "services_requested": ["counselling"],
            "reason": "x",
            "consent": CONSENT,
        },
    ),
    Endpoint("GET", "/api/v1/referrals", CASE_ROLES),
    Endpoint("GET", "/api/v1/referrals/{referral_id}", CASE_ROLES, tenant_owned=True),
    Endpoint(
        "POST", "/api/v1/referrals/{referral_id}/accept", CASE_ROLES, body={}, tenant_owned=True
    ),
    Endpoint(
        "POST",
        "/api/v1/referrals/{referral_id}/decline",
        CASE_ROLES,
        body={"reason": "No capacity"},
        tenant_owned=True,
    ),
    Endpoint(
        "POST", "/api/v1/referrals/{referral_id}/withdraw", CASE_ROLES, body={}, tenant_owned=True
    ),
    Endpoint(
        "POST", "/api/v1/referrals/{referral_id}/complete", CASE_ROLES, body={}, tenant_owned=True
    ),
    Endpoint(
        "POST", "/api/v1/referrals/{referral_id}/case", CASE_ROLES, body={}, tenant_owned=True
    ),
    Endpoint("GET", "/api/v1/referrals/{referral_id}/services", CASE_ROLES, tenant_owned=True),
    Endpoint(
        "POST",
        "/api/v1/case-conferences",
        CASE_ROLES,
        body={"case_id": SOME_ID, "held_on": "2026-02-01"},
    ),
    Endpoint("GET", "/api/v1/case-conferences", CASE_ROLES),
    Endpoint("GET", "/api/v1/case-conferences/{conference_id}", CASE_ROLES, tenant_owned=True),
    Endpoint(
        "PATCH",
        "/api/v1/case-conferences/{conference_id}",
        CASE_ROLES,
        body={"location": "Commune hall"},
        tenant_owned=True,
    ),
    Endpoint(
        "POST",
        "/api/v1/case-conferences/{conference_id}/actions",
        CASE_ROLES,
        body={"organisation_id": SOME_ID, "description": "x", "due_on": "2026-03-01"},
        tenant_owned=True,
    ),
    Endpoint(
        "PATCH",
        "/api/v1/case-conferences/{conference_id}/actions/{conference_action_id}",
        CASE_ROLES,
        body={"done_on": "2026-03-01"},
        tenant_owned=True,
    ),
]
