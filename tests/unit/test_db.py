"""core.db: SQLite pragmas and transaction modes, UTC datetimes."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from core.db import UTCDateTime, make_engine, read_only


def test_sqlite_engine_uses_wal_and_foreign_keys(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
    engine.dispose()


def test_sqlite_writers_begin_immediate(tmp_path):
    """A writer holds the RESERVED lock from BEGIN, so a second writer cannot start."""
    url = f"sqlite:///{tmp_path / 'y.db'}"
    first = make_engine(url)
    second = make_engine(url, connect_args={"timeout": 0.1})
    with first.connect() as c1:
        c1.execute(text("CREATE TABLE t (x INTEGER)"))
        c1.commit()
        with c1.begin():
            c1.execute(text("SELECT 1"))  # no write yet, but BEGIN IMMEDIATE took the lock
            with second.connect() as c2:
                with pytest.raises(Exception, match="locked"):
                    c2.execute(text("SELECT 1"))
                c2.rollback()
                with read_only(), c2.begin():  # readers still get in (WAL, DEFERRED)
                    assert c2.execute(text("SELECT count(*) FROM t")).scalar() == 0
    first.dispose()
    second.dispose()


def test_utc_datetime_refuses_naive_and_returns_aware():
    t = UTCDateTime()
    with pytest.raises(ValueError):
        t.process_bind_param(dt.datetime(2026, 1, 1), None)
    shanghai = dt.timezone(dt.timedelta(hours=8))

    class D:
        name = "sqlite"

    stored = t.process_bind_param(dt.datetime(2026, 1, 1, 8, tzinfo=shanghai), D())
    assert stored == dt.datetime(2026, 1, 1, 0)
    assert t.process_result_value(stored, D()) == dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
