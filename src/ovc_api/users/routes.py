"""Users: org admins manage their organisation's people; the network admin manages org admins.

A reset password is temporary: until the user sets a new one, their credential can do
nothing else (see ovc_api.auth.principal). With SMTP configured the temporary password goes
to the user by e-mail and is never shown to the administrator.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from sqlmodel import col, select

from ovc_api import API_V1, service_kit
from ovc_api.auth.passwords import PasswordHasher
from ovc_api.auth.principal import AnyPrincipal, PasswordChanger, Principal, UsersAdmin
from ovc_api.auth.scopes import Role
from ovc_api.concurrency import IfMatch, apply_changes, set_etag
from ovc_api.db import Session, unique_or_conflict, utcnow
from ovc_api.errors import Conflict, Forbidden, Unprocessable, error_responses
from ovc_api.identity.models import Organisation, User
from ovc_api.login.service import revoke_user_sessions
from ovc_api.mail import mail_configured, send_mail
from ovc_api.pagination import Page, Pagination, fetch_page, parse_str, sort_options
from ovc_api.tenancy import get_visible_or_404, scoped
from ovc_api.text import contains_pattern
from ovc_api.users import service
from ovc_api.users.schemas import (
    MeRead,
    MeUpdate,
    PasswordChange,
    PasswordResetResult,
    UserCreate,
    UserRead,
    UserUpdate,
)

router = APIRouter(prefix=f"{API_V1}/users", tags=["users"])
DUPLICATE_EMAIL = (
    "A user with this email address already exists in the network (in any organisation)"
)
BY_EMAIL = sort_options(col(User.id), email=(col(User.email), parse_str))["email"]


def _hasher(request: Request) -> PasswordHasher:
    return request.app.state.password_hasher  # type: ignore[no-any-return]


async def _me(session: Session, principal: Principal) -> User:
    if principal.user_id is None:
        raise Forbidden("This endpoint is for people logged in, not API keys")
    return await get_visible_or_404(session, principal, User, principal.user_id)


@router.get(
    "/me",
    summary="The logged-in user, with their scopes",
    response_model=MeRead,
    responses=error_responses(401, 403),
)
async def get_me(response: Response, session: Session, principal: AnyPrincipal) -> MeRead:
    user = await _me(session, principal)
    set_etag(response, user)
    return MeRead.model_validate(
        {
            **UserRead.model_validate(user).model_dump(),
            "scopes": sorted(principal.scopes),
            "password_reset_by_network_at": user.password_reset_by_network_at,
        }
    )


@router.patch(
    "/me",
    summary="Update one's own name (If-Match required)",
    response_model=UserRead,
    responses=error_responses(401, 403, 412, 422, 428),
)
async def update_me(
    body: MeUpdate,
    response: Response,
    session: Session,
    principal: AnyPrincipal,
    if_match: IfMatch = None,
) -> UserRead:
    user = await _me(session, principal)
    await service_kit.correct(
        session, principal, user, body.model_dump(), if_match=if_match, resource="user"
    )
    set_etag(response, user)
    return UserRead.model_validate(user)


@router.post(
    "/me/password",
    summary="Change one's own password (the current one is required); other logins end",
    description="The one thing a login with a temporary (reset) password may do; every other "
    "request of that login answers 403 `password-change-required` until it is done.",
    status_code=204,
    responses=error_responses(401, 403, 422),
)
async def change_my_password(
    body: PasswordChange, request: Request, session: Session, principal: PasswordChanger
) -> Response:
    user = await _me(session, principal)
    hasher = _hasher(request)
    if not await hasher.verify(body.current_password, user.password_hash):
        raise Unprocessable.field(["body", "current_password"], "The current password is wrong")
    new_hash = await service.validated_hash(hasher, body.new_password, user.email, "new_password")
    await apply_changes(
        session,
        user,
        {"password_hash": new_hash, "must_change_password": False, "password_changed_at": utcnow()},
        "*",
    )
    await revoke_user_sessions(session, user.id, "password_change", keep=principal.session_id)
    service_kit.audit(session, principal, "user", "password_change", user.id)
    return Response(status_code=204)


@router.get(
    "",
    summary="List users of one's organisation (the network administrator: organisation admins)",
    response_model=Page[UserRead],
    responses=error_responses(401, 403, 422),
)
async def list_users(
    request: Request,
    response: Response,
    session: Session,
    principal: UsersAdmin,
    pagination: Pagination,
    role: Role | None = None,
    active: bool | None = None,
    organisation_id: uuid.UUID | None = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=100, description="Name or email")
    ] = None,
) -> Page[UserRead]:
    statement = scoped(select(User), principal, User)
    if role is not None:
        statement = statement.where(col(User.role) == role.value)
    if active is not None:
        statement = statement.where(col(User.active).is_(active))
    if organisation_id is not None:
        statement = statement.where(col(User.organisation_id) == organisation_id)
    if q:
        pattern = contains_pattern(q)
        statement = statement.where(
            col(User.email).ilike(pattern, escape="\\")
            | col(User.full_name).ilike(pattern, escape="\\")
        )
    items, next_cursor = await fetch_page(
        session, statement, pagination, BY_EMAIL, request, response
    )
    service.record_member_reads(session, principal, items, single=False)
    return Page(items=[UserRead.model_validate(u) for u in items], next_cursor=next_cursor)


@router.post(
    "",
    summary="Create a user",
    description="In one's own organisation. The network administrator may also create the "
    "first `org_admin` of a member organisation that has no active one (403 otherwise).",
    status_code=201,
    response_model=UserRead,
    responses=error_responses(401, 403, 409, 422),
)
async def create_user(
    body: UserCreate,
    request: Request,
    response: Response,
    session: Session,
    principal: UsersAdmin,
) -> UserRead:
    service.check_may_assign(principal, body.role)
    organisation_id = principal.organisation_id
    if body.organisation_id is not None and body.organisation_id != principal.organisation_id:
        if not principal.is_network_admin or body.role is not Role.org_admin:
            raise Forbidden("Users are created in your own organisation")
        target = await session.get(Organisation, body.organisation_id)
        if target is None or not target.active:
            raise Unprocessable.field(["body", "organisation_id"], "no such organisation")
        await service.check_may_create_member_admin(session, principal, target.id)
        organisation_id = target.id
    email = str(body.email).lower()
    password_hash = await service.validated_hash(_hasher(request), body.password, email, "password")
    user = User(
        organisation_id=organisation_id,
        email=email,
        full_name=body.full_name,
        role=body.role.value,
        password_hash=password_hash,
    )
    async with unique_or_conflict(session, DUPLICATE_EMAIL):
        session.add(user)
    service.record_user_action(session, principal, user, "user.create")
    set_etag(response, user)
    response.headers["Location"] = f"/api/v1/users/{user.id}"
    return UserRead.model_validate(user)


@router.get(
    "/{user_id}",
    summary="Read a user",
    response_model=UserRead,
    responses=error_responses(401, 403, 404, 422),
)
async def get_user(
    user_id: uuid.UUID, response: Response, session: Session, principal: UsersAdmin
) -> UserRead:
    user = await get_visible_or_404(session, principal, User, user_id)
    service.record_member_reads(session, principal, [user], single=True)
    set_etag(response, user)
    return UserRead.model_validate(user)


@router.patch(
    "/{user_id}",
    summary="Change a user's name or role, or deactivate them (If-Match required)",
    response_model=UserRead,
    responses=error_responses(401, 403, 404, 409, 412, 422, 428),
)
async def update_user(
    user_id: uuid.UUID,
    body: UserUpdate,
    response: Response,
    session: Session,
    principal: UsersAdmin,
    if_match: IfMatch = None,
) -> UserRead:
    user = await get_visible_or_404(session, principal, User, user_id)
    service.check_may_manage(principal, user)
    changes = body.model_dump(mode="json", exclude_unset=True, exclude_none=True)
    if "role" in changes:
        service.check_role_change(principal, user, Role(changes["role"]))
    if user.id == principal.user_id and (changes.get("active") is False or "role" in changes):
        raise Conflict("You cannot deactivate yourself or change your own role")
    changed = await apply_changes(session, user, changes, if_match)
    if changes.get("active") is False and "active" in changed:
        await revoke_user_sessions(session, user.id, "deactivated")
    if changed:
        action = "user.deactivate" if changes.get("active") is False else "user.update"
        service.record_user_action(session, principal, user, action, changed_fields=changed)
    set_etag(response, user)
    return UserRead.model_validate(user)


@router.post(
    "/{user_id}/reset-password",
    summary="Reset a user's password: a temporary one, their logins end",
    description="The temporary password is e-mailed to the user when SMTP is configured "
    "(`delivery: email`, 503 if the mail server refuses it and nothing changes), otherwise "
    "shown once in this response (`delivery: response`). A login with it may only set a new "
    "password. A reset by the network administrator is also written in the user's "
    "organisation's audit log and told to the user at their next login.",
    response_model=PasswordResetResult,
    responses=error_responses(401, 403, 404, 422, 503),
)
async def reset_user_password(
    user_id: uuid.UUID,
    request: Request,
    response: Response,
    session: Session,
    principal: UsersAdmin,
) -> PasswordResetResult:
    user = await get_visible_or_404(session, principal, User, user_id)
    service.check_may_manage(principal, user)
    temporary = service.temporary_password()
    changes: dict[str, object] = {
        "password_hash": await _hasher(request).hash(temporary),
        "must_change_password": True,
    }
    if service.is_member_user(principal, user):
        changes["password_reset_by_network_at"] = utcnow()
    await apply_changes(session, user, changes, "*")
    await revoke_user_sessions(session, user.id, "password_reset")
    service.record_user_action(session, principal, user, "user.password_reset")
    response.headers["Cache-Control"] = "no-store"
    settings = request.app.state.settings
    if mail_configured(settings):
        await send_mail(
            settings,
            to=user.email,
            subject="Your ovc-api password was reset",
            body=service.reset_mail_body(
                temporary, by_network="password_reset_by_network_at" in changes
            ),
        )
        return PasswordResetResult(temporary_password=None, delivery="email")
    return PasswordResetResult(temporary_password=temporary, delivery="response")
