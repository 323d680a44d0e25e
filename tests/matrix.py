"""The auth matrix: every /api/v1 operation, the roles allowed to call it, and its ids.

A test fails when a route is missing here, so every new endpoint gets the matrix tests
(anonymous 401, role without the scope 403, another organisation's ids 404) for free.
Path placeholders are filled with ids of the caller's (or another) organisation's records:
see `_ids_of` in tests/test_auth_matrix.py for the names available.
"""

from __future__ import annotations

from . import (
    matrix_care,
    matrix_cases,
    matrix_casework,
    matrix_children,
    matrix_exports,
    matrix_families,
    matrix_imports,
    matrix_integrations,
    matrix_sharing,
    matrix_stats,
)
from .matrix_base import ADMINS, ALL_ROLES, NETWORK, PUBLIC, Endpoint

__all__ = ["MATRIX", "PUBLIC", "Endpoint"]

IDENTITY: list[Endpoint] = [
    Endpoint("POST", "/api/v1/auth/logout", ALL_ROLES),
    Endpoint("GET", "/api/v1/organisations", ALL_ROLES),
    Endpoint(
        "POST",
        "/api/v1/organisations",
        NETWORK,
        body={"name": "x", "short_name": "x", "kind": "ngo"},
    ),
    Endpoint("GET", "/api/v1/organisations/{organisation_id}", ALL_ROLES),
    Endpoint("PATCH", "/api/v1/organisations/{organisation_id}", NETWORK, body={"name": "y"}),
    Endpoint("GET", "/api/v1/provinces", ALL_ROLES),
    Endpoint("GET", "/api/v1/vocabularies", ALL_ROLES),
    Endpoint("GET", "/api/v1/vocabularies/{name}", ALL_ROLES),
    Endpoint("GET", "/api/v1/users/me", ALL_ROLES),
    Endpoint("PATCH", "/api/v1/users/me", ALL_ROLES, body={"full_name": "x"}),
    Endpoint(
        "POST",
        "/api/v1/users/me/password",
        ALL_ROLES,
        body={"current_password": "x", "new_password": "y"},
    ),
    Endpoint("GET", "/api/v1/users", ADMINS),
    Endpoint(
        "POST",
        "/api/v1/users",
        ADMINS,
        body={"email": "x@example.org", "full_name": "x", "role": "analyst", "password": "x"},
    ),
    Endpoint("GET", "/api/v1/users/{user_id}", ADMINS, tenant_owned=True),
    Endpoint(
        "PATCH", "/api/v1/users/{user_id}", ADMINS, body={"full_name": "z"}, tenant_owned=True
    ),
    Endpoint("POST", "/api/v1/users/{user_id}/reset-password", ADMINS, tenant_owned=True),
    Endpoint("GET", "/api/v1/api-keys", ADMINS),
    Endpoint("POST", "/api/v1/api-keys", ADMINS, body={"label": "x", "scopes": ["cases:read"]}),
    Endpoint("GET", "/api/v1/api-keys/{api_key_id}", ADMINS, tenant_owned=True),
    Endpoint("POST", "/api/v1/api-keys/{api_key_id}/revoke", ADMINS, tenant_owned=True),
    Endpoint(
        "POST",
        "/api/v1/api-keys/{api_key_id}/hand-over",
        ADMINS,
        body={"responsible_user_id": "00000000-0000-0000-0000-000000000000"},
        tenant_owned=True,
    ),
    Endpoint("GET", "/api/v1/audit", ADMINS),
]

MATRIX: list[Endpoint] = [
    *IDENTITY,
    *matrix_children.ENDPOINTS,
    *matrix_care.ENDPOINTS,
    *matrix_families.ENDPOINTS,
    *matrix_cases.ENDPOINTS,
    *matrix_casework.ENDPOINTS,
    *matrix_sharing.ENDPOINTS,
    *matrix_stats.ENDPOINTS,
    *matrix_exports.ENDPOINTS,
    *matrix_imports.ENDPOINTS,
    *matrix_integrations.ENDPOINTS,
]
