"""The data set of the figures' tests (late, exempt, unpublished and corrected results), for the 通报 and the exports.

It is built once per module and backend (a few seconds of CPU: a draw, phones' pushes, publications), inside
one transaction of the module that is rolled back at its end; each test runs in a savepoint of that transaction,
rolled back after the test, so every test starts from the same data and none sees another's changes."""
from __future__ import annotations

import pytest

from tests.api.figures.test_figures import build_data
from tests.factories import AuthActions, Factory


@pytest.fixture(scope="module")
def data(app, module_transaction):
    _connection, session = module_transaction
    factory = Factory(session)
    built = build_data(app, app.test_client(), factory, AuthActions(app, factory), session)
    session.commit()   # releases the session's savepoint: the data stays in the module's transaction
    return built


@pytest.fixture(autouse=True)
def _test_savepoint(request):
    """A test with the data set runs in a savepoint rolled back after it (also what it changed through
    ``data.session``, whose objects are then read again from the database)."""
    if "data" not in request.fixturenames:
        yield
        return
    request.getfixturevalue("data")
    connection, module_session = request.getfixturevalue("module_transaction")
    savepoint = connection.begin_nested()
    # the data set's session takes its savepoint first, so that every other session's savepoint (the test's, the
    # app's) nests inside it and is gone before it is rolled back
    module_session.connection()
    try:
        yield
    finally:
        module_session.rollback()
        if savepoint.is_active:
            savepoint.rollback()
        module_session.expire_all()


@pytest.fixture()
def db_session(database, _test_savepoint):
    """The test's session, on the module's transaction (the data set's savepoint)."""
    session = database.sessionmaker()
    try:
        yield session
    finally:
        session.close()
