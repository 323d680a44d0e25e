"""Shared fixtures: a fresh database per test run (per xdist worker), built by Alembic.

SQLite by default. With OVC_TEST_DATABASE_URL pointing at a PostgreSQL server (as a
superuser), each run creates its own database and a non-owner application role, so
row-level security applies to the app exactly as in production, and drops both at the end.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import uvicorn
from fastapi import FastAPI
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api.app import create_app
from ovc_api.care.models import PLACEMENT_OF
from ovc_api.children.models import CareArrangement
from ovc_api.db import Database, run_migrations, set_tenant_context
from ovc_api.settings import Settings

TEST_SECRET = "test-secret-key-that-is-long-enough-for-hs256-0123456789"


@dataclass(frozen=True)
class TestDatabase:
    __test__ = False  # a fixture's value, not a test class
    owner_url: str
    app_url: str

    @property
    def is_postgres(self) -> bool:
        return self.owner_url.startswith("postgresql")


def _pg_admin_engine(admin_url: str):  # type: ignore[no-untyped-def]
    url = make_url(admin_url).set(drivername="postgresql+psycopg")
    return create_sync_engine(url, isolation_level="AUTOCOMMIT")


def make_test_database(tmp_dir: Path, label: str) -> Iterator[TestDatabase]:
    """Create an empty database for this run; drop it (and its role) afterwards."""
    admin_url = os.environ.get("OVC_TEST_DATABASE_URL")
    if not admin_url:
        path = tmp_dir / f"{label}.db"
        url = f"sqlite+aiosqlite:///{path.as_posix()}"
        yield TestDatabase(owner_url=url, app_url=url)
        return
    suffix = uuid.uuid4().hex[:10]
    db_name, role = f"ovc_test_{label}_{suffix}", f"ovc_app_{suffix}"
    admin = _pg_admin_engine(admin_url)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{db_name}"'))
        conn.execute(text(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER NOBYPASSRLS'))
    base = make_url(admin_url).set(drivername="postgresql+psycopg", database=db_name)
    try:
        yield TestDatabase(
            owner_url=base.render_as_string(hide_password=False),
            app_url=base.set(username=role, password=None).render_as_string(hide_password=False),
        )
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()


def make_settings(database: TestDatabase, data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": "development",
        "database_url": database.app_url,
        "migration_database_url": database.owner_url,
        "secret_key": TEST_SECRET,
        "data_dir": data_dir,
        "argon2_time_cost": 1,
        "argon2_memory_kib": 8,
        "argon2_parallelism": 1,
        "log_format": "console",
        # Every test logs in from the same address: only the per-address test may trip this.
        "login_max_failures_per_address": 100_000,
        # Tests share callers across many requests: only the rate-limit tests set budgets.
        "rate_limit": "off",
        "rate_limit_bulk": "off",
        # Webhook tests receive on a local HTTP server they start.
        "webhook_allow_private": True,
        "webhook_timeout_seconds": 5,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def _worker_label(request: pytest.FixtureRequest) -> str:
    return getattr(request.config, "workerinput", {}).get("workerid", "main")


@pytest.fixture(scope="session")
def test_database(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[TestDatabase]:
    yield from make_test_database(tmp_path_factory.mktemp("db"), _worker_label(request))


@pytest.fixture(scope="session")
def settings(test_database: TestDatabase, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = make_settings(test_database, tmp_path_factory.mktemp("data"))
    run_migrations(settings)
    return settings


@pytest_asyncio.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    try:
        async with application.router.lifespan_context(application):
            yield application
    finally:
        owner = getattr(application.state, "test_owner_database", None)
        if owner is not None:
            await owner.engine.dispose()


@asynccontextmanager
async def system_session(app: FastAPI) -> AsyncIterator[AsyncSession]:
    """A transaction as the schema owner with every organisation open (fixtures only).

    On PostgreSQL the app's own role cannot open every organisation's rows; the app itself
    never holds this connection (it is made here, for tests).
    """
    database: Database | None = getattr(app.state, "test_owner_database", None)
    if database is None:
        database = Database.from_settings(app.state.settings, owner=True)
        app.state.test_owner_database = database
    async with database.session() as session, session.begin():
        await set_tenant_context(session, None, system=True)
        yield session


@pytest_asyncio.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


# --- factories: organisations and people with real credentials -------------------------

PASSWORD = "Correct-Horse-Battery-42"
ORG_ROLES = ("org_admin", "case_manager", "caseworker", "analyst")


@dataclass
class Actor:
    user_id: uuid.UUID
    organisation_id: uuid.UUID
    email: str
    role: str
    password: str
    token: str = ""
    refresh_token: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Tenant:
    organisation_id: uuid.UUID
    name: str
    actors: dict[str, Actor]

    def __getitem__(self, role: str) -> Actor:
        return self.actors[role]


class Factory:
    """Builds records straight in the database (as the system) and logs people in over HTTP."""

    def __init__(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        self.app = app
        self.client = client

    async def organisation(self, *, active: bool = True, kind: str = "ngo") -> uuid.UUID:
        from ovc_api.identity.models import Organisation

        tag = uuid.uuid4().hex[:8]
        async with system_session(self.app) as session:
            organisation = Organisation(
                name=f"Test NGO {tag}",
                short_name=f"T{tag}",
                kind=kind,
                active=active,
                provinces=["battambang"],
            )
            session.add(organisation)
        return organisation.id

    async def user(
        self, organisation_id: uuid.UUID, role: str, *, login: bool = True, active: bool = True
    ) -> Actor:
        from ovc_api.identity.models import User

        email = f"{role}.{uuid.uuid4().hex[:10]}@example.org"
        hasher = self.app.state.password_hasher
        async with system_session(self.app) as session:
            user = User(
                organisation_id=organisation_id,
                email=email,
                full_name=f"Test {role}",
                role=role,
                password_hash=hasher.hash_sync(PASSWORD),
                active=active,
            )
            session.add(user)
        actor = Actor(user.id, organisation_id, email, role, PASSWORD)
        if login:
            await self.login(actor)
        return actor

    async def login(self, actor: Actor, password: str | None = None) -> httpx.Response:
        response = await self.client.post(
            "/api/v1/auth/token",
            data={"username": actor.email, "password": password or actor.password},
            headers={"X-Forwarded-For": "ignored"},
        )
        if response.status_code == 200:
            body = response.json()
            actor.token, actor.refresh_token = body["access_token"], body["refresh_token"]
        return response

    async def tenant(self) -> Tenant:
        organisation_id = await self.organisation()
        actors = {role: await self.user(organisation_id, role) for role in ORG_ROLES}
        return Tenant(organisation_id, "", actors)

    async def _insert(self, record: Any) -> uuid.UUID:

        async with system_session(self.app) as session:
            session.add(record)
        return record.id  # type: ignore[no-any-return]

    async def child(
        self, organisation_id: uuid.UUID, *, intake_placement: bool = True, **fields: Any
    ) -> uuid.UUID:
        from ovc_api.children.models import Child
        from ovc_api.text import search_key

        values: dict[str, Any] = {
            "given_name_latin": "Sreyneang",
            "family_name_latin": "Chhun",
            "given_name_khmer": "ស្រីនាង",
            "family_name_khmer": "ឈុន",
            "sex": "female",
            "date_of_birth": date(2015, 3, 1),
            "birth_registration": "not_registered",
            "schooling_status": "enrolled",
            "care_arrangement": "kinship_care",
            "province": "battambang",
            "district": "Bavel",
            "commune": "Kdol Tahen",
            "village": "Ou Lmun",
        }
        values.update(fields)
        values["search_text"] = search_key(
            values.get("given_name_latin"),
            values.get("family_name_latin"),
            values.get("given_name_khmer"),
            values.get("family_name_khmer"),
        )
        child_id = await self._insert(Child(organisation_id=organisation_id, **values))
        if not intake_placement:
            return child_id
        await self.placement(
            organisation_id,
            child_id,
            PLACEMENT_OF[CareArrangement(values["care_arrangement"])].value,
            started_on=date(2025, 1, 1),
            recorded_at_intake=True,
        )
        return child_id

    async def placement(
        self,
        organisation_id: uuid.UUID,
        child_id: uuid.UUID,
        placement_type: str,
        **fields: Any,
    ) -> uuid.UUID:
        """A period of the child's care (the child's care_arrangement is not touched)."""
        from ovc_api.care.models import Placement

        values: dict[str, Any] = {"started_on": date(2025, 1, 1)}
        values.update(fields)
        return await self._insert(
            Placement(
                organisation_id=organisation_id,
                child_id=child_id,
                placement_type=placement_type,
                **values,
            )
        )

    async def facility(self, organisation_id: uuid.UUID, **fields: Any) -> uuid.UUID:
        """A care facility in the directory, operated by `organisation_id`."""
        from ovc_api.care.models import CareFacility

        values: dict[str, Any] = {
            "name": f"Children's Home {uuid.uuid4().hex[:6]}",
            "kind": "residential_care_institution",
            "province": "battambang",
            "district": "Bavel",
            "capacity": 40,
        }
        values.update(fields)
        return await self._insert(CareFacility(organisation_id=organisation_id, **values))

    async def care(
        self, organisation_id: uuid.UUID, child_id: uuid.UUID, case_id: uuid.UUID | None = None
    ) -> dict[str, Any]:
        """One of each alternative-care record: a facility, the child's tracing attempt, its
        open placement (made by `child`) and, with a case, a reintegration plan being
        monitored with one visit due."""
        from sqlmodel import col, select

        from ovc_api.care.models import Placement

        async with system_session(self.app) as session:
            placement = (
                await session.exec(
                    select(Placement).where(
                        col(Placement.child_id) == child_id, col(Placement.ended_on).is_(None)
                    )
                )
            ).one()
        ids: dict[str, Any] = {
            "facility_id": await self.facility(organisation_id),
            "tracing_id": await self.tracing(organisation_id, child_id),
            "placement_id": placement.id,
        }
        if case_id is not None:
            ids.update(await self.reintegration(organisation_id, case_id, child_id, placement.id))
        return ids

    async def reintegration(
        self,
        organisation_id: uuid.UUID,
        case_id: uuid.UUID,
        child_id: uuid.UUID,
        placement_id: uuid.UUID,
    ) -> dict[str, uuid.UUID]:
        """A reintegration plan whose child moved into `placement_id`, one visit due."""
        from ovc_api.care.models import MonitoringVisit, ReintegrationPlan

        plan_id = await self._insert(
            ReintegrationPlan(
                organisation_id=organisation_id,
                case_id=case_id,
                child_id=child_id,
                status="monitoring",
                target_placement_type="kinship_care",
                caregiver="Yeay Phan",
                moved_on=date(2025, 1, 1),
                placement_id=placement_id,
            )
        )
        visit_id = await self._insert(
            MonitoringVisit(
                organisation_id=organisation_id,
                plan_id=plan_id,
                case_id=case_id,
                placement_id=placement_id,
                months_after_move=1,
                due_on=date(2025, 2, 1),
            )
        )
        return {"plan_id": plan_id, "visit_id": visit_id}

    async def tracing(
        self, organisation_id: uuid.UUID, child_id: uuid.UUID, **fields: Any
    ) -> uuid.UUID:
        """A family-tracing attempt for the child."""
        from ovc_api.care.models import TracingAttempt

        values: dict[str, Any] = {
            "sought": "Maternal aunt in Bavel",
            "method": "home_visit",
            "attempted_on": date(2026, 1, 10),
            "outcome": "not_found",
        }
        values.update(fields)
        return await self._insert(
            TracingAttempt(organisation_id=organisation_id, child_id=child_id, **values)
        )

    async def import_job(self, organisation_id: uuid.UUID) -> uuid.UUID:
        """A finished dry run of a one-row file, as POST /api/v1/imports leaves it."""
        from ovc_api.imports.models import ImportJob

        return await self._insert(
            ImportJob(
                organisation_id=organisation_id,
                mode="validate",
                status="validated",
                file_name="children.csv",
                file_format="csv",
                file_digest="0" * 64,
                total_rows=1,
                processed_rows=1,
            )
        )

    async def family(self, organisation_id: uuid.UUID, **fields: Any) -> uuid.UUID:
        from ovc_api.families.models import Family

        values: dict[str, Any] = {
            "name": "Household of Yeay Phan",
            "id_poor_status": "level_1",
            "income_sources": ["daily_labour", "remittances"],
            "province": "battambang",
            "district": "Bavel",
            "commune": "Kdol Tahen",
        }
        values.update(fields)
        return await self._insert(Family(organisation_id=organisation_id, **values))

    async def family_member(self, organisation_id: uuid.UUID, family_id: uuid.UUID) -> uuid.UUID:
        from ovc_api.families.models import FamilyMember

        return await self._insert(
            FamilyMember(
                organisation_id=organisation_id,
                family_id=family_id,
                name="Yeay Phan",
                relation="grandmother",
                sex="female",
                age=67,
                is_caregiver=True,
            )
        )

    async def case(
        self,
        organisation_id: uuid.UUID,
        *,
        child_id: uuid.UUID | None = None,
        concerns: tuple[str, ...] = ("left_behind_by_migration",),
        **fields: Any,
    ) -> uuid.UUID:
        from ovc_api.cases.models import Case, CaseConcern, CaseStatusChange

        child_id = child_id or await self.child(organisation_id)
        values: dict[str, Any] = {
            "referral_source": "provincial_social_affairs",
            "risk_level": "medium",
            "status": "intake",
            "opened_on": date(2026, 1, 15),
        }
        values.update(fields)
        async with system_session(self.app) as session:
            case = Case(organisation_id=organisation_id, child_id=child_id, **values)
            session.add(case)
            await session.flush()
            for concern in concerns:
                session.add(
                    CaseConcern(case_id=case.id, concern=concern, organisation_id=organisation_id)
                )
            session.add(
                CaseStatusChange(
                    organisation_id=organisation_id, case_id=case.id, to_status=case.status
                )
            )
        return case.id

    async def casework(
        self, organisation_id: uuid.UUID, case_id: uuid.UUID
    ) -> dict[str, uuid.UUID]:
        """One of each case sub-resource (assessment, goal, action, note, follow-up, closure)."""
        from ovc_api.cases.models import ClosureRequest
        from ovc_api.casework.models import (
            Assessment,
            CaseNote,
            CasePlanAction,
            CasePlanGoal,
            FollowUp,
        )

        ids = {
            "assessment_id": await self._insert(
                Assessment(
                    organisation_id=organisation_id,
                    case_id=case_id,
                    kind="initial",
                    assessed_on=date(2026, 1, 20),
                    domains={"food_and_nutrition": {"score": 2, "needs": "rice support"}},
                )
            ),
            "goal_id": await self._insert(
                CasePlanGoal(
                    organisation_id=organisation_id,
                    case_id=case_id,
                    domain="education",
                    description="Back to school",
                )
            ),
            "note_id": await self._insert(
                CaseNote(
                    organisation_id=organisation_id,
                    case_id=case_id,
                    noted_on=date(2026, 1, 21),
                    text="Home visit: grandmother caring for two children.",
                )
            ),
            "follow_up_id": await self._insert(
                FollowUp(
                    organisation_id=organisation_id,
                    case_id=case_id,
                    kind="home_visit",
                    scheduled_on=date(2026, 2, 1),
                )
            ),
            "closure_request_id": await self._insert(
                ClosureRequest(
                    organisation_id=organisation_id,
                    case_id=case_id,
                    reason="reunified_with_family",
                    closed_on=date(2026, 6, 1),
                )
            ),
        }
        ids["action_id"] = await self._insert(
            CasePlanAction(
                organisation_id=organisation_id,
                case_id=case_id,
                goal_id=ids["goal_id"],
                description="Enrol at Kdol primary school",
                responsible_organisation_id=organisation_id,
                due_on=date(2026, 3, 1),
            )
        )
        return ids

    async def sharing(
        self,
        organisation_id: uuid.UUID,
        case_id: uuid.UUID,
        child_id: uuid.UUID,
        receiver_id: uuid.UUID,
        *,
        status: str = "pending",
        family_id: uuid.UUID | None = None,
    ) -> dict[str, uuid.UUID]:
        """A referral of the case to `receiver_id`, a service on the case, and a conference
        (with `receiver_id` taking part) with one action item of the organiser's."""
        from ovc_api.conferences.models import (
            CaseConference,
            ConferenceAction,
            ConferenceParticipant,
        )
        from ovc_api.services.models import ServiceDelivery
        from ovc_api.sharing.models import Referral

        referral_id = await self._insert(
            Referral(
                organisation_id=organisation_id,
                receiving_organisation_id=receiver_id,
                case_id=case_id,
                child_id=child_id,
                family_id=family_id,
                services_requested=["counselling"],
                reason="Needs counselling",
                urgency="routine",
                consent_given_by="Yeay Phan",
                consent_relation="grandmother",
                consent_given_on=date(2026, 1, 20),
                consent_method="verbal",
                status=status,
                summary={
                    "child_first_name": "Sreyneang",
                    "age": 10,
                    "sex": "female",
                    "province": "battambang",
                    "district": "Bavel",
                    "concerns": ["left_behind_by_migration"],
                    "services_requested": ["counselling"],
                },
            )
        )
        service_id = await self._insert(
            ServiceDelivery(
                organisation_id=organisation_id,
                case_id=case_id,
                child_id=child_id,
                service_type="emergency_food_package",
                delivered_on=date(2026, 1, 22),
                province="battambang",
                district="Bavel",
            )
        )
        conference_id = await self._insert(
            CaseConference(
                organisation_id=organisation_id,
                case_id=case_id,
                held_on=date(2026, 2, 3),
                agenda="Schooling and food",
                decisions="Enrol at the commune school",
            )
        )
        await self._insert_plain(
            ConferenceParticipant(
                conference_id=conference_id,
                organisation_id=receiver_id,
                organiser_organisation_id=organisation_id,
            )
        )
        action_id = await self._insert(
            ConferenceAction(
                conference_id=conference_id,
                organisation_id=organisation_id,
                organiser_organisation_id=organisation_id,
                description="Visit the school",
                due_on=date(2026, 3, 1),
            )
        )
        return {
            "referral_id": referral_id,
            "service_id": service_id,
            "conference_id": conference_id,
            "conference_action_id": action_id,
        }

    async def webhook(self, organisation_id: uuid.UUID) -> dict[str, uuid.UUID]:
        """A webhook subscription with one delivered ping in its log."""
        from ovc_api.webhooks.models import WebhookDelivery, WebhookSubscription
        from ovc_api.webhooks.signing import encrypt_secret, new_secret

        subscription_id = await self._insert(
            WebhookSubscription(
                organisation_id=organisation_id,
                url="https://hooks.example.org/ovc",
                event_types=["case.created"],
                secret_encrypted=encrypt_secret(new_secret(), TEST_SECRET),
            )
        )
        delivery_id = await self._insert(
            WebhookDelivery(
                organisation_id=organisation_id,
                subscription_id=subscription_id,
                message_id=f"msg_{uuid.uuid4().hex}",
                event_type="ping",
                payload={"type": "ping"},
                status="succeeded",
                attempts=1,
            )
        )
        return {"webhook_id": subscription_id, "delivery_id": delivery_id}

    async def _insert_plain(self, record: Any) -> None:

        async with system_session(self.app) as session:
            session.add(record)

    @asynccontextmanager
    async def as_service(self, actor: Actor) -> AsyncIterator[tuple[Any, Any]]:
        """A unit of work bound to `actor`'s organisation and the principal a service gets:
        services are called as a job, the CLI or the demo would call them, without HTTP."""
        from ovc_api.auth.principal import Principal
        from ovc_api.auth.scopes import ROLE_SCOPES, Role
        from ovc_api.db import set_tenant_context, unit_of_work

        role = Role(actor.role)
        principal = Principal(
            organisation_id=actor.organisation_id,
            scopes=frozenset(scope.value for scope in ROLE_SCOPES[role]),
            role=role,
            user_id=actor.user_id,
        )
        async with unit_of_work(self.app.state.database) as session:
            await set_tenant_context(session, actor.organisation_id)
            yield session, principal

    async def network_admin(self) -> Actor:
        from ovc_api.users.bootstrap import network_organisation

        async with system_session(self.app) as session:
            network = await network_organisation(session)
        return await self.user(network.id, "network_admin")


