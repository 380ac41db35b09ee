"""``flask ledger verify`` passes on the demo data and fails on a corrupted copy of it."""

from __future__ import annotations

import shutil
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

import portal.models  # noqa: F401  (the whole schema)
from core.db import Base, make_engine


@pytest.fixture(params=["sqlite", "postgresql"])
def demo_url(request: pytest.FixtureRequest) -> str:
    url = request.getfixturevalue("fresh_database")(request.param)
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    return url


def _app(url: str) -> Any:
    from app import create_app

    return create_app({"ENV_NAME": "testing", "RATELIMIT_STORAGE_URI": "memory://", "DATABASE_URL": url})


def _copy(url: str) -> str:
    """A copy of the whole database (file copy / CREATE DATABASE … TEMPLATE)."""
    u = make_url(url)
    if u.drivername.startswith("sqlite"):
        target = f"{u.database}.copy.db"
        shutil.copy(u.database, target)
        return f"sqlite:///{target}"
    name = f"{u.database}_copy_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(
        u.set(drivername="postgresql+psycopg", database="postgres"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as c:
        c.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{u.database}"')
    admin.dispose()
    return u.set(database=name).render_as_string(hide_password=False)


def _drop_copy(url: str) -> None:
    u = make_url(url)
    if not u.drivername.startswith("sqlite"):
        admin = sa.create_engine(
            u.set(drivername="postgresql+psycopg", database="postgres"), isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as c:
            c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)')
        admin.dispose()


def _run(app: Any, *args: str) -> Any:
    result = app.test_cli_runner().invoke(args=list(args))
    app.extensions["fufen_db"].dispose(app)
    return result


def test_verify_demo_data_then_corrupted_copy(demo_url: str) -> None:
    app = _app(demo_url)
    assert _run(app, "seed-demo").exit_code == 0
    ok = _run(app, "ledger", "verify")
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("ledger OK") and "transactions=" in ok.output
    assert "transactions=0," not in ok.output  # the demo has ledger data to check
    assert _run(app, "ledger", "expire-holds").output.strip() == "released 0 expired hold(s)"
    assert "balance" in _run(app, "ledger", "account", "2").output

    copy = _copy(demo_url)
    try:
        engine = make_engine(copy)
        with engine.begin() as c:  # a privileged edit that bypasses the guards
            if engine.dialect.name == "sqlite":
                c.exec_driver_sql("DROP TRIGGER ledger_entries_no_update")
            else:
                c.exec_driver_sql("SET LOCAL session_replication_role = replica")
            c.exec_driver_sql(
                "UPDATE ledger_entries SET amount = amount + 100 "
                "WHERE id = (SELECT MAX(id) FROM ledger_entries)"
            )
        engine.dispose()
        bad = _run(_app(copy), "ledger", "verify")
        assert bad.exit_code == 1
        assert "ledger verification FAILED" in bad.output
        assert (
            "[transaction sums to zero]" in bad.output and "[transactions sealed in the chain]" in bad.output
        )
        # The original is untouched.
        assert _run(_app(demo_url), "ledger", "verify").exit_code == 0
    finally:
        _drop_copy(copy)


def test_keygen_checkpoint_and_verify_signatures(tmp_path: Any, fresh_database: Any) -> None:
    import ledger

    url = fresh_database("sqlite")
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    key = tmp_path / "signing.pem"
    app = _app(url)
    made = _run(app, "ledger", "keygen", str(key))
    assert made.exit_code == 0, made.output
    public = made.output.strip()
    assert len(public) == 64 and (key.stat().st_mode & 0o777) == 0o600
    assert _run(app, "ledger", "keygen", str(key)).exit_code != 0  # never overwrites a key
    assert "no signing key" in _run(app, "ledger", "checkpoint").output
    assert _run(app, "seed-demo").exit_code == 0
    before = ledger.config()
    try:
        signed = _run(app, "ledger", "checkpoint", "--key-file", str(key))
        assert signed.exit_code == 0, signed.output
        assert signed.output.count("checkpoint") >= 2  # every demo community
        checked = _run(_app_with(url, LEDGER_VERIFY_KEYS=(public,)), "ledger", "verify")
        assert checked.exit_code == 0, checked.output
        assert "checkpoint_signatures_checked=" in checked.output
        assert "checkpoint_signatures_checked=0" not in checked.output
        other = ledger.generate_key()[1]
        refused = _run(_app_with(url, LEDGER_VERIFY_KEYS=(other,)), "ledger", "verify")
        assert refused.exit_code == 1 and "signed by an unknown key" in refused.output
    finally:
        ledger.configure(**before.__dict__)


def _app_with(url: str, **settings: Any) -> Any:
    from app import create_app

    return create_app(
        {"ENV_NAME": "testing", "RATELIMIT_STORAGE_URI": "memory://", "DATABASE_URL": url, **settings}
    )
