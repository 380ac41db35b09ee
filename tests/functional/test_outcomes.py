"""Honest answers when the database fails: error pages that never touch it, the liveness
and readiness probes, and the outcome of a request whose COMMIT lost its connection
(resolved through the transaction id before answering)."""

from __future__ import annotations

import psycopg
import pytest
from flask import redirect
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from core.db import Base, make_engine
from portal.extensions import db
from tests.conftest import make_test_app
from tests.factories import login, make_community, make_user


def _broken(*_a, **_k):
    raise sa_exc.OperationalError("SELECT 1", {}, psycopg.OperationalError("connection refused"))


def test_healthz_needs_no_database(app, client, engine, monkeypatch):
    monkeypatch.setattr(engine, "connect", _broken)
    resp = client.get("/healthz")
    assert resp.status_code == 200 and resp.json == {"status": "ok"}


def test_readyz_reports_the_database(app, client, engine, monkeypatch):
    resp = client.get("/readyz")
    assert resp.status_code == 200 and resp.json["status"] == "ok"
    monkeypatch.setattr(engine, "connect", _broken)
    resp = client.get("/readyz")
    assert resp.status_code == 503 and resp.json["status"] == "unavailable"


def test_database_down_gives_a_maintenance_page_in_both_languages(app, client, session, monkeypatch):
    user = make_user(session, community=make_community(session))
    login(client, user)

    # Every database access now fails, including loading the logged-in user.
    def down(*_a, **_k):
        raise sa_exc.OperationalError("SELECT", {}, psycopg.OperationalError("server closed the connection"))

    monkeypatch.setattr("sqlalchemy.orm.Session.execute", down)
    monkeypatch.setattr("sqlalchemy.orm.Session.get", down)
    resp = client.get("/", headers={"Accept-Language": "en"})
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "30"
    page = resp.get_data(as_text=True)
    assert "Service temporarily unavailable" in page and "暂时" in page
    assert page.index("Service temporarily unavailable") < page.index("暂时")  # reader's language first
    resp = client.get("/", headers={"Accept-Language": "zh-CN"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 503 and page.index("暂时") < page.index("Service temporarily unavailable")


def test_a_bug_gives_a_500_page_without_database_reads(app, client, monkeypatch):
    @app.get("/_boom")
    def boom():
        raise RuntimeError("bug")

    monkeypatch.setattr("sqlalchemy.orm.Session.execute", _broken)
    resp = client.get("/_boom", headers={"Accept-Language": "en"})
    assert resp.status_code == 500 and "Something went wrong" in resp.get_data(as_text=True)


# --- a COMMIT whose connection is lost (PostgreSQL: pg_xact_status knows) ----------------


@pytest.fixture()
def real_app(fresh_database):
    """An app on its own PostgreSQL database with real commits (no outer test transaction)."""
    url = fresh_database("postgresql")
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE probe (id serial PRIMARY KEY, v text NOT NULL)"))
    application = make_test_app(DATABASE_URL=url, DATABASE_ENGINE=engine)

    @application.post("/_write")
    def write():
        db.session.execute(text("INSERT INTO probe (v) VALUES ('x')"))
        return redirect("/done")

    yield application, engine
    engine.dispose()


def _count(engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(text("SELECT count(*) FROM probe")))


def _lose_connection_at_commit(monkeypatch, engine, *, commit_first: bool) -> None:
    real = engine.dialect.do_commit

    def lossy(dbapi_conn):
        if commit_first:
            real(dbapi_conn)  # the server commits, then the answer never arrives
        else:
            dbapi_conn.rollback()  # the link dies before the server commits
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(engine.dialect, "do_commit", lossy)


def test_commit_that_succeeded_is_answered_as_success(real_app, monkeypatch):
    application, engine = real_app
    _lose_connection_at_commit(monkeypatch, engine, commit_first=True)
    resp = application.test_client().post("/_write")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/done")
    assert _count(engine) == 1


def test_commit_that_failed_says_nothing_was_saved(real_app, monkeypatch):
    application, engine = real_app
    _lose_connection_at_commit(monkeypatch, engine, commit_first=False)
    resp = application.test_client().post("/_write", headers={"Accept-Language": "en"})
    assert resp.status_code == 503 and "Nothing you sent just now was saved" in resp.get_data(as_text=True)
    assert _count(engine) == 0


def test_unknown_outcome_says_it_may_have_been_saved_and_where_to_check(real_app, monkeypatch):
    application, engine = real_app
    _lose_connection_at_commit(monkeypatch, engine, commit_first=True)
    # The database cannot be asked afterwards either.
    monkeypatch.setattr(type(db), "_resolve", lambda self, xid, **_k: None)
    resp = application.test_client().post("/_write", headers={"Accept-Language": "en"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 503 and "may or may not have been saved" in page and "My Fufen" in page
    assert "nothing was saved" not in page.lower()
