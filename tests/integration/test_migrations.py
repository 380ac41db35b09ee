"""Alembic migrations build the same schema as the models, on SQLite and PostgreSQL.

This is the drift check: a model change without a migration fails here (and in CI).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from core.db import Base, make_engine

ROOT = Path(__file__).resolve().parents[2]


def _alembic(url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["database_url"] = url
    cfg.attributes["skip_logging"] = True
    return cfg


@pytest.fixture()
def migrated_url(backend, fresh_database):
    url = fresh_database(backend)
    command.upgrade(_alembic(url), "head")
    return url


def test_migrations_match_models(migrated_url):
    engine = make_engine(migrated_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True, "render_as_batch": True})
            diff = compare_metadata(ctx, Base.metadata)
    finally:
        engine.dispose()
    assert diff == [], f"models and migrations drift; run `flask --app app db revision -m ...`: {diff}"


def test_downgrade_to_base_and_up_again(migrated_url):
    cfg = _alembic(migrated_url)
    command.downgrade(cfg, "base")
    engine = make_engine(migrated_url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    command.upgrade(cfg, "head")
    engine = make_engine(migrated_url)
    assert "user" in inspect(engine).get_table_names()
    engine.dispose()


def test_flask_db_upgrade_command(tmp_path):
    from app import create_app

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    app = create_app({"ENV_NAME": "testing", "DATABASE_URL": url})
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    engine = make_engine(url)
    assert {"user", "community", "ledger_entries"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_migrated_ledger_refuses_update_and_delete(migrated_url):
    """The migration installs the ledger's database-level guards, not just its tables."""
    import ledger
    from core.db import make_session_factory

    engine = make_engine(migrated_url)
    try:
        with make_session_factory(engine)() as s:
            fund = ledger.community_fund(s, 1)
            user = ledger.user_account(s, 1, 7)
            ledger.issue(
                s,
                key="mig-test",
                fund_account=fund,
                to_account=user,
                amount=5,
                actor=ledger.Actor.system("migration test"),
                reason="test",
            )
            s.commit()
        for stmt in (
            "UPDATE ledger_entries SET amount = amount + 1",
            "DELETE FROM ledger_entries",
            "UPDATE ledger_transactions SET reason = 'x'",
        ):
            with engine.connect() as conn:
                with pytest.raises(Exception, match="ledger"):
                    conn.exec_driver_sql(stmt)
                conn.rollback()
    finally:
        engine.dispose()
