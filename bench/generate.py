"""Create a PostgreSQL benchmark database: N cases over M organisations, loaded with COPY.

The schema comes from the project's Alembic migrations, run as the superuser (owner), and a
non-superuser app role is granted access exactly as in production, so row-level security
applies to the API under test. Rows are generated in Python with a fixed seed and streamed
with COPY; one organisation holds exactly --small-org-cases cases (10,000 by default) for
the "small tenant in a big database" comparison, the others follow a long-tailed (1/rank)
distribution, like a network with one big NGO and many small ones.

    .venv/bin/python bench/generate.py --database ovc_bench --cases 1000000 --orgs 20

An existing database generated with the same arguments is reused (nothing is reloaded);
--recreate rebuilds it, --drop removes the database (and the app role if unused) and exits.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg
from psycopg import Connection, sql

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    BENCH_PASSWORD,
    DEFAULT_ADMIN_URL,
    DEFAULT_APP_ROLE,
    DEFAULT_DATABASE,
    PRODUCTION_ARGON2,
    BenchDatabase,
    login_email,
)

from ovc_api.auth.passwords import PasswordHasher
from ovc_api.db import alembic_config, run_migrations
from ovc_api.demo.tables import DISTRICTS, FAMILY_NAMES, GIVEN_NAMES, VILLAGES
from ovc_api.settings import Settings
from ovc_api.text import search_key

CHUNK = 20_000  # rows per COPY write
YEARS_OF_CASES = 6
CONCERNS = [  # (concern, weight): what the network's members report most
    ("left_behind_by_migration", 30), ("lack_of_food", 25), ("no_birth_certificate", 22),
    ("out_of_school", 20), ("neglect", 12), ("violence", 10), ("abandonment", 7),
    ("begging_or_child_labour", 6), ("exploitation", 4), ("disability", 4),
    ("medical_emergency", 3), ("sexual_abuse", 2), ("other", 2),
]  # fmt: skip
SUMMARIES = [
    "Parents migrated to Thailand; grandmother caring for the children; food runs short.",
    "Single mother on daily-labour income; the children eat twice a day.",
    "No birth certificate; school enrolment refused until registration.",
    "Brought to beg along the road by the grandparents; out of school.",
    "Domestic violence reported by the village chief; safety plan agreed.",
    "Found alone at the market; family tracing with the CCWC under way.",
    "Child with a disability left with an elderly grandfather.",
    "Dropped out of school to work on the farm; family in debt.",
]


@dataclass(frozen=True)
class Org:
    id: uuid.UUID
    short_name: str
    name: str
    cases: int
    provinces: list[str]
    users: list[tuple[uuid.UUID, str, str]]  # (id, email, role)

    @property
    def workers(self) -> list[uuid.UUID]:
        return [uid for uid, _, role in self.users if role in ("caseworker", "case_manager")]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL, help="a superuser's URL")
    parser.add_argument("--database", default=DEFAULT_DATABASE, help="database to create")
    parser.add_argument("--app-role", default=DEFAULT_APP_ROLE, help="non-superuser app role")
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--orgs", type=int, default=20)
    parser.add_argument("--small-org-cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=855)
    parser.add_argument("--recreate", action="store_true", help="drop and rebuild if it exists")
    parser.add_argument("--drop", action="store_true", help="drop the database and exit")
    args = parser.parse_args(argv)
    if args.orgs < 2 or args.cases < args.small_org_cases + args.orgs - 1:
        parser.error("need --orgs >= 2 and --cases >= --small-org-cases + orgs - 1")
    return args


def organisation_sizes(cases: int, orgs: int, small: int) -> list[int]:
    """The small organisation first, then the rest in 1/rank proportions (largest first)."""
    rest = cases - small
    weights = [1 / rank for rank in range(1, orgs)]
    sizes = [max(1, int(rest * w / sum(weights))) for w in weights]
    sizes[0] += rest - sum(sizes)
    return [small, *sizes]


# --- database lifecycle -----------------------------------------------------------------


def signature(args: argparse.Namespace) -> str:
    return (
        f"ovc-bench cases={args.cases} orgs={args.orgs} small={args.small_org_cases} "
        f"seed={args.seed}"
    )


def existing_signature(db: BenchDatabase) -> str | None:
    """None when the database does not exist; its comment ('' if loading never finished)."""
    with db.admin_connection() as conn:
        row = conn.execute(
            "SELECT coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database "
            "WHERE datname = %s",
            (db.name,),
        ).fetchone()
    return None if row is None else str(row[0])


def drop_database(db: BenchDatabase, *, role_too: bool) -> None:
    with db.admin_connection() as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db.name))
        )
        if role_too:
            try:
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(db.app_role)))
            except Exception as exc:  # still used by another benchmark database: keep it
                print(f"kept role {db.app_role}: {str(exc).splitlines()[0]}")


def create_database(db: BenchDatabase) -> None:
    with db.admin_connection() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db.name)))
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (db.app_role,))
        if exists.fetchone() is None:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS").format(
                    sql.Identifier(db.app_role)
                )
            )


# The last revision before the tables kept by triggers (case_facts, 0014; service_facts and
# service_summary, 0015; case_rollups, 0016): the load's COPY runs with
# session_replication_role = replica, which fires no trigger, so those tables are empty
# after it. Their migrations fill them from what is there: migrating down to this revision
# and up again does.
BEFORE_TRIGGER_KEPT = "0013_rls_initplans"


def migrate(db: BenchDatabase, *, refill: bool = False) -> None:
    settings = Settings(
        database_url=db.app_url,
        migration_database_url=db.owner_url,
        secret_key="bench-migrations-only-" + "x" * 32,
        data_dir=Path("/tmp/ovc-bench"),
    )
    if refill:
        from alembic import command

        command.downgrade(
            alembic_config(settings.migration_database_url, settings.database_url),
            BEFORE_TRIGGER_KEPT,
        )
    run_migrations(settings)


# --- generated rows ---------------------------------------------------------------------


def fast_ids(rng: random.Random) -> Callable[[], str]:
    """Random version-4 UUIDs as 32 hex digits (PostgreSQL reads them without dashes)."""
    bits = rng.getrandbits
    mask = ~(0xF << 76) & ~(0x3 << 62) & ((1 << 128) - 1)
    version = (0x4 << 76) | (0x2 << 62)

    def new() -> str:
        return f"{(bits(128) & mask) | version:032x}"

    return new


def weighted(rng: random.Random, pairs: list[tuple[str, int]], n: int = 1000) -> list[str]:
    """A lookup list whose uniform picks follow the weights (cheap per row)."""
    return rng.choices([p for p, _ in pairs], [w for _, w in pairs], k=n)


class Generator:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        self.new_id = fast_ids(self.rng)
        self.today = datetime.now(UTC).date()
        self.now = datetime.now(UTC).isoformat()
        names = []
        for sex, given in GIVEN_NAMES.items():
            for g_latin, g_khmer in given:
                for f_latin, f_khmer in FAMILY_NAMES:
                    text = search_key(g_latin, f_latin, g_khmer, f_khmer)
                    names.append(f"{g_latin}\t{f_latin}\t{g_khmer}\t{f_khmer}\t{text}\t{sex.value}")
        self.names = names
        rng = self.rng
        self.profiles = [
            "\t".join(parts)
            for parts in zip(
                weighted(rng, [("birth_certificate", 35), ("registered_no_certificate", 15),
                               ("not_registered", 40), ("unknown", 10)]),
                weighted(rng, [("none", 92), ("physical", 4), ("intellectual", 2),
                               ("multiple", 2)]),
                weighted(rng, [("enrolled", 55), ("dropped_out", 15), ("never_attended", 8),
                               ("not_school_age", 17), ("unknown", 5)]),
                weighted(rng, [("kinship_care", 40), ("parents", 25), ("single_parent", 20),
                               ("residential_care", 7), ("foster_care", 4), ("other", 4)]),
                strict=True,
            )
        ]  # fmt: skip
        self.risks = weighted(rng, [("low", 25), ("medium", 40), ("high", 27), ("emergency", 8)])
        self.referrals = weighted(
            rng,
            [("provincial_social_affairs", 30), ("local_authority", 25),
             ("commune_committee", 20), ("ngo", 10), ("community", 10), ("self", 5)],
        )  # fmt: skip
        self.reasons = weighted(
            rng,
            [("reunified_with_family", 30), ("kinship_care", 30), ("foster_care", 5),
             ("long_term_residential_care", 3), ("transferred", 10), ("aged_out", 10),
             ("other", 12)],
        )  # fmt: skip
        self.concern_sets = [
            sorted(set(weighted(rng, CONCERNS, k)))
            for k in rng.choices([1, 2, 3], [55, 35, 10], k=2000)
        ]
        self.open_statuses = weighted(
            rng, [("intake", 5), ("assessment", 10), ("case_plan", 15),
                  ("implementation", 55), ("review", 15)],
        )  # fmt: skip
        self._dates: dict[int, str] = {}

    def day(self, ordinal: int) -> str:
        text = self._dates.get(ordinal)
        if text is None:
            text = self._dates[ordinal] = date.fromordinal(ordinal).isoformat()
        return text

    def organisations(self) -> list[Org]:
        sizes = organisation_sizes(self.args.cases, self.args.orgs, self.args.small_org_cases)
        provinces = sorted(DISTRICTS)
        orgs = []
        for index, size in enumerate(sizes):
            short = f"BENCH{index:02d}"
            users = [
                (uuid.UUID(self.new_id()), login_email(short, local), role)
                for local, role in [
                    ("admin", "org_admin"),
                    ("manager", "case_manager"),
                    ("caseworker1", "caseworker"),
                    ("caseworker2", "caseworker"),
                    ("caseworker3", "caseworker"),
                ]
            ]
            orgs.append(
                Org(
                    id=uuid.UUID(self.new_id()),
                    short_name=short,
                    name=f"Bench NGO {index:02d}" + (" (small)" if index == 0 else ""),
                    cases=size,
                    provinces=self.rng.sample(provinces, self.rng.randint(1, 3)),
                    users=users,
                )
            )
        return orgs

    def locations(self, org: Org) -> list[str]:
        found = []
        for province in org.provinces:
            for district, communes in DISTRICTS[province].items():  # type: ignore[index]
                for commune in communes:
                    village = self.rng.choice(VILLAGES)
                    found.append(f"{province}\t{district}\t{commune}\t{village}")
        return found

    def children_and_cases(self, org: Org) -> Iterator[tuple[list[str], list[str], list[str]]]:
        """Chunks of COPY lines for children, cases and case_concerns of one organisation."""
        r = self.rng.random
        new_id, day = self.new_id, self.day
        org_id = org.id.hex
        workers = [w.hex for w in org.workers]
        locations = self.locations(org)
        names, profiles = self.names, self.profiles
        risks, referrals, reasons = self.risks, self.referrals, self.reasons
        concern_sets, open_statuses = self.concern_sets, self.open_statuses
        today = self.today.toordinal()
        span = 365 * YEARS_OF_CASES
        children: list[str] = []
        cases: list[str] = []
        concerns: list[str] = []
        for _ in range(org.cases):
            child_id, case_id = new_id(), new_id()
            age = int(span * r() ** 1.6)  # more cases in recent years
            opened = today - age
            worker = workers[int(r() * len(workers))]
            created = f"{day(opened)} {1 + int(r() * 10):02d}:{int(r() * 60):02d}:00+00"
            born = opened - int(r() * 17 * 365) - 30
            estimated = r() < 0.3
            birth = (
                day(date(date.fromordinal(born).year, 1, 1).toordinal()) if estimated else day(born)
            )
            children.append(
                f"{child_id}\t{org_id}\t{names[int(r() * len(names))]}\t{birth}\t"
                f"{'t' if estimated else 'f'}\t{profiles[int(r() * 1000)]}\t"
                f"{locations[int(r() * len(locations))]}\t{worker}\t{created}\t{created}\t1"
            )
            if r() < min(0.85, age / 900):
                closed = min(today, opened + 60 + int(r() * 340))
                status, closed_on, reason = "closed", day(closed), reasons[int(r() * 1000)]
                last_contact = max(opened, closed - int(r() * 20))
            else:
                status, closed_on, reason = open_statuses[int(r() * 1000)], "\\N", "\\N"
                closed = today
                last_contact = max(opened, today - int(r() * 60))
            cases.append(
                f"{case_id}\t{org_id}\t{child_id}\t{worker}\t{referrals[int(r() * 1000)]}\t"
                f"{risks[int(r() * 1000)]}\t{status}\t{day(opened)}\t{closed_on}\t{reason}\t"
                f"{SUMMARIES[int(r() * len(SUMMARIES))]}\t{day(last_contact)}\t{worker}\t"
                f"{created}\t{day(max(last_contact, min(closed, today)))} 09:00:00+00\t3"
            )
            for concern in concern_sets[int(r() * 2000)]:
                concerns.append(f"{case_id}\t{concern}\t{org_id}")
            if len(cases) >= CHUNK:
                yield children, cases, concerns
                children, cases, concerns = [], [], []
        if cases:
            yield children, cases, concerns


CHILD_COLUMNS = (
    "id, organisation_id, given_name_latin, family_name_latin, given_name_khmer, "
    "family_name_khmer, search_text, sex, date_of_birth, birth_date_estimated, "
    "birth_registration, disability, schooling_status, care_arrangement, province, district, "
    "commune, village, created_by, created_at, updated_at, version"
)
CASE_COLUMNS = (
    "id, organisation_id, child_id, assigned_to, referral_source, risk_level, status, "
    "opened_on, closed_on, closure_reason, summary, last_contact_on, created_by, created_at, "
    "updated_at, version"
)


def copy_lines(
    conn: Connection[tuple[object, ...]], table: str, columns: str, lines: list[str]
) -> None:
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        copy.write("\n".join(lines) + "\n")


def load(db: BenchDatabase, generator: Generator, orgs: list[Org]) -> None:
    hasher = PasswordHasher(Settings(secret_key="x" * 48, **PRODUCTION_ARGON2))  # type: ignore[arg-type]
    password_hash = hasher.hash_sync(BENCH_PASSWORD)  # once: every user shares it
    now = generator.now
    with db.owner_connection() as conn:
        # Consistent by construction: skip the per-row foreign-key triggers while loading.
        conn.execute("SET session_replication_role = replica")
        conn.execute("SET synchronous_commit = off")
        copy_lines(
            conn,
            "organisations",
            "id, name, short_name, kind, provinces, contact_email, active, created_at, "
            "updated_at, version",
            [
                f"{o.id.hex}\t{o.name}\t{o.short_name}\tngo\t{json.dumps(o.provinces)}\t"
                f"{login_email(o.short_name, 'office')}\tt\t{now}\t{now}\t1"
                for o in orgs
            ],
        )
        copy_lines(
            conn,
            "users",
            "id, organisation_id, email, full_name, role, password_hash, active, "
            "must_change_password, password_changed_at, created_at, updated_at, version",
            [
                f"{uid.hex}\t{o.id.hex}\t{email}\t{role.replace('_', ' ').title()} "
                f"{o.short_name}\t{role}\t{password_hash}\tt\tf\t{now}\t{now}\t{now}\t1"
                for o in orgs
                for uid, email, role in o.users
            ],
        )
        conn.commit()
        loaded, started = 0, time.monotonic()
        for org in orgs:
            for children, cases, concerns in generator.children_and_cases(org):
                copy_lines(conn, "children", CHILD_COLUMNS, children)
                copy_lines(conn, "cases", CASE_COLUMNS, cases)
                copy_lines(conn, "case_concerns", "case_id, concern, organisation_id", concerns)
                loaded += len(cases)
                if loaded % 100_000 < CHUNK:
                    rate = loaded / (time.monotonic() - started)
                    print(f"  {loaded:>9,} cases loaded ({rate:,.0f}/s)", flush=True)
            conn.commit()


def rebuild_service_facts(conn: Connection[tuple[object, ...]]) -> None:
    """service_facts again from the deliveries (after a load that skipped its triggers)."""
    if conn.execute("SELECT to_regprocedure('ovc_service_facts_rebuild()')").fetchone() != (None,):
        conn.execute("SELECT ovc_service_facts_rebuild()")


def vacuum_analyze(db: BenchDatabase) -> None:
    with db.owner_connection(autocommit=True) as conn:
        tables = ["organisations", "users", "children", "cases", "case_concerns"]
        for table in ("case_facts", "service_facts", "service_summary", "case_rollups"):
            if conn.execute("SELECT to_regclass(%s)", (table,)).fetchone() != (None,):
                tables.append(table)
        for table in tables:
            conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(table)))


def report(db: BenchDatabase) -> None:
    with db.owner_connection() as conn:
        rows = conn.execute(
            "SELECT o.short_name, o.name, count(c.id) FROM organisations o "
            "LEFT JOIN cases c ON c.organisation_id = o.id GROUP BY 1, 2 ORDER BY 3 DESC"
        ).fetchall()
    total = sum(int(str(n)) for *_, n in rows)
    print(f"\nDatabase {db.name}: {total:,} cases over {len(rows)} organisations")
    print(f"  owner (migrations, loading): {db.owner_url}")
    print(f"  app role (the API, RLS applies): {db.app_url}")
    print(
        f"\nLogins (password for all: {BENCH_PASSWORD}); admin = org_admin, manager = case_manager"
    )
    for short, name, n in rows:
        print(f"  {short:<9} {int(str(n)):>9,} cases  {login_email(str(short)):<38} {name}")


def main(argv: list[str] | None = None) -> int:
    try:
        return generate(parse_args(argv))
    except psycopg.Error as exc:
        print(f"generate: error: {str(exc).strip().splitlines()[-1]}", file=sys.stderr)
        return 1


def generate(args: argparse.Namespace) -> int:
    db = BenchDatabase(args.admin_url, args.database, args.app_role)
    if args.drop:
        drop_database(db, role_too=True)
        print(f"dropped database {db.name}")
        return 0
    wanted, found = signature(args), existing_signature(db)
    if found == wanted and not args.recreate:
        print(f"reusing {db.name} ({found}); pass --recreate to rebuild it")
        migrate(db)
        report(db)
        return 0
    if found is not None:
        if not args.recreate:
            print(
                f"database {db.name} exists with other data ({found or 'incomplete load'}): "
                "pass --recreate to rebuild it, or choose another --database",
                file=sys.stderr,
            )
            return 1
        drop_database(db, role_too=False)
    started = time.monotonic()
    create_database(db)
    migrate(db)
    print(f"created {db.name} and migrated it ({time.monotonic() - started:.1f} s)")
    generator = Generator(args)
    orgs = generator.organisations()
    step = time.monotonic()
    load(db, generator, orgs)
    print(f"loaded {args.cases:,} cases in {time.monotonic() - step:.1f} s")
    step = time.monotonic()
    migrate(db, refill=True)
    print(f"filled the tables kept by triggers in {time.monotonic() - step:.1f} s")
    step = time.monotonic()
    vacuum_analyze(db)
    print(f"VACUUM ANALYZE in {time.monotonic() - step:.1f} s")
    with db.admin_connection() as conn:
        conn.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                sql.Identifier(db.name), sql.Literal(wanted)
            )
        )
    print(f"done in {time.monotonic() - started:.1f} s")
    report(db)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
