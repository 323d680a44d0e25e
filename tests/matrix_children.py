"""Auth-matrix entries for the children endpoints (see tests/matrix.py)."""

from __future__ import annotations

from .matrix_base import CASE_ROLES, Endpoint

NEW_CHILD = {
    "given_name_latin": "Dara",
    "family_name_latin": "Sok",
    "sex": "male",
    "care_arrangement": "kinship_care",
    "province": "pursat",
    "confirm_not_duplicate": True,
}

ENDPOINTS: list[Endpoint] = [
    Endpoint("POST", "/api/v1/children", CASE_ROLES, body=NEW_CHILD),
    Endpoint("GET", "/api/v1/children", CASE_ROLES),
    Endpoint("GET", "/api/v1/children/{child_id}", CASE_ROLES, tenant_owned=True),
    Endpoint(
        "PATCH",
        "/api/v1/children/{child_id}",
        CASE_ROLES,
        body={"village": "Ou Lmun"},
        tenant_owned=True,
    ),
    Endpoint("GET", "/api/v1/children/{child_id}/revisions", CASE_ROLES, tenant_owned=True),
]
