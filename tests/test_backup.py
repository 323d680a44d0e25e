"""Backups that restore: a live SQLite database backed up under writes, restored exactly."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import text

from ovc_api.audit.archive import sync_engine
from ovc_api.backup import content, in_use
from ovc_api.cli import main
from ovc_api.db import run_migrations
from ovc_api.settings import Settings

from .conftest import TEST_SECRET, Tenant, make_settings, make_test_database, use_settings_env

if TYPE_CHECKING:
    from .conftest import TestDatabase

BATCH = 5  # rows per writer transaction: a consistent copy holds whole batches only


def _sqlite_settings(monkeypatch: pytest.MonkeyPatch, path: Path) -> Settings:
    url = f"sqlite+aiosqlite:///{path.as_posix()}"
    settings = Settings(
        database_url=url,
        migration_database_url=url,
        secret_key=TEST_SECRET,
        data_dir=path.parent,
        argon2_memory_kib=8,
        argon2_time_cost=1,
        argon2_parallelism=1,
    )
    use_settings_env(monkeypatch, settings)
    return settings


class Writer(threading.Thread):
    """Commits batches of BATCH throttle rows, numbered, until stopped (the API's stand-in)."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.committed = 0
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        connection = sqlite3.connect(self.path, timeout=30)
        try:
            while not self.stop.is_set():
                with connection:
                    connection.executemany(
                        "INSERT INTO login_throttle (key, failures, window_started_at) "
                        "VALUES (?, ?, '2026-11-29 00:00:00.000000')",
                        [(f"batch-{self.committed:06d}-{i}", i) for i in range(BATCH)],
                    )
                self.committed += 1
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            connection.close()

    def wait_for(self, batches: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.committed < batches:
            assert time.monotonic() < deadline, "the writer stalled"
            time.sleep(0.01)


def _batches(path: Path) -> set[int]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        keys = [
            k
            for (k,) in connection.execute(
                "SELECT key FROM login_throttle WHERE key LIKE 'batch-%'"
            )
        ]
    finally:
        connection.close()
    counts: dict[int, int] = {}
    for key in keys:
        batch = int(key.split("-")[1])
        counts[batch] = counts.get(batch, 0) + 1
    assert set(counts.values()) <= {BATCH}, "a transaction was copied in part"
    return set(counts)


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Writer]]:
    path = tmp_path / "live.db"
    run_migrations(_sqlite_settings(monkeypatch, path))
    connection = sqlite3.connect(path)
    with connection:  # some bulk, so the copy takes a while
        connection.executemany(
            "INSERT INTO login_throttle (key, failures, window_started_at) "
            "VALUES (?, 0, '2026-11-29 00:00:00.000000')",
            [(f"bulk-{i:06d}-{'x' * 200}",) for i in range(20_000)],
        )
    connection.close()
    writer = Writer(path)
    writer.start()
    yield path, writer
    writer.stop.set()
    writer.join(10)


def test_a_live_sqlite_database_backs_up_and_restores_to_the_same_content(
    live: tuple[Path, Writer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, writer = live
    writer.wait_for(20)
    started = writer.committed
    out = tmp_path / "backup.db"
    assert main(["backup", "--out", str(out)]) == 0, capsys.readouterr().err
    ended = writer.committed
    writer.wait_for(ended + 20)  # the API kept writing after the backup
    writer.stop.set()
    writer.join(10)
    assert writer.error is None
    backup = content(out)
    assert backup.checksum in capsys.readouterr().out
    # One moment: every batch committed before the backup began, whole batches, no gaps.
    copied = _batches(out)
    assert copied == set(range(len(copied)))
    assert started <= len(copied) <= ended
    assert backup.row_counts["login_throttle"] == 20_000 + BATCH * len(copied)
    assert content(path).row_counts["login_throttle"] > backup.row_counts["login_throttle"]

    target = tmp_path / "restored" / "ovc.db"
    _sqlite_settings(monkeypatch, target)
    assert main(["restore", "--from", str(out)]) == 0, capsys.readouterr().err
    restored = content(target)
    assert restored == backup  # same rows in every table, same checksum
    assert backup.checksum in capsys.readouterr().out


def test_restore_refuses_a_database_in_use_unless_forced(
    live: tuple[Path, Writer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, writer = live
    writer.wait_for(5)
    out = tmp_path / "backup.db"
    assert main(["backup", "--out", str(out)]) == 0
    assert main(["backup", "--out", str(out)]) == 1  # never overwrites a backup
    assert "exists" in capsys.readouterr().err
    writer.stop.set()
    writer.join(10)
    idle = sqlite3.connect(path)  # an API worker holding the database open, idle
    idle.execute("SELECT count(*) FROM login_throttle").fetchone()
    try:
        assert in_use(path)
        assert main(["restore", "--from", str(out)]) == 1
        assert "in use" in capsys.readouterr().err
        assert content(path) != content(out)
        assert main(["restore", "--from", str(out), "--force"]) == 0
    finally:
        idle.close()
    assert not in_use(path)
    assert content(path) == content(out)


def test_restore_refuses_a_file_that_is_not_a_backup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _sqlite_settings(monkeypatch, tmp_path / "ovc.db")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database" * 100)
    assert main(["restore", "--from", str(junk)]) == 1
    assert "not a usable SQLite database" in capsys.readouterr().err
    assert not (tmp_path / "ovc.db").exists()


# --- PostgreSQL: pg_dump -Fc as the owner, pg_restore, grants by migrate ------------------


@pytest.fixture
def second_database(tmp_path: Path) -> Iterator[TestDatabase]:
    yield from make_test_database(tmp_path, "restore")


@pytest.mark.skipif(not os.environ.get("OVC_TEST_DATABASE_URL"), reason="pg_dump is PostgreSQL's")
def test_postgres_backup_restores_into_another_database_with_grants(
    settings: Settings,
    tenant_a: Tenant,
    second_database: TestDatabase,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_settings_env(monkeypatch, settings)
    out = tmp_path / "ovc.dump"
    assert main(["backup", "--out", str(out)]) == 0, capsys.readouterr().err
    target = make_settings(second_database, tmp_path)
    use_settings_env(monkeypatch, target)
    assert main(["restore", "--from", str(out)]) == 0, capsys.readouterr().err
    assert main(["restore", "--from", str(out)]) == 1  # a live schema needs --force
    assert "--force" in capsys.readouterr().err

    def counts(url: str) -> dict[str, int]:
        engine = sync_engine(url)
        try:
            with engine.begin() as connection:
                connection.execute(text("SELECT set_config('ovc.system', 'on', true)"))
                return {
                    table: connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                    for table in ("organisations", "users", "children", "audit_events")
                }
        finally:
            engine.dispose()

    restored = counts(target.migration_database_url)
    assert restored == counts(settings.migration_database_url)
    assert restored["users"] >= len(tenant_a.actors)
    # The restored database's own application role got its privileges from `migrate`
    # (the dump carries none).
    app = sync_engine(target.database_url)
    try:
        with app.begin() as connection:
            granted = connection.execute(
                text(
                    "SELECT has_table_privilege(current_user, 'children', 'SELECT'), "
                    "has_table_privilege(current_user, 'children', 'INSERT'), "
                    "has_table_privilege(current_user, 'audit_events', 'INSERT')"
                )
            ).one()
            assert tuple(granted) == (True, True, True)
    finally:
        app.dispose()
