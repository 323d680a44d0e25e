"""Rules for who may manage whom, and password changes."""

from __future__ import annotations

import secrets

from sqlalchemy import ColumnElement
from sqlmodel import col

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


def check_may_manage(principal: Principal, user: User) -> None:
    """A visible user is not always a manageable one (an org admin seen by the network admin is)."""
    check_may_assign(principal, Role(user.role))


async def validated_hash(hasher: PasswordHasher, password: str, email: str, field: str) -> str:
    problem = password_problem(password, email)
    if problem:
        raise Unprocessable.field(["body", field], f"The password {problem}", "weak_password")
    return await hasher.hash(password)


def temporary_password() -> str:
    return secrets.token_urlsafe(15)
