"""What the benchmark's scripts share: database URLs, the app role, the known logins."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from sqlalchemy.engine import URL, make_url

DEFAULT_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_DATABASE = "ovc_bench"
DEFAULT_APP_ROLE = "ovc_bench_app"
# Every generated user has this password (hashed once with production argon2 settings).
BENCH_PASSWORD = "bench-Tonle-Sap-2026"
# A random secret is generated per run for the server; these are the production minimums.
PRODUCTION_ARGON2 = {"argon2_time_cost": 2, "argon2_memory_kib": 19_456, "argon2_parallelism": 1}


def login_email(short_name: str, local: str = "admin") -> str:
    return f"{local}@{short_name.lower()}.bench.example.org"


@dataclass(frozen=True)
class BenchDatabase:
    """The three ways the scripts reach one benchmark database."""

    admin_url: str  # a superuser, on its maintenance database: creates and drops
    name: str
    app_role: str

    def _url(self) -> URL:
        return make_url(self.admin_url).set(drivername="postgresql+psycopg", database=self.name)

    @property
    def owner_url(self) -> str:
        """SQLAlchemy URL of the schema owner (the superuser): migrations and loading."""
        return self._url().render_as_string(hide_password=False)

    @property
    def app_url(self) -> str:
        """SQLAlchemy URL of the non-superuser app role, so row-level security applies."""
        url = self._url().set(username=self.app_role, password=None)
        return url.render_as_string(hide_password=False)

    def libpq(self, sqlalchemy_url: str) -> str:
        """The same URL as a plain libpq/asyncpg connection string."""
        return (
            make_url(sqlalchemy_url)
            .set(drivername="postgresql")
            .render_as_string(hide_password=False)
        )

    def admin_connection(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.libpq(self.admin_url), autocommit=True)

    def owner_connection(self, autocommit: bool = False) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.libpq(self.owner_url), autocommit=autocommit)
