"""Sign-up, log-in, log-out, my account, password change, session timeouts, CSRF."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select, update

from core.db import utcnow
from portal.accounts import services
from portal.audit.models import AuditEvent
from portal.people.models import Role, User, UserSession
from tests.conftest import make_test_app
from tests.factories import DEFAULT_PASSWORD, login, make_community, make_street, make_user, next_phone

NEW_PASSWORD = "Quiet-Lantern-42"


@pytest.fixture()
def app(db_url, engine, connection):
    """The messages are checked in English (the msgids); the default UI language is zh-CN."""
    return make_test_app(
        DATABASE_URL=db_url, DATABASE_ENGINE=engine, DATABASE_BIND=connection, BABEL_DEFAULT_LOCALE="en"
    )


def _signup_data(home, **over):
    data = {
        "phone": next_phone(),
        "password": "Plum-Blossom-77",
        "confirm": "Plum-Blossom-77",
        "display_name": "王阿姨",
        "real_name": "王秀英",
        "community": str(home.id),
    }
    data.update(over)
    return data


def _users(session) -> int:
    return session.scalar(select(func.count()).select_from(User))


def _events(session, action):
    session.expire_all()
    return session.scalars(
        select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
    ).all()


def _logged_in(client) -> bool:
    return client.get("/accounts/me").status_code == 200


# --- sign-up -----------------------------------------------------------------------------


def test_signup_page_lists_open_communities_grouped_by_street(client, session):
    street = make_street(session, name="和平街道")
    make_community(session, street=street, name="幸福里社区")
    make_community(session, street=street, name="已关闭社区", is_open=False)
    resp = client.get("/accounts/signup")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert '<optgroup label="和平街道">' in html
    assert "幸福里社区" in html and "已关闭社区" not in html
    assert 'inputmode="numeric"' in html and 'autocomplete="new-password"' in html


def test_signup_creates_resident_and_logs_in(client, session):
    community = make_community(session)
    before = _users(session)
    resp = client.post("/accounts/signup", data=_signup_data(community, phone="+86 139-8765 4321"))
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/accounts/me")
    user = session.scalar(select(User).where(User.phone == "13987654321"))
    assert user is not None and _users(session) == before + 1
    assert user.community_id == community.id and user.display_name == "王阿姨" and user.real_name == "王秀英"
    assert user.password_hash.startswith("$argon2id$") and "Plum" not in user.password_hash
    me = client.get("/accounts/me")
    assert me.status_code == 200
    html = me.get_data(as_text=True)
    assert "139****4321" in html and "13987654321" not in html and community.name in html
    (event,) = _events(session, "signup")
    assert event.actor_id == user.id and event.detail == {"phone": "139****4321"}


def test_signup_duplicate_phone_is_refused_without_detail(client, session):
    community = make_community(session)
    existing = make_user(session, community=community, display_name="李大爷")
    before = _users(session)
    resp = client.post("/accounts/signup", data=_signup_data(community, phone=existing.phone))
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "already registered" in html and "李大爷" not in html
    assert _users(session) == before


def test_signup_race_at_unique_index_is_a_friendly_message(client, session, monkeypatch):
    """The pre-check passed (the other sign-up had not committed yet): the unique index
    catches the duplicate at flush and the user sees the same message, not a 500."""
    community = make_community(session)
    existing = make_user(session, community=community)
    monkeypatch.setattr(services, "phone_taken", lambda _s, _p: False)
    before = _users(session)
    resp = client.post("/accounts/signup", data=_signup_data(community, phone=existing.phone))
    assert resp.status_code == 422
    assert "already registered" in resp.get_data(as_text=True)
    assert _users(session) == before


@pytest.mark.parametrize(
    "phone",
    [
        "12345",
        "23812345678",
        "1281234567",
        "138123456789",
        "1381234567x",
        "+1 212 555 0100",
        "١٣٨١٢٣٤٥٦٧٨",
        "138\x0012345678",
        "1" * 40,
    ],
)
def test_signup_malformed_phone(client, session, phone):
    community = make_community(session)
    before = _users(session)
    resp = client.post("/accounts/signup", data=_signup_data(community, phone=phone))
    assert resp.status_code == 422
    assert "11-digit mainland mobile number" in resp.get_data(as_text=True)
    assert _users(session) == before


@pytest.mark.parametrize(
    "password,message",
    [
        ("woaini1314", "too common"),
        ("88888888", "too common"),
        ("Password1", "too common"),
        ("short7!", "at least 8"),
        ("x" * 129, "at most 128"),
    ],
)
def test_signup_password_policy(client, session, password, message):
    community = make_community(session)
    before = _users(session)
    resp = client.post("/accounts/signup", data=_signup_data(community, password=password, confirm=password))
    assert resp.status_code == 422
    assert message in resp.get_data(as_text=True)
    assert _users(session) == before


def test_signup_password_equal_to_phone(client, session):
    community = make_community(session)
    phone = next_phone()
    resp = client.post(
        "/accounts/signup", data=_signup_data(community, phone=phone, password=phone, confirm=phone)
    )
    assert resp.status_code == 422
    assert "mobile number as your password" in resp.get_data(as_text=True)


def test_signup_passwords_must_match(client, session):
    community = make_community(session)
    resp = client.post("/accounts/signup", data=_signup_data(community, confirm="Different-Pass-1"))
    assert resp.status_code == 422
    assert "not the same" in resp.get_data(as_text=True)


@pytest.mark.parametrize("forged", ["999999999", "99999999999", "abc", "-1", "1e3", "", "٣", "9" * 40])
def test_signup_forged_community(client, session, forged):
    community = make_community(session)
    before = _users(session)
    resp = client.post("/accounts/signup", data=_signup_data(community, community=forged))
    assert resp.status_code == 422
    assert "Choose your community" in resp.get_data(as_text=True)
    assert _users(session) == before


def test_signup_closed_community_is_refused(client, session):
    closed = make_community(session, is_open=False)
    before = _users(session)
    resp = client.post("/accounts/signup", data=_signup_data(closed))
    assert resp.status_code == 422
    assert _users(session) == before


@pytest.mark.parametrize(
    "field,value",
    [
        ("display_name", "名" * 41),
        ("real_name", "x" * 41),
        ("display_name", "   "),
        ("display_name", "bad\x00name"),
        ("real_name", "tab\x07bell"),
    ],
)
def test_signup_bad_names(client, session, field, value):
    community = make_community(session)
    before = _users(session)
    resp = client.post("/accounts/signup", data=_signup_data(community, **{field: value}))
    assert resp.status_code == 422
    assert _users(session) == before


def test_oversized_body_is_413(client, session):
    community = make_community(session)
    resp = client.post("/accounts/signup", data=_signup_data(community, display_name="x" * 20_000))
    assert resp.status_code == 413


def test_mass_assignment_of_community_id_or_roles_is_ignored(client, session):
    community = make_community(session)
    other = make_community(session)
    data = _signup_data(community, community_id=str(other.id), role="sysadmin", session_version="99")
    assert client.post("/accounts/signup", data=data).status_code == 302
    user = session.scalar(select(User).where(User.phone == data["phone"]))
    assert user.community_id == community.id and user.roles == [] and user.session_version == 1


# --- log-in / log-out --------------------------------------------------------------------


def test_login_ok_starts_a_new_session(client, session):
    user = make_user(session, community=make_community(session))
    with client.session_transaction() as s:
        s["planted"] = "by-attacker"
    resp = login(client, user)
    assert resp.status_code == 302
    with client.session_transaction() as s:
        assert "planted" not in s  # fresh session on login (ASVS 7.2.4)
        assert len(s["sid"]) >= 40  # names a server-side session row
    assert _logged_in(client)
    session.refresh(user)
    assert user.last_login_at is not None
    assert [e.actor_id for e in _events(session, "login")] == [user.id]


def test_login_accepts_formatted_phone_and_follows_safe_next_only(client, session):
    user = make_user(session, community=make_community(session))
    spaced = f"{user.phone[:3]} {user.phone[3:7]} {user.phone[7:]}"
    resp = client.post(
        "/accounts/login?next=/accounts/password", data={"phone": spaced, "password": DEFAULT_PASSWORD}
    )
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/accounts/password")
    client.post("/accounts/logout")
    resp = client.post(
        "/accounts/login?next=//evil.example/x", data={"phone": user.phone, "password": DEFAULT_PASSWORD}
    )
    assert resp.status_code == 302 and "evil" not in resp.headers["Location"]


def test_wrong_password_and_unknown_phone_get_the_same_answer(client, session):
    user = make_user(session, community=make_community(session))
    wrong = login(client, user, password="Not-The-Password-1")
    unknown = client.post("/accounts/login", data={"phone": next_phone(), "password": DEFAULT_PASSWORD})
    assert wrong.status_code == unknown.status_code == 401

    def message(resp):
        return re.search(
            r'<div class="flash flash-error" role="alert">(.*?)</div>', resp.get_data(as_text=True), re.S
        )[1]

    assert message(wrong) == message(unknown)
    assert "not correct" in message(wrong)
    assert not _logged_in(client)
    failed = _events(session, "login.failed")  # recorded although the request rolled back
    assert len(failed) == 2 and failed[0].actor_id == user.id and failed[1].actor_id is None
    for e in failed:
        assert re.fullmatch(r"139\*{4}\d{4}", e.detail["phone"])
        assert DEFAULT_PASSWORD not in str(e.detail) and "Not-The-Password" not in str(e.detail)


def test_unknown_phone_burns_password_hashing_time(client, session, monkeypatch):
    from portal.accounts import passwords

    calls = []
    monkeypatch.setattr(passwords, "burn_time", lambda pw: calls.append(pw))
    client.post("/accounts/login", data={"phone": next_phone(), "password": "Whatever-123"})
    assert calls == ["Whatever-123"]


def test_inactive_user_cannot_log_in(client, session):
    user = make_user(session, community=make_community(session), is_active=False)
    resp = login(client, user)
    assert resp.status_code == 401 and "not correct" in resp.get_data(as_text=True)


def test_login_form_errors_are_422(client):
    resp = client.post("/accounts/login", data={"phone": "", "password": ""})
    assert resp.status_code == 422
    assert "Enter your mobile number" in resp.get_data(as_text=True)


def test_logout_is_post_only(client, session):
    user = make_user(session, community=make_community(session))
    login(client, user)
    assert client.get("/accounts/logout").status_code == 405
    assert _logged_in(client)
    resp = client.post("/accounts/logout")
    assert resp.status_code == 302
    assert not _logged_in(client)
    assert [e.actor_id for e in _events(session, "logout")] == [user.id]


def test_me_requires_login_and_lists_roles(client, session):
    street = make_street(session, name="东风街道")
    home = make_community(session, street=street, name="东风社区")
    other = make_community(session, street=street, name="西湖社区")
    user = make_user(session, community=home, roles=[(Role.STAFF, other), Role.STREET_ADMIN])
    resp = client.get("/accounts/me")
    assert resp.status_code == 302 and "/accounts/login" in resp.headers["Location"]
    login(client, user)
    html = client.get("/accounts/me").get_data(as_text=True)
    assert "Resident" in html and "东风社区" in html
    assert "Community staff" in html and "西湖社区" in html
    assert "Street administrator" in html and "东风街道" in html
    assert "/accounts/password" in html and "/accounts/logout" in html


# --- password change -------------------------------------------------------------------


def test_change_password_ends_other_sessions_and_keeps_this_one(app, session):
    user = make_user(session, community=make_community(session))
    mine, other = app.test_client(), app.test_client()
    assert login(mine, user).status_code == 302 and login(other, user).status_code == 302
    resp = mine.post(
        "/accounts/password",
        data={"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert resp.status_code == 302
    assert _logged_in(mine)
    assert not _logged_in(other)
    session.refresh(user)
    assert user.session_version == 2
    assert login(app.test_client(), user, password=DEFAULT_PASSWORD).status_code == 401
    assert login(app.test_client(), user, password=NEW_PASSWORD).status_code == 302
    assert [e.actor_id for e in _events(session, "password.change")] == [user.id]


def test_change_password_wrong_current_changes_nothing(client, session):
    user = make_user(session, community=make_community(session))
    login(client, user)
    old_hash = user.password_hash
    resp = client.post(
        "/accounts/password",
        data={"current_password": "Wrong-Password-1", "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert resp.status_code == 422
    assert "current password is not correct" in resp.get_data(as_text=True)
    session.refresh(user)
    assert user.password_hash == old_hash and user.session_version == 1
    (event,) = _events(session, "password.change")
    assert event.outcome == "refused"


@pytest.mark.parametrize(
    "new,message",
    [
        ("woaini1314", "too common"),
        ("short", "at least 8"),
        (DEFAULT_PASSWORD, "different from your current"),
    ],
)
def test_change_password_policy(client, session, new, message):
    user = make_user(session, community=make_community(session))
    login(client, user)
    resp = client.post(
        "/accounts/password", data={"current_password": DEFAULT_PASSWORD, "new_password": new, "confirm": new}
    )
    assert resp.status_code == 422 and message in resp.get_data(as_text=True)


def test_change_password_refuses_the_phone_number(client, session):
    user = make_user(session, community=make_community(session))
    login(client, user)
    resp = client.post(
        "/accounts/password",
        data={"current_password": DEFAULT_PASSWORD, "new_password": user.phone, "confirm": user.phone},
    )
    assert resp.status_code == 422 and "mobile number as your password" in resp.get_data(as_text=True)


def test_change_password_requires_login(client):
    resp = client.get("/accounts/password")
    assert resp.status_code == 302 and "/accounts/login" in resp.headers["Location"]


# --- session timeouts ------------------------------------------------------------------


def _age_session(session, user, *, started: dt.timedelta, seen: dt.timedelta) -> None:
    """Move the user's server-side session row back in time."""
    session.execute(
        update(UserSession)
        .where(UserSession.user_id == user.id)
        .values(created_at=utcnow() - started, last_seen_at=utcnow() - seen)
    )
    session.flush()


