"""Network statistics cannot be differenced: the attacks of issue 10, replayed over generated
data, recover no withheld count exactly.

Each attack is first tried as reported (a free-text district, a multi-valued complement
filter, `from=D` against `from=D+1`): those requests now answer 422. Then its nearest
equivalent inside the closed query space is run over many generated cells: a published
total minus the published parts is the sum of the withheld parts *plus noise*, so it
differs from the true sum in a good share of cases and the reader can never be sure.

The records get random keys, as in production (the network of test_network_stats.py has
every key 0, to check published values by hand).
"""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import select

from ovc_api.ages import age_band
from ovc_api.app import create_app
from ovc_api.settings import Settings

from .conftest import Actor, Factory, Rows, Tenant, own_database_settings, system_session
from .helpers import assert_problem, error_locs

NETWORK = "/api/v1/stats/network"
YEAR = {"from": "2026-01-01", "to": "2026-12-31"}
QUARTERS = [
    {"from": "2026-01-01", "to": "2026-03-31"},
    {"from": "2026-04-01", "to": "2026-06-30"},
    {"from": "2026-07-01", "to": "2026-09-30"},
    {"from": "2026-10-01", "to": "2026-12-31"},
]
THRESHOLD = 5
MAX_NOISE = 2
PROVINCES = ("battambang", "pursat", "kampot", "siem_reap", "kandal", "takeo")
WEIGHTS = (30, 14, 10, 8, 5, 3)
DISTRICTS = {
    province: [f"{province.title()} District {n}" for n in (1, 2, 3)] for province in PROVINCES
}
CONCERNS = ("abandonment", "neglect", "lack_of_food", "violence", "sexual_abuse", "out_of_school")
KINDS = (None, "ngo", "residential_care")
REASONS = ("reunified_with_family", "kinship_care", "foster_care", "transferred", "other")


@dataclass(frozen=True)
class Truth:
    """One generated case, as the test knows it."""

    case_id: uuid.UUID
    child_id: uuid.UUID
    organisation_kind: str
    province: str
    district: str
    sex: str
    age_band: str
    concerns: tuple[str, ...]
    opened: date
    closed: date | None
    reason: str | None


