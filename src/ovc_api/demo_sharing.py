"""Demo data between organisations: the services directory, services delivered, referrals in
every state and a few case conferences. Loaded after the demo cases, deterministically."""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlmodel import SQLModel

from ovc_api.ages import age_on
from ovc_api.cases.models import Case, CaseConcern, CaseStatus
from ovc_api.children.models import Child
from ovc_api.clock import local_today
from ovc_api.conferences.models import CaseConference, ConferenceAction, ConferenceParticipant
from ovc_api.db import utcnow
from ovc_api.identity.models import Organisation
from ovc_api.services.models import OrganisationService, ServiceDelivery, ServiceType
from ovc_api.sharing.models import Referral, ReferralStatus

OFFERS: dict[str, list[tuple[ServiceType, list[str], str | None]]] = {
    "KFSO": [
        (
            ServiceType.emergency_food_package,
            ["battambang", "banteay_meanchey", "pailin"],
            "Rice, fish sauce, oil and soap for a month",
        ),
        (ServiceType.birth_certificate_support, ["battambang"], "With the commune registrar"),
        (ServiceType.counselling, ["battambang"], None),
        (ServiceType.positive_parenting, ["battambang", "pailin"], "Eight-session course"),
        (ServiceType.family_reunification_support, ["battambang"], None),
    ],
    "LOTUS": [
        (ServiceType.counselling, ["phnom_penh", "kandal"], "Trauma-informed counselling"),
        (ServiceType.medical_treatment, ["phnom_penh"], None),
        (ServiceType.kinship_care_support, ["phnom_penh", "kandal"], None),
    ],
    "BFEC": [
        (
            ServiceType.school_enrolment_support,
            ["pursat", "battambang", "kampong_chhnang"],
            "Uniforms, books and enrolment fees",
        ),
        (ServiceType.education_support, ["pursat", "battambang"], "Homework clubs"),
        (
            ServiceType.vocational_training,
            ["pursat", "battambang"],
            "Motorbike repair, sewing and hairdressing, six months",
        ),
    ],
    "DOSVY-BTB": [(ServiceType.id_poor_card_support, ["battambang"], None)],
}
# (receiver, status, services requested, urgency): every state of the referral workflow
REFERRALS: list[tuple[str, ReferralStatus, list[ServiceType], str]] = [
    ("BFEC", ReferralStatus.pending, [ServiceType.vocational_training], "routine"),
    ("BFEC", ReferralStatus.pending, [ServiceType.school_enrolment_support], "urgent"),
    ("LOTUS", ReferralStatus.pending, [ServiceType.counselling], "emergency"),
    ("BFEC", ReferralStatus.accepted, [ServiceType.school_enrolment_support], "routine"),
    (
        "LOTUS",
        ReferralStatus.accepted,
        [ServiceType.counselling, ServiceType.medical_treatment],
        "urgent",
    ),
    ("BFEC", ReferralStatus.accepted, [ServiceType.vocational_training], "routine"),
    ("LOTUS", ReferralStatus.declined, [ServiceType.kinship_care_support], "routine"),
    ("BFEC", ReferralStatus.declined, [ServiceType.education_support], "routine"),
    ("BFEC", ReferralStatus.withdrawn, [ServiceType.school_enrolment_support], "routine"),
    ("BFEC", ReferralStatus.completed, [ServiceType.school_enrolment_support], "routine"),
    ("LOTUS", ReferralStatus.completed, [ServiceType.counselling], "urgent"),
]
DELIVERED = {
    ServiceType.emergency_food_package: (Decimal(1), "package", Decimal("30.00"), "USD"),
    ServiceType.birth_certificate_support: (Decimal(1), "certificate", Decimal("15000"), "KHR"),
    ServiceType.counselling: (Decimal(4), "session", None, None),
    ServiceType.school_enrolment_support: (Decimal(1), "enrolment", Decimal("25.00"), "USD"),
    ServiceType.vocational_training: (Decimal(24), "session", Decimal("180.00"), "USD"),
    ServiceType.medical_treatment: (Decimal(1), "visit", Decimal("40.00"), "USD"),
    ServiceType.positive_parenting: (Decimal(8), "session", None, None),
}


