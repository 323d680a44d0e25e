"""Settings, validated once at start-up (prefix ``OVC_``, optional ``.env``).

Every field here is documented in the README's configuration table; a test keeps the two in step.
"""

from __future__ import annotations

import os
import secrets
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATA_DIR = Path("data")
KNOWN_WEAK_SECRETS = frozenset({"", "changeme", "change-me", "secret", "dev", "development"})
MIN_SECRET_LENGTH = 32
# OWASP's minimum argon2id profile; cheaper parameters are only for tests and development.
MIN_PRODUCTION_ARGON2_MEMORY_KIB = 19_456
MIN_PRODUCTION_ARGON2_TIME_COST = 2


class Environment(StrEnum):
    development = "development"
    production = "production"


class LogFormat(StrEnum):
    json = "json"
    console = "console"


class SmtpSecurity(StrEnum):
    starttls = "starttls"
    ssl = "ssl"
    none = "none"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="OVC_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        # `OVC_WORKERS=` (set but empty, as container templates often leave it) means the
        # default, not a validation error.
        env_ignore_empty=True,
    )

    environment: Environment = Environment.development
    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str = ""
    migration_database_url: str = ""
    database_pool_size: int = Field(default=20, ge=1, le=200)
    workers: int = Field(default=1, ge=1, le=64)
    # Bounds on waiting for the database (seconds; 0 turns a timeout off where allowed).
    database_connect_timeout_seconds: float = Field(default=5, ge=0, le=300)
    database_statement_timeout_seconds: float = Field(default=30, ge=0, le=24 * 3600)
    database_idle_in_transaction_timeout_seconds: float = Field(default=60, ge=0, le=24 * 3600)
    database_pool_timeout_seconds: float = Field(default=10, gt=0, le=300)
    export_statement_timeout_seconds: float = Field(default=900, ge=0, le=24 * 3600)
    readyz_timeout_seconds: float = Field(default=2, gt=0, le=60)
    shutdown_timeout_seconds: int = Field(default=30, ge=1, le=3600)
    worker_healthcheck_timeout_seconds: int = Field(default=30, ge=1, le=600)
    secret_key: str = ""
    jwt_issuer: str = "ovc-api"
    jwt_audience: str = "ovc-api"
    access_token_minutes: int = Field(default=15, ge=1, le=24 * 60)
    refresh_token_days: int = Field(default=14, ge=1, le=365)
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    log_level: str = "INFO"
    log_format: LogFormat = LogFormat.json
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    stats_suppression_threshold: int = Field(default=5, ge=1)
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65_536, ge=8)
    argon2_parallelism: int = Field(default=4, ge=1)
    login_max_failures: int = Field(default=5, ge=1)
    login_max_failures_per_address: int = Field(default=20, ge=1)
    login_failure_window_seconds: int = Field(default=900, ge=1)
    login_lockout_seconds: int = Field(default=900, ge=1)
    no_contact_days: int = Field(default=30, ge=1)
    timezone: str = "Asia/Phnom_Penh"
    # Bearer token Prometheus must send to /metrics; unset: /metrics is open in development
    # and not served at all (404) in production.
    metrics_token: str = ""
    # Addresses of reverse proxies whose X-Forwarded-For/-Proto are believed (comma-separated
    # IPs or networks, `*` for any); empty: the headers are ignored.
    forwarded_allow_ips: str = ""
    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_from: str = ""
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_security: SmtpSecurity = SmtpSecurity.starttls
    smtp_timeout_seconds: int = Field(default=10, ge=1, le=120)
    # Record-keeping horizon for child-protection files: `ovc-api audit archive` keeps these.
    audit_retention_years: int = Field(default=7, ge=1, le=100)
    # Budgets per user and per API key (see ratelimit.py); "off" for none.
    rate_limit: str = "600/minute"
    rate_limit_bulk: str = "30/minute"
    rate_limit_storage_url: str = ""
    # Spreadsheet imports (imports/): the upload's own body limit, rows, and when a job runs
    # in the background instead of during the request.
    import_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    import_max_rows: int = Field(default=20_000, ge=1)
    import_background_rows: int = Field(default=500, ge=0)
    # Webhooks: private/loopback destinations and plain HTTP only when true (tests, closed
    # networks); how long one delivery may take; `ovc-api worker`'s pause when idle; and
    # whether the API process runs one delivery worker itself (`ovc-api demo`, SQLite).
    webhook_allow_private: bool = False
    webhook_timeout_seconds: float = Field(default=10, gt=0, le=60)
    webhook_poll_seconds: float = Field(default=2, gt=0, le=300)
    webhook_worker_in_process: bool = False
    summary_compact_seconds: float = Field(default=900, ge=10, le=86_400)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("rate_limit", "rate_limit_bulk")
    @classmethod
    def _budget(cls, value: str) -> str:
        from limits import parse

        if value.strip().lower() == "off":
            return "off"
        try:
            parse(value)
        except ValueError as exc:
            raise ValueError(f"{value!r}: write e.g. 600/minute, 30 per minute or off") from exc
        return value

    @field_validator("database_url", "migration_database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        return async_database_url(value)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (e.g. Asia/Phnom_Penh)") from exc
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @model_validator(mode="after")
    def _resolve_defaults(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{(self.data_dir / 'ovc.db').as_posix()}"
        if not self.migration_database_url:
            self.migration_database_url = self.database_url
        if self.smtp_host and "@" not in self.smtp_from:
            raise ValueError("OVC_SMTP_FROM must be an e-mail address when OVC_SMTP_HOST is set")
        if self.argon2_memory_kib < 8 * self.argon2_parallelism:
            raise ValueError("OVC_ARGON2_MEMORY_KIB must be at least 8 x OVC_ARGON2_PARALLELISM")
        if self.environment is Environment.production:
            self._refuse_unsafe_production()
        elif not self.secret_key:
            self.secret_key = _development_secret(self.data_dir)
        return self

    def _refuse_unsafe_production(self) -> None:
        problems = []
        if (
            self.secret_key.lower() in KNOWN_WEAK_SECRETS
            or len(self.secret_key) < MIN_SECRET_LENGTH
        ):
            problems.append(
                f"OVC_SECRET_KEY must be set to a random value of at least {MIN_SECRET_LENGTH} "
                "characters (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
            )
        if (
            self.argon2_memory_kib < MIN_PRODUCTION_ARGON2_MEMORY_KIB
            or self.argon2_time_cost < MIN_PRODUCTION_ARGON2_TIME_COST
        ):
            problems.append(
                "OVC_ARGON2_MEMORY_KIB/OVC_ARGON2_TIME_COST are below the production minimum "
                f"({MIN_PRODUCTION_ARGON2_MEMORY_KIB} KiB, "
                f"{MIN_PRODUCTION_ARGON2_TIME_COST} passes)"
            )
        if problems:
            raise ValueError("refusing to start in production: " + "; ".join(problems))

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


# What operators paste (libpq's form, Heroku's `postgres://`, SQLAlchemy's sync SQLite) and the
# async driver the API runs on. An explicit `+driver` other than these is kept as given.
_ASYNC_DRIVERS = {
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "postgresql+psycopg2": "postgresql+psycopg",
    "postgresql+psycopg_async": "postgresql+psycopg",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+pysqlite": "sqlite+aiosqlite",
}


def async_database_url(url: str) -> str:
    """`postgresql://...`, `postgres://...` and `sqlite:///...` name the async drivers."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        return url
    return f"{_ASYNC_DRIVERS.get(scheme.lower(), scheme)}://{rest}"


def _development_secret(data_dir: Path) -> str:
    """Generate a key once per data directory, so development tokens survive restarts."""
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker won the race: use its key
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


@lru_cache
def get_settings() -> Settings:
    return Settings()
