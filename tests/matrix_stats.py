"""Auth-matrix entries for the stats and report endpoints (see tests/matrix.py)."""

from __future__ import annotations

from .matrix_base import NETWORK, STATS_ROLES, Endpoint

ENDPOINTS: list[Endpoint] = [
    Endpoint("GET", "/api/v1/stats/cases", STATS_ROLES, params={"group_by": "province"}),
    Endpoint("GET", "/api/v1/stats/services", STATS_ROLES),
    Endpoint("GET", "/api/v1/stats/outcomes", STATS_ROLES),
    Endpoint("GET", "/api/v1/stats/network/cases", NETWORK, params={"group_by": "province"}),
    Endpoint("GET", "/api/v1/stats/network/services", NETWORK),
    Endpoint("GET", "/api/v1/stats/network/outcomes", NETWORK),
    Endpoint("GET", "/api/v1/stats/care", STATS_ROLES),
    Endpoint("GET", "/api/v1/stats/network/care", NETWORK),
    Endpoint(
        "GET", "/api/v1/reports/quarterly", STATS_ROLES, params={"year": "2026", "quarter": "1"}
    ),
]
