"""Backups that restore: `ovc-api backup` and `ovc-api restore`.

SQLite: SQLite's online backup API copies the database in one read transaction, so the copy
is one consistent moment even while the API keeps writing (WAL mode: writers are not
blocked). The copy is checked (`PRAGMA integrity_check`) and written beside the target
first, then renamed, so a failed backup never leaves a plausible-looking file.

PostgreSQL: `pg_dump -Fc` as the schema owner (OVC_MIGRATION_DATABASE_URL), without owners
and privileges; `pg_restore` replays it as the owner and `ovc-api migrate` then grants the
application role its privileges again (roles are cluster-wide: create them first, see the
README). The password goes to the tools through the environment, never the command line.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url


class BackupError(RuntimeError):
    """A one-line reason the backup or restore did not happen."""


@dataclass(frozen=True)
class Content:
    """What a SQLite database holds: rows per table and a digest of every row."""

    row_counts: dict[str, int]
    checksum: str


def sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite"):
        return None
    if not parsed.database or parsed.database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(parsed.database)


def content(path: Path) -> Content:
    """Rows of every table (in rowid order, which a page-for-page copy keeps), hashed.

    Two databases with the same content give the same checksum whatever their page layout,
    free pages or journal mode; the file's own bytes would not.
    """
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [
            name
            for (name,) in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        sha = hashlib.sha256()
        counts = {}
        for table in tables:
            count = 0
            sha.update(f"\x00table {table}\x00".encode())
            rows = f'SELECT * FROM "{table}" ORDER BY rowid'  # noqa: S608 - names from the schema
            for row in connection.execute(rows):
                sha.update(repr(row).encode())
                count += 1
            counts[table] = count
        return Content(counts, sha.hexdigest())
    finally:
        connection.close()


def _check(path: Path) -> None:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        verdict = connection.execute("PRAGMA integrity_check").fetchone()[0]
        has_schema = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
        ).fetchone()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a usable SQLite database: {exc}") from exc
    finally:
        connection.close()
    if verdict != "ok":
        raise BackupError(f"{path} failed the integrity check: {verdict}")
    if not has_schema:
        raise BackupError(f"{path} is not an ovc-api database (no alembic_version table)")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def backup_sqlite(database: Path, out: Path) -> Content:
    """Copy a live database to `out` (one consistent moment), checked; returns its content."""
    if not database.exists():
        raise BackupError(f"no database at {database}")
    if out.exists():
        raise BackupError(f"{out} exists: choose a new file name")
    partial = out.with_name(out.name + ".part")
    partial.unlink(missing_ok=True)
    source = sqlite3.connect(database, timeout=30)
    target = sqlite3.connect(partial)
    try:
        # pages=-1: the whole database in one step, i.e. one read transaction.
        source.backup(target, pages=-1)
        target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        target.commit()
    finally:
        target.close()
        source.close()
    try:
        _check(partial)
        _fsync(partial)
        snapshot = content(partial)
        partial.rename(out)
    finally:
        partial.unlink(missing_ok=True)
    return snapshot


def in_use(database: Path) -> bool:
    """Another connection has the database open (or is writing to it)."""
    if not database.exists():
        return False
    probe = sqlite3.connect(database, timeout=0, isolation_level=None)
    try:
        # In WAL mode every open connection holds a shared lock on the wal-index, which an
        # exclusive-mode connection cannot share: an idle API worker is detected too.
        probe.execute("PRAGMA locking_mode=EXCLUSIVE")
        probe.execute("BEGIN EXCLUSIVE")
        probe.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        probe.close()


def restore_sqlite(backup: Path, database: Path, *, force: bool = False) -> Content:
    """Replace the database's content with the backup's (through SQLite, not a file copy)."""
    if not backup.exists():
        raise BackupError(f"no backup at {backup}")
    _check(backup)
    if in_use(database) and not force:
        raise BackupError(
            f"{database} is in use (the API or another program has it open): stop it first, "
            "or pass --force to restore under it"
        )
    database.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
    target = sqlite3.connect(database, timeout=30)
    try:
        source.backup(target, pages=-1)
        target.execute("PRAGMA journal_mode=WAL")
        target.commit()
    finally:
        target.close()
        source.close()
    return content(database)


# --- PostgreSQL: pg_dump / pg_restore ---------------------------------------------------


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection URI without the password, and an environment carrying it."""
    parsed: URL = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise BackupError(
            f"{name} not found: install the PostgreSQL client tools of the server's major "
            "version (e.g. postgresql-client-15) and put them on PATH"
        )
    return found


def _run(command: list[str], env: dict[str, str]) -> None:
    completed = subprocess.run(  # noqa: S603 - fixed tool and options, no shell
        command, env=env, capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        lines = (completed.stderr or completed.stdout).strip().splitlines()
        raise BackupError(f"{Path(command[0]).name} failed: {lines[-1] if lines else '?'}")


def backup_postgres(owner_url: str, out: Path) -> None:
    """`pg_dump -Fc` as the owner: schema, data, row-level security policies; no grants."""
    if out.exists():
        raise BackupError(f"{out} exists: choose a new file name")
    dsn, env = _libpq(owner_url)
    partial = out.with_name(out.name + ".part")
    try:
        _run(
            [_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
             f"--file={partial}", f"--dbname={dsn}"],
            env,
        )  # fmt: skip
        _fsync(partial)
        partial.rename(out)
    finally:
        partial.unlink(missing_ok=True)


def restore_postgres(owner_url: str, backup: Path) -> None:
    """`pg_restore --clean` into the owner's database, in one transaction."""
    if not backup.exists():
        raise BackupError(f"no backup at {backup}")
    dsn, env = _libpq(owner_url)
    _run(
        [_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges",
         "--single-transaction", "--exit-on-error", f"--dbname={dsn}", str(backup)],
        env,
    )  # fmt: skip
