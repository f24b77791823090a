"""Alembic, driven from code: `upgrade(engine)` brings a database to the latest schema."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine

from ivr.store.db import writing

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
MIGRATION_LOCK = 12333  # the PostgreSQL advisory lock key held while a node upgrades the schema


def alembic_config() -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Nodes starting together upgrade one at a time (SQLite's write lock taken at BEGIN, a
    PostgreSQL advisory lock); the later ones find the work done."""
    config = alembic_config()
    with writing(engine).begin() as connection:
        if engine.dialect.name == "postgresql":  # a migration may outlast `store.timeout`
            connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
            connection.exec_driver_sql("SET LOCAL lock_timeout = 0")
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
