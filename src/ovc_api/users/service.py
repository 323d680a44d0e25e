"""Rules for who may manage whom, and password changes.

The network administrator sees and manages member organisations' administrators, but a
member organisation's people are its own business: the network may give such a user no
network role, may create an administrator only for an organisation that has none, and every
one of its actions on them is written in that organisation's audit log as well as its own.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable
from functools import partial

from sqlalchemy import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api import service_kit
from ovc_api.audit.service import record
from ovc_api.auth.passwords import PasswordHasher, password_problem
from ovc_api.auth.principal import Principal
from ovc_api.auth.scopes import ASSIGNABLE_ROLES, Role
from ovc_api.concurrency import apply_changes
from ovc_api.db import unique_or_conflict, utcnow
from ovc_api.errors import Conflict, Forbidden, Unprocessable
from ovc_api.identity.models import Organisation, User
from ovc_api.login.service import revoke_user_sessions
from ovc_api.mail import mail_configured, send_mail
from ovc_api.settings import Settings
from ovc_api.tenancy import VisibilityRules, get_visible_or_404
from ovc_api.users.schemas import (
    MeRead,
    MeUpdate,
    PasswordChange,
    PasswordResetResult,
    UserCreate,
    UserRead,
    UserUpdate,
)

DUPLICATE_EMAIL = (
    "A user with this email address already exists in the network (in any organisation)"
)


def _network_admin_sees_org_admins(principal: Principal) -> ColumnElement[bool] | None:
    return col(User.role) == Role.org_admin.value if principal.is_network_admin else None


def add_rules(rules: VisibilityRules) -> None:
    rules.widen(User, _network_admin_sees_org_admins)


def check_may_assign(principal: Principal, role: Role) -> None:
    allowed = ASSIGNABLE_ROLES.get(principal.role) if principal.role else None
    if not allowed or role not in allowed:
        raise Forbidden(f"You may not give the role {role.value}")


NETWORK_ROLES = frozenset({Role.network_admin, Role.network_analyst})


def check_may_manage(principal: Principal, user: User) -> None:
    """A visible user is not always a manageable one (an org admin seen by the network admin is)."""
    check_may_assign(principal, Role(user.role))


def is_member_user(principal: Principal, user: User) -> bool:
    """The network administrator acting on another organisation's person."""
    return principal.is_network_admin and user.organisation_id != principal.organisation_id


def check_role_change(principal: Principal, user: User, role: Role) -> None:
    """Network roles stay in the network secretariat: never given to a member's user."""
    check_may_assign(principal, role)
    if role in NETWORK_ROLES and user.organisation_id != principal.organisation_id:
        raise Forbidden(
            f"The role {role.value} is only for people of the network secretariat, "
            "not of a member organisation"
        )


async def check_may_create_member_admin(
    session: AsyncSession, principal: Principal, organisation_id: uuid.UUID
) -> None:
    """The network administrator creates a member's first administrator, nobody else."""
    existing = await session.exec(
        select(col(User.id)).where(
            col(User.organisation_id) == organisation_id,
            col(User.role) == Role.org_admin.value,
            col(User.active).is_(True),
        )
    )
    if existing.first() is not None:
        raise Forbidden(
            "This organisation already has an administrator: creating its users is its own "
            "business (the network administrator may only create the first one)"
        )


def record_user_action(
    session: AsyncSession,
    principal: Principal,
    user: User,
    action: str,
    *,
    changed_fields: Iterable[str] | None = None,
) -> None:
    """Audit an action on a user; the network's actions on a member's user land in both logs."""
    fields = list(changed_fields) if changed_fields is not None else None
    audit = partial(record, session, principal, action, resource_type="user", resource_id=user.id)
    audit(changed_fields=fields)
    if is_member_user(principal, user):
        audit(
            changed_fields=fields,
            detail="by the network administrator",
            owner_organisation_id=user.organisation_id,
        )


async def validated_hash(hasher: PasswordHasher, password: str, email: str, field: str) -> str:
    problem = password_problem(password, email)
    if problem:
        raise Unprocessable.field(["body", field], f"The password {problem}", "weak_password")
    return await hasher.hash(password)


def temporary_password() -> str:
    return secrets.token_urlsafe(15)


def record_member_reads(
    session: AsyncSession, principal: Principal, users: list[User], *, single: bool
) -> None:
    """The network administrator reading a member's administrators: the member's log says so
    (one row per organisation for a list, naming the users it contained)."""
    if not principal.is_network_admin:
        return
    by_organisation: dict[uuid.UUID, list[uuid.UUID]] = {}
    for user in users:
        if user.organisation_id != principal.organisation_id:
            by_organisation.setdefault(user.organisation_id, []).append(user.id)
    for organisation_id, ids in by_organisation.items():
        record(
            session,
            principal,
            "user.read" if single else "user.list",
            resource_type="user",
            resource_id=ids[0] if single else None,
            record_ids=None if single else ids,
            detail="by the network administrator",
            owner_organisation_id=organisation_id,
        )


def reset_mail_body(temporary: str, *, by_network: bool) -> str:
    who = "the network administrator" if by_network else "your organisation's administrator"
    return (
        f"Your ovc-api password was reset by {who}.\n\n"
        f"Temporary password: {temporary}\n\n"
        "Log in with it and set a new password at once: until you do, it allows nothing else.\n"
        "If you did not expect this, tell your organisation's administrator.\n"
    )


# --- operations (the routes call these; they never commit) ---------------------------------


