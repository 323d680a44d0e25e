"""Auth-matrix entries for the exports endpoints (see tests/matrix.py).

Identified exports (the default variant) need cases:read and cases:all; de-identified ones
need stats:read or cases:all, so analysts may, caseworkers never.
"""

from __future__ import annotations

from .matrix_base import CASE_MANAGERS, STATS_ROLES, Endpoint

DEIDENTIFIED = {"variant": "deidentified"}

ENDPOINTS: list[Endpoint] = [
    endpoint
    for path in ("/api/v1/exports/cases", "/api/v1/exports/children", "/api/v1/exports/services")
    for endpoint in (
        Endpoint("GET", path, CASE_MANAGERS),
        Endpoint("GET", path, STATS_ROLES, params=DEIDENTIFIED),
    )
]
