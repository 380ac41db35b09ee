"""Issue 9 #2–#4: redirects stay on this site, sessions end on the server, and no
request that fails leaves a session behind."""

from __future__ import annotations

import pytest
from flask import request
from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.people.models import User, UserSession
from tests.conftest import make_test_app
from tests.factories import DEFAULT_PASSWORD, login, make_community, make_user

NEW_PASSWORD = "Quiet-Lantern-42"

# Each is something a browser could follow off-site (or a header that cannot be sent).
HOSTILE_NEXT = [
    "//evil.com",
    "/%09/evil.com",
    "/\t/evil.com",
    "/%0a",
    "/\n",
    "/%0d%0aSet-Cookie:x=1",
    "/\\evil.com",
    "/%5cevil.com",
    "/%2f/evil.com",
    "https://evil.com/",
    "http:/evil.com",
    "javascript:alert(1)",
    " //evil.com",
    "\x00/",
    "/" + "a" * 5000,
    "%E4%B8%AD",
    "/\u3000/evil.com",
]


def _location(resp) -> str:
    return resp.headers.get("Location", "")


def _stays_here(location: str) -> bool:
    return location.startswith("/") and not location.startswith("//") and "\\" not in location


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_next_is_only_a_path_on_this_site(client, session, target):
    user = make_user(session, community=make_community(session))
    # Log-in POST: no 500, a same-site redirect, and (on success) a live session.
    resp = client.post(
        "/accounts/login",
        query_string={"next": target},
        data={"phone": user.phone, "password": DEFAULT_PASSWORD},
    )
    assert resp.status_code == 302, resp.status_code
    assert _stays_here(_location(resp)), _location(resp)
    # Log-in GET when already logged in, and the two switches.
    resp = client.get("/accounts/login", query_string={"next": target})
    assert resp.status_code == 302 and _stays_here(_location(resp)), _location(resp)
    for url in ("/lang/en", "/large-text"):
        resp = client.post(url, data={"next": target})
        assert resp.status_code == 302 and _stays_here(_location(resp)), (url, _location(resp))


def test_next_keeps_a_real_path_and_query(client, session):
    user = make_user(session, community=make_community(session))
    resp = client.post(
        "/accounts/login",
        query_string={"next": "/activities/?page=2"},
        data={"phone": user.phone, "password": DEFAULT_PASSWORD},
    )
    assert _location(resp) == "/activities/?page=2"


def _cookie(client) -> str | None:
    cookie = client.get_cookie("fufen_session")
    return cookie.value if cookie else None


def _replay(app, value: str) -> int:
    other = app.test_client()
    other.set_cookie("fufen_session", value)
    return other.get("/accounts/me").status_code


def test_logout_ends_the_session_on_the_server(app, client, session):
    user = make_user(session, community=make_community(session))
    login(client, user)
    saved = _cookie(client)
    assert saved and _replay(app, saved) == 200
    client.post("/accounts/logout")
    assert _replay(app, saved) == 302  # the copied cookie no longer opens anything
    row = session.scalars(select(UserSession).where(UserSession.user_id == user.id)).one()
    assert row.revoked_at is not None and row.revoked_reason == "logout"


def test_password_change_ends_every_other_session(app, client, session):
    user = make_user(session, community=make_community(session))
    other = app.test_client()
    login(other, user)
    login(client, user)
    resp = client.post(
        "/accounts/password",
        data={"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert resp.status_code == 302
    assert other.get("/accounts/me").status_code == 302
    assert client.get("/accounts/me").status_code == 200


def test_log_out_my_other_devices(app, client, session):
    user = make_user(session, community=make_community(session))
    phone, tablet = app.test_client(), app.test_client()
    login(phone, user)
    login(tablet, user)
    login(client, user)
    assert client.post("/accounts/sessions/others/end").status_code == 302
    assert phone.get("/accounts/me").status_code == 302
    assert tablet.get("/accounts/me").status_code == 302
    assert client.get("/accounts/me").status_code == 200
    session.expire_all()
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "sessions.end_others")) is not None


def test_a_cookie_without_a_server_session_is_refused(app, client, session):
    """A session cookie forged with the right user id and version (e.g. from a leaked
    SECRET_KEY-era cookie) but no live row does not log anyone in."""
    user = make_user(session, community=make_community(session))
    with client.session_transaction() as s:
        s["_user_id"] = f"{user.id}:{user.session_version}"
        s["_fresh"] = True
        s["sid"] = "x" * 43
    assert client.get("/accounts/me").status_code == 302


def test_a_failing_response_sets_no_session(db_url, engine, connection, session):
    """A 500 (here: an audit write that blows up during log-in) rolls back and leaves no
    cookie behind, so the browser is not logged in."""
    app = make_test_app(
        DATABASE_URL=db_url, DATABASE_ENGINE=engine, DATABASE_BIND=connection, PROPAGATE_EXCEPTIONS=False
    )
    client = app.test_client()
    user = make_user(session, community=make_community(session))

    @app.after_request
    def explode(response):  # noqa: ANN001, ANN202 - a test hook
        if request.path == "/accounts/login" and request.method == "POST":
            raise RuntimeError("boom after login")
        return response

    resp = client.post("/accounts/login", data={"phone": user.phone, "password": DEFAULT_PASSWORD})
    assert resp.status_code == 500
    assert "fufen_session" not in resp.headers.get("Set-Cookie", "")
    assert client.get("/accounts/me").status_code == 302
    session.expire_all()
    assert session.get(User, user.id).last_login_at is None