async def me(session: AsyncSession, principal: Principal) -> User:
    """The logged-in person's own record (an API key is no person: 403)."""
    if principal.user_id is None:
        raise Forbidden("This endpoint is for people logged in, not API keys")
    return await get_visible_or_404(session, principal, User, principal.user_id)


async def rename_me(
    session: AsyncSession, principal: Principal, data: MeUpdate, *, if_match: str | None
) -> User:
    user = await me(session, principal)
    return await service_kit.correct(
        session, principal, user, data.model_dump(), if_match=if_match, resource="user"
    )


async def change_password(
    session: AsyncSession, principal: Principal, hasher: PasswordHasher, data: PasswordChange
) -> None:
    """The current password is required; the person's other logins end."""
    user = await me(session, principal)
    if not await hasher.verify(data.current_password, user.password_hash):
        raise Unprocessable.field(["body", "current_password"], "The current password is wrong")
    new_hash = await validated_hash(hasher, data.new_password, user.email, "new_password")
    changes = {"password_hash": new_hash, "must_change_password": False}
    await apply_changes(session, user, {**changes, "password_changed_at": utcnow()}, "*")
    await revoke_user_sessions(session, user.id, "password_change", keep=principal.session_id)
    service_kit.audit(session, principal, "user", "password_change", user.id)


async def create_user(
    session: AsyncSession, principal: Principal, hasher: PasswordHasher, data: UserCreate
) -> User:
    """In the caller's organisation; the network administrator may also create the first
    `org_admin` of a member organisation that has none."""
    check_may_assign(principal, data.role)
    organisation_id = principal.organisation_id
    if data.organisation_id is not None and data.organisation_id != principal.organisation_id:
        if not principal.is_network_admin or data.role is not Role.org_admin:
            raise Forbidden("Users are created in your own organisation")
        target = await session.get(Organisation, data.organisation_id)
        if target is None or not target.active:
            raise Unprocessable.field(["body", "organisation_id"], "no such organisation")
        await check_may_create_member_admin(session, principal, target.id)
        organisation_id = target.id
    email = str(data.email).lower()
    user = User(
        organisation_id=organisation_id,
        email=email,
        full_name=data.full_name,
        role=data.role.value,
        password_hash=await validated_hash(hasher, data.password, email, "password"),
    )
    async with unique_or_conflict(session, DUPLICATE_EMAIL):
        session.add(user)
    record_user_action(session, principal, user, "user.create")
    return user


async def read_user(session: AsyncSession, principal: Principal, user_id: uuid.UUID) -> User:
    user = await get_visible_or_404(session, principal, User, user_id)
    record_member_reads(session, principal, [user], single=True)
    return user


async def update_user(
    session: AsyncSession,
    principal: Principal,
    user_id: uuid.UUID,
    data: UserUpdate,
    *,
    if_match: str | None,
) -> User:
    """A name, a role or deactivation (which ends the user's logins); never one's own role
    or activity."""
    user = await get_visible_or_404(session, principal, User, user_id)
    check_may_manage(principal, user)
    changes = data.model_dump(mode="json", exclude_unset=True, exclude_none=True)
    if "role" in changes:
        check_role_change(principal, user, Role(changes["role"]))
    if user.id == principal.user_id and (changes.get("active") is False or "role" in changes):
        raise Conflict("You cannot deactivate yourself or change your own role")
    changed = await apply_changes(session, user, changes, if_match)
    if changes.get("active") is False and "active" in changed:
        await revoke_user_sessions(session, user.id, "deactivated")
    if changed:
        action = "user.deactivate" if changes.get("active") is False else "user.update"
        record_user_action(session, principal, user, action, changed_fields=changed)
    return user


async def reset_password(
    session: AsyncSession,
    principal: Principal,
    user_id: uuid.UUID,
    hasher: PasswordHasher,
    settings: Settings,
) -> PasswordResetResult:
    """A temporary password, e-mailed when SMTP is configured (else shown once); the user's
    logins end. The network's reset of a member's user is told to the user."""
    user = await get_visible_or_404(session, principal, User, user_id)
    check_may_manage(principal, user)
    temporary = temporary_password()
    changes: dict[str, object] = {
        "password_hash": await hasher.hash(temporary),
        "must_change_password": True,
    }
    if is_member_user(principal, user):
        changes["password_reset_by_network_at"] = utcnow()
    await apply_changes(session, user, changes, "*")
    await revoke_user_sessions(session, user.id, "password_reset")
    record_user_action(session, principal, user, "user.password_reset")
    if mail_configured(settings):
        await send_mail(
            settings,
            to=user.email,
            subject="Your ovc-api password was reset",
            body=reset_mail_body(temporary, by_network="password_reset_by_network_at" in changes),
        )
        return PasswordResetResult(temporary_password=None, delivery="email")
    return PasswordResetResult(temporary_password=temporary, delivery="response")


def user_reads(session: AsyncSession, principal: Principal, users: list[User]) -> list[UserRead]:
    """Users as listed; the network administrator's read of members' ones is in their logs."""
    record_member_reads(session, principal, users, single=False)
    return [UserRead.model_validate(u) for u in users]


def me_read(_session: AsyncSession, principal: Principal, user: User) -> MeRead:
    """The logged-in person with their scopes and when the network last reset their password."""
    return MeRead.model_validate(
        {
            **UserRead.model_validate(user).model_dump(),
            "scopes": sorted(principal.scopes),
            "password_reset_by_network_at": user.password_reset_by_network_at,
        }
    )
