"""The access table's worlds (tests/api/test_access_matrix.py ``World``), built once per module and backend.

Building a world cost ~70 ms of CPU, and tests/api/test_access_matrix.py and tests/api/test_no_500.py built
one (or several) for each of their ~900 tests. Here one world of each task state is built once, inside one
transaction of the module that is rolled back at its end (as tests/api/figures/conftest.py does for its data);
each test runs in a savepoint of that transaction, rolled back after it, and the worlds forget the values they
made lazily (``World.restore``): every test starts from the same worlds and none sees another's changes. The
app's requests commit through savepoints nested in the test's (``tests.conftest.rolled_back_session``).

A test module takes the fixtures by importing them. A check that nothing leaks: after each test, every table's
row count is the one the worlds were built with."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from backend.db import Base
from tests.factories import AuthActions, Factory

STATES = ("draft", "consulting", "confirmed", "committed", "drawn")   # the task's status in a row's world


def _row_counts(connection) -> tuple:
    tables = [table.name for table in Base.metadata.sorted_tables]
    return tuple(connection.execute(text("SELECT " + ", ".join(
        f'(SELECT count(*) FROM "{name}")' for name in tables))).one())


@pytest.fixture(scope="module")
def _worlds(app, module_transaction):
    from tests.api.test_access_matrix import World

    connection, session = module_transaction
    factory = Factory(session)
    auth = AuthActions(app, factory)
    built = {state: World(app, factory, auth, session, state) for state in STATES}
    session.commit()   # releases the session's savepoint: the worlds stay in the module's transaction
    for world in built.values():
        world.keep()
    return built, _row_counts(connection)


class Worlds:
    """The module's worlds for one test, in a savepoint rolled back after it (or by ``afresh``)."""

    def __init__(self, connection, session, built):
        self.connection, self.session, self.built = connection, session, built
        self.savepoint = None

    def begin(self) -> None:
        self.savepoint = self.connection.begin_nested()
        # the worlds' session takes its savepoint first, so that every other session's savepoint (the test's,
        # the app's) nests inside it and is gone before it is rolled back
        self.session.connection()

    def end(self) -> None:
        self.session.rollback()
        if self.savepoint.is_active:
            self.savepoint.rollback()
        self.session.expire_all()

    def get(self, state: str, client):
        world = self.built[state]
        world.restore(client)
        return world

    def afresh(self, state: str, client):
        """The world of ``state`` as it was built (what the test changed so far rolled back)."""
        self.end()
        self.begin()
        return self.get(state, client)


@pytest.fixture(name="worlds")
def worlds_fixture(_worlds, module_transaction):
    connection, session = module_transaction
    built, counts = _worlds
    shared = Worlds(connection, session, built)
    shared.begin()
    try:
        yield shared
    finally:
        shared.end()
    assert _row_counts(connection) == counts, "a test left rows behind in the shared worlds"


@pytest.fixture(name="db_session")
def db_session_fixture(database, worlds):
    """The test's session (the app's client's), on the module's transaction."""
    session = database.sessionmaker()
    try:
        yield session
    finally:
        session.close()
