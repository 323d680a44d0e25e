"""API keys for integrations and scripts: created by org admins, shown once, stored hashed.

A key is a named service account of the organisation with a responsible user (its creator
until handed over): at each use it holds at most that person's current scopes, and it is
suspended while that person is deactivated, so a key never outlives the person answering
for it. HTTP only: the rules and the audit are in `apikeys/service.py`.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response
from sqlmodel import col

from ovc_api import API_V1
from ovc_api.apikeys import service
from ovc_api.apikeys.filters import ApiKeyListQuery
from ovc_api.apikeys.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyHandOver, ApiKeyRead
from ovc_api.auth.principal import ApiKeysAdmin
from ovc_api.db import Session
from ovc_api.errors import error_responses
from ovc_api.identity.models import ApiKey
from ovc_api.pagination import parse_datetime, sort_options
from ovc_api.record_routes import add_call, add_page, scoped_to

router = APIRouter(prefix=f"{API_V1}/api-keys", tags=["api-keys"])
NEWEST_FIRST = sort_options(col(ApiKey.id), created_at=(col(ApiKey.created_at), parse_datetime))[
    "-created_at"
]
KEY = [("api_key_id", uuid.UUID)]


@router.post(
    "",
    summary="Create an API key with a subset of your scopes (the secret is shown once)",
    status_code=201,
    response_model=ApiKeyCreated,
    responses=error_responses(401, 403, 422),
)
async def create_api_key(
    body: ApiKeyCreate, response: Response, session: Session, principal: ApiKeysAdmin
) -> ApiKeyCreated:
    created = await service.create_key(session, principal, body)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Location"] = f"{API_V1}/api-keys/{created.id}"
    return created


add_page(
    router,
    "",
    "list_api_keys",
    "List your organisation's API keys with who answers for each (never their secrets)",
    ApiKeyRead,
    error_responses(401, 403, 422),
    ApiKeysAdmin,
    (),
    ApiKeyListQuery,
    scoped_to(ApiKey),
    NEWEST_FIRST,
    lambda session, _principal, keys: service.key_reads(session, keys),
)


add_call(
    router,
    "GET",
    "/{api_key_id}",
    "get_api_key",
    "Read an API key's details",
    ApiKeyRead,
    error_responses(401, 403, 404, 422),
    ApiKeysAdmin,
    KEY,
    service.read_key,
)
add_call(
    router,
    "POST",
    "/{api_key_id}/revoke",
    "revoke_api_key",
    "Revoke an API key: it stops working at once",
    ApiKeyRead,
    error_responses(401, 403, 404, 422),
    ApiKeysAdmin,
    KEY,
    service.revoke_key,
)
add_call(
    router,
    "POST",
    "/{api_key_id}/hand-over",
    "hand_over_api_key",
    "Make another person of the organisation responsible for an API key",
    ApiKeyRead,
    error_responses(401, 403, 404, 422),
    ApiKeysAdmin,
    KEY,
    service.hand_over_key,
    ApiKeyHandOver,
    description="The new responsible user must be active, of the key's organisation and hold "
    "every scope of the key (422 otherwise). A key whose responsible user was deactivated "
    "works again once handed over.",
)
