from __future__ import annotations

from alembic import context

from backend.db import make_engine
from backend.models import Base

config = context.config
url = config.attributes.get("database_url")


def include_object(obj, name, type_, reflected, compare_to):
    # an index the models make on one database only (``Index(...).ddl_if(dialect="postgresql")``, such as the
    # trigram indexes) is not expected on another
    condition = getattr(obj, "_ddl_if", None) if type_ == "index" and not reflected else None
    if condition is not None and condition.dialect and condition.dialect != context.get_bind().dialect.name:
        return False
    return True


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(url)
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata,
                      render_as_batch=connection.dialect.name == "sqlite", compare_type=True,
                      include_object=include_object)
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
