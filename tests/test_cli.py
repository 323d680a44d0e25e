"""The ovc-api command: clear one-line errors, non-zero exits, scripted admin creation."""

from __future__ import annotations

from pathlib import Path

import pytest

from ovc_api.cli import main

from .conftest import TEST_SECRET


@pytest.fixture
def sqlite_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    url = f"sqlite+aiosqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("OVC_DATABASE_URL", url)
    monkeypatch.setenv("OVC_MIGRATION_DATABASE_URL", url)
    monkeypatch.setenv("OVC_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("OVC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("OVC_ARGON2_MEMORY_KIB", "8")
    monkeypatch.setenv("OVC_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("OVC_ARGON2_PARALLELISM", "1")
    return tmp_path


def test_serve_refuses_an_unmigrated_database(
    sqlite_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--port", "8999"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ovc-api: error:") and "ovc-api migrate" in err
    assert len(err.strip().splitlines()) == 1


def test_unreachable_database_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OVC_DATABASE_URL", "postgresql+psycopg://nobody:secret@127.0.0.1:1/x")
    monkeypatch.setenv("OVC_SECRET_KEY", TEST_SECRET)
    assert main(["migrate"]) == 1
    err = capsys.readouterr().err
    assert "cannot migrate" in err and "secret" not in err
    assert len(err.strip().splitlines()) == 1


def test_bad_arguments_exit_non_zero(sqlite_env: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["launch-rockets"])
    assert exc.value.code == 2
    assert main(["serve", "--workers", "0"]) == 1


def test_production_refuses_a_weak_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OVC_ENVIRONMENT", "production")
    monkeypatch.setenv("OVC_SECRET_KEY", "changeme")
    assert main(["migrate"]) == 1
    assert "OVC_SECRET_KEY" in capsys.readouterr().err


def test_migrate_then_create_admin_from_the_environment(
    sqlite_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate"]) == 0
    monkeypatch.setenv("OVC_ADMIN_PASSWORD", "Angkor-Wat-Sunrise-1")
    assert main(["create-admin", "--email", "boss@network.example.org"]) == 0
    assert main(["create-admin", "--email", "boss@network.example.org"]) == 1
    assert "already exists" in capsys.readouterr().err
    monkeypatch.setenv("OVC_ADMIN_PASSWORD", "password1234")
    assert main(["create-admin", "--email", "weak@network.example.org"]) == 1
    assert "too common" in capsys.readouterr().err


def test_openapi_command_writes_the_contract(tmp_path: Path) -> None:
    out = tmp_path / "openapi.json"
    assert main(["openapi", "--out", str(out)]) == 0
    assert out.read_text() == Path("openapi/openapi.json").read_text()


def test_serve_migrates_only_an_embedded_sqlite_database_when_asked(
    sqlite_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The image's default command serves the embedded database without a separate step."""
    import ovc_api.cli as cli

    started: list[int] = []
    monkeypatch.setattr("uvicorn.run", lambda *_a, **kw: started.append(kw["workers"]))
    monkeypatch.setenv("OVC_WORKERS", "3")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(sqlite_env / "metrics"))
    (sqlite_env / "metrics").mkdir()
    (sqlite_env / "metrics" / "counter_123.db").write_bytes(b"stale")
    assert cli.main(["serve", "--migrate-sqlite"]) == 0
    assert started == [3]
    assert not list((sqlite_env / "metrics").glob("*.db"))  # last run's counters are gone


def test_an_empty_workers_variable_means_the_default(
    sqlite_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[int] = []
    monkeypatch.setattr("uvicorn.run", lambda *_a, **kw: started.append(kw["workers"]))
    monkeypatch.setenv("OVC_WORKERS", "")
    assert main(["migrate"]) == 0
    assert main(["serve"]) == 0
    assert started == [1]