@pytest_asyncio.fixture
async def factory(app: FastAPI, client: httpx.AsyncClient) -> Factory:
    return Factory(app, client)


@pytest_asyncio.fixture
async def tenant_a(factory: Factory) -> Tenant:
    return await factory.tenant()


@pytest_asyncio.fixture
async def tenant_b(factory: Factory) -> Tenant:
    return await factory.tenant()


@pytest_asyncio.fixture
async def network_admin(factory: Factory) -> Actor:
    return await factory.network_admin()


# --- a network of its own: statistics over every organisation of one database ------------


def own_database_settings(
    tmp_path_factory: pytest.TempPathFactory, label: str
) -> Iterator[Settings]:
    """Settings of a migrated database of its own (for module fixtures that need the counts
    of ALL organisations), dropped at the end."""
    databases = make_test_database(tmp_path_factory.mktemp(f"{label}-db"), label)
    database = next(databases)
    try:
        settings = make_settings(database, Path(tmp_path_factory.mktemp(f"{label}-data")))
        run_migrations(settings)
        yield settings
    finally:
        databases.close()


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 9, tzinfo=UTC)


def _insert_order(kind: type) -> int:
    order = ["Family", "Child", "Case", "CaseConcern", "ServiceDelivery", "Referral"]
    return order.index(kind.__name__)


