"""Alembic alone changes the schema: the chain runs both ways and matches the models."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url

import ovc_api.models  # noqa: F401
from ovc_api.db import alembic_config, head_revision, metadata
from ovc_api.migration_helpers import include_object

from .conftest import make_test_database


def _sync(url: str) -> str:
    parsed = make_url(url)
    driver = "sqlite" if parsed.drivername.startswith("sqlite") else "postgresql+psycopg"
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


@pytest.fixture
def fresh_database(tmp_path: Path):  # type: ignore[no-untyped-def]
    yield from make_test_database(tmp_path, "mig")


def test_upgrade_downgrade_upgrade_and_models_match(fresh_database) -> None:  # type: ignore[no-untyped-def]
    config = alembic_config(fresh_database.owner_url, fresh_database.app_url)
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    engine = create_engine(_sync(fresh_database.owner_url))
    try:
        with engine.connect() as conn:
            leftover = set(inspect(conn).get_table_names()) - {"alembic_version"}
            assert leftover == set(), f"downgrade left tables behind: {leftover}"
        command.upgrade(config, "head")
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "include_object": include_object}
            )
            assert context.get_current_revision() == head_revision()
            diff = compare_metadata(context, metadata)
            assert diff == [], f"models and migrations differ: {diff}"
    finally:
        engine.dispose()