@dataclass
class Generated:
    client: httpx.AsyncClient
    app: FastAPI
    analyst: Actor
    cases: list[Truth] = field(default_factory=list)  # active organisations only

    def count(
        self, *, concern: str | None = None, quarter: int | None = None, **fields: str
    ) -> int:
        """True number of cases (all opened in 2026) with the concern, in the quarter (0-3),
        with these field values."""
        return sum(
            1
            for case in self.cases
            if (concern is None or concern in case.concerns)
            and (quarter is None or (case.opened.month - 1) // 3 == quarter)
            and all(getattr(case, name) == value for name, value in fields.items())
        )


def _generate(
    rows: Rows, orgs: list[tuple[uuid.UUID, str]], n: int, rng: random.Random
) -> list[Truth]:
    """`n` cases; about one in twelve is a second case of an earlier child."""
    found: list[Truth] = []
    born_on: dict[uuid.UUID, tuple[uuid.UUID, date]] = {}  # child -> organisation, birth
    for _ in range(n):
        opened = date(2026, 1, 1) + timedelta(days=rng.randrange(365))
        closed = opened + timedelta(days=rng.randrange(10, 150)) if rng.random() < 0.3 else None
        if closed is not None and closed.year > 2026:
            closed = None
        reason = rng.choice(REASONS) if closed else None
        concerns = tuple(rng.sample(CONCERNS, rng.choice((1, 1, 2))))
        if found and rng.random() < 0.08:
            earlier = rng.choice(found[-30:])
            org, born = born_on[earlier.child_id]
            kind, province = earlier.organisation_kind, earlier.province
            child_id: uuid.UUID | None = earlier.child_id
            child = {"district": earlier.district, "sex": earlier.sex}
            opened = max(opened, born)
        else:
            org, kind = rng.choice(orgs)
            province = rng.choices(PROVINCES, WEIGHTS)[0]
            born = opened - timedelta(days=rng.randrange(365 * 18))
            child_id = None
            child = {
                "district": rng.choice(DISTRICTS[province]),
                "sex": rng.choice(("female", "male")),
            }
        (case_id,) = rows.cases(
            org,
            1,
            province,
            opened,
            closed,
            reason,
            concerns,
            child_id=child_id,
            date_of_birth=born,
            **child,
        )
        case = next(r for r in reversed(rows.records) if getattr(r, "id", None) == case_id)
        born_on[case.child_id] = (org, born)
        found.append(
            Truth(
                case_id,
                case.child_id,
                kind,
                province,
                child["district"],
                child["sex"],
                age_band(born, opened).value,
                concerns,
                opened,
                closed,
                reason,
            )
        )
    return found


@pytest.fixture(scope="module")
def disclosure_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    yield from own_database_settings(tmp_path_factory, "disclosure")


@pytest_asyncio.fixture(scope="module")
async def gen(disclosure_settings: Settings) -> AsyncIterator[Generated]:
    app = create_app(disclosure_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            factory = Factory(app, http)
            kinds = ("ngo", "ngo", "residential_care")
            active = [(await factory.organisation(kind=kind), kind) for kind in kinds]
            inactive = (await factory.organisation(active=False), "ngo")
            rng = random.Random(20261129)
            rows = Rows()
            cases = _generate(rows, active, 900, rng)
            _generate(rows, [inactive], 40, rng)
            await rows.save(app)
            admin = await factory.network_admin()
            analyst = await factory.user(admin.organisation_id, "network_analyst")
            yield Generated(http, app, analyst, cases)


async def ask(gen: Generated, path: str, params: Any) -> httpx.Response:
    return await gen.client.get(f"{NETWORK}/{path}", params=params, headers=gen.analyst.headers)


async def table(gen: Generated, path: str, **params: Any) -> dict[str, Any]:
    response = await ask(gen, path, params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def refused(response: httpx.Response, name: str) -> None:
    """A clear 422 naming the parameter outside the closed query space."""
    assert error_locs(assert_problem(response, 422)) == [["query", name]]


@dataclass
class Lines:
    """Attacks of the form 'published total minus published parts', against the truth."""

    derived: list[int] = field(default_factory=list)
    true: list[int] = field(default_factory=list)

    def add(self, total: int | None, parts: list[tuple[int | None, int]]) -> None:
        """`parts`: (published value or None, true count) of every non-empty part."""
        if total is None or all(value is not None for value, _ in parts):
            return
        published = sum(value for value, _ in parts if value is not None)
        self.derived.append(total - published)
        self.true.append(sum(true for value, true in parts if value is None))

    def share_wrong(self) -> float:
        wrong = sum(d != t for d, t in zip(self.derived, self.true, strict=True))
        return wrong / len(self.derived)

    def assert_uncertain(self, at_least: int) -> None:
        """Enough attacks were possible, and a good share of them gave a wrong count."""
        assert len(self.derived) >= at_least, f"only {len(self.derived)} lines to attack"
        assert self.share_wrong() >= 0.25, (self.derived, self.true)


# --- 1. complement filters -----------------------------------------------------------------


async def test_complement_filters_are_refused_and_what_remains_is_noisy(gen: Generated) -> None:
    # The reported attack: districts of (female, sexual abuse), then every other district.
    reported = {"group_by": "district", "sex": "female", "concern": "sexual_abuse"}
    refused(await ask(gen, "cases", reported), "group_by")
    others = [("district", name) for name in DISTRICTS["battambang"][1:]]
    refused(await ask(gen, "cases", others), "district")
    refused(await ask(gen, "cases", [("concern", "neglect"), ("concern", "violence")]), "concern")
    refused(await ask(gen, "cases", [("province", "pursat"), ("province", "kampot")]), "province")
    # Inside the closed space, the complement of a withheld province is the total minus the
    # published provinces: the withheld sum plus noise.
    lines = Lines()
    for sex, concern, kind in itertools.product(("female", "male"), CONCERNS, KINDS):
        having = {"sex": sex, "concern": concern}
        if kind is not None:
            having["organisation_kind"] = kind
        body = await table(gen, "cases", group_by="province", **having, **YEAR)
        rows = {row["province"]: row["cases"] for row in body["rows"]}
        parts = [(rows[p], gen.count(province=p, **having)) for p in rows]
        lines.add(body["totals"]["cases"], parts)
    lines.assert_uncertain(at_least=20)


# --- 2. date differencing ---------------------------------------------------------------------


async def test_date_differencing_is_refused_and_quarters_are_noisy(gen: Generated) -> None:
    for day in (date(2026, 3, 10), date(2026, 3, 11), date(2026, 7, 1)):
        response = await ask(gen, "cases", {"from": day.isoformat(), "to": "2026-12-31"})
        if day.day != 1:
            refused(response, "from")
        else:  # a quarter's first day, but the range is not one quarter nor one year
            refused(response, "to")
    refused(await ask(gen, "cases", {"from": "2026-01-01", "to": "2026-06-29"}), "to")
    refused(await ask(gen, "cases", {"to": "2026-06-30"}), "from")
    refused(await ask(gen, "cases", {"from": "2026-04-01"}), "to")
    refused(await ask(gen, "cases", {"group_by": "month"}), "group_by")
    refused(await ask(gen, "outcomes", {"group_by": "month"}), "group_by")
    refused(await ask(gen, "services", {"from": "2026-02-01", "to": "2026-04-30"}), "from")
    # The nearest attack left: a province's year minus its published quarters.
    lines = Lines()
    for sex in ("female", "male"):
        for concern in CONCERNS:
            values = []
            for period in (YEAR, *QUARTERS):
                body = await table(
                    gen, "cases", group_by="province", sex=sex, concern=concern, **period
                )
                values.append({row["province"]: row["cases"] for row in body["rows"]})
            for province in PROVINCES:
                having = {"province": province, "sex": sex, "concern": concern}
                counts = [gen.count(quarter=quarter, **having) for quarter in range(4)]
                parts = [
                    (values[1 + quarter].get(province), count)
                    for quarter, count in enumerate(counts)
                    if count
                ]
                lines.add(values[0].get(province), parts)
    lines.assert_uncertain(at_least=10)


# --- 3. free-text labels ----------------------------------------------------------------------


async def test_free_text_districts_never_leave(gen: Generated) -> None:
    refused(await ask(gen, "cases", {"group_by": "province,district"}), "group_by")
    refused(await ask(gen, "services", {"group_by": "district"}), "group_by")
    refused(await ask(gen, "cases", {"district": DISTRICTS["kandal"][0]}), "district")
    refused(await ask(gen, "services", {"district": DISTRICTS["kandal"][0]}), "district")
    texts = [
        (await ask(gen, "cases", {"group_by": "province,sex,age_band", **YEAR})).text,
        (await ask(gen, "cases", {"group_by": "province", "format": "csv"})).text,
        (await ask(gen, "services", {"group_by": "province"})).text,
        (await ask(gen, "outcomes", {})).text,
    ]
    names = [name for districts in DISTRICTS.values() for name in districts]
    assert not [name for name in names for text in texts if name in text]


# --- 4. nested groupings ----------------------------------------------------------------------


async def test_nested_groupings_give_no_withheld_count_exactly(gen: Generated) -> None:
    keys = ("province", "sex", "age_band")
    lines = Lines()
    for concern in (None, *CONCERNS):
        having = {} if concern is None else {"concern": concern}
        tables = [
            await table(gen, "cases", group_by=",".join(keys[:n]), **having, **YEAR)
            for n in (1, 2, 3)
        ]
        for coarse, fine in itertools.pairwise(tables):
            width = len(coarse["group_by"])
            for parent in coarse["rows"]:
                parts = [
                    (
                        row["cases"],
                        gen.count(concern=concern, **{k: row[k] for k in keys[: width + 1]}),
                    )
                    for row in fine["rows"]
                    if all(row[k] == parent[k] for k in keys[:width])
                ]
                lines.add(parent["cases"], parts)
    lines.assert_uncertain(at_least=20)


# --- what holds for every published cell ------------------------------------------------------


async def test_published_counts_are_near_the_truth_and_small_ones_withheld(
    gen: Generated,
) -> None:
    differences = []
    for keys in (("province",), ("province", "sex"), ("province", "sex", "age_band")):
        body = await table(gen, "cases", group_by=",".join(keys), **YEAR)
        for row in body["rows"]:
            true = gen.count(**{k: row[k] for k in keys})
            if true < THRESHOLD:
                assert row["cases"] is None and row["suppressed"] == ["cases", "children"]
            elif row["cases"] is not None:
                assert abs(row["cases"] - true) <= MAX_NOISE
                differences.append(row["cases"] - true)
        assert abs(body["totals"]["cases"] - gen.count()) <= MAX_NOISE
    assert len(differences) >= 40
    assert sum(d != 0 for d in differences) >= len(differences) / 4  # perturbed, not exact


async def test_the_same_cell_always_gets_the_same_noise(gen: Generated) -> None:
    """The noise is a function of the cell's records: asking again, or asking for the same
    records through a filter instead of a group, gives the same number; and it is the table's
    entry at (the sum of the records' keys modulo 256, the count): for children, each child's
    key once however many cases it has; for cases, each case with its child's key (where
    each child has one case, cases and children, the same number, get the same noise)."""
    from ovc_api.children.models import Child
    from ovc_api.stats.perturbation import KEY_RANGE, perturbed

    first = await table(gen, "cases", group_by="province", **YEAR)
    assert await table(gen, "cases", group_by="province", **YEAR) == first
    async with system_session(gen.app) as session:
        keys = dict((await session.exec(select(Child.id, Child.record_key))).all())
    twice = {c.child_id for c in gen.cases if c.province == "battambang"}
    assert len(twice) < gen.count(province="battambang")  # some children have two cases
    for province in PROVINCES:
        mine = [c for c in gen.cases if c.province == province]
        children = {c.child_id for c in mine}
        case_key = sum(keys[c.child_id] for c in mine) % KEY_RANGE
        child_key = sum(keys[child] for child in children) % KEY_RANGE
        row = next(r for r in first["rows"] if r["province"] == province)
        assert row["cases"] == perturbed(len(mine), case_key)
        assert row["children"] == perturbed(len(children), child_key)
    row = next(r for r in first["rows"] if r["province"] == "battambang")
    filtered = await table(gen, "cases", province="battambang", **YEAR)
    same = {k: v for k, v in row.items() if k != "province"}
    assert filtered["rows"] == [same] and filtered["totals"] == same


# --- the closed query space -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params", "name"),
    [
        ("cases", {"group_by": "status"}, "group_by"),
        ("cases", {"group_by": "care_arrangement"}, "group_by"),
        ("cases", {"group_by": "province,month"}, "group_by"),
        ("cases", {"status": "intake"}, "status"),
        ("cases", {"risk_level": "high"}, "risk_level"),
        ("cases", {"referral_source": "ngo"}, "referral_source"),
        ("cases", {"assigned_to": str(uuid.uuid4())}, "assigned_to"),
        ("cases", {"anything": "1"}, "anything"),
        ("cases", [("sex", "female"), ("sex", "male")], "sex"),
        ("cases", {"from": "2026-01-02", "to": "2026-03-31"}, "from"),
        ("cases", {"from": "2026-04-01", "to": "2026-12-31"}, "to"),
        ("services", {"group_by": "month"}, "group_by"),
        ("services", [("service_type", "counselling"), ("service_type", "medical_treatment")],
         "service_type"),
        ("services", {"district": "Sangkae"}, "district"),
        ("outcomes", {"group_by": "month"}, "group_by"),
        ("outcomes", {"province": "kandal"}, "province"),
        ("outcomes", {"from": "2026-01-01", "to": "2026-02-28"}, "to"),
    ],
)  # fmt: skip
async def test_requests_outside_the_closed_space_are_refused(
    gen: Generated, path: str, params: Any, name: str
) -> None:
    refused(await ask(gen, path, params), name)


async def test_the_closed_space_answers_its_own_keys(gen: Generated) -> None:
    body = await table(
        gen,
        "cases",
        group_by="organisation_kind,closure_reason",
        period_of="closed",
        **QUARTERS[1],
    )
    assert {row["organisation_kind"] for row in body["rows"]} <= {"ngo", "residential_care"}
    assert {row["closure_reason"] for row in body["rows"]} <= set(REASONS)
    kinds = await table(gen, "cases", organisation_kind="residential_care", sex="male", **YEAR)
    assert kinds["filters"]["organisation_kind"] == ["residential_care"]
    services = await table(gen, "services", group_by="organisation_kind,quarter", **YEAR)
    assert services["group_by"] == ["organisation_kind", "quarter"]


# --- the record keys are the secret ----------------------------------------------------------


async def test_record_keys_never_leave_the_database(
    client: httpx.AsyncClient, tenant_a: Tenant, factory: Factory
) -> None:
    """A reader who knew the records' keys could undo the perturbation: no read, list or
    export shows them."""
    org = tenant_a.organisation_id
    case_id = await factory.case(org)
    manager = tenant_a["org_admin"].headers
    case = (await client.get(f"/api/v1/cases/{case_id}", headers=manager)).json()
    child_id = case["child_id"]
    texts = [
        (await client.get(f"/api/v1/cases/{case_id}", headers=manager)).text,
        (await client.get(f"/api/v1/children/{child_id}", headers=manager)).text,
        (await client.get("/api/v1/cases", headers=manager)).text,
        (await client.get("/api/v1/exports/cases", headers=manager)).text,
        (await client.get("/api/v1/exports/children", headers=manager)).text,
    ]
    assert all("record_key" not in text for text in texts)
    contract = await client.get("/openapi.json")
    assert contract.status_code == 200 and "record_key" not in contract.text
