"""Alembic: upgrade → no drift (autogenerate finds nothing) → downgrade, on every backend."""
from __future__ import annotations

import pytest
from sqlalchemy import create_engine, inspect

from backend import migrate
from tests.conftest import BACKENDS, drop_pg_database, new_database_url


@pytest.mark.parametrize("backend", BACKENDS)
def test_upgrade_check_downgrade(backend, tmp_path_factory):
    url = new_database_url(backend, tmp_path_factory, "mig")
    migrate.upgrade(url)
    migrate.check(url)  # raises when the models and the migrations differ
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    assert {"audit_entry", "user_account", "target", "inspector", "item"} <= set(inspect(engine).get_table_names())
    migrate.downgrade(url, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(url)  # and up again from nothing
    engine.dispose()
    if backend == "postgresql":
        drop_pg_database(url)
