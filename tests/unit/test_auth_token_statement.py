"""The account-of-token statement sent on PostgreSQL's raw connection is the one SQLAlchemy would send."""
from sqlalchemy.dialects.postgresql import psycopg

import backend.models  # noqa: F401  (every mapper, for the ORM's compilation)
from backend.auth import services


def test_raw_statement_is_the_compiled_one():
    compiled = str(services._ACCOUNT_OF_TOKEN.compile(dialect=psycopg.dialect()))
    assert services._ACCOUNT_OF_TOKEN_PG == compiled


def test_row_fields_are_the_statement_columns():
    names = [c.key for c in services._ACCOUNT_OF_TOKEN.selected_columns]
    assert list(services.AccountOfToken._fields) == names
