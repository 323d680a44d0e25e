"""Loading the demo into a fresh database: the organisations and their people, then the
generated cases, then what the organisations share."""

from __future__ import annotations

from ovc_api.auth.passwords import PasswordHasher
from ovc_api.auth.scopes import Role
from ovc_api.clock import local_today
from ovc_api.db import Database, set_tenant_context
from ovc_api.demo.builder import DemoBuilder, Staff
from ovc_api.demo.care import load_care
from ovc_api.demo.replay import record_cases
from ovc_api.demo.sharing import Member, load_sharing
from ovc_api.demo.tables import DEMO_ORGANISATIONS, DEMO_PEOPLE, PROFILES
from ovc_api.identity.models import Organisation, User
from ovc_api.settings import Settings
from ovc_api.users.bootstrap import add_user, network_organisation
from ovc_api.visibility import install_rules

DEMO_PASSWORD = "demo-Sunrise-2026"  # noqa: S105 - printed by `ovc-api demo`; the demo database only
DEMO_SEED = 855  # any fixed seed: the same demo on every run


async def load_demo_data(settings: Settings) -> str:
    """Create the demo organisations, users and cases; return the login table to print."""
    install_rules()  # the services below apply them, as the API does
    database = Database.from_settings(settings, owner=True)
    hasher = PasswordHasher(settings)
    lines = [f"Demo logins (password for all: {DEMO_PASSWORD}):"]
    staff: dict[str, Staff] = {}
    members: dict[str, Member] = {}
    try:
        async with database.session() as session, session.begin():
            await set_tenant_context(session, None, system=True)
            network = await network_organisation(session)
            admin = await add_user(
                session,
                hasher,
                network,
                email="network.admin@ovc-network.example.org",
                full_name="Network Administrator",
                role=Role.network_admin,
                password=DEMO_PASSWORD,
            )
            lines.append(f"  {'network_admin':<14} {admin.email:<44} {network.short_name}")
            for spec in DEMO_ORGANISATIONS:
                domain = str(spec["domain"])
                organisation = Organisation(**{k: v for k, v in spec.items() if k != "domain"})
                session.add(organisation)
                await session.flush()
                people: dict[Role, User] = {}
                for role, (local, name) in DEMO_PEOPLE.items():
                    user = await add_user(
                        session,
                        hasher,
                        organisation,
                        email=f"{local}@{domain}",
                        full_name=name,
                        role=role,
                        password=DEMO_PASSWORD,
                    )
                    people[role] = user
                    lines.append(f"  {role.value:<14} {user.email:<44} {organisation.short_name}")
                staff[organisation.short_name] = Staff(
                    organisation, people[Role.caseworker], people[Role.case_manager]
                )
                members[organisation.short_name] = Member(
                    organisation, people[Role.org_admin], people[Role.case_manager]
                )
            government = staff.get("DOSVY-BTB")
            builder = DemoBuilder(
                DEMO_SEED, local_today(), government.organisation if government else None
            )
            counts = [
                f"{name} {builder.build(staff[name], profile)}"
                for name, profile in PROFILES.items()
            ]
            users = {
                user.id: user
                for member in staff.values()
                for user in (member.caseworker, member.manager)
            }
            approvers = {m.organisation.id: (m.manager, m.admin) for m in members.values()}
            cases = await record_cases(session, builder.rows, users, approvers)
            await load_sharing(session, members, cases, DEMO_SEED)
            care_line = await load_care(session, members, cases)
    finally:
        await database.engine.dispose()
    lines.append(f"Demo cases: {', '.join(counts)} (each with its child, family and casework)")
    lines.append(
        "KFSO has referrals in every state (to LOTUS and BFEC), services and case conferences"
    )
    lines.append(care_line)
    return "\n".join(lines)