def build_sharing(
    rows: list[SQLModel], organisations: dict[str, Organisation], seed: int
) -> list[list[SQLModel]]:
    """Rows to insert, in foreign-key order (one list per flush)."""
    rng = random.Random(seed)  # noqa: S311 - demo data, not secrets
    today = local_today()
    children = {c.id: c for c in rows if isinstance(c, Child)}
    concerns: dict[uuid.UUID, list[str]] = {}
    for row in rows:
        if isinstance(row, CaseConcern):
            concerns.setdefault(row.case_id, []).append(row.concern)
    kfso = organisations["KFSO"]
    open_cases = [
        c
        for c in rows
        if isinstance(c, Case)
        and c.organisation_id == kfso.id
        and c.status not in {CaseStatus.closed.value, CaseStatus.intake.value}
    ]
    offers: list[SQLModel] = [
        OrganisationService(
            organisation_id=organisations[name].id,
            service_type=kind.value,
            province=province,
            description=description,
        )
        for name, items in OFFERS.items()
        if name in organisations
        for kind, provinces, description in items
        for province in provinces
    ]
    referrals: list[SQLModel] = []
    services: list[SQLModel] = []
    for (receiver, status, wanted, urgency), case in zip(REFERRALS, open_cases, strict=False):
        child = children[case.child_id]
        sent_on = max(case.opened_on, today - timedelta(days=rng.randint(5, 60)))
        referral = Referral(
            organisation_id=kfso.id,
            receiving_organisation_id=organisations[receiver].id,
            case_id=case.id,
            child_id=child.id,
            family_id=case.family_id,
            services_requested=[s.value for s in wanted],
            reason="The family asked for help we do not offer: "
            + ", ".join(s.value.replace("_", " ") for s in wanted),
            urgency=urgency,
            consent_given_by="the caregiver",
            consent_relation="grandmother",
            consent_given_on=sent_on,
            consent_method=rng.choice(["verbal", "thumbprint"]),
            status=status.value,
            created_at=_at(sent_on),
            updated_at=_at(sent_on),
            summary={
                "child_first_name": child.given_name_latin or child.given_name_khmer,
                "age": age_on(child.date_of_birth, today),
                "sex": child.sex,
                "province": child.province,
                "district": child.district,
                "concerns": sorted(concerns.get(case.id, [])),
                "services_requested": [s.value for s in wanted],
            },
        )
        if status is not ReferralStatus.pending:
            referral.decided_at = _at(min(today, sent_on + timedelta(days=3)))
        if status is ReferralStatus.declined:
            referral.decision_reason = "No places left this term"
        if status in {ReferralStatus.declined, ReferralStatus.withdrawn, ReferralStatus.completed}:
            referral.closed_at = _at(min(today, sent_on + timedelta(days=20)))
        referrals.append(referral)
        if status in {ReferralStatus.accepted, ReferralStatus.completed}:
            services.append(
                _delivery(
                    referral.receiving_organisation_id,
                    case,
                    child,
                    wanted[0],
                    min(today, sent_on + timedelta(days=7)),
                    referral.id,
                )
            )
    for case in open_cases[len(REFERRALS) : len(REFERRALS) + 60]:
        kind = rng.choice(
            [
                ServiceType.emergency_food_package,
                ServiceType.counselling,
                ServiceType.birth_certificate_support,
                ServiceType.positive_parenting,
            ]
        )
        delivered_on = min(today, case.opened_on + timedelta(days=rng.randint(1, 30)))
        services.append(_delivery(kfso.id, case, children[case.child_id], kind, delivered_on))
    conferences, participants, actions = _conferences(open_cases[-3:], organisations, rng, today)
    return [offers, referrals, services, conferences, participants, actions]


def _delivery(
    organisation_id: uuid.UUID,
    case: Case,
    child: Child,
    kind: ServiceType,
    on: date,
    referral_id: uuid.UUID | None = None,
) -> ServiceDelivery:
    quantity, unit, cost, currency = DELIVERED.get(kind, (None, None, None, None))
    return ServiceDelivery(
        organisation_id=organisation_id,
        case_id=case.id,
        child_id=child.id,
        family_id=case.family_id,
        referral_id=referral_id,
        service_type=kind.value,
        delivered_on=on,
        quantity=quantity,
        unit=unit,
        cost=cost,
        currency=currency,
        province=child.province,
        district=child.district,
    )


def _conferences(
    cases: list[Case], organisations: dict[str, Organisation], rng: random.Random, today: date
) -> tuple[list[SQLModel], list[SQLModel], list[SQLModel]]:
    kfso = organisations["KFSO"]
    guests = [organisations[name] for name in ("BFEC", "DOSVY-BTB") if name in organisations]
    conferences: list[SQLModel] = []
    participants: list[SQLModel] = []
    actions: list[SQLModel] = []
    for case in cases:
        held_on = max(case.opened_on, today - timedelta(days=rng.randint(3, 40)))
        conference = CaseConference(
            organisation_id=kfso.id,
            case_id=case.id,
            held_on=held_on,
            location="Commune hall",
            agenda="Schooling, food security, birth registration",
            decisions="Enrol the children this term; apply for birth certificates; "
            "monthly food package until the harvest",
            external_participants=[
                {"name": "Mr Sok Heng", "role": "Commune chief", "affiliation": "CCWC"},
                {"name": "Ms Chea Dany", "role": "Shop owner", "affiliation": "Local business"},
            ],
        )
        conferences.append(conference)
        for guest in guests:
            participants.append(
                ConferenceParticipant(
                    conference_id=conference.id,
                    organisation_id=guest.id,
                    organiser_organisation_id=kfso.id,
                )
            )
        for owner, task in [
            (kfso, "Apply for birth certificates"),
            *((g, "School enrolment and uniforms") for g in guests[:1]),
            *((g, "ID Poor card assessment") for g in guests[1:]),
        ]:
            actions.append(
                ConferenceAction(
                    conference_id=conference.id,
                    organisation_id=owner.id,
                    organiser_organisation_id=kfso.id,
                    description=task,
                    due_on=held_on + timedelta(days=rng.randint(7, 45)),
                )
            )
    return conferences, participants, actions


def _at(day: date) -> Any:
    from datetime import UTC, datetime, time

    return min(datetime.combine(day, time(3, 0), tzinfo=UTC), utcnow())
