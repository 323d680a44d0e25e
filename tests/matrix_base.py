"""The matrix's building blocks, shared by the per-domain matrix files."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ALL_ROLES = frozenset({"network_admin", "org_admin", "case_manager", "caseworker", "analyst"})
# stats:read holders (their organisation's aggregates).
STATS_ROLES = frozenset({"org_admin", "case_manager", "analyst"})
ORG_ADMINS = frozenset({"org_admin"})
ADMINS = frozenset({"org_admin", "network_admin"})
# cases:read / cases:write holders; analysts and the network administrator see no child.
CASE_ROLES = frozenset({"org_admin", "case_manager", "caseworker"})
# cases:all holders (the whole organisation's cases); cases:approve is the same set.
CASE_MANAGERS = frozenset({"org_admin", "case_manager"})
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
