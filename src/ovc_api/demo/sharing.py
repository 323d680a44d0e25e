"""Demo data between organisations: the services directory, services delivered, referrals in
every state and a few case conferences (the tables are in `data/sharing.json`).

Loaded after the demo cases, deterministically, and THROUGH the services, acting as each
organisation's case manager: so this part of the demo obeys the same rules as the API (the
family's consent, no second open referral, who may accept or complete, deliveries only under
an accepted referral, conference dates), and its audit trail is the one the API would write.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api.auth.principal import Principal
from ovc_api.auth.scopes import Role
from ovc_api.cases.models import Case, CaseStatus
from ovc_api.clock import local_today
from ovc_api.conferences import service as conferences
from ovc_api.conferences.schemas import ConferenceCreate
from ovc_api.demo.tables import DELIVERED, OFFERS, REFERRALS
from ovc_api.identity.models import Organisation, User
from ovc_api.referrals import service as referrals
from ovc_api.referrals.schemas import ReferralCreate
from ovc_api.services import service as services
from ovc_api.services.models import ServiceType
from ovc_api.services.schemas import ServiceCreate, ServiceOffers
from ovc_api.sharing.models import ReferralStatus

OWN_SERVICES = (
    ServiceType.emergency_food_package,
    ServiceType.counselling,
    ServiceType.birth_certificate_support,
    ServiceType.positive_parenting,
)


@dataclass(frozen=True)
class Member:
    """An organisation of the demo and the person who acts for it here."""

    organisation: Organisation
    admin: User
    manager: User

    def acting(self, user: User) -> Principal:
        return Principal.of_person(Role(user.role), self.organisation.id, user.id)


async def load_sharing(
    session: AsyncSession, members: dict[str, Member], cases: list[Case], seed: int
) -> None:
    """The directory, KFSO's referrals (one per state), services and three conferences."""
    rng = random.Random(seed)  # noqa: S311 - demo data, not secrets
    today = local_today()
    for name, offers in OFFERS.items():
        if name in members:
            member = members[name]
            declared = ServiceOffers.model_validate(
                {
                    "offers": [
                        {"service_type": kind, "provinces": provinces, "description": description}
                        for kind, provinces, description in offers
                    ]
                }
            )
            admin = member.acting(member.admin)
            await services.declare_offers(session, admin, member.organisation, declared)
    kfso = members["KFSO"]
    sender = kfso.acting(kfso.manager)
    open_cases = [
        case
        for case in cases
        if case.organisation_id == kfso.organisation.id
        and case.status not in {CaseStatus.closed.value, CaseStatus.intake.value}
    ]
    for (receiver_name, status, wanted, urgency), case in zip(REFERRALS, open_cases, strict=False):
        receiver = members[receiver_name]
        sent_on = max(case.opened_on, today - timedelta(days=rng.randint(5, 60)))
        await _refer(session, sender, receiver, case, status, wanted, urgency, sent_on, rng)
    for case in open_cases[len(REFERRALS) : len(REFERRALS) + 60]:
        kind = rng.choice(OWN_SERVICES)
        delivered_on = min(today, case.opened_on + timedelta(days=rng.randint(1, 30)))
        await _deliver(session, sender, kind, delivered_on, {"case_id": str(case.id)})
    guests = [members[name] for name in ("BFEC", "DOSVY-BTB") if name in members]
    for case in open_cases[-3:]:
        await _conference(session, sender, kfso, guests, case, rng, today)


async def _refer(
    session: AsyncSession,
    sender: Principal,
    receiver: Member,
    case: Case,
    status: ReferralStatus,
    wanted: list[ServiceType],
    urgency: str,
    sent_on: date,
    rng: random.Random,
) -> None:
    """Send the referral, then take it to `status` as each side would."""
    request = ReferralCreate.model_validate(
        {
            "case_id": case.id,
            "receiving_organisation_id": receiver.organisation.id,
            "services_requested": wanted,
            "reason": "The family asked for help we do not offer: "
            + ", ".join(s.value.replace("_", " ") for s in wanted),
            "urgency": urgency,
            "consent": {
                "given_by": "the caregiver",
                "relation": "grandmother",
                "given_on": sent_on,
                "method": rng.choice(["verbal", "thumbprint"]),
            },
        }
    )
    referral = await referrals.send_referral(session, sender, request)
    acting_receiver = receiver.acting(receiver.manager)
    if status is ReferralStatus.withdrawn:
        await referrals.move(session, sender, referral, "withdraw", None)
    elif status is ReferralStatus.declined:
        await referrals.move(
            session, acting_receiver, referral, "decline", "No places left this term"
        )
    elif status in {ReferralStatus.accepted, ReferralStatus.completed}:
        await referrals.move(session, acting_receiver, referral, "accept", None)
        delivered_on = min(local_today(), sent_on + timedelta(days=7))
        await _deliver(
            session, acting_receiver, wanted[0], delivered_on, {"referral_id": str(referral.id)}
        )
        if status is ReferralStatus.completed:
            await referrals.move(session, acting_receiver, referral, "complete", None)


async def _deliver(
    session: AsyncSession,
    principal: Principal,
    kind: ServiceType,
    on: date,
    served: dict[str, Any],
) -> None:
    quantity, unit, cost, currency = DELIVERED.get(kind, (None, None, None, None))
    delivery = ServiceCreate.model_validate(
        {
            "service_type": kind,
            "delivered_on": on,
            "quantity": quantity,
            "unit": unit,
            "cost": cost,
            "currency": currency,
            **served,
        }
    )
    await services.record_delivery(session, principal, delivery)


async def _conference(
    session: AsyncSession,
    organiser: Principal,
    kfso: Member,
    guests: list[Member],
    case: Case,
    rng: random.Random,
    today: date,
) -> None:
    held_on = max(case.opened_on, today - timedelta(days=rng.randint(3, 40)))
    owners = [
        (kfso, "Apply for birth certificates"),
        *((g, "School enrolment and uniforms") for g in guests[:1]),
        *((g, "ID Poor card assessment") for g in guests[1:]),
    ]
    request = ConferenceCreate.model_validate(
        {
            "case_id": case.id,
            "held_on": held_on,
            "location": "Commune hall",
            "agenda": "Schooling, food security, birth registration",
            "decisions": "Enrol the children this term; apply for birth certificates; "
            "monthly food package until the harvest",
            "participant_organisation_ids": [guest.organisation.id for guest in guests],
            "external_participants": [
                {"name": "Mr Sok Heng", "role": "Commune chief", "affiliation": "CCWC"},
                {"name": "Ms Chea Dany", "role": "Shop owner", "affiliation": "Local business"},
            ],
            "action_items": [
                {
                    "organisation_id": owner.organisation.id,
                    "description": task,
                    "due_on": held_on + timedelta(days=rng.randint(7, 45)),
                }
                for owner, task in owners
            ],
        }
    )
    await conferences.record_conference(session, organiser, request)
