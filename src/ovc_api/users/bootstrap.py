"""Creating people outside any request: the first network administrator, demo users."""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api.auth.passwords import PasswordHasher, password_problem
from ovc_api.auth.scopes import Role
from ovc_api.db import Database, set_tenant_context
from ovc_api.identity.models import Organisation, OrganisationKind, User
from ovc_api.settings import Settings

NETWORK_ORGANISATION = {"name": "OVC Network Secretariat", "short_name": "NETWORK"}


async def network_organisation(session: AsyncSession) -> Organisation:
    existing = (
        await session.exec(
            select(Organisation).where(
                Organisation.short_name == NETWORK_ORGANISATION["short_name"]
            )
        )
    ).first()
    if existing is not None:
        return existing
    organisation = Organisation(
        kind=OrganisationKind.other.value,
        name=NETWORK_ORGANISATION["name"],
        short_name=NETWORK_ORGANISATION["short_name"],
    )
    session.add(organisation)
    await session.flush()
    return organisation


async def add_user(
    session: AsyncSession,
    hasher: PasswordHasher,
    organisation: Organisation,
    *,
    email: str,
    full_name: str,
    role: Role,
    password: str,
) -> User:
    email = email.strip().lower()
    problem = password_problem(password, email)
    if problem:
        raise ValueError(f"the password {problem}")
    if (await session.exec(select(User).where(User.email == email))).first() is not None:
        raise ValueError(f"a user with the email {email} already exists")
    user = User(
        organisation_id=organisation.id,
        email=email,
        full_name=full_name,
        role=role.value,
        password_hash=await hasher.hash(password),
    )
    session.add(user)
    await session.flush()
    return user


async def create_network_admin(
    settings: Settings, *, email: str, full_name: str, password: str
) -> None:
    database = Database.from_settings(settings, owner=True)
    try:
        async with database.session() as session, session.begin():
            await set_tenant_context(session, None, system=True)
            organisation = await network_organisation(session)
            await add_user(
                session,
                PasswordHasher(settings),
                organisation,
                email=email,
                full_name=full_name,
                role=Role.network_admin,
                password=password,
            )
    finally:
        await database.engine.dispose()
