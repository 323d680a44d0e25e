"""A Python client for ovc-api scripts (synchronous, built on httpx).

    from ovc_api.client import Client

    with Client("https://ovc.example.org", api_key=os.environ["OVC_API_KEY"]) as ovc:
        for case in ovc.iter_cases(status="active", province="battambang"):
            print(case.id, case.risk_level)
        rows = ovc.export("cases", "cases.csv", variant="deidentified")

It imports nothing of the server (no database, no FastAPI), so scripts stay light.
"""

from __future__ import annotations

from ovc_api.client.core import (
    API_PREFIX,
    ChangeFeed,
    Client,
    Download,
    ProgressCallback,
    query_params,
)
from ovc_api.client.errors import (
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    IncompleteDownload,
    NetworkError,
    NotFound,
    OvcError,
    PreconditionFailed,
    RateLimited,
    ServerError,
    ServiceUnavailable,
    Unauthorized,
    ValidationFailed,
)
from ovc_api.client.models import Case, Child, Family, Referral, Resource, Service

__all__ = [
    "API_PREFIX",
    "ApiError",
    "BadRequest",
    "Case",
    "ChangeFeed",
    "Child",
    "Client",
    "Conflict",
    "Download",
    "Family",
    "Forbidden",
    "IncompleteDownload",
    "NetworkError",
    "NotFound",
    "OvcError",
    "PreconditionFailed",
    "ProgressCallback",
    "RateLimited",
    "Referral",
    "Resource",
    "ServerError",
    "Service",
    "ServiceUnavailable",
    "Unauthorized",
    "ValidationFailed",
    "query_params",
]
