"""Settings refuse unsafe production values and are all documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from ovc_api.settings import Settings


def test_production_refuses_a_missing_or_short_secret(tmp_path: Path) -> None:
    for secret in ("", "changeme", "short-but-not-enough"):
        with pytest.raises(ValueError, match="OVC_SECRET_KEY"):
            Settings(environment="production", secret_key=secret, data_dir=tmp_path)


def test_production_refuses_cheap_password_hashing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ARGON2"):
        Settings(
            environment="production",
            secret_key="k" * 48,
            argon2_memory_kib=8,
            data_dir=tmp_path,
        )


def test_production_accepts_a_strong_configuration(tmp_path: Path) -> None:
    settings = Settings(environment="production", secret_key="k" * 48, data_dir=tmp_path)
    assert settings.secret_key == "k" * 48


def test_development_generates_one_secret_and_keeps_it(tmp_path: Path) -> None:
    first = Settings(environment="development", data_dir=tmp_path, secret_key="")
    second = Settings(environment="development", data_dir=tmp_path, secret_key="")
    assert len(first.secret_key) >= 48
    assert first.secret_key == second.secret_key
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_default_database_is_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, secret_key="x" * 40)
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path.as_posix()}/ovc.db"
    assert settings.migration_database_url == settings.database_url


def test_cors_origins_from_a_comma_separated_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OVC_CORS_ORIGINS", "https://a.example, https://b.example")
    assert Settings(secret_key="x" * 40).cors_origins == ["https://a.example", "https://b.example"]


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = Path("README.md").read_text(encoding="utf-8")
    missing = [
        f"OVC_{name.upper()}"
        for name in Settings.model_fields
        if f"`OVC_{name.upper()}`" not in readme
    ]
    assert missing == [], f"document these settings in the README: {missing}"


def test_unknown_time_zone_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="time zone"):
        Settings(timezone="Mars/Olympus_Mons", data_dir=tmp_path, secret_key="x" * 40)


@pytest.mark.parametrize(
    ("pasted", "used"),
    [
        ("postgresql://app:pw@db:5432/ovc", "postgresql+psycopg://app:pw@db:5432/ovc"),
        ("postgres://app:pw@db/ovc", "postgresql+psycopg://app:pw@db/ovc"),
        ("postgresql+psycopg2://app@db/ovc", "postgresql+psycopg://app@db/ovc"),
        ("postgresql+psycopg://app@db/ovc", "postgresql+psycopg://app@db/ovc"),
        ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
    ],
)
def test_pasted_database_urls_name_the_async_drivers(
    tmp_path: Path, pasted: str, used: str
) -> None:
    settings = Settings(data_dir=tmp_path, database_url=pasted)
    assert settings.database_url == used
    assert settings.migration_database_url == used


async def test_a_sync_sqlite_url_serves(tmp_path: Path) -> None:
    """`sqlite:///x.db` used to fail with "The asyncio extension requires an async driver"."""
    from sqlalchemy import text

    from ovc_api.db import Database

    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'x.db'}")
    database = Database.from_settings(settings)
    try:
        async with database.engine.connect() as conn:
            assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
    finally:
        await database.engine.dispose()