def test_session_idle_timeout(client, session):
    user = make_user(session, community=make_community(session))
    login(client, user)
    _age_session(session, user, started=dt.timedelta(minutes=31), seen=dt.timedelta(minutes=31))
    resp = client.get("/accounts/me")
    assert resp.status_code == 302 and "/accounts/login" in resp.headers["Location"]
    assert not _logged_in(client)


def test_session_absolute_timeout(client, session):
    user = make_user(session, community=make_community(session))
    login(client, user)
    _age_session(session, user, started=dt.timedelta(hours=12, minutes=1), seen=dt.timedelta(seconds=5))
    resp = client.get("/accounts/me")
    assert resp.status_code == 302 and "/accounts/login" in resp.headers["Location"]


def test_session_within_limits_stays(client, session):
    user = make_user(session, community=make_community(session))
    login(client, user)
    _age_session(session, user, started=dt.timedelta(hours=11), seen=dt.timedelta(minutes=29))
    assert _logged_in(client)


# --- CSRF ------------------------------------------------------------------------------


@pytest.fixture()
def csrf_app(db_url, engine, connection):
    return make_test_app(
        DATABASE_URL=db_url,
        DATABASE_ENGINE=engine,
        DATABASE_BIND=connection,
        WTF_CSRF_ENABLED=True,
        BABEL_DEFAULT_LOCALE="en",
    )


