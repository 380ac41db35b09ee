"""Alembic environment: runs against the URL given by the caller (``flask db``, tests)
or $DATABASE_URL, with the models' metadata as the autogenerate target."""

from __future__ import annotations

import os
from logging.config import fileConfig

from alembic import context

import portal.models  # noqa: F401  (imports every model so the metadata is complete)
from core.db import Base, make_engine

config = context.config
if config.config_file_name is not None and not config.attributes.get("skip_logging"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _url() -> str:
    url = config.attributes.get("database_url") or os.environ.get("DATABASE_URL")
    if not url:
        from config import load

        url = str(load()["DATABASE_URL"])
    return url


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection, target_metadata=target_metadata, render_as_batch=True, compare_type=True
    )
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # A batch migration recreates a table (copy, DROP, rename). DROP TABLE of a table
        # that other rows reference fails while foreign keys are enforced, so they are off
        # for the run (the PRAGMA only works outside a transaction, hence the raw DBAPI
        # connection) and the result is checked before they are on again.
        _sqlite_pragma(connection, "PRAGMA foreign_keys=OFF")
    try:
        with context.begin_transaction():
            context.run_migrations()
    finally:
        if sqlite:
            _sqlite_pragma(connection, "PRAGMA foreign_keys=ON")
    if sqlite:
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"foreign keys broken by the migration: {broken[:10]}")


def _sqlite_pragma(connection, sql: str) -> None:  # type: ignore[no-untyped-def]
    if not connection.in_transaction():
        connection.connection.driver_connection.execute(sql)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