class Rows:
    """Case records straight into the database, many per transaction (network statistics).

    `record_key`: when set, every record gets this key instead of a random one (so that
    tests can work out each cell's perturbation by hand).
    """

    def __init__(self, record_key: int | None = None) -> None:
        self.records: list[Any] = []
        self.record_key = record_key

    def _keyed(self, record: Any) -> Any:
        if self.record_key is not None:
            record.record_key = self.record_key
        self.records.append(record)
        return record

    def child(self, org: uuid.UUID, province: str, **fields: Any) -> uuid.UUID:
        from ovc_api.children.models import Child

        values: dict[str, Any] = {
            "sex": "female",
            "care_arrangement": "kinship_care",
            "date_of_birth": date(2015, 1, 1),
            **fields,
        }
        child = self._keyed(Child(organisation_id=org, province=province, **values))
        return child.id  # type: ignore[no-any-return]

    def family(self, org: uuid.UUID) -> uuid.UUID:
        from ovc_api.families.models import Family

        family = self._keyed(Family(organisation_id=org, name="Household", province="battambang"))
        return family.id  # type: ignore[no-any-return]

    def cases(
        self,
        org: uuid.UUID,
        n: int,
        province: str,
        opened: date,
        closed: date | None = None,
        reason: str | None = None,
        concerns: tuple[str, ...] = ("lack_of_food",),
        child_id: uuid.UUID | None = None,
        **child: Any,
    ) -> list[uuid.UUID]:
        """`n` cases, each of a new child (or all of the child `child_id`)."""
        from ovc_api.cases.models import Case, CaseConcern

        ids = []
        for _ in range(n):
            case = self._keyed(
                Case(
                    organisation_id=org,
                    child_id=child_id or self.child(org, province, **child),
                    referral_source="community",
                    risk_level="medium",
                    status="closed" if closed else "intake",
                    opened_on=opened,
                    closed_on=closed,
                    closure_reason=reason,
                )
            )
            self.records += [
                CaseConcern(case_id=case.id, concern=concern, organisation_id=org)
                for concern in concerns
            ]
            ids.append(case.id)
        return ids

    def services(
        self, org: uuid.UUID, kind: str, services: int, children: int, families: int
    ) -> None:
        from ovc_api.services.models import ServiceDelivery

        child_ids = [self.child(org, "battambang") for _ in range(children)]
        family_ids = [self.family(org) for _ in range(families)]
        for i in range(services):
            self._keyed(
                ServiceDelivery(
                    organisation_id=org,
                    child_id=child_ids[i % children],
                    family_id=family_ids[i % families],
                    service_type=kind,
                    delivered_on=date(2026, 2, 1),
                    province="battambang",
                )
            )

    def referrals(
        self, org: uuid.UUID, receiver: uuid.UUID, case_id: uuid.UUID, n: int, created: date
    ) -> None:
        from ovc_api.cases.models import Case
        from ovc_api.sharing.models import Referral

        case = next(r for r in self.records if isinstance(r, Case) and r.id == case_id)
        for _ in range(n):
            self._keyed(
                Referral(
                    organisation_id=org,
                    receiving_organisation_id=receiver,
                    case_id=case_id,
                    child_id=case.child_id,
                    reason="Needs support",
                    urgency="routine",
                    consent_given_by="Yeay Phan",
                    consent_relation="grandmother",
                    consent_given_on=created,
                    consent_method="verbal",
                    created_at=_at(created),
                )
            )

    async def save(self, app: FastAPI) -> None:
        async with system_session(app) as session:
            kinds: list[type] = []  # parent tables first: the order records were made in
            for record in self.records:
                if type(record) not in kinds:
                    kinds.append(type(record))
            for kind in sorted(kinds, key=_insert_order):
                session.add_all([r for r in self.records if type(r) is kind])
                await session.flush()


