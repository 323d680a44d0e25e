"""Auth-matrix entries for integrations: webhooks (webhooks:admin, org admins only) and the
change feed (cases:read: whoever reads records, each seeing the changes of what they see)."""

from __future__ import annotations

from .matrix_base import CASE_ROLES, ORG_ADMINS, Endpoint

HOOK = "/api/v1/webhooks/{webhook_id}"
DELIVERY = f"{HOOK}/deliveries/{{delivery_id}}"

ENDPOINTS: list[Endpoint] = [
    Endpoint("GET", "/api/v1/changes", CASE_ROLES),
    Endpoint(
        "POST",
        "/api/v1/webhooks",
        ORG_ADMINS,
        body={"url": "https://hooks.example.org/x", "event_types": ["case.created"]},
    ),
    Endpoint("GET", "/api/v1/webhooks", ORG_ADMINS),
    Endpoint("GET", HOOK, ORG_ADMINS, tenant_owned=True),
    Endpoint("PATCH", HOOK, ORG_ADMINS, body={"description": "y"}, tenant_owned=True),
    Endpoint("POST", f"{HOOK}/rotate-secret", ORG_ADMINS, body={}, tenant_owned=True),
    Endpoint("POST", f"{HOOK}/ping", ORG_ADMINS, tenant_owned=True),
    Endpoint("GET", f"{HOOK}/deliveries", ORG_ADMINS, tenant_owned=True),
    Endpoint("GET", DELIVERY, ORG_ADMINS, tenant_owned=True),
    Endpoint("POST", f"{DELIVERY}/redeliver", ORG_ADMINS, tenant_owned=True),
]
