"""The demo's scenario data, read from the JSON files in `demo/data/` into typed tables.

The data says who the organisations and their people are, the names in both scripts, the
real districts and communes, who lives in each kind of household, the kinds of case the
network's members describe (scenarios), how many cases each organisation holds and of which
kinds (profiles), the plan goals and notes caseworkers write, and what the organisations
share. Edit the JSON to change the demo; this module only gives each value its type (codes
become enumerations, checked on load).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

from ovc_api.auth.scopes import Role
from ovc_api.cases.models import ClosureReason, ProtectionConcern, ReferralSource
from ovc_api.casework.models import CsiDomain
from ovc_api.children.models import CareArrangement, Schooling, Sex
from ovc_api.families.models import IncomeSource, Relation
from ovc_api.geography import Province
from ovc_api.identity.models import OrganisationKind
from ovc_api.services.models import ServiceType
from ovc_api.sharing.models import ReferralStatus


@cache
def _data(name: str) -> Any:
    return json.loads(resources.files("ovc_api.demo").joinpath("data", name).read_text("utf-8"))


@dataclass(frozen=True)
class Scenario:
    """One kind of case, with the care, concerns, household and plan that go with it."""

    care: CareArrangement
    concerns: tuple[ProtectionConcern, ...]
    maybe: tuple[ProtectionConcern, ...]  # each added with some probability
    risk: tuple[int, int, int, int]  # weights of low, medium, high, emergency
    ages: tuple[int, int]
    siblings: tuple[int, int, int]  # weights of 1, 2, 3 children in the case's household
    household: str
    income: tuple[IncomeSource, ...]
    low_domains: tuple[CsiDomain, ...]  # CSI domains that score badly at intake
    summary: str
    closures: tuple[ClosureReason, ...]
    schooling: Schooling | None = None  # for school-age children, else by age
    registration: tuple[int, int, int, int] = (35, 15, 40, 10)
    female_share: float = 0.5

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Scenario:
        return cls(
            care=CareArrangement(data["care"]),
            concerns=tuple(ProtectionConcern(c) for c in data["concerns"]),
            maybe=tuple(ProtectionConcern(c) for c in data["maybe"]),
            risk=tuple(data["risk"]),
            ages=tuple(data["ages"]),
            siblings=tuple(data["siblings"]),
            household=data["household"],
            income=tuple(IncomeSource(i) for i in data["income"]),
            low_domains=tuple(CsiDomain(d) for d in data["low_domains"]),
            summary=data["summary"],
            closures=tuple(ClosureReason(r) for r in data["closures"]),
            schooling=Schooling(data["schooling"]) if data["schooling"] else None,
            registration=tuple(data["registration"]),
            female_share=data["female_share"],
        )


@dataclass(frozen=True)
class OrganisationProfile:
    """How many cases an organisation holds, where, of which kinds, referred by whom."""

    cases: int
    areas: tuple[tuple[Province, str | None, int], ...]  # (province, district or any, weight)
    scenarios: tuple[tuple[str, int], ...]
    referrals: tuple[tuple[ReferralSource, int], ...]

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> OrganisationProfile:
        return cls(
            cases=data["cases"],
            areas=tuple(
                (Province(a["province"]), a["district"], a["weight"]) for a in data["areas"]
            ),
            scenarios=tuple(data["scenarios"].items()),
            referrals=tuple(
                (ReferralSource(source), weight)
                for source, weight in data["referral_sources"].items()
            ),
        )


@dataclass(frozen=True)
class Person:
    """One member of a kind of household, as generated: the relation and sex (one pair picked
    when several are given), the age range; `main` marks the caregiver the case names,
    `caregiver` every carer; with a `chance`, the person is added with that probability (and
    its `title`, if any, then names the household's carers); `notes` is a note, or notes to
    pick one from (None among them: no note); `migrated_to`, the country they work in."""

    relations: tuple[tuple[Relation, Sex], ...]
    ages: tuple[int, int]
    main: bool = False
    caregiver: bool = False
    chance: float | None = None
    migrated_to: str | None = None
    notes: str | tuple[str | None, ...] | None = None
    title: str | None = None

    @classmethod
    def from_data(cls, data: dict[str, Any], note: str | None = None) -> Person:
        """`note`, when given, replaces the person's notes (parents abroad, described once)."""
        pairs = data.get("one_of", [data])
        notes = note or data.get("notes")
        return cls(
            relations=tuple((Relation(p["relation"]), Sex(p["sex"])) for p in pairs),
            ages=tuple(data["ages"]),
            main=data.get("main", False),
            caregiver=data.get("caregiver", False),
            chance=data.get("chance"),
            migrated_to=data.get("migrated_to"),
            notes=tuple(notes) if isinstance(notes, list) else notes,
            title=data.get("title"),
        )


@dataclass(frozen=True)
class HouseholdKind:
    """Who lives in a kind of household (a scenario's `household`), in the order generated;
    `title` names its carers ("the {relation}": the main caregiver's relation)."""

    title: str
    people: tuple[Person, ...]

    @classmethod
    def from_data(cls, data: dict[str, Any], parents_abroad: list[dict[str, Any]]) -> HouseholdKind:
        people: list[Person] = []
        for person in data["people"]:
            if "migrated_parents" in person:
                note = person["migrated_parents"]
                people += [Person.from_data(parent, note) for parent in parents_abroad]
            else:
                people.append(Person.from_data(person))
        return cls(title=data["title"], people=tuple(people))


def _names(rows: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(row["latin"], row["khmer"]) for row in rows]


_organisations = _data("organisations.json")
DEMO_ORGANISATIONS: list[dict[str, Any]] = [
    {**spec, "kind": OrganisationKind(spec["kind"])} for spec in _organisations["organisations"]
]
DEMO_PEOPLE: dict[Role, tuple[str, str]] = {
    Role(role): (person["email_local_part"], person["full_name"])
    for role, person in _organisations["people"].items()
}

_names_data = _data("names.json")
FAMILY_NAMES: list[tuple[str, str]] = _names(_names_data["family_names"])
GIVEN_NAMES: dict[Sex, list[tuple[str, str]]] = {
    Sex(sex): _names(rows) for sex, rows in _names_data["given_names"].items()
}
# Adults (family members) are recorded by their Latin name only, family name first.
ADULT_NAMES: dict[Sex, list[str]] = {
    Sex(sex): list(names) for sex, names in _names_data["adult_names"].items()
}

_places = _data("places.json")
DISTRICTS: dict[Province, dict[str, tuple[str, ...]]] = {
    Province(province): {district: tuple(communes) for district, communes in districts.items()}
    for province, districts in _places["districts"].items()
}
VILLAGES: tuple[str, ...] = tuple(_places["villages"])

SCENARIOS: dict[str, Scenario] = {
    key: Scenario.from_data(data) for key, data in _data("scenarios.json").items()
}
PROFILES: dict[str, OrganisationProfile] = {
    name: OrganisationProfile.from_data(data) for name, data in _data("profiles.json").items()
}
_households = _data("households.json")
HOUSEHOLDS: dict[str, HouseholdKind] = {
    kind: HouseholdKind.from_data(data, _households["migrated_parents"])
    for kind, data in _households["kinds"].items()
}
DEMO_CASES: dict[str, int] = {name: profile.cases for name, profile in PROFILES.items()}

_casework = _data("casework.json")
GOALS: dict[CsiDomain, tuple[str, tuple[str, ...]]] = {
    CsiDomain(domain): (plan["goal"], tuple(plan["actions"]))
    for domain, plan in _casework["goals"].items()
}
NEEDS: dict[CsiDomain, tuple[str, ...]] = {
    CsiDomain(domain): tuple(needs) for domain, needs in _casework["needs"].items()
}
VISIT_OUTCOMES: tuple[str, ...] = tuple(_casework["visit_outcomes"])
MISSED_OUTCOMES: tuple[str, ...] = tuple(_casework["missed_outcomes"])
NOTES: tuple[str, ...] = tuple(_casework["notes"])

_sharing = _data("sharing.json")
OFFERS: dict[str, list[tuple[ServiceType, list[str], str | None]]] = {
    organisation: [
        (ServiceType(offer["service_type"]), list(offer["provinces"]), offer["description"])
        for offer in offers
    ]
    for organisation, offers in _sharing["offers"].items()
}
# (receiver, status, services requested, urgency): every state of the referral workflow
REFERRALS: list[tuple[str, ReferralStatus, list[ServiceType], str]] = [
    (
        referral["receiver"],
        ReferralStatus(referral["status"]),
        [ServiceType(s) for s in referral["services_requested"]],
        referral["urgency"],
    )
    for referral in _sharing["referrals"]
]
DELIVERED: dict[ServiceType, tuple[Decimal, str, Decimal | None, str | None]] = {
    ServiceType(kind): (
        Decimal(unit["quantity"]),
        unit["unit"],
        Decimal(unit["cost"]) if unit["cost"] is not None else None,
        unit["currency"],
    )
    for kind, unit in _sharing["delivered"].items()
}
