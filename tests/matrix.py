"""The auth matrix: every /api/v1 operation, the roles allowed to call it, and its ids.

A test fails when a route is missing here, so every new endpoint gets the matrix tests
(anonymous 401, role without the scope 403, another organisation's ids 404) for free.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ALL_ROLES = frozenset({"network_admin", "org_admin", "case_manager", "caseworker", "analyst"})
ORG_ADMINS = frozenset({"org_admin"})
ADMINS = frozenset({"org_admin", "network_admin"})
NETWORK = frozenset({"network_admin"})

# Routes that take no credential at all.
PUBLIC = {("POST", "/api/v1/auth/token"), ("POST", "/api/v1/auth/refresh")}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    allowed: frozenset[str]
    body: dict[str, Any] | None = None
    # Whether the path names a record that belongs to an organisation (404 across tenants).
    tenant_owned: bool = False
    params: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


MATRIX: list[Endpoint] = [
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
    Endpoint("GET", "/api/v1/api-keys", ORG_ADMINS),
    Endpoint("POST", "/api/v1/api-keys", ORG_ADMINS, body={"label": "x", "scopes": ["cases:read"]}),
    Endpoint("GET", "/api/v1/api-keys/{api_key_id}", ORG_ADMINS, tenant_owned=True),
    Endpoint("POST", "/api/v1/api-keys/{api_key_id}/revoke", ORG_ADMINS, tenant_owned=True),
    Endpoint("GET", "/api/v1/audit", ADMINS),
]
