"""The ledger's triggers and functions are versioned: a database migrated to head holds
exactly what the code (``ledger.ddl``) installs, on SQLite and on PostgreSQL.

If this fails you changed a trigger or a plpgsql function in ledger/ddl.py without a revision:
add one (``flask --app app db revision -m "ledger: …"``) whose upgrade runs the new SQL
literally (``python -m ledger.ddl postgresql`` / ``sqlite`` prints it) and whose downgrade
restores the previous version's SQL. Never edit an existing revision's SQL.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

from core.db import make_engine
from ledger import ddl

ROOT = Path(__file__).resolve().parents[2]


def _upgrade(url: str) -> None:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["database_url"] = url
    cfg.attributes["skip_logging"] = True
    command.upgrade(cfg, "head")


@pytest.fixture(scope="module")
def migrated(backend: str, fresh_database) -> Engine:  # type: ignore[no-untyped-def]
    url = fresh_database(backend)
    _upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def test_migrated_database_holds_this_version_of_the_ledger_ddl(migrated: Engine, engine: Engine) -> None:
    """``engine``: the suite's database, built by create_all from the current code."""
    with migrated.connect() as m, engine.connect() as c:
        from_revisions, from_code = ddl.installed(m), ddl.installed(c)
        assert ddl.missing_or_changed(m) == []
    assert from_revisions, "the migrations installed no ledger triggers or functions"
    assert sorted(from_revisions) == sorted(from_code)
    changed = [name for name in from_code if from_revisions[name] != from_code[name]]
    assert changed == [], f"ledger DDL changed without an Alembic revision: {changed}"


def test_an_edit_without_a_revision_is_noticed(migrated: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check above can fail: pretend the code's version moved on."""
    with migrated.connect() as m:
        if m.dialect.name == "postgresql":
            edited = [ddl.PG_FUNCTIONS[0].replace("is not allowed", "is forbidden"), *ddl.PG_FUNCTIONS[1:]]
            monkeypatch.setattr(ddl, "PG_FUNCTIONS", edited)
            assert ddl.missing_or_changed(m) == [
                "function ledger_refuse_change differs from this version of the ledger"
            ]
        else:
            monkeypatch.setattr(
                ddl, "_sqlite_raise", lambda what: f"BEGIN SELECT RAISE(ABORT, '{what}!'); END"
            )
            problems = ddl.missing_or_changed(m)
            assert problems and all(p.endswith("differs from this version of the ledger") for p in problems)
            assert "trigger ledger_entries_no_update differs from this version of the ledger" in problems


def test_every_guard_is_listed() -> None:
    for dialect in ("sqlite", "postgresql"):
        names = ddl.expected(dialect)
        for table in ddl.GUARDED:
            assert f"trigger {table}_no_delete" in names
    assert {"function ledger_refuse_change", "function ledger_post", "function ledger_post_many"} <= set(
        ddl.expected("postgresql")
    )


def test_verify_reports_dropped_or_replaced_guards(
    ledger_engine: Engine, ledger_backend: str, session
) -> None:  # type: ignore[no-untyped-def]
    import ledger

    assert ledger.verify(session).ok
    session.rollback()
    with ledger_engine.begin() as c:
        c.exec_driver_sql(
            "DROP TRIGGER ledger_entries_no_update"
            + (" ON ledger_entries" if ledger_backend != "sqlite" else "")
        )
        if ledger_backend != "sqlite":
            c.exec_driver_sql(
                "CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RETURN NEW; END $$"
            )
    report = ledger.verify(session)
    assert not report.ok
    found = report.violations["database guards"]
    assert (
        "trigger ledger_entries_no_update is missing: the database no longer enforces the ledger's rules"
        in found
    )
    if ledger_backend != "sqlite":
        assert any(p.startswith("function ledger_refuse_change differs") for p in found)
