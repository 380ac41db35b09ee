"""Shared fixtures.

Backends: every test that takes ``db_url``/``engine``/``session``/``app`` runs on
SQLite and on PostgreSQL. PostgreSQL comes from $TEST_DATABASE_URL (default: the
local server); each run creates a fresh database and drops it afterwards. Without a
reachable server the PostgreSQL variants skip with the reason — except in CI
(CI=true), where that is a failure.

Isolation: the schema is created once per backend; each test runs inside an outer
transaction that is rolled back (sessions join it with SAVEPOINTs), so tests never
see each other's rows. Tests that need real commits (concurrency) make their own
database with ``fresh_database``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

import portal.models  # noqa: F401
from core import clock
from core.db import Base, make_engine

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# Hypothesis profiles. The suite (and CI) runs a deterministic profile so that a submission
# never fails for a seed it did not choose; exploration with fresh seeds and many more
# examples is its own command (`make fuzz`), and what it finds becomes an @example.
settings.register_profile("deterministic", derandomize=True, database=None, print_blob=True)
settings.register_profile("fuzz", max_examples=1000, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--clock",
        default=os.environ.get("FUFEN_TEST_CLOCK"),
        help="run every test as if it started at this instant (ISO 8601 with zone, e.g. "
        "2026-12-31T15:58:00+00:00); the app's clock (core.clock) then runs on from there",
    )


@pytest.fixture(autouse=True)
def _test_clock(request: pytest.FixtureRequest) -> Iterator[None]:
    """The multi-clock CI step (``make test-clocks``): each test starts at ``--clock``."""
    at = request.config.getoption("--clock")
    if not at:
        yield
        return
    import datetime as dt

    start = dt.datetime.fromisoformat(at)
    with clock.travel_to(start):
        yield


def _pg_server_url() -> str:
    return os.environ.get("TEST_DATABASE_URL", DEFAULT_PG)


def _admin_engine(server_url: str) -> Engine:
    url = make_url(server_url).set(drivername="postgresql+psycopg")
    return create_engine(url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Engine]:
    server_url = _pg_server_url()
    engine = _admin_engine(server_url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any connection failure means "no server"
        engine.dispose()
        reason = f"PostgreSQL not reachable at {server_url} ({type(exc).__name__}); set TEST_DATABASE_URL"
        if IN_CI:
            pytest.fail(f"CI requires PostgreSQL: {reason}", pytrace=False)
        pytest.skip(reason)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def fresh_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[str], str]]:
    """Factory: ``fresh_database(backend)`` returns the URL of a new, empty database
    ("sqlite" → a temp file; "postgresql" → CREATE DATABASE). All are dropped at the end."""
    created: list[str] = []
    server: list[Engine] = []

    def make(backend: str) -> str:
        if backend == "sqlite":
            path = tmp_path_factory.mktemp("db") / f"{uuid.uuid4().hex}.db"
            return f"sqlite:///{path}"
        if not server:
            server.append(request.getfixturevalue("pg_server"))
        pg_server = server[0]
        name = f"fufen_test_{uuid.uuid4().hex[:12]}"
        with pg_server.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return make_url(_pg_server_url()).set(database=name).render_as_string(hide_password=False)

    yield make
    if created:
        with server[0].connect() as conn:
            for name in created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server[0].dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def _schema_engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Engine]]:
    engines: dict[str, Engine] = {}
    yield engines
    for e in engines.values():
        e.dispose()


@pytest.fixture(scope="session")
def db_url(
    backend: str,
    request: pytest.FixtureRequest,
    _schema_engines: dict[str, Engine],
    tmp_path_factory: pytest.TempPathFactory,
) -> str:
    """URL of a database with the full schema (created once per backend per run)."""
    url = request.getfixturevalue("fresh_database")(backend)
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    _schema_engines[backend] = engine
    return url


@pytest.fixture(scope="session")
def engine(db_url: str, backend: str, _schema_engines: dict[str, Engine]) -> Engine:
    return _schema_engines[backend]


@pytest.fixture()
def connection(engine: Engine) -> Iterator[Connection]:
    """A connection inside an outer transaction that is rolled back after the test."""
    conn = engine.connect()
    outer = conn.begin()
    try:
        yield conn
    finally:
        if outer.is_active:
            outer.rollback()
        conn.close()


@pytest.fixture()
def session(connection: Connection) -> Iterator[Session]:
    sess = sessionmaker(bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint")()
    try:
        yield sess
    finally:
        sess.close()


def make_test_app(**overrides: Any) -> Any:
    from app import create_app

    settings: dict[str, Any] = {"ENV_NAME": "testing", "RATELIMIT_STORAGE_URI": "memory://"}
    settings.update(overrides)
    return create_app(settings)


@pytest.fixture()
def app(db_url: str, engine: Engine, connection: Connection) -> Iterator[Any]:
    application = make_test_app(DATABASE_URL=db_url, DATABASE_ENGINE=engine, DATABASE_BIND=connection)
    yield application


@pytest.fixture()
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture()
def runner(app: Any) -> Any:
    return app.test_cli_runner()