def use_settings_env(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    """Point the `ovc-api` command (which reads the environment) at these settings' database."""
    monkeypatch.setenv("OVC_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("OVC_MIGRATION_DATABASE_URL", settings.migration_database_url)
    monkeypatch.setenv("OVC_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("OVC_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("OVC_ARGON2_MEMORY_KIB", "8")
    monkeypatch.setenv("OVC_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("OVC_ARGON2_PARALLELISM", "1")


# --- a live server (uvicorn in a thread), for the client and connection-level tests -------


class LiveServer:
    """The app served by uvicorn on 127.0.0.1 in a background thread (own event loop)."""

    def __init__(self, settings: Settings, app: FastAPI | None = None) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))  # a free port, held until uvicorn takes it
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        config = uvicorn.Config(
            app or create_app(settings), lifespan="on", log_config=None, access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.server.started:
                if httpx.get(f"{self.url}/healthz").status_code == 200:
                    return self
            elif not self.thread.is_alive():
                break
            time.sleep(0.05)
        raise RuntimeError("the live server did not start")

    def __exit__(self, *exc_info: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.socket.close()


@pytest.fixture
def rate_window_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rate limits count in windows aligned on the clock: a test spending a budget must not
    straddle a window's end (its requests would fall into two windows, and a 429 it expects
    would not come). The limiter's clock is set to one second past the hour (so past the
    minute too), running on from there."""
    from types import SimpleNamespace

    from ovc_api import ratelimit

    offset = 1 - time.time() % 3600
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: time.time() + offset))
