import datetime as dt
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from ivr.config import StoreSettings
from ivr.store.db import make_engine, open_database
from ivr.store.migrate import upgrade
from ivr.store.models import Base, Card, LossReport
from tests.backends import Stores, backend_names, empty_database


def test_migrations_build_exactly_the_models_schema(stores: Stores) -> None:
    upgrade(stores.db.engine)  # a second upgrade is a no-op
    with stores.db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
        assert {"person", "card", "pin_credential", "loss_report", "pin_attempt"} <= set(
            inspect(connection).get_table_names()
        )


def _upgrade_in_a_process(url: str, schema: str | None) -> None:
    engine = make_engine(url, search_path=schema)
    upgrade(engine)
    engine.dispose()


@pytest.mark.parametrize("name", backend_names())
def test_nodes_starting_together_upgrade_one_at_a_time(name: str, tmp_path: Path) -> None:
    with empty_database(name, tmp_path) as (db, schema):
        url = db.engine.url.render_as_string(hide_password=False)
        fork = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(3, mp_context=fork) as nodes:
            starts = [nodes.submit(_upgrade_in_a_process, url, schema) for _ in range(3)]
            for start in starts:
                start.result()  # no "table already exists", no lock timeout
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
            assert connection.scalar(text("SELECT count(*) FROM alembic_version")) == 1


def test_timestamps_come_back_aware_in_utc(stores: Stores) -> None:
    shanghai = dt.timezone(dt.timedelta(hours=8))
    at = dt.datetime(2026, 3, 2, 10, 0, 0, 123000, tzinfo=shanghai)
    with stores.db.transaction() as session:
        session.execute(text("INSERT INTO person (id, id_number, name) VALUES (1, 'x', '甲')"))
        session.add(
            Card(
                id=1,
                person_id=1,
                card_number="C1",
                bank="b",
                state="正常",
                applied_on=dt.date(2026, 1, 1),
                temporary_loss_until=at,
                electronic_issued=False,
            )
        )
    with stores.db.reading() as session:
        stored = session.scalars(select(Card)).one().temporary_loss_until
    assert stored == at
    assert stored.utcoffset() == dt.timedelta(0)


def test_foreign_keys_are_enforced(stores: Stores) -> None:
    with pytest.raises(IntegrityError), stores.db.transaction() as session:
        session.add(
            LossReport(
                card_id=999,
                kind="temporary",
                channel="ivr",
                reported_at=dt.datetime.now(dt.UTC),
            )
        )


def test_embedded_database_is_a_wal_sqlite_file_under_data_dir(tmp_path: Path) -> None:
    db = open_database(StoreSettings(data_dir=tmp_path / "var"))
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    db.dispose()
    assert (tmp_path / "var" / "ivr.sqlite3").exists()
