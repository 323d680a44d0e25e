"""Auth-matrix entries for the families endpoints (see tests/matrix.py)."""

from __future__ import annotations

from .matrix_base import CASE_ROLES, Endpoint

NEW_MEMBER = {"name": "Yeay Phan", "relation": "grandmother", "sex": "female", "age": 67}
NEW_FAMILY = {
    "name": "Household of Yeay Phan",
    "id_poor_status": "level_1",
    "income_sources": ["farming"],
    "province": "battambang",
    "members": [NEW_MEMBER],
}
FAMILY = "/api/v1/families/{family_id}"
MEMBER = FAMILY + "/members/{member_id}"

ENDPOINTS: list[Endpoint] = [
    Endpoint("POST", "/api/v1/families", CASE_ROLES, body=NEW_FAMILY),
    Endpoint("GET", "/api/v1/families", CASE_ROLES),
    Endpoint("GET", FAMILY, CASE_ROLES, tenant_owned=True),
    Endpoint("PATCH", FAMILY, CASE_ROLES, body={"village": "Ou Lmun"}, tenant_owned=True),
    Endpoint("GET", FAMILY + "/revisions", CASE_ROLES, tenant_owned=True),
    Endpoint("POST", FAMILY + "/members", CASE_ROLES, body=NEW_MEMBER, tenant_owned=True),
    Endpoint("GET", MEMBER, CASE_ROLES, tenant_owned=True),
    Endpoint("PATCH", MEMBER, CASE_ROLES, body={"notes": "Moved back"}, tenant_owned=True),
]
