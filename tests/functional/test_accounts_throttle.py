"""Login and sign-up throttling (ASVS 6.1.1, 6.3.1): failed attempts are limited per IP,
per (account, IP) and per account from unknown devices; an attacker elsewhere cannot
lock the owner out. Small limits are configured so the tests stay fast."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.audit.models import AuditEvent
from tests.conftest import make_test_app
from tests.factories import DEFAULT_PASSWORD, login, make_community, make_user, next_phone

WRONG = "Wrong-Password-1"
LIMITS = {
    "LOGIN_LIMIT_PER_IP": "6 per 15 minutes",
    "LOGIN_LIMIT_PER_ACCOUNT": "3 per 15 minutes",
    "LOGIN_LIMIT_PER_ACCOUNT_GLOBAL": "5 per hour",
    "SIGNUP_LIMIT_PER_IP": "2 per hour",
    "BABEL_DEFAULT_LOCALE": "en",
}


@pytest.fixture()
def app(db_url, engine, connection):
    return make_test_app(DATABASE_URL=db_url, DATABASE_ENGINE=engine, DATABASE_BIND=connection, **LIMITS)


def client_at(app, ip):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ip
    return client


@pytest.fixture()
def user(session):
    return make_user(session, community=make_community(session))


def test_per_account_limit_returns_429_with_message(app, session, user):
    c = client_at(app, "10.0.0.1")
    for _ in range(3):
        assert login(c, user, WRONG).status_code == 401
    resp = login(c, user)  # even the right password waits now, from this address
    assert resp.status_code == 429
    assert "Too many failed attempts" in resp.get_data(as_text=True)
    session.expire_all()
    throttled = session.scalars(select(AuditEvent).where(AuditEvent.action == "login.throttled")).all()
    assert len(throttled) == 1 and throttled[0].detail["budgets"] == ["account_ip"]
    assert throttled[0].detail["phone"].count("*") == 4


def test_per_ip_limit_covers_many_accounts(app):
    c = client_at(app, "10.0.0.2")
    for _ in range(6):
        assert c.post("/accounts/login", data={"phone": next_phone(), "password": WRONG}).status_code == 401
    resp = c.post("/accounts/login", data={"phone": next_phone(), "password": WRONG})
    assert resp.status_code == 429
    # Another address is not affected.
    assert (
        client_at(app, "10.0.0.3")
        .post("/accounts/login", data={"phone": next_phone(), "password": WRONG})
        .status_code
        == 401
    )


def test_throttle_does_not_reveal_whether_the_number_exists(app, user):
    c = client_at(app, "10.0.0.4")
    unknown = next_phone()
    for _ in range(3):
        login(c, user, WRONG)
        c.post("/accounts/login", data={"phone": unknown, "password": WRONG})
    assert login(c, user, WRONG).status_code == 429
    assert c.post("/accounts/login", data={"phone": unknown, "password": WRONG}).status_code == 429


def test_attacker_elsewhere_cannot_lock_the_owner_out(app, user):
    attacker = client_at(app, "203.0.113.66")
    for _ in range(3):
        assert login(attacker, user, WRONG).status_code == 401
    assert login(attacker, user, WRONG).status_code == 429
    owner = client_at(app, "10.0.0.5")  # a new phone, at home
    assert login(owner, user).status_code == 302


def test_distributed_attack_still_lets_the_owners_known_phone_in(app, user):
    owner = client_at(app, "10.0.0.6")
    assert login(owner, user).status_code == 302  # the owner's phone is now a known device
    owner.post("/accounts/logout")
    for i in range(5):  # a botnet: one guess from each of many addresses
        assert login(client_at(app, f"198.51.100.{i}"), user, WRONG).status_code == 401
    # New devices now wait (the global per-account budget is spent)…
    assert login(client_at(app, "10.0.0.7"), user).status_code == 429
    assert login(client_at(app, "198.51.100.99"), user, WRONG).status_code == 429
    # …but the owner's own phone, with its device cookie, gets in.
    assert login(owner, user).status_code == 302


def test_known_device_has_its_own_budget(app, user):
    owner = client_at(app, "10.0.0.8")
    assert login(owner, user).status_code == 302
    owner.post("/accounts/logout")
    for _ in range(3):
        assert login(owner, user, WRONG).status_code == 401
    # The device budget is spent: it counts as an unknown device again, whose budgets
    # still have room, so the owner can still log in.
    assert login(owner, user).status_code == 302


def test_forged_device_cookie_is_ignored(app, user):
    c = client_at(app, "10.0.0.9")
    c.set_cookie("fufen_device", "forged.value.here", path="/accounts/")
    for _ in range(3):
        login(c, user, WRONG)
    assert login(c, user).status_code == 429


def test_successful_logins_are_not_counted(app, user):
    c = client_at(app, "10.0.0.10")
    for _ in range(8):
        assert login(c, user).status_code == 302
        c.post("/accounts/logout")


def test_success_resets_the_account_ip_budget(app, user):
    c = client_at(app, "10.0.0.11")
    for _ in range(2):
        login(c, user, WRONG)
    assert login(c, user).status_code == 302
    c.post("/accounts/logout")
    for _ in range(2):  # device budget (fresh) is what counts now; nothing is over
        assert login(c, user, WRONG).status_code == 401
    assert login(c, user).status_code == 302


def test_signup_is_limited_per_ip(app, session):
    community = make_community(session)
    c = client_at(app, "10.0.0.12")

    def attempt():
        return c.post(
            "/accounts/signup",
            data={
                "phone": next_phone(),
                "password": "Plum-Blossom-77",
                "confirm": "Plum-Blossom-77",
                "display_name": "小张",
                "community": str(community.id),
            },
        )

    assert attempt().status_code == 302
    c.post("/accounts/logout")
    assert attempt().status_code == 302
    c.post("/accounts/logout")
    resp = attempt()
    assert resp.status_code == 429
    assert "Too many attempts" in resp.get_data(as_text=True)
    assert client_at(app, "10.0.0.13").get("/accounts/signup").status_code == 200


def test_wrong_current_password_on_change_form_is_throttled(app, user):
    c = client_at(app, "10.0.0.14")
    login(c, user)
    data = {"current_password": WRONG, "new_password": "Quiet-Lantern-42", "confirm": "Quiet-Lantern-42"}
    for _ in range(3):
        assert c.post("/accounts/password", data=data).status_code == 422
    resp = c.post("/accounts/password", data={**data, "current_password": DEFAULT_PASSWORD})
    assert resp.status_code == 429
    assert "Too many failed attempts" in resp.get_data(as_text=True)