def _token(client, path):
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)[1]


def test_post_without_csrf_token_is_400_and_changes_nothing(csrf_app, session):
    community = make_community(session)
    client = csrf_app.test_client()
    before = _users(session)
    data = _signup_data(community)
    resp = client.post("/accounts/signup", data=data)
    assert resp.status_code == 400
    assert "expired" in resp.get_data(as_text=True)
    assert _users(session) == before
    token = _token(client, "/accounts/signup")
    assert client.post("/accounts/signup", data={**data, "csrf_token": token}).status_code == 302
    assert _users(session) == before + 1


def test_logout_without_csrf_token_is_400(csrf_app, session):
    user = make_user(session, community=make_community(session))
    client = csrf_app.test_client()
    token = _token(client, "/accounts/login")
    resp = client.post(
        "/accounts/login", data={"phone": user.phone, "password": DEFAULT_PASSWORD, "csrf_token": token}
    )
    assert resp.status_code == 302
    assert client.post("/accounts/logout").status_code == 400
    assert _logged_in(client)


def test_logged_in_user_is_sent_on_from_login_and_signup_pages(client, session):
    login(client, make_user(session, community=make_community(session)))
    assert client.get("/accounts/login").status_code == 302
    resp = client.get("/accounts/signup")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/accounts/me")


def test_oversized_body_is_413_before_the_csrf_check(csrf_app, session):
    community = make_community(session)
    resp = csrf_app.test_client().post(
        "/accounts/signup", data=_signup_data(community, display_name="x" * 20_000)
    )
    assert resp.status_code == 413
