"""Demo data for `ovc-api demo`: realistic, and only ever loaded into a throwaway database.

The organisations are fictional, modelled on the kinds of members the network has: a
family-strengthening NGO in Battambang, a residential home in Phnom Penh, an education
charity in Pursat, and the provincial social affairs department that refers cases.

Their cases are generated from the situations the network's members describe (parents who
migrated to Thailand leaving children with grandparents, no birth certificates, emergency
food packages, children brought to beg...), with a fixed random seed and dates relative to
today, so every `ovc-api demo` shows the same people with tasks that are due now.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

from sqlmodel import SQLModel

from ovc_api.auth.passwords import PasswordHasher
from ovc_api.auth.scopes import Role
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
from ovc_api.casework.models import (
    Assessment,
    AssessmentKind,
    CaseNote,
    CasePlanAction,
    CasePlanGoal,
    CsiDomain,
    FollowUp,
    FollowUpKind,
    FollowUpStatus,
    GoalStatus,
)
from ovc_api.children.models import (
    BirthRegistration,
    CareArrangement,
    Child,
    Disability,
    Schooling,
    Sex,
)
from ovc_api.clock import local_today
from ovc_api.db import Database, set_tenant_context, utcnow
from ovc_api.demo_sharing import build_sharing
from ovc_api.families.models import Family, FamilyMember, IdPoorStatus, IncomeSource, Relation
from ovc_api.geography import PROVINCE_NAMES, Province
from ovc_api.organisations.models import Organisation, OrganisationKind
from ovc_api.settings import Settings
from ovc_api.text import nfc, search_key
from ovc_api.users.bootstrap import add_user, network_organisation
from ovc_api.users.models import User

DEMO_PASSWORD = "demo-Sunrise-2026"  # noqa: S105 - printed by `ovc-api demo`; the demo database only
DEMO_SEED = 855  # any fixed seed: the same demo on every run

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

# --- names, in Latin and Khmer script ---------------------------------------------------

FAMILY_NAMES: list[tuple[str, str]] = [
    ("Chan", "ចាន់"),
    ("Sok", "សុខ"),
    ("Keo", "កែវ"),
    ("Kim", "គីម"),
    ("Phan", "ផាន់"),
    ("Heng", "ហេង"),
    ("Ly", "លី"),
    ("Lim", "លឹម"),
    ("Meas", "មាស"),
    ("Chea", "ជា"),
    ("Nhem", "ញឹម"),
    ("Pich", "ពេជ្រ"),
    ("Sorn", "សន"),
    ("Sam", "សំ"),
    ("Mao", "ម៉ៅ"),
    ("Touch", "ទូច"),
    ("Chhun", "ឈុន"),
    ("Long", "ឡុង"),
    ("Yim", "យឹម"),
    ("Oum", "អ៊ុំ"),
    ("Seng", "សេង"),
    ("Prak", "ប្រាក់"),
    ("Nuon", "នួន"),
    ("Khun", "ឃុន"),
    ("Tep", "ទេព"),
    ("Ouk", "អ៊ុក"),
    ("Vong", "វង្ស"),
    ("Pen", "ប៉ែន"),
    ("Sin", "ស៊ិន"),
    ("Mey", "ម៉ី"),
    ("Un", "អ៊ុន"),
    ("Bun", "ប៊ុន"),
    ("Thach", "ថាច់"),
    ("Ros", "រស់"),
    ("Yin", "យិន"),
]
GIVEN_NAMES: dict[Sex, list[tuple[str, str]]] = {
    Sex.female: [
        ("Sreyneang", "ស្រីនាង"),
        ("Sreymom", "ស្រីមុំ"),
        ("Sreypov", "ស្រីពៅ"),
        ("Sreyleak", "ស្រីល័ក្ខ"),
        ("Sreynich", "ស្រីនិច"),
        ("Sreypich", "ស្រីពេជ្រ"),
        ("Sophea", "សុភា"),
        ("Sokha", "សុខា"),
        ("Channary", "ចាន់ណារី"),
        ("Bopha", "បុប្ផា"),
        ("Chenda", "ចិន្តា"),
        ("Dalin", "ដាលីន"),
        ("Kanha", "កញ្ញា"),
        ("Lina", "លីណា"),
        ("Malis", "ម្លិះ"),
        ("Nary", "ណារី"),
        ("Phalla", "ផល្លា"),
        ("Reaksmey", "រស្មី"),
        ("Sopheap", "សុភាព"),
        ("Sothea", "សុធា"),
        ("Theary", "ធារី"),
        ("Kunthea", "គន្ធា"),
        ("Leakhena", "លក្ខិណា"),
        ("Pisey", "ពិសី"),
        ("Chantha", "ចន្ថា"),
        ("Rachana", "រចនា"),
        ("Davy", "ដាវី"),
        ("Thida", "ធីតា"),
    ],
    Sex.male: [
        ("Dara", "ដារា"),
        ("Vuthy", "វុទ្ធី"),
        ("Piseth", "ពិសិដ្ឋ"),
        ("Sokhom", "សុខុម"),
        ("Rithy", "រិទ្ធី"),
        ("Visal", "វិសាល"),
        ("Vichea", "វិជ្ជា"),
        ("Sovann", "សុវណ្ណ"),
        ("Kosal", "កុសល"),
        ("Bunthoeun", "ប៊ុនធឿន"),
        ("Chamroeun", "ចំរើន"),
        ("Sambath", "សម្បត្តិ"),
        ("Rathana", "រតនា"),
        ("Pheakdey", "ភក្តី"),
        ("Makara", "មករា"),
        ("Seyha", "សីហា"),
        ("Vibol", "វិបុល"),
        ("Veasna", "វាសនា"),
        ("Kimhong", "គីមហុង"),
        ("Sothy", "សុធី"),
        ("Panha", "បញ្ញា"),
        ("Mony", "មុនី"),
        ("Narith", "នរិទ្ធ"),
        ("Virak", "វីរៈ"),
        ("Kakada", "កក្កដា"),
        ("Vanna", "វណ្ណា"),
    ],
}
# Adults (family members) are recorded by their Latin name only, family name first.
ADULT_NAMES: dict[Sex, list[str]] = {
    Sex.female: [
        "Sarin", "Yorn", "Khorn", "Phoeun", "Saroeun", "Sophal", "Chanthou", "Nhor",
        "Mom", "Savoeun", "Than", "Vy", "Samphors", "Chenda", "Sokhom", "Leng",
    ],
    Sex.male: [
        "Chhorn", "Phal", "Yen", "Thon", "Chhay", "Ran", "Sarun", "Pov",
        "Khem", "Samnang", "Sophan", "Vannak", "Bora", "Chanthy", "Rin", "Sokun",
    ],
}  # fmt: skip

# --- places: real districts and communes ------------------------------------------------

DISTRICTS: dict[Province, dict[str, tuple[str, ...]]] = {
    Province.battambang: {
        "Bavel": ("Bavel", "Khnach Romeas", "Lvea", "Prey Khpos", "Ampil Pram Daeum",
                  "Kdol Tahen"),
        "Moung Ruessei": ("Moung", "Kear", "Prey Svay", "Ruessei Krang", "Chrey", "Ta Loas",
                          "Kakaoh", "Prey Touch", "Robas Mongkol"),
        "Sangkae": ("Anlong Vil", "Norea", "Ta Pon", "Roka", "Kampong Preah", "Kampong Prieng",
                    "Reang Kesei", "Ou Dambang Muoy", "Ou Dambang Pir", "Voat Ta Muem"),
        "Thma Koul": ("Ta Pung", "Ta Meun", "Ou Ta Ki", "Chrey", "Anlong Run", "Chrouy Sdau",
                      "Boeng Pring", "Kouk Khmum", "Bansay Traeng", "Rung Chrey"),
        "Kamrieng": ("Kamrieng", "Boeng Reang", "Ou Da", "Trang", "Ta Saen", "Ta Krei"),
        "Sampov Lun": ("Sampov Lun", "Ta Sda", "Chrey Seima", "Santepheap"),
        "Rattanak Mondul": ("Sdau", "Andaeuk Haeb", "Phlov Meas", "Traeng"),
        "Banan": ("Kantueu Muoy", "Kantueu Pir", "Bay Damram", "Chheu Teal", "Phnum Sampov",
                  "Snoeng", "Ta Kream"),
    },
    Province.banteay_meanchey: {
        "Ou Chrov": ("Changha", "Koub", "Kuttasat", "Samraong", "Souphi", "Soengh",
                     "Ou Bei Choan"),
        "Malai": ("Malai", "Ou Sralau", "Ou Sampor", "Tuol Pongro", "Boeng Beng", "Ta Kong"),
        "Thma Puok": ("Banteay Chhmar", "Kouk Romiet", "Thma Puok", "Kouk Kakthen", "Kumru"),
        "Mongkol Borei": ("Banteay Neang", "Bat Trang", "Chamnaom", "Kouk Ballangk",
                          "Koy Maeng", "Ou Prasat", "Ruessei Kraok", "Ta Lam"),
        "Serei Saophoan": ("Kampong Svay", "Mkak", "Ou Ambel", "Phniet", "Preah Ponlea",
                           "Tuek Thla"),
    },
    Province.pailin: {
        "Pailin": ("Pailin", "Ou Tavau", "Tuol Lvea", "Bar Yakha"),
        "Sala Krau": ("Sala Krau", "Stueng Trang", "Stueng Kach", "Ou Andoung"),
    },
    Province.phnom_penh: {
        "Chamkar Mon": ("Tonle Basak", "Tuol Tumpung Ti Muoy", "Tuol Tumpung Ti Pir",
                        "Tuol Svay Prey Ti Muoy", "Tuol Svay Prey Ti Pir"),
        "Meanchey": ("Stueng Mean Chey", "Boeng Tumpun", "Chak Angrae Leu", "Chak Angrae Kraom"),
        "Russey Keo": ("Russey Keo", "Tuol Sangkae", "Kilomaetr Lekh Prammuoy"),
        "Sen Sok": ("Phnom Penh Thmei", "Tuek Thla", "Khmuonh"),
        "Dangkao": ("Dangkao", "Prey Veaeng", "Cheung Aek", "Kong Noy"),
        "Chbar Ampov": ("Chbar Ampov Ti Muoy", "Nirouth", "Preaek Pra", "Veal Sbov"),
        "Por Senchey": ("Kakab", "Chaom Chau", "Samraong Kraom"),
    },
    Province.kandal: {
        "Kien Svay": ("Kbal Kaoh", "Kokir", "Banteay Daek", "Chheu Teal", "Preaek Aeng",
                      "Dei Edth"),
        "S'ang": ("Preaek Koy", "Kaoh Khael", "Svay Prateal", "Roka Khpos", "Traeuy Sla"),
        "Ta Khmau": ("Ta Khmau", "Preaek Hou", "Kampong Samnanh", "Daeum Mien"),
        "Ponhea Lueu": ("Vihear Luong", "Ponhea Lueu", "Preaek Ta Kov", "Phsar Daek"),
        "Khsach Kandal": ("Kaoh Chen", "Preaek Ampil", "Preaek Luong", "Vihear Suork"),
    },
    Province.pursat: {
        "Bakan": ("Boeng Bat Kandaol", "Boeng Khnar", "Khnar Totueng", "Me Tuek",
                  "Ou Ta Paong", "Rumlech", "Snam Preah", "Svay Doun Kaev", "Ta Lou",
                  "Trapeang Chong"),
        "Krakor": ("Anlong Tnaot", "Ansa Chambak", "Boeng Kantuot", "Chheu Tom",
                   "Kampong Luong", "Kampong Pou", "Kbal Trach", "Ou Sandan", "Svay Sa"),
        "Phnum Kravanh": ("Bak Chenhchien", "Leach", "Phteah Rung", "Prongil", "Rokat",
                          "Santreae", "Samraong"),
        "Kandieng": ("Anlong Vil", "Kandieng", "Kanhchor", "Reang Til", "Srae Sdok",
                     "Svay Luong", "Sya", "Veal"),
        "Veal Veaeng": ("Ou Saom", "Krapeu Pir", "Anlong Reap", "Pramaoy", "Thma Da"),
    },
    Province.kampong_chhnang: {
        "Rolea B'ier": ("Andoung Snay", "Banteay Preal", "Cheung Kreav", "Chrey Bak",
                        "Kouk Banteay", "Krang Leav", "Pongro", "Prasnoeb", "Prey Mul",
                        "Rolea B'ier", "Srae Thmei", "Svay Chrum", "Tuek Hout"),
        "Tuek Phos": ("Akphivoadth", "Chieb", "Chaong Maong", "Kbal Tuek", "Khlong Popok",
                      "Krang Skear", "Tang Krasang", "Tuol Khpos"),
        "Kampong Tralach": ("Ampil Tuek", "Chhuk Sa", "Chres", "Kampong Tralach", "Longveaek",
                            "Ou Ruessei", "Peani", "Saeb", "Ta Ches", "Thma Edth"),
        "Baribour": ("Anhchanh Rung", "Chhnok Tru", "Chak", "Khon Rang", "Melum", "Ponley",
                     "Trapeang Chan"),
    },
}  # fmt: skip
VILLAGES = (
    "Ou Lmun", "Kdol", "Prey Totueng", "Trapeang Thma", "Chrey Thmei", "Ta Kream", "Ou Ambel",
    "Phum Thmei", "Doun Teav", "Boeng Reang", "Ampil", "Svay Sor", "Kouk Trom", "Prey Kduoch",
    "Thnal Bat", "Spean", "Ta Sei", "Boeng Chhuk", "Rom Lech", "Ou Russei", "Prey Chrov",
    "Kbal Spean", "Trapeang Veng", "Samraong", "Chamkar Chek", "Kouk Chor",
)  # fmt: skip


# --- who the children are: the situations the network's members describe ---------------


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


C, CA, D = ProtectionConcern, CareArrangement, CsiDomain
IS, R = IncomeSource, ClosureReason
SCENARIOS: dict[str, Scenario] = {
    "left_behind": Scenario(
        CA.kinship_care,
        (C.left_behind_by_migration,),
        (C.lack_of_food, C.out_of_school, C.no_birth_certificate, C.neglect),
        (20, 45, 30, 5),
        (2, 15),
        (45, 35, 20),
        "grandparents",
        (IS.remittances, IS.farming, IS.daily_labour),
        (D.food_and_nutrition, D.education, D.shelter_and_care),
        "Parents migrated to Thailand for work; {caregiver} cares for {children} in {village} "
        "village. Money from Thailand is irregular and rice runs out before the month ends.",
        (R.kinship_care, R.kinship_care, R.reunified_with_family, R.other),
    ),
    "grandfather": Scenario(
        CA.kinship_care,
        (C.left_behind_by_migration, C.lack_of_food),
        (C.abandonment, C.out_of_school),
        (10, 45, 40, 5),
        (4, 14),
        (0, 40, 60),
        "grandfather",
        (IS.daily_labour, IS.remittances),
        (D.food_and_nutrition, D.health, D.education),
        "An old grandfather cares for {children}; the parents divorced and both left to work "
        "in Thailand. He is often sick, cannot find regular work and does not want to send "
        "the children to an orphanage.",
        (R.kinship_care, R.kinship_care, R.other),
        female_share=0.2,
    ),
    "begging": Scenario(
        CA.kinship_care,
        (C.begging_or_child_labour, C.out_of_school),
        (C.exploitation, C.neglect, C.lack_of_food, C.violence),
        (5, 35, 50, 10),
        (6, 14),
        (40, 40, 20),
        "grandparents",
        (IS.daily_labour, IS.none),
        (D.education, D.protection, D.psychosocial),
        "{caregiver_title} brings {children} to beg along the road and collect plastic bottles "
        "to sell (Et Chay); the children have stopped going to school.",
        (R.kinship_care, R.reunified_with_family, R.other),
        schooling=Schooling.dropped_out,
    ),
    "disability": Scenario(
        CA.kinship_care,
        (C.disability, C.left_behind_by_migration),
        (C.lack_of_food, C.medical_emergency),
        (5, 35, 45, 15),
        (3, 14),
        (85, 15, 0),
        "grandparents",
        (IS.remittances, IS.daily_labour),
        (D.health, D.food_and_nutrition, D.education),
        "Child with a disability left with {caregiver} while the parents work in Thailand; "
        "often sick from poor nutrition. The mother would like to come back but worries about "
        "supporting herself.",
        (R.reunified_with_family, R.kinship_care, R.other),
        female_share=0.4,
    ),
    "single_mother": Scenario(
        CA.single_parent,
        (C.lack_of_food,),
        (C.out_of_school, C.no_birth_certificate, C.neglect),
        (25, 50, 22, 3),
        (1, 15),
        (40, 40, 20),
        "single_mother",
        (IS.daily_labour, IS.small_business),
        (D.food_and_nutrition, D.shelter_and_care, D.education),
        "Single mother supports {children} and her own old, sick parents on daily-labour "
        "income; the household runs out of food most months.",
        (R.other, R.other, R.reunified_with_family),
    ),
    "medical": Scenario(
        CA.single_parent,
        (C.medical_emergency,),
        (C.lack_of_food,),
        (0, 10, 40, 50),
        (3, 14),
        (100, 0, 0),
        "single_mother",
        (IS.daily_labour,),
        (D.health, D.food_and_nutrition, D.psychosocial),
        "Burned in a gas-bottle explosion at home; the single mother cannot pay for treatment "
        "and also cares for her old, sick parents and two other children.",
        (R.other,),
        female_share=0.3,
    ),
    "violence": Scenario(
        CA.parents,
        (C.violence,),
        (C.neglect, C.out_of_school, C.exploitation),
        (0, 30, 55, 15),
        (4, 16),
        (50, 35, 15),
        "parents",
        (IS.daily_labour, IS.farming),
        (D.protection, D.psychosocial, D.education),
        "Domestic violence reported by the village chief: the father drinks and beats the "
        "children and their mother. Counselling and a safety plan agreed with the family.",
        (R.other, R.other, R.kinship_care, R.transferred),
    ),
    "neighbour": Scenario(
        CA.other,
        (C.left_behind_by_migration, C.neglect),
        (C.lack_of_food, C.no_birth_certificate, C.out_of_school),
        (10, 40, 40, 10),
        (3, 13),
        (60, 30, 10),
        "neighbour",
        (IS.daily_labour, IS.farming),
        (D.shelter_and_care, D.food_and_nutrition, D.protection),
        "Left with a neighbour when the parents crossed to Thailand without documents; no "
        "contact with the parents for months. Family tracing started with the CCWC.",
        (R.kinship_care, R.reunified_with_family, R.foster_care),
    ),
    "no_birth_certificate": Scenario(
        CA.parents,
        (C.no_birth_certificate,),
        (C.out_of_school, C.lack_of_food),
        (50, 40, 10, 0),
        (3, 15),
        (30, 40, 30),
        "parents",
        (IS.farming, IS.daily_labour),
        (D.protection, D.education),
        "Poor family far from the commune centre in {village} village; the children have no "
        "birth certificate, so school enrolment and health services are refused.",
        (R.other,),
        registration=(0, 20, 75, 5),
    ),
    "dropout": Scenario(
        CA.parents,
        (C.out_of_school,),
        (C.begging_or_child_labour, C.lack_of_food),
        (40, 45, 15, 0),
        (10, 16),
        (60, 30, 10),
        "parents",
        (IS.farming, IS.fishing, IS.daily_labour),
        (D.education, D.food_and_nutrition),
        "Dropped out of school to help on the farm and look after younger siblings; the "
        "parents are in debt after a failed rice harvest.",
        (R.other, R.other, R.aged_out),
        schooling=Schooling.dropped_out,
    ),
    "residential": Scenario(
        CA.residential_care,
        (C.abandonment,),
        (C.no_birth_certificate, C.neglect, C.medical_emergency),
        (5, 40, 45, 10),
        (1, 15),
        (75, 20, 5),
        "relatives",
        (IS.daily_labour, IS.farming),
        (D.shelter_and_care, D.psychosocial, D.protection),
        "Brought to the children's home by the commune after being found alone; family "
        "tracing under way so the child can go back to family-based care.",
        (
            R.reunified_with_family,
            R.reunified_with_family,
            R.kinship_care,
            R.foster_care,
            R.long_term_residential_care,
        ),
    ),
    "foster": Scenario(
        CA.foster_care,
        (C.abandonment,),
        (C.neglect, C.no_birth_certificate),
        (15, 55, 25, 5),
        (0, 12),
        (80, 20, 0),
        "foster",
        (IS.salaried_work, IS.small_business),
        (D.shelter_and_care, D.psychosocial),
        "Placed with a trained foster family by DoSVY after the mother died and the father "
        "could not be traced.",
        (R.foster_care, R.reunified_with_family),
    ),
    "sexual_abuse": Scenario(
        CA.kinship_care,
        (C.sexual_abuse,),
        (C.violence, C.out_of_school),
        (0, 0, 40, 60),
        (8, 16),
        (100, 0, 0),
        "relatives",
        (IS.daily_labour,),
        (D.protection, D.psychosocial, D.health),
        "Sexual abuse reported to the commune police; the child now lives with an aunt and "
        "receives counselling. Court case followed with DoSVY.",
        (R.kinship_care, R.transferred),
        female_share=0.8,
    ),
    "street": Scenario(
        CA.single_parent,
        (C.begging_or_child_labour, C.exploitation),
        (C.out_of_school, C.violence),
        (5, 40, 45, 10),
        (7, 15),
        (55, 35, 10),
        "single_mother",
        (IS.daily_labour, IS.salaried_work),
        (D.education, D.protection, D.psychosocial),
        "Sells flowers and collects cans near the riverside at night; the family rents one "
        "room and the mother works long shifts in a garment factory.",
        (R.other, R.aged_out, R.transferred),
        schooling=Schooling.dropped_out,
    ),
}
del C, CA, D, IS, R


@dataclass(frozen=True)
class OrganisationProfile:
    """How many cases an organisation holds, where, of which kinds, referred by whom."""

    cases: int
    areas: tuple[tuple[Province, str | None, int], ...]  # (province, district or any, weight)
    scenarios: tuple[tuple[str, int], ...]
    referrals: tuple[tuple[ReferralSource, int], ...]


P, RS = Province, ReferralSource
PROFILES: dict[str, OrganisationProfile] = {
    "KFSO": OrganisationProfile(
        120,
        (
            (P.battambang, "Bavel", 40),
            (P.battambang, "Moung Ruessei", 12),
            (P.battambang, "Sangkae", 8),
            (P.battambang, None, 14),
            (P.banteay_meanchey, None, 20),
            (P.pailin, None, 6),
        ),
        (
            ("left_behind", 30), ("grandfather", 7), ("begging", 9), ("disability", 7),
            ("single_mother", 10), ("medical", 4), ("violence", 9), ("neighbour", 7),
            ("no_birth_certificate", 8), ("dropout", 4), ("sexual_abuse", 3),
        ),
        ((RS.provincial_social_affairs, 35), (RS.local_authority, 30),
         (RS.commune_committee, 20), (RS.community, 10), (RS.self, 5)),
    ),
    "LOTUS": OrganisationProfile(
        65,
        ((P.phnom_penh, None, 65), (P.kandal, None, 35)),
        (
            ("residential", 40), ("foster", 12), ("street", 15), ("violence", 10),
            ("sexual_abuse", 6), ("single_mother", 8), ("medical", 5), ("left_behind", 4),
        ),
        ((RS.provincial_social_affairs, 45), (RS.ngo, 20), (RS.local_authority, 20),
         (RS.community, 15)),
    ),
    "BFEC": OrganisationProfile(
        95,
        (
            (P.pursat, "Bakan", 30),
            (P.pursat, None, 30),
            (P.kampong_chhnang, None, 25),
            (P.battambang, "Moung Ruessei", 10),
            (P.battambang, "Bavel", 5),
        ),
        (
            ("no_birth_certificate", 30), ("dropout", 22), ("left_behind", 18),
            ("single_mother", 12), ("disability", 6), ("begging", 5), ("violence", 7),
        ),
        ((RS.commune_committee, 35), (RS.community, 25), (RS.local_authority, 20),
         (RS.self, 10), (RS.ngo, 10)),
    ),
    "DOSVY-BTB": OrganisationProfile(
        20,
        ((P.battambang, "Bavel", 30), (P.battambang, "Sangkae", 20), (P.battambang, None, 50)),
        (
            ("violence", 20), ("sexual_abuse", 10), ("foster", 15), ("left_behind", 20),
            ("begging", 15), ("medical", 10), ("neighbour", 10),
        ),
        ((RS.local_authority, 45), (RS.commune_committee, 35), (RS.community, 20)),
    ),
}  # fmt: skip
del P, RS
DEMO_CASES: dict[str, int] = {name: profile.cases for name, profile in PROFILES.items()}

GOALS: dict[CsiDomain, tuple[str, tuple[str, ...]]] = {
    CsiDomain.food_and_nutrition: (
        "The household has enough food every month",
        (
            "Deliver an emergency food package (rice 50 kg, canned fish, fish sauce, oil)",
            "Refer the household to the commune for the ID Poor assessment",
            "Start a home vegetable garden and chicken raising with the caregiver",
        ),
    ),
    CsiDomain.shelter_and_care: (
        "The child lives safely in family-based care",
        (
            "Trace the parents and relatives with the CCWC",
            "Kinship-care support: monthly visit and cash support for six months",
            "Monthly phone call with the mother in Thailand",
            "Repair the roof before the rainy season",
        ),
    ),
    CsiDomain.protection: (
        "The child has a birth certificate and is safe at home",
        (
            "Collect witness statements for late birth registration",
            "Accompany the family to the commune office for late birth registration",
            "Agree a safety plan with the family and the village chief",
            "Positive-parenting sessions with the caregivers (six sessions)",
        ),
    ),
    CsiDomain.health: (
        "The child is treated and has regular check-ups",
        (
            "Accompany the child to the provincial referral hospital",
            "Apply for the Health Equity Fund with the ID Poor card",
            "Monthly check-up at the health centre",
        ),
    ),
    CsiDomain.psychosocial: (
        "The child and caregiver cope better",
        (
            "Basic counselling sessions with the child",
            "Join the village youth group on Saturdays",
            "Counselling for the caregiver on stress and positive discipline",
        ),
    ),
    CsiDomain.education: (
        "The child is back at school and attends regularly",
        (
            "Meet the school director to re-enrol the child",
            "Provide a uniform, a bicycle and study materials",
            "Monthly attendance check with the class teacher",
        ),
    ),
}
NEEDS: dict[CsiDomain, tuple[str, ...]] = {
    CsiDomain.food_and_nutrition: (
        "Eats twice a day; rice runs out before the end of the month",
        "Underweight; the family skips meals when there is no work",
    ),
    CsiDomain.shelter_and_care: (
        "Lives with an elderly caregiver who cannot work",
        "House damaged by the last flood; the roof leaks",
        "No adult caregiver at home during the day",
    ),
    CsiDomain.protection: (
        "No birth certificate",
        "Violence at home reported by neighbours",
        "Brought to beg along the road",
    ),
    CsiDomain.health: (
        "Often sick; no money for the health centre",
        "Needs treatment the family cannot afford",
    ),
    CsiDomain.psychosocial: (
        "Withdrawn and sad since the mother left",
        "Nightmares and fear of adults",
    ),
    CsiDomain.education: (
        "Has not attended school for several months",
        "Never enrolled: no birth certificate",
        "Attends irregularly; helps in the rice field",
    ),
}
VISIT_OUTCOMES = (
    "Home visit: {caregiver_title} and the children at home; rice stock enough for two weeks.",
    "Home visit: the children were at school; talked with {caregiver_title} about the plan.",
    "Phone call with the mother in Thailand; she sent money last week.",
    "School visit: attendance good this month; the teacher is happy with progress.",
    "Home visit: the child was sick with fever; advised to go to the health centre.",
    "Home visit: food package delivered; the family joined the village savings group.",
    "Visit with the CCWC focal person; the commune will follow the family monthly.",
)
MISSED_OUTCOMES = (
    "Nobody at home; a neighbour said {caregiver_title} was working in the rice field.",
    "Road flooded; could not reach the village.",
)
NOTES = (
    "Case conference with the CCWC, the commune chief and the school director: agreed who "
    "does what and when.",
    "{caregiver_title} says the children eat better since the food package; asked about "
    "vocational training for the mother when she returns.",
    "Met the school director: the child can attend while the birth certificate is being processed.",
    "The mother called from Thailand; she plans to come back after the harvest season.",
    "Neighbours report no more violence at home since the safety plan.",
    "The ID Poor card application was submitted at the commune office.",
    "The child is quieter than last month; will ask the counsellor to visit.",
)


# --- building the rows ------------------------------------------------------------------

T = TypeVar("T")
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
class _Staff:
    organisation: Organisation
    caseworker: User
    manager: User


@dataclass
class _Household:
    """Where and with whom the children of one or more sibling cases live."""

    province: Province
    district: str
    commune: str
    village: str
    family_id: uuid.UUID | None
    caregiver: str  # "grandmother Phan Sarin (67)"
    caregiver_title: str  # "the grandmother"


class _DemoBuilder:
    """Generates every demo case with its child, family and casework, deterministically."""

    def __init__(self, seed: int, today: date, government: Organisation | None) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - demo data, not secrets
        self.today = today
        self.now = utcnow()
        self.government = government
        self.rows: list[SQLModel] = []

    # small helpers

    def pick(self, options: Sequence[T], weights: Sequence[int] | None = None) -> T:
        return self.rng.choices(options, weights=weights)[0]

    def at(self, day: date) -> datetime:
        """A working-hours time on that day in Phnom Penh (UTC+7), never in the future."""
        moment = datetime.combine(day, time(1 + self.rng.randint(0, 9), self.rng.randint(0, 59)))
        return min(moment.replace(tzinfo=UTC), self.now)

    def days_ago(self, low: int, high: int) -> date:
        return self.today - timedelta(days=self.rng.randint(low, high))

    # the organisation's cases

    def build(self, staff: _Staff, profile: OrganisationProfile) -> int:
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
        staff: _Staff,
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
        staff: _Staff,
        profile: OrganisationProfile,
        scenario: Scenario,
        surname: str,
        opened_on: date,
    ) -> _Household:
        province, district, commune, village = self._location(profile)
        org_id = staff.organisation.id
        members: list[dict[str, Any]] = []
        kind = scenario.household
        if kind == "relatives" and scenario.care is CareArrangement.residential_care:
            kind = "relatives" if self.rng.random() < 0.6 else "none"

        def person(relation: Relation, sex: Sex, ages: tuple[int, int], **extra: Any) -> str:
            family = (
                surname
                if relation in (Relation.father, Relation.grandfather)
                else (self.pick(FAMILY_NAMES)[0])
            )
            name = f"{family} {self.pick(ADULT_NAMES[sex])}"
            age = self.rng.randint(*ages)
            members.append(
                {"name": name, "relation": relation.value, "sex": sex.value, "age": age, **extra}
            )
            return f"{relation.value.replace('_', ' ')} {name} ({age})"

        def migrated_parents(note: str | None = None) -> None:
            person(
                Relation.mother,
                Sex.female,
                (23, 40),
                migrated=True,
                migration_destination="Thailand",
                notes=note
                or self.pick(
                    [
                        "Works in a factory in Thailand; sends money every two or three months",
                        "Construction work in Thailand; rarely calls",
                        "Crossed without documents; no contact since last year",
                        "Would like to come back but worries how to support herself",
                    ]
                ),
            )
            if self.rng.random() < 0.75:
                person(
                    Relation.father,
                    Sex.male,
                    (25, 45),
                    migrated=True,
                    migration_destination="Thailand",
                    notes=note or "Works on farms in Thailand; comes home for Khmer New Year",
                )

        caregiver, title = "", "the caregiver"
        if kind == "grandparents":
            caregiver = person(Relation.grandmother, Sex.female, (55, 78), is_caregiver=True)
            title = "the grandmother"
            if self.rng.random() < 0.45:
                person(
                    Relation.grandfather,
                    Sex.male,
                    (58, 82),
                    is_caregiver=True,
                    notes=self.pick([None, "Sick; cannot work", "Collects firewood to sell"]),
                )
                title = "the grandparents"
            migrated_parents()
        elif kind == "grandfather":
            caregiver = person(
                Relation.grandfather,
                Sex.male,
                (65, 82),
                is_caregiver=True,
                notes="Old and often sick; cannot find regular work",
            )
            title = "the grandfather"
            migrated_parents("Divorced; left to work in Thailand")
        elif kind == "single_mother":
            caregiver = person(Relation.mother, Sex.female, (24, 42), is_caregiver=True)
            title = "the mother"
            person(Relation.grandmother, Sex.female, (62, 80), notes="Old and sick")
            if self.rng.random() < 0.5:
                person(Relation.grandfather, Sex.male, (65, 84), notes="Old and sick")
            if self.rng.random() < 0.3:
                person(
                    Relation.father,
                    Sex.male,
                    (26, 45),
                    migrated=True,
                    migration_destination="Thailand",
                    notes="Left the family; does not send money",
                )
        elif kind == "parents":
            caregiver = person(Relation.mother, Sex.female, (24, 45), is_caregiver=True)
            title = "the parents"
            person(Relation.father, Sex.male, (26, 50), is_caregiver=True)
            if self.rng.random() < 0.4:
                person(Relation.grandmother, Sex.female, (55, 80))
        elif kind == "neighbour":
            caregiver = person(Relation.neighbour, Sex.female, (38, 65), is_caregiver=True)
            title = "the neighbour"
            migrated_parents("Crossed to Thailand without documents; no contact")
        elif kind == "relatives":
            relation, sex = self.pick([(Relation.aunt, Sex.female), (Relation.uncle, Sex.male)])
            caregiver = person(relation, sex, (28, 52), is_caregiver=True)
            title = f"the {relation.value}"
        elif kind == "foster":
            caregiver = person(
                Relation.foster_parent,
                Sex.female,
                (35, 55),
                is_caregiver=True,
                notes="Trained foster carer approved by DoSVY",
            )
            title = "the foster mother"
            person(Relation.foster_parent, Sex.male, (36, 58), is_caregiver=True)

        household = _Household(province, district, commune, village, None, caregiver, title)
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

    def _child(
        self,
        staff: _Staff,
        scenario: Scenario,
        household: _Household,
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
        staff: _Staff,
        scenario: Scenario,
        household: _Household,
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

    def _referral_detail(self, referral: ReferralSource, household: _Household) -> str | None:
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
        self, staff: _Staff, case: Case, worker: User, path: list[tuple[CaseStatus, date]]
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
            self.rows.append(
                ClosureRequest(
                    organisation_id=case.organisation_id,
                    case_id=case.id,
                    reason=case.closure_reason or ClosureReason.other.value,
                    note="Goals reviewed with the family; no further support needed",
                    closed_on=closed_on,
                    status=ClosureRequestStatus.approved.value,
                    requested_by=worker.id,
                    decided_by=staff.manager.id,
                    decided_at=self.at(closed_on),
                    decision_comment="Agreed at the monthly case review",
                    created_at=self.at(closed_on - timedelta(days=self.rng.randint(1, 7))),
                    updated_at=self.at(closed_on),
                )
            )
        elif path[-1][0] is CaseStatus.review and self.rng.random() < 0.3:
            requested_on = max(path[-1][1], self.today - timedelta(days=self.rng.randint(0, 10)))
            self.rows.append(
                ClosureRequest(
                    organisation_id=case.organisation_id,
                    case_id=case.id,
                    reason=self.pick(
                        [ClosureReason.reunified_with_family, ClosureReason.kinship_care]
                    ).value,
                    note="Goals achieved; the family can continue without support",
                    closed_on=self.today + timedelta(days=self.rng.randint(3, 14)),
                    requested_by=worker.id,
                    created_at=self.at(requested_on),
                    updated_at=self.at(requested_on),
                )
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
        household: _Household,
    ) -> dict[CsiDomain, int]:
        scores = {
            domain: self.rng.randint(1, 2)
            if domain in scenario.low_domains
            else self.pick([2, 3, 4], [20, 50, 30])
            for domain in CsiDomain
        }
        if CaseStatus.assessment not in reached:
            return scores
        assessed = [(AssessmentKind.initial, reached[CaseStatus.assessment], scores)]
        if CaseStatus.review in reached:
            improved = {d: min(4, s + self.rng.randint(0, 2)) for d, s in scores.items()}
            assessed.append((AssessmentKind.review, reached[CaseStatus.review], improved))
        for kind, on, values in assessed:
            self.rows.append(
                Assessment(
                    organisation_id=case.organisation_id,
                    case_id=case.id,
                    kind=kind.value,
                    assessed_on=on,
                    assessed_by=worker.id,
                    domains={
                        d.value: {"score": s, "needs": self.pick(NEEDS[d]) if s <= 2 else None}
                        for d, s in values.items()
                    },
                    summary=(
                        f"Assessed at home with {household.caregiver_title}"
                        if kind is AssessmentKind.initial
                        else "Review: most domains improved since the initial assessment"
                    ),
                    created_at=self.at(on),
                    updated_at=self.at(on),
                )
            )
        return scores

    def _plan(
        self,
        staff: _Staff,
        case: Case,
        scores: dict[CsiDomain, int],
        planned_on: date,
        status: CaseStatus,
        end: date,
        household: _Household,
    ) -> None:
        domains = sorted(scores, key=lambda d: (scores[d], list(CsiDomain).index(d)))[:3]
        domains = [d for d in domains if scores[d] <= 2] or domains[:1]
        for domain in domains:
            if status is CaseStatus.closed:
                goal_status = self.pick([GoalStatus.achieved, GoalStatus.discontinued], [85, 15])
            elif status is CaseStatus.review:
                goal_status = self.pick([GoalStatus.achieved, GoalStatus.open], [40, 60])
            else:
                goal_status = GoalStatus.open
            description, actions = GOALS[domain]
            goal = CasePlanGoal(
                organisation_id=case.organisation_id,
                case_id=case.id,
                domain=domain.value,
                description=description,
                status=goal_status.value,
                created_at=self.at(planned_on),
                updated_at=self.at(end if goal_status is not GoalStatus.open else planned_on),
            )
            self.rows.append(goal)
            for text in self.rng.sample(actions, self.rng.randint(1, 2)):
                due_on = planned_on + timedelta(days=self.rng.randint(14, 120))
                done_on: date | None = None
                if goal_status is not GoalStatus.open:
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
                self.rows.append(
                    CasePlanAction(
                        organisation_id=case.organisation_id,
                        case_id=case.id,
                        goal_id=goal.id,
                        description=text,
                        responsible_organisation_id=responsible,
                        due_on=due_on,
                        done_on=done_on,
                        created_at=self.at(planned_on),
                        updated_at=self.at(done_on or planned_on),
                    )
                )

    def _follow_ups(
        self,
        case: Case,
        worker: User,
        household: _Household,
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
            kind = self.pick(list(FollowUpKind), [65, 20, 4, 10, 1])
            outcome = self.pick(MISSED_OUTCOMES if missed else VISIT_OUTCOMES).format(**fmt)
            self.rows.append(
                FollowUp(
                    organisation_id=case.organisation_id,
                    case_id=case.id,
                    kind=kind.value,
                    status=(FollowUpStatus.missed if missed else FollowUpStatus.done).value,
                    scheduled_on=day,
                    done_on=None if missed else day,
                    outcome=outcome,
                    created_by=worker.id,
                    created_at=self.at(day - timedelta(days=7)),
                    updated_at=self.at(day),
                )
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
            self.rows.append(
                FollowUp(
                    organisation_id=case.organisation_id,
                    case_id=case.id,
                    kind=self.pick(
                        [FollowUpKind.home_visit, FollowUpKind.phone_call], [80, 20]
                    ).value,
                    scheduled_on=scheduled_on,
                    created_by=worker.id,
                    created_at=self.at(min(self.today, opened_on + timedelta(days=1))),
                    updated_at=self.at(min(self.today, opened_on + timedelta(days=1))),
                )
            )
        return last_contact

    def _notes(
        self, case: Case, worker: User, household: _Household, opened_on: date, end: date
    ) -> None:
        fmt = {"caregiver_title": household.caregiver_title.capitalize()}
        texts = [f"First contact. {case.summary}"]
        texts += [n.format(**fmt) for n in self.rng.sample(NOTES, self.rng.randint(0, 3))]
        span = max(0, (end - opened_on).days)
        days = sorted([0] + [self.rng.randint(0, span) for _ in texts[1:]])
        for text, offset in zip(texts, days, strict=True):
            noted_on = opened_on + timedelta(days=offset)
            self.rows.append(
                CaseNote(
                    organisation_id=case.organisation_id,
                    case_id=case.id,
                    author_id=worker.id,
                    noted_on=noted_on,
                    text=text,
                    created_at=self.at(noted_on),
                    updated_at=self.at(noted_on),
                )
            )


INSERT_ORDER: tuple[type[SQLModel], ...] = (
    Family,
    FamilyMember,
    Child,
    Case,
    CaseConcern,
    CaseStatusChange,
    ClosureRequest,
    Assessment,
    CasePlanGoal,
    CasePlanAction,
    CaseNote,
    FollowUp,
)


# --- loading ----------------------------------------------------------------------------


async def load_demo_data(settings: Settings) -> str:
    """Create the demo organisations, users and cases; return the login table to print."""
    database = Database.from_settings(settings, owner=True)
    hasher = PasswordHasher(settings)
    lines = [f"Demo logins (password for all: {DEMO_PASSWORD}):"]
    staff: dict[str, _Staff] = {}
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
                staff[organisation.short_name] = _Staff(
                    organisation, people[Role.caseworker], people[Role.case_manager]
                )
            government = staff.get("DOSVY-BTB")
            builder = _DemoBuilder(
                DEMO_SEED, local_today(), government.organisation if government else None
            )
            counts = [
                f"{name} {builder.build(staff[name], profile)}"
                for name, profile in PROFILES.items()
            ]
            for table in INSERT_ORDER:  # no ORM relationships: flush parents before children
                session.add_all([row for row in builder.rows if type(row) is table])
                await session.flush()
            organisations = {name: s.organisation for name, s in staff.items()}
            for group in build_sharing(builder.rows, organisations, DEMO_SEED):
                session.add_all(group)
                await session.flush()
    finally:
        await database.engine.dispose()
    lines.append(f"Demo cases: {', '.join(counts)} (each with its child, family and casework)")
    lines.append(
        "KFSO has referrals in every state (to LOTUS and BFEC), services and case conferences"
    )
    return "\n".join(lines)
