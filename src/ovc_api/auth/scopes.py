"""Roles and the scopes they grant: the whole permission model on one screen.

Endpoints declare the scope they need; a role is nothing but a set of scopes. API keys carry
a subset of their creator's scopes, minus the administrative ones.
"""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    organisations_admin = "organisations:admin"
    users_admin = "users:admin"
    api_keys_admin = "api_keys:admin"
    audit_read = "audit:read"
    facilities_write = "facilities:write"
    cases_read = "cases:read"
    cases_write = "cases:write"
    cases_all = "cases:all"
    cases_approve = "cases:approve"
    stats_read = "stats:read"
    stats_network = "stats:network"
    webhooks_admin = "webhooks:admin"


class Role(StrEnum):
    network_admin = "network_admin"
    org_admin = "org_admin"
    case_manager = "case_manager"
    caseworker = "caseworker"
    analyst = "analyst"
    network_analyst = "network_analyst"


# Scopes that administer people and credentials: never delegated to an API key.
ADMIN_SCOPES = frozenset({Scope.organisations_admin, Scope.users_admin, Scope.api_keys_admin})

ROLE_SCOPES: dict[Role, frozenset[Scope]] = {
    #                  who                   what they may do
    # The network administrator may issue keys, but holds no case scope to put in them:
    # a key for scripts that pull network figures carries stats:network only.
    Role.network_admin: frozenset(
        {
            Scope.organisations_admin,
            Scope.users_admin,
            Scope.api_keys_admin,
            Scope.audit_read,
            Scope.facilities_write,
            Scope.stats_network,
        }
    ),
    Role.org_admin: frozenset(
        {
            Scope.users_admin,
            Scope.api_keys_admin,
            Scope.audit_read,
            Scope.facilities_write,
            Scope.cases_read,
            Scope.cases_write,
            Scope.cases_all,
            Scope.cases_approve,
            Scope.stats_read,
            Scope.webhooks_admin,
        }
    ),
    Role.case_manager: frozenset(
        {
            Scope.cases_read,
            Scope.cases_write,
            Scope.cases_all,
            Scope.cases_approve,
            Scope.stats_read,
        }
    ),
    # only cases assigned to them
    Role.caseworker: frozenset({Scope.cases_read, Scope.cases_write}),
    # aggregates only, never a child's identity
    Role.analyst: frozenset({Scope.stats_read}),
    # network figures, small counts withheld
    Role.network_analyst: frozenset({Scope.stats_network}),
}

SCOPE_DESCRIPTIONS: dict[str, str] = {
    Scope.organisations_admin: "Create, update and deactivate member organisations",
    Scope.users_admin: "Manage the users of one's organisation",
    Scope.api_keys_admin: "Create and revoke API keys of one's organisation",
    Scope.audit_read: "Read one's organisation's audit log",
    Scope.facilities_write: "Record and correct one's own care facilities (any, for the network)",
    Scope.cases_read: "Read children, families and cases (assigned ones, or all with cases:all)",
    Scope.cases_write: "Record children, families, cases and their sub-resources",
    Scope.cases_all: "See every case of one's organisation, not only assigned ones",
    Scope.cases_approve: "Approve or reject case closures",
    Scope.stats_read: "Aggregate statistics of one's organisation",
    Scope.stats_network: "Network-wide aggregate statistics, with small counts suppressed",
    Scope.webhooks_admin: "Manage one's organisation's webhook subscriptions and their deliveries",
}

# Which roles an administrator may hand out (who may be *assigned a case* is
# `cases.queries.CASE_ASSIGNEE_ROLES`).
ASSIGNABLE_ROLES: dict[Role, frozenset[Role]] = {
    Role.network_admin: frozenset({Role.network_admin, Role.network_analyst, Role.org_admin}),
    Role.org_admin: frozenset({Role.org_admin, Role.case_manager, Role.caseworker, Role.analyst}),
}
