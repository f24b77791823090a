"""Alembic environment: runs on the connection `ivr.store.migrate.upgrade` hands it, or on the
database our own settings name (`IVR_DATABASE_URL`, config/ivr.yaml, else the embedded SQLite) when
run as `alembic -c ivr/store/migrations/alembic.ini ...`."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from ivr.config import load_config
from ivr.store.db import database_url, make_engine
from ivr.store.models import Base

config = context.config


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


given = config.attributes.get("connection")
if given is not None:
    run_on(given)
else:
    engine = make_engine(database_url(load_config().store))
    with engine.begin() as connection:
        run_on(connection)
    engine.dispose()
