"""Demo data for `ovc-api demo`: realistic, and only ever loaded into a throwaway database.

The organisations are fictional, modelled on the kinds of members the network has: a
family-strengthening NGO in Battambang, a residential home in Phnom Penh, an education
charity in Pursat, and the provincial social affairs department that refers cases.
"""

from __future__ import annotations

from ovc_api.auth.passwords import PasswordHasher
from ovc_api.auth.scopes import Role
from ovc_api.db import Database, set_tenant_context
from ovc_api.organisations.models import Organisation, OrganisationKind
from ovc_api.settings import Settings
from ovc_api.users.bootstrap import add_user, network_organisation

DEMO_PASSWORD = "demo-Sunrise-2026"  # noqa: S105 - printed by `ovc-api demo`; the demo database only

DEMO_ORGANISATIONS = [
    {
        "name": "Kampuchea Family Strengthening Organisation",
        "short_name": "KFSO",
        "kind": OrganisationKind.ngo,
        "provinces": ["battambang", "banteay_meanchey", "pailin"],
        "contact_email": "office@kfso.example.org",
        "contact_phone": "+855 53 000 111",
        "address": "Borvel district, Battambang",
        "domain": "kfso.example.org",
    },
    {
        "name": "Little Lotus Children's Home",
        "short_name": "LOTUS",
        "kind": OrganisationKind.residential_care,
        "provinces": ["phnom_penh", "kandal"],
        "contact_email": "care@lotus.example.org",
        "contact_phone": "+855 23 000 222",
        "address": "Toul Tom Poung, Phnom Penh",
        "domain": "lotus.example.org",
    },
    {
        "name": "Bright Futures Education Cambodia",
        "short_name": "BFEC",
        "kind": OrganisationKind.ngo,
        "provinces": ["pursat", "kampong_chhnang", "battambang"],
        "contact_email": "hello@bfec.example.org",
        "contact_phone": "+855 52 000 333",
        "address": "Pursat town, Pursat",
        "domain": "bfec.example.org",
    },
    {
        "name": "Battambang Provincial Department of Social Affairs (DoSVY)",
        "short_name": "DOSVY-BTB",
        "kind": OrganisationKind.government,
        "provinces": ["battambang"],
        "contact_email": "dosvy@btb.example.gov.kh",
        "contact_phone": "+855 53 000 444",
        "address": "Battambang town, Battambang",
        "domain": "dosvy-btb.example.gov.kh",
    },
]
DEMO_PEOPLE = {
    Role.org_admin: ("admin", "Sokha Chan"),
    Role.case_manager: ("manager", "Dara Keo"),
    Role.caseworker: ("caseworker", "Srey Mom Phan"),
    Role.analyst: ("analyst", "Vuthy Lim"),
}


async def load_demo_data(settings: Settings) -> str:
    """Create the demo organisations and users; return the login table to print."""
    database = Database.from_settings(settings)
    hasher = PasswordHasher(settings)
    lines = [f"Demo logins (password for all: {DEMO_PASSWORD}):"]
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
                organisation = Organisation(
                    **{k: v for k, v in spec.items() if k != "domain"}  # type: ignore[arg-type]
                )
                session.add(organisation)
                await session.flush()
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
                    lines.append(f"  {role.value:<14} {user.email:<44} {organisation.short_name}")
    finally:
        await database.engine.dispose()
    return "\n".join(lines)
