"""Auth-matrix entries for the cases endpoints (see tests/matrix.py)."""

from __future__ import annotations

from .matrix_base import CASE_MANAGERS, CASE_ROLES, Endpoint

CASE = "/api/v1/cases/{case_id}"
CLOSURE = CASE + "/closure-requests/{closure_request_id}"
NEW_CASE = {
    "child_id": "00000000-0000-4000-8000-000000000001",
    "referral_source": "commune_committee",
    "concerns": ["neglect", "out_of_school"],
    "risk_level": "high",
    "opened_on": "2026-01-20",
}

ENDPOINTS: list[Endpoint] = [
    Endpoint("POST", "/api/v1/cases", CASE_ROLES, body=NEW_CASE),
    Endpoint("GET", "/api/v1/cases", CASE_ROLES),
    Endpoint("GET", CASE, CASE_ROLES, tenant_owned=True),
    Endpoint("PATCH", CASE, CASE_ROLES, body={"risk_level": "low"}, tenant_owned=True),
    Endpoint(
        "POST",
        CASE + "/transitions",
        CASE_ROLES,
        body={"to_status": "assessment", "note": "Assessment scheduled"},
        tenant_owned=True,
    ),
    Endpoint(
        "POST",
        CASE + "/closure-requests",
        CASE_ROLES,
        body={"reason": "reunified_with_family", "closed_on": "2026-02-01"},
        tenant_owned=True,
    ),
    Endpoint("GET", CASE + "/closure-requests", CASE_ROLES, tenant_owned=True),
    Endpoint("GET", CLOSURE, CASE_ROLES, tenant_owned=True),
    Endpoint("POST", CLOSURE + "/approve", CASE_MANAGERS, body={}, tenant_owned=True),
    Endpoint(
        "POST",
        CLOSURE + "/reject",
        CASE_MANAGERS,
        body={"comment": "Keep supporting the family"},
        tenant_owned=True,
    ),
    Endpoint(
        "POST",
        CASE + "/reopen",
        CASE_MANAGERS,
        body={"note": "The child left the family again"},
        tenant_owned=True,
    ),
    Endpoint("GET", CASE + "/history", CASE_ROLES, tenant_owned=True),
    Endpoint("GET", CASE + "/access-log", CASE_ROLES, tenant_owned=True),
    Endpoint("GET", CASE + "/revisions", CASE_ROLES, tenant_owned=True),
]
