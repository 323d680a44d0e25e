"""Users: org admins manage their organisation's people; the network admin manages org admins.

A reset password is temporary: until the user sets a new one, their credential can do
nothing else (see ovc_api.auth.principal). With SMTP configured the temporary password goes
to the user by e-mail and is never shown to the administrator.

HTTP only: the rules and the audit are in `users/service.py`.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from sqlmodel import col

from ovc_api import API_V1
from ovc_api import record_routes as kit
from ovc_api.auth.passwords import PasswordHasher
from ovc_api.auth.principal import AnyPrincipal, PasswordChanger, UsersAdmin
from ovc_api.db import Session
from ovc_api.errors import error_responses
from ovc_api.identity.models import User
from ovc_api.pagination import parse_str, sort_options
from ovc_api.users import schemas, service
from ovc_api.users.filters import UserListQuery

router = APIRouter(prefix=f"{API_V1}/users", tags=["users"])
BY_EMAIL = sort_options(col(User.id), email=(col(User.email), parse_str))["email"]


def _hasher(request: Request) -> PasswordHasher:
    return request.app.state.password_hasher  # type: ignore[no-any-return]


Hasher = Annotated[PasswordHasher, Depends(_hasher)]
HASHER: list[kit.Lead] = [("hasher", Hasher)]
USER: list[kit.Lead] = [("user_id", uuid.UUID)]
SHOWN = kit.validated(schemas.UserRead)

kit.add_read(
    router,
    "/me",
    "get_me",
    "The logged-in user, with their scopes",
    schemas.MeRead,
    error_responses(401, 403),
    AnyPrincipal,
    (),
    service.me_read,
    service.me,
)
kit.add_correct(
    router,
    "/me",
    "update_me",
    "Update one's own name (If-Match required)",
    schemas.UserRead,
    error_responses(401, 403, 412, 422, 428),
    AnyPrincipal,
    (),
    schemas.MeUpdate,
    service.rename_me,
    SHOWN,
)


@router.post(
    "/me/password",
    summary="Change one's own password (the current one is required); other logins end",
    description="The one thing a login with a temporary (reset) password may do; every other "
    "request of that login answers 403 `password-change-required` until it is done.",
    status_code=204,
    responses=error_responses(401, 403, 422),
)
async def change_my_password(
    body: schemas.PasswordChange, hasher: Hasher, session: Session, principal: PasswordChanger
) -> Response:
    await service.change_password(session, principal, hasher, body)
    return Response(status_code=204)


kit.add_page(
    router,
    "",
    "list_users",
    "List users of one's organisation (the network administrator: organisation admins)",
    schemas.UserRead,
    error_responses(401, 403, 422),
    UsersAdmin,
    (),
    UserListQuery,
    kit.scoped_to(User),
    BY_EMAIL,
    service.user_reads,
)
kit.add_create(
    router,
    "",
    "create_user",
    "Create a user",
    schemas.UserRead,
    error_responses(401, 403, 409, 422),
    UsersAdmin,
    HASHER,
    schemas.UserCreate,
    service.create_user,
    SHOWN,
    lambda user: f"{API_V1}/users/{user.id}",
    "user",
    description="In one's own organisation. The network administrator may also create the "
    "first `org_admin` of a member organisation that has no active one (403 otherwise).",
    idempotent=False,
)
kit.add_read(
    router,
    "/{user_id}",
    "get_user",
    "Read a user",
    schemas.UserRead,
    error_responses(401, 403, 404, 422),
    UsersAdmin,
    USER,
    SHOWN,
    service.read_user,
)
kit.add_correct(
    router,
    "/{user_id}",
    "update_user",
    "Change a user's name or role, or deactivate them (If-Match required)",
    schemas.UserRead,
    error_responses(401, 403, 404, 409, 412, 422, 428),
    UsersAdmin,
    USER,
    schemas.UserUpdate,
    service.update_user,
    SHOWN,
)


@router.post(
    "/{user_id}/reset-password",
    summary="Reset a user's password: a temporary one, their logins end",
    description="The temporary password is e-mailed to the user when SMTP is configured "
    "(`delivery: email`, 503 if the mail server refuses it and nothing changes), otherwise "
    "shown once in this response (`delivery: response`). A login with it may only set a new "
    "password. A reset by the network administrator is also written in the user's "
    "organisation's audit log and told to the user at their next login.",
    response_model=schemas.PasswordResetResult,
    responses=error_responses(401, 403, 404, 422, 503),
)
async def reset_user_password(
    user_id: uuid.UUID,
    hasher: Hasher,
    request: Request,
    response: Response,
    session: Session,
    principal: UsersAdmin,
) -> schemas.PasswordResetResult:
    response.headers["Cache-Control"] = "no-store"
    settings = request.app.state.settings
    return await service.reset_password(session, principal, user_id, hasher, settings)
