"""Generating the demo's cases from the scenario tables (`tables.py`, read from `data/`):
each case with its child, family, history and casework, deterministically (a fixed seed) and
with dates relative to today, so every `ovc-api demo` shows the same people with tasks that
are due now.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

from sqlmodel import SQLModel

from ovc_api.cases.models import (
    Case,
    CaseConcern,
    CaseStatus,
    CaseStatusChange,
    ClosureReason,
    ClosureRequest,
    ClosureRequestStatus,
    ProtectionConcern,
    ReferralSource,
)
from ovc_api.casework import models as casework
from ovc_api.children.models import (
    BirthRegistration,
    CareArrangement,
    Child,
    Disability,
    Schooling,
    Sex,
)
from ovc_api.db import utcnow
from ovc_api.demo.tables import (
    ADULT_NAMES,
    DISTRICTS,
    FAMILY_NAMES,
    GIVEN_NAMES,
    GOALS,
    HOUSEHOLDS,
    MISSED_OUTCOMES,
    NEEDS,
    NOTES,
    SCENARIOS,
    VILLAGES,
    VISIT_OUTCOMES,
    HouseholdKind,
    OrganisationProfile,
    Scenario,
)
from ovc_api.families.models import Family, FamilyMember, IdPoorStatus, Relation
from ovc_api.geography import PROVINCE_NAMES, Province
from ovc_api.identity.models import Organisation, User
from ovc_api.text import nfc, search_key

# --- building the rows ------------------------------------------------------------------

Choice = TypeVar("Choice")
Planned = TypeVar("Planned", bound=SQLModel)
STATUS_ORDER = [
    CaseStatus.intake,
    CaseStatus.assessment,
    CaseStatus.case_plan,
    CaseStatus.implementation,
    CaseStatus.review,
    CaseStatus.closed,
]
TYPICAL_DAYS_BEFORE = {  # typical days spent in the previous status before moving on
    CaseStatus.assessment: 7,
    CaseStatus.case_plan: 21,
    CaseStatus.implementation: 12,
    CaseStatus.review: 150,
    CaseStatus.closed: 30,
}
WORDS = {1: "one child", 2: "two children", 3: "three children"}


@dataclass
class Staff:
    organisation: Organisation
    caseworker: User
    manager: User


@dataclass
class Household:
    """Where and with whom the children of one or more sibling cases live."""

    province: Province
    district: str
    commune: str
    village: str
    family_id: uuid.UUID | None
    caregiver: str  # "grandmother Phan Sarin (67)"
    caregiver_title: str  # "the grandmother"


class DemoBuilder:
    """Generates every demo case with its child, family and casework, deterministically."""

    def __init__(self, seed: int, today: date, government: Organisation | None) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - demo data, not secrets
        self.today = today
        self.now = utcnow()
        self.government = government
        self.rows: list[SQLModel] = []

    # small helpers

    def pick(self, options: Sequence[Choice], weights: Sequence[int] | None = None) -> Choice:
        return self.rng.choices(options, weights=weights)[0]

    def at(self, day: date) -> datetime:
        """A working-hours time on that day in Phnom Penh (UTC+7), never in the future."""
        moment = datetime.combine(day, time(1 + self.rng.randint(0, 9), self.rng.randint(0, 59)))
        return min(moment.replace(tzinfo=UTC), self.now)

    def _of_case(
        self,
        model: type[Planned],
        case: Case,
        *,
        created: date,
        updated: date | None = None,
        **values: Any,
    ) -> Planned:
        """A planned row of the case's record, written on `created` and last changed on
        `updated` (the same day unless given); its times are drawn after the values."""
        row = model(
            organisation_id=case.organisation_id,
            case_id=case.id,
            **values,
            created_at=self.at(created),
            updated_at=self.at(updated or created),
        )
        self.rows.append(row)
        return row

    def days_ago(self, low: int, high: int) -> date:
        return self.today - timedelta(days=self.rng.randint(low, high))

    # the organisation's cases

    def build(self, staff: Staff, profile: OrganisationProfile) -> int:
        created = 0
        while created < profile.cases:
            key = self.pick([k for k, _ in profile.scenarios], [w for _, w in profile.scenarios])
            scenario = SCENARIOS[key]
            siblings = min(self.pick([1, 2, 3], scenario.siblings), profile.cases - created)
            self._household_cases(staff, profile, scenario, key, siblings)
            created += siblings
        return created

    def _location(self, profile: OrganisationProfile) -> tuple[Province, str, str, str]:
        province, district, _ = self.pick(profile.areas, [w for *_, w in profile.areas])
        districts = DISTRICTS[province]
        district = district or self.pick(sorted(districts))
        return province, district, self.pick(districts[district]), self.pick(VILLAGES)

    def _household_cases(
        self,
        staff: Staff,
        profile: OrganisationProfile,
        scenario: Scenario,
        key: str,
        siblings: int,
    ) -> None:
        opened_on = self._opened_on()
        status_path = self._status_path(opened_on)
        surname = self.pick(FAMILY_NAMES)
        household = self._household(staff, profile, scenario, surname[0], opened_on)
        worker = staff.caseworker if self.rng.random() < 0.72 else staff.manager
        referral = self.pick([s for s, _ in profile.referrals], [w for _, w in profile.referrals])
        for index in range(siblings):
            own_surname = surname
            concerns = list(scenario.concerns)
            if key == "grandfather" and index == 2:  # the abandoned child he also took in
                own_surname = self.pick(FAMILY_NAMES)
                concerns = [ProtectionConcern.abandonment, ProtectionConcern.lack_of_food]
            child = self._child(staff, scenario, household, own_surname, worker, opened_on)
            concerns += [c for c in scenario.maybe if self.rng.random() < 0.35]
            if child.birth_registration in (
                BirthRegistration.not_registered,
                BirthRegistration.registered_no_certificate,
            ) and (self.rng.random() < 0.3 or key == "no_birth_certificate"):
                concerns.append(ProtectionConcern.no_birth_certificate)
            if child.disability != Disability.none and self.rng.random() < 0.7:
                concerns.append(ProtectionConcern.disability)
            self._case(
                staff,
                scenario,
                household,
                child,
                worker,
                referral,
                sorted(set(concerns)),
                opened_on,
                status_path,
                WORDS[siblings],
            )

    def _opened_on(self) -> date:
        band = self.rng.random()
        if band < 0.4:
            return self.days_ago(0, 120)
        if band < 0.8:
            return self.days_ago(121, 540)
        return self.days_ago(541, 1100)

    def _status_path(self, opened_on: date) -> list[tuple[CaseStatus, date]]:
        """The statuses the case went through, each with the day it was reached."""
        age = (self.today - opened_on).days
        if age < 21:
            final = self.pick([CaseStatus.intake, CaseStatus.assessment], [60, 40])
        elif age < 40:
            final = self.pick([CaseStatus.assessment, CaseStatus.case_plan], [50, 50])
        elif age < 100:
            final = self.pick([CaseStatus.case_plan, CaseStatus.implementation], [35, 65])
        elif age < 300:
            final = self.pick(
                [CaseStatus.implementation, CaseStatus.review, CaseStatus.closed], [65, 20, 15]
            )
        else:
            final = self.pick(
                [CaseStatus.implementation, CaseStatus.review, CaseStatus.closed], [30, 20, 50]
            )
        if final is CaseStatus.closed and self.rng.random() < 0.12:
            steps = [CaseStatus.intake, CaseStatus.assessment, CaseStatus.closed]  # early exit
        else:
            steps = STATUS_ORDER[: STATUS_ORDER.index(final) + 1]
        offsets = [0]
        for status in steps[1:]:
            offsets.append(
                offsets[-1]
                + max(1, round(TYPICAL_DAYS_BEFORE[status] * self.rng.uniform(0.5, 1.8)))
            )
        if offsets[-1] > age:
            offsets = [o * age // offsets[-1] for o in offsets]
        return [(s, opened_on + timedelta(days=o)) for s, o in zip(steps, offsets, strict=True)]

    def _household(
        self,
        staff: Staff,
        profile: OrganisationProfile,
        scenario: Scenario,
        surname: str,
        opened_on: date,
    ) -> Household:
        province, district, commune, village = self._location(profile)
        org_id = staff.organisation.id
        members: list[dict[str, Any]] = []
        kind = scenario.household
        if kind == "relatives" and scenario.care is CareArrangement.residential_care:
            kind = "relatives" if self.rng.random() < 0.6 else "none"

        caregiver, title = "", "the caregiver"
        if kind in HOUSEHOLDS:
            caregiver, title = self._members(HOUSEHOLDS[kind], surname, members)

        household = Household(province, district, commune, village, None, caregiver, title)
        if kind == "none":
            household.caregiver, household.caregiver_title = "the care team", "the care team"
            return household
        id_poor = self.pick(
            [IdPoorStatus.level_1, IdPoorStatus.level_2, IdPoorStatus.none, IdPoorStatus.unknown],
            [35, 25, 25, 15],
        )
        income = sorted(
            {self.pick(scenario.income)} | {i for i in scenario.income if self.rng.random() < 0.4}
        )
        family = Family(
            organisation_id=org_id,
            name=f"Household of {members[0]['name']}",  # the main caregiver comes first
            id_poor_status=id_poor.value,
            income_sources=[i.value for i in income],
            province=province.value,
            district=district,
            commune=commune,
            village=village,
            notes=self.pick(
                [
                    None,
                    "ID Poor card application pending at the commune",
                    "House damaged by the last flood",
                    "Debt with a microfinance lender",
                    "Far from the commune centre; no motorbike",
                ]
            ),
            created_at=self.at(opened_on),
            updated_at=self.at(opened_on),
        )
        household.family_id = family.id
        self.rows.append(family)
        for member in members:
            self.rows.append(
                FamilyMember(
                    organisation_id=org_id,
                    family_id=family.id,
                    created_at=family.created_at,
                    updated_at=family.created_at,
                    **member,
                )
            )
        return household

    def _members(
        self, kind: HouseholdKind, surname: str, members: list[dict[str, Any]]
    ) -> tuple[str, str]:
        """The household's people (appended to `members`) as its kind says; the main
        caregiver's description ("grandmother Phan Sarin (67)") and the carers' title."""
        caregiver, title = "", kind.title
        for person in kind.people:
            if person.chance is not None and self.rng.random() >= person.chance:
                continue
            relation, sex = person.relations[0]
            if len(person.relations) > 1:
                relation, sex = self.pick(person.relations)
            extra: dict[str, Any] = {}
            if person.caregiver:
                extra["is_caregiver"] = True
            if person.migrated_to is not None:
                extra.update(migrated=True, migration_destination=person.migrated_to)
            if person.notes is not None:
                notes = person.notes
                extra["notes"] = notes if isinstance(notes, str) else self.pick(notes)
            own_surname = relation in (Relation.father, Relation.grandfather)
            family = surname if own_surname else self.pick(FAMILY_NAMES)[0]
            name = f"{family} {self.pick(ADULT_NAMES[sex])}"
            age = self.rng.randint(*person.ages)
            members.append(
                {"name": name, "relation": relation.value, "sex": sex.value, "age": age, **extra}
            )
            if person.main:
                caregiver = f"{relation.value.replace('_', ' ')} {name} ({age})"
                title = title.format(relation=relation.value)
            if person.title is not None:
                title = person.title
        return caregiver, title

    def _child(
        self,
        staff: Staff,
        scenario: Scenario,
        household: Household,
        surname: tuple[str, str],
        worker: User,
        opened_on: date,
    ) -> Child:
        sex = Sex.female if self.rng.random() < scenario.female_share else Sex.male
        given = self.pick(GIVEN_NAMES[sex])
        age = self.rng.randint(*scenario.ages)
        born = self.today - timedelta(days=365 * age + self.rng.randint(0, 364))
        estimated = self.rng.random() < 0.3
        if estimated:
            born = date(born.year, 1, 1)
        registration = self.pick(list(BirthRegistration), scenario.registration)
        if household.family_id is None or (estimated and self.rng.random() < 0.25):
            registration = self.pick(
                [BirthRegistration.not_registered, BirthRegistration.unknown], [60, 40]
            )
        disability = Disability.none
        if ProtectionConcern.disability in scenario.concerns or self.rng.random() < 0.03:
            disability = self.pick(
                [
                    Disability.physical,
                    Disability.intellectual,
                    Disability.sensory,
                    Disability.multiple,
                ],
                [50, 25, 10, 15],
            )
        khmer = self.rng.random() < 0.96  # a few recorded in Latin script only
        names = (
            nfc(given[0]),
            nfc(surname[0]),
            nfc(given[1]) if khmer else None,
            nfc(surname[1]) if khmer else None,
        )
        created = self.at(opened_on)
        child = Child(
            organisation_id=staff.organisation.id,
            family_id=household.family_id,
            given_name_latin=names[0],
            family_name_latin=names[1],
            given_name_khmer=names[2],
            family_name_khmer=names[3],
            search_text=search_key(*names),
            sex=sex.value,
            date_of_birth=born,
            birth_date_estimated=estimated,
            birth_registration=registration.value,
            disability=disability.value,
            schooling_status=self._schooling(scenario, age, registration).value,
            care_arrangement=scenario.care.value,
            province=household.province.value,
            district=household.district,
            commune=household.commune,
            village=household.village,
            created_by=worker.id,
            created_at=created,
            updated_at=created,
        )
        self.rows.append(child)
        return child

    def _schooling(
        self, scenario: Scenario, age: int, registration: BirthRegistration
    ) -> Schooling:
        if age < 5:
            return Schooling.not_school_age
        if scenario.schooling is not None and age >= 7:
            return scenario.schooling
        if registration is BirthRegistration.not_registered and self.rng.random() < 0.4:
            return Schooling.never_attended
        return self.pick(
            [Schooling.enrolled, Schooling.dropped_out, Schooling.not_enrolled, Schooling.unknown],
            [75, 12, 8, 5],
        )

    def _case(
        self,
        staff: Staff,
        scenario: Scenario,
        household: Household,
        child: Child,
        worker: User,
        referral: ReferralSource,
        concerns: list[ProtectionConcern],
        opened_on: date,
        path: list[tuple[CaseStatus, date]],
        children_words: str,
    ) -> None:
        org_id = staff.organisation.id
        status, status_on = path[-1]
        closed = status is CaseStatus.closed
        risk = self.pick(["low", "medium", "high", "emergency"], scenario.risk)
        summary = scenario.summary.format(
            caregiver=household.caregiver,
            caregiver_title=household.caregiver_title.capitalize(),
            children=children_words,
            village=household.village,
        )
        case = Case(
            organisation_id=org_id,
            child_id=child.id,
            family_id=household.family_id,
            assigned_to=worker.id,
            referral_source=referral.value,
            referral_source_detail=self._referral_detail(referral, household),
            risk_level=risk,
            status=status.value,
            opened_on=opened_on,
            summary=summary,
            created_by=worker.id,
            created_at=self.at(opened_on),
            version=len(path),
        )
        self.rows.append(case)
        self.rows.extend(
            CaseConcern(case_id=case.id, concern=c.value, organisation_id=org_id) for c in concerns
        )
        end = status_on if closed else self.today
        if closed:
            case.closed_on = status_on
            case.closure_reason = self._closure_reason(scenario, child, status_on).value
        self._status_changes(staff, case, worker, path)
        reached = {s: on for s, on in path}
        scores = self._assessments(case, worker, scenario, reached, household)
        if CaseStatus.case_plan in reached:
            self._plan(staff, case, scores, reached[CaseStatus.case_plan], status, end, household)
        last_contact = self._follow_ups(case, worker, household, opened_on, end, closed)
        case.last_contact_on = last_contact
        self._notes(case, worker, household, opened_on, end)
        case.updated_at = self.at(max(status_on, last_contact or opened_on))

    def _referral_detail(self, referral: ReferralSource, household: Household) -> str | None:
        province = PROVINCE_NAMES[household.province]
        return {
            ReferralSource.provincial_social_affairs: f"{province} DoSVY",
            ReferralSource.commune_committee: f"CCWC of {household.commune} commune",
            ReferralSource.local_authority: f"Chief of {household.village} village",
            ReferralSource.ngo: "Partner NGO's community outreach team",
            ReferralSource.community: "A neighbour told the caseworker",
            ReferralSource.self: f"{household.caregiver_title.capitalize()} came to the office",
        }[referral]

    def _closure_reason(self, scenario: Scenario, child: Child, closed_on: date) -> ClosureReason:
        born = child.date_of_birth or closed_on
        if (closed_on - born).days >= 17 * 365:
            return ClosureReason.aged_out
        reasons = [r for r in scenario.closures if r is not ClosureReason.aged_out]
        return self.pick(reasons or [ClosureReason.other])

    def _status_changes(
        self, staff: Staff, case: Case, worker: User, path: list[tuple[CaseStatus, date]]
    ) -> None:
        moments = [self.at(on) for _, on in path]
        latest = self.now
        for i in reversed(range(len(moments))):  # strictly in order, even on the same day
            moments[i] = latest = min(moments[i], latest)
            latest -= timedelta(minutes=5)
        previous: CaseStatus | None = None
        for (status, _), moment in zip(path, moments, strict=True):
            closing = status is CaseStatus.closed
            self.rows.append(
                CaseStatusChange(
                    organisation_id=case.organisation_id,
                    case_id=case.id,
                    from_status=previous.value if previous else None,
                    to_status=status.value,
                    closure_reason=case.closure_reason if closing else None,
                    note=self._status_note(status, case),
                    changed_by=worker.id,
                    approved_by=staff.manager.id if closing else None,
                    changed_at=moment,
                )
            )
            previous = status
        if path[-1][0] is CaseStatus.closed:
            closed_on = path[-1][1]
            self._of_case(
                ClosureRequest,
                case,
                reason=case.closure_reason or ClosureReason.other.value,
                note="Goals reviewed with the family; no further support needed",
                closed_on=closed_on,
                status=ClosureRequestStatus.approved.value,
                requested_by=worker.id,
                decided_by=staff.manager.id,
                decided_at=self.at(closed_on),
                decision_comment="Agreed at the monthly case review",
                created=closed_on - timedelta(days=self.rng.randint(1, 7)),
                updated=closed_on,
            )
        elif path[-1][0] is CaseStatus.review and self.rng.random() < 0.3:
            requested_on = max(path[-1][1], self.today - timedelta(days=self.rng.randint(0, 10)))
            self._of_case(
                ClosureRequest,
                case,
                reason=self.pick(
                    [ClosureReason.reunified_with_family, ClosureReason.kinship_care]
                ).value,
                note="Goals achieved; the family can continue without support",
                closed_on=requested_on,  # not in the future: the rule of the API
                requested_by=worker.id,
                created=requested_on,
            )

    def _status_note(self, status: CaseStatus, case: Case) -> str | None:
        return {
            CaseStatus.intake: f"Referral received ({case.referral_source_detail})",
            CaseStatus.assessment: "Initial assessment with the CCWC and the village chief",
            CaseStatus.case_plan: "Case plan drafted with the family",
            CaseStatus.implementation: "Plan agreed; services started",
            CaseStatus.review: "Six-month review of the plan",
            CaseStatus.closed: "Closure approved by the case manager",
        }[status]

    def _assessments(
        self,
        case: Case,
        worker: User,
        scenario: Scenario,
        reached: dict[CaseStatus, date],
        household: Household,
    ) -> dict[casework.CsiDomain, int]:
        scores = {
            domain: self.rng.randint(1, 2)
            if domain in scenario.low_domains
            else self.pick([2, 3, 4], [20, 50, 30])
            for domain in casework.CsiDomain
        }
        if CaseStatus.assessment not in reached:
            return scores
        assessed = [(casework.AssessmentKind.initial, reached[CaseStatus.assessment], scores)]
        if CaseStatus.review in reached:
            improved = {d: min(4, s + self.rng.randint(0, 2)) for d, s in scores.items()}
            assessed.append((casework.AssessmentKind.review, reached[CaseStatus.review], improved))
        for kind, on, values in assessed:
            self._of_case(
                casework.Assessment,
                case,
                kind=kind.value,
                assessed_on=on,
                assessed_by=worker.id,
                domains={
                    d.value: {"score": s, "needs": self.pick(NEEDS[d]) if s <= 2 else None}
                    for d, s in values.items()
                },
                summary=(
                    f"Assessed at home with {household.caregiver_title}"
                    if kind is casework.AssessmentKind.initial
                    else "Review: most domains improved since the initial assessment"
                ),
                created=on,
            )
        return scores

    def _plan(
        self,
        staff: Staff,
        case: Case,
        scores: dict[casework.CsiDomain, int],
        planned_on: date,
        status: CaseStatus,
        end: date,
        household: Household,
    ) -> None:
        domains = sorted(scores, key=lambda d: (scores[d], list(casework.CsiDomain).index(d)))[:3]
        domains = [d for d in domains if scores[d] <= 2] or domains[:1]
        for domain in domains:
            if status is CaseStatus.closed:
                goal_status = self.pick(
                    [casework.GoalStatus.achieved, casework.GoalStatus.discontinued], [85, 15]
                )
            elif status is CaseStatus.review:
                goal_status = self.pick(
                    [casework.GoalStatus.achieved, casework.GoalStatus.open], [40, 60]
                )
            else:
                goal_status = casework.GoalStatus.open
            description, actions = GOALS[domain]
            goal = self._of_case(
                casework.CasePlanGoal,
                case,
                domain=domain.value,
                description=description,
                status=goal_status.value,
                created=planned_on,
                updated=end if goal_status is not casework.GoalStatus.open else planned_on,
            )
            for text in self.rng.sample(actions, self.rng.randint(1, 2)):
                due_on = planned_on + timedelta(days=self.rng.randint(14, 120))
                done_on: date | None = None
                if goal_status is not casework.GoalStatus.open:
                    done_on = min(due_on, end)
                elif due_on < self.today and self.rng.random() < 0.6:
                    done_on = min(
                        self.today, max(planned_on, due_on - timedelta(self.rng.randint(0, 10)))
                    )
                responsible = case.organisation_id
                if (
                    "birth registration" in text
                    and household.province is Province.battambang
                    and self.government is not None
                ):
                    responsible = self.government.id
                self._of_case(
                    casework.CasePlanAction,
                    case,
                    goal_id=goal.id,
                    description=text,
                    responsible_organisation_id=responsible,
                    due_on=due_on,
                    done_on=done_on,
                    created=planned_on,
                    updated=done_on or planned_on,
                )

    def _follow_ups(
        self,
        case: Case,
        worker: User,
        household: Household,
        opened_on: date,
        end: date,
        closed: bool,
    ) -> date | None:
        """Past visits (done or missed) and, for open cases, the next one; the last contact."""
        stop = end
        if not closed and self.rng.random() < 0.15:
            stop = self.today - timedelta(days=self.rng.randint(35, 70))  # no visit for a while
        visits: list[date] = []
        day = opened_on + timedelta(days=self.rng.randint(2, 7))
        while day <= stop:
            visits.append(day)
            day += timedelta(days=self.rng.randint(14, 35))
        last_contact: date | None = None
        fmt = {"caregiver_title": household.caregiver_title}
        for day in visits[-6:]:
            missed = self.rng.random() < 0.1
            kind = self.pick(list(casework.FollowUpKind), [65, 20, 4, 10, 1])
            outcome = self.pick(MISSED_OUTCOMES if missed else VISIT_OUTCOMES).format(**fmt)
            self._of_case(
                casework.FollowUp,
                case,
                kind=kind.value,
                status=(
                    casework.FollowUpStatus.missed if missed else casework.FollowUpStatus.done
                ).value,
                scheduled_on=day,
                done_on=None if missed else day,
                outcome=outcome,
                created_by=worker.id,
                created=day - timedelta(days=7),
                updated=day,
            )
            if not missed:
                last_contact = day
        if not closed:
            overdue = stop < self.today or self.rng.random() < 0.12
            scheduled_on = (
                self.today - timedelta(days=self.rng.randint(1, 21))
                if overdue
                else self.today + timedelta(days=self.rng.randint(1, 28))
            )
            scheduled_on = max(scheduled_on, opened_on)
            self._of_case(
                casework.FollowUp,
                case,
                kind=self.pick(
                    [casework.FollowUpKind.home_visit, casework.FollowUpKind.phone_call],
                    [80, 20],
                ).value,
                scheduled_on=scheduled_on,
                created_by=worker.id,
                created=min(self.today, opened_on + timedelta(days=1)),
                updated=min(self.today, opened_on + timedelta(days=1)),
            )
        return last_contact

    def _notes(
        self, case: Case, worker: User, household: Household, opened_on: date, end: date
    ) -> None:
        fmt = {"caregiver_title": household.caregiver_title.capitalize()}
        texts = [f"First contact. {case.summary}"]
        texts += [n.format(**fmt) for n in self.rng.sample(NOTES, self.rng.randint(0, 3))]
        span = max(0, (end - opened_on).days)
        days = sorted([0] + [self.rng.randint(0, span) for _ in texts[1:]])
        for text, offset in zip(texts, days, strict=True):
            noted_on = opened_on + timedelta(days=offset)
            self._of_case(
                casework.CaseNote,
                case,
                noted_on=noted_on,
                text=text,
                author_id=worker.id,
                created=noted_on,
            )
