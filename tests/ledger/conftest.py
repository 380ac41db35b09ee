"""Fixtures for the ledger suite: a fresh database per test on SQLite and PostgreSQL.

PostgreSQL: one scratch database per run (``fufen_ledger_test_<random>`` on the server of
``TEST_DATABASE_URL``), one fresh schema per test — the ledger's own triggers refuse
DELETE/TRUNCATE, so tests never clean up rows, they drop the schema.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

import ledger  # noqa: F401  (registers DDL hooks)
from core.db import Base, make_engine, make_session_factory
from ledger.models import Account

LEDGER_TABLES = [t for name, t in Base.metadata.tables.items() if name.startswith("ledger_")]
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


def create_schema(engine: Engine) -> None:
    Base.metadata.create_all(engine, tables=LEDGER_TABLES)


@pytest.fixture(scope="session")
def ledger_pg_server() -> Iterator[str]:
    """URL of a scratch database for this run; skipped (or failed on CI) if unreachable."""
    url = make_url(os.environ.get("TEST_DATABASE_URL", DEFAULT_PG)).set(drivername="postgresql+psycopg")
    name = f"fufen_ledger_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            c.exec_driver_sql(f"CREATE DATABASE {name}")
    except sa.exc.OperationalError as exc:
        admin.dispose()
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL required on CI but unreachable at {url.render_as_string()}: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {url.render_as_string()} (set TEST_DATABASE_URL)")
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as c:
        c.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.dispose()


def _pg_engine(server_url: str, **kw: object) -> tuple[Engine, str]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(f"CREATE SCHEMA {schema}")
    admin.dispose()
    engine = make_engine(server_url, connect_args={"options": f"-c search_path={schema}"}, **kw)
    return engine, schema


def _drop_pg(server_url: str, schema: str) -> None:
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    admin.dispose()


@pytest.fixture(params=["sqlite", "pg"])
def ledger_backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def ledger_engine(
    ledger_backend: str, request: pytest.FixtureRequest, tmp_path: os.PathLike[str]
) -> Iterator[Engine]:
    """A fresh, empty ledger database. ``backend`` "pg-python" / "sqlite-python" = the
    portable Python posting path instead of the plpgsql functions / sqlite3 statements."""
    if ledger_backend.startswith("sqlite"):
        engine = make_engine(f"sqlite:///{tmp_path}/ledger.db")
        create_schema(engine)
        if ledger_backend == "sqlite-python":
            with ledger.python_path():
                yield engine
        else:
            yield engine
        engine.dispose()
        return
    server = request.getfixturevalue("ledger_pg_server")
    engine, schema = _pg_engine(server)
    create_schema(engine)
    if ledger_backend == "pg-python":
        with ledger.python_path():
            yield engine
    else:
        yield engine
    engine.dispose()
    _drop_pg(server, schema)


@pytest.fixture
def session(ledger_engine: Engine) -> Iterator[Session]:
    with make_session_factory(ledger_engine)() as s:
        yield s


@pytest.fixture
def books(session: Session) -> dict[str, int]:
    """Community 1 with a fund, two users and a merchant (committed), plus community 2."""
    out = {
        "fund": ledger.community_fund(session, 1),
        "alice": ledger.user_account(session, 1, 101),
        "bob": ledger.user_account(session, 1, 102),
        "shop": ledger.merchant_account(session, 1, 7),
        "expired": ledger.system_account(session, 1, "expired"),
        "other_fund": ledger.community_fund(session, 2),
        "carol": ledger.user_account(session, 2, 201),
    }
    session.commit()
    return out


@pytest.fixture
def stored_balances() -> object:
    """``stored_balances(session)`` -> {account_id: (balance, held)}."""

    def read(session: Session) -> dict[int, tuple[int, int]]:
        return {r.id: (r.balance, r.held) for r in session.execute(sa.select(Account.__table__))}

    return read
