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

from ovc_api.audit.service import record
from ovc_api.auth.passwords import PasswordHasher, password_problem
from ovc_api.auth.principal import Principal
from ovc_api.auth.scopes import ASSIGNABLE_ROLES, Role
from ovc_api.errors import Forbidden, Unprocessable
from ovc_api.identity.models import User
from ovc_api.tenancy import VisibilityRules


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
