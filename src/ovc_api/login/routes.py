from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from pydantic import BaseModel, Field

from ovc_api import API_V1
from ovc_api.audit.service import record
from ovc_api.auth.passwords import PasswordHasher
from ovc_api.auth.principal import AnyPrincipal
from ovc_api.db import Session
from ovc_api.errors import BadRequest, error_responses
from ovc_api.login import service

router = APIRouter(prefix=f"{API_V1}/auth", tags=["auth"])


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int = Field(description="Seconds until the access token expires")
    refresh_token: str
    refresh_expires_in: int = Field(description="Seconds until the refresh token expires")
    scope: str = Field(
        description="Space-separated scopes granted (none while a password change is required)"
    )
    password_change_required: bool = Field(
        default=False,
        description="Logged in with a temporary password: this login may only set a new "
        "password (POST /api/v1/users/me/password); anything else answers 403 "
        "`password-change-required`",
    )
    notices: list[str] = Field(
        default_factory=list,
        description="Things the user must be told, e.g. that the network administrator reset "
        "their password, and on which date",
    )


class RefreshRequest(BaseModel):
    model_config = {"extra": "forbid"}
    refresh_token: str = Field(min_length=1, max_length=200)


def _request_info(request: Request) -> service.RequestInfo:
    return service.RequestInfo(
        client_ip=request.client.host if request.client else None,
        request_id=getattr(request.state, "request_id", None),
    )


def _token_response(tokens: service.IssuedTokens, response: Response) -> TokenResponse:
    response.headers["Cache-Control"] = "no-store"
    return TokenResponse(
        access_token=tokens.access_token,
        expires_in=tokens.expires_in,
        refresh_token=tokens.refresh_token,
        refresh_expires_in=tokens.refresh_expires_in,
        scope=" ".join(tokens.scopes),
        password_change_required=tokens.password_change_required,
        notices=list(tokens.notices),
    )


@router.post(
    "/token",
    summary="Log in with email and password (OAuth2 password flow)",
    response_model=TokenResponse,
    responses=error_responses(401, 415, 422, 429),
)
async def login(
    request: Request,
    response: Response,
    session: Session,
    username: Annotated[str, Form(max_length=254, description="The user's email address")],
    password: Annotated[str, Form(max_length=256)],
    grant_type: Annotated[str | None, Form(pattern="^password$")] = None,
) -> TokenResponse:
    hasher: PasswordHasher = request.app.state.password_hasher
    tokens = await service.login(
        session,
        request.app.state.database,
        request.app.state.settings,
        hasher,
        username,
        password,
        _request_info(request),
    )
    return _token_response(tokens, response)


@router.post(
    "/refresh",
    summary="Exchange a refresh token for new tokens (the old refresh token stops working)",
    response_model=TokenResponse,
    responses=error_responses(401, 422),
)
async def refresh_tokens(
    body: RefreshRequest, request: Request, response: Response, session: Session
) -> TokenResponse:
    tokens = await service.refresh(
        session, request.app.state.settings, body.refresh_token, _request_info(request)
    )
    return _token_response(tokens, response)


@router.post(
    "/logout",
    summary="End this login: its refresh and access tokens stop working at once",
    status_code=204,
    responses=error_responses(400, 401),
)
async def logout(principal: AnyPrincipal, session: Session) -> Response:
    if principal.session_id is None:
        raise BadRequest("API keys are not logged out: revoke the key instead")
    await service.revoke_session(session, principal.session_id, "logout")
    record(session, principal, "auth.logout", resource_type="user", resource_id=principal.user_id)
    return Response(status_code=204)
