"""The API's framework: tokens, errors, languages, CSRF, the OpenAPI document, the docs page."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import func, select

from core.db import utcnow
from portal.api.models import ApiToken
from tests.api.conftest import ApiClient, assert_error, device_token
from tests.factories import DEFAULT_PASSWORD, make_community, make_user


def test_login_issues_a_device_token_that_works(client, session):
    community = make_community(session)
    user = make_user(session, community=community)
    resp = client.post(
        "/api/v1/auth/token",
        json={"mobile": user.phone, "password": DEFAULT_PASSWORD, "device_name": "小程序"},
    )
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["token_type"] == "Bearer" and body["kind"] == "device" and body["token"].startswith("ff_")
    me = ApiClient(client, body["token"]).get("/api/v1/me")
    assert me.status_code == 200
    data = me.get_json()
    assert data["id"] == user.id and data["home_community_id"] == community.id
    assert data["points"] == {"community_id": community.id, "balance": 0, "held": 0, "available": 0}
    assert data["mobile_masked"] != user.phone and "*" in data["mobile_masked"]
    # Only the hash is stored.
    stored = session.scalar(select(ApiToken).where(ApiToken.id == body["id"]))
    assert body["token"] not in (stored.token_hash, stored.prefix)


def test_bad_password_and_unknown_number_get_the_same_refusal(client, session):
    user = make_user(session, community=make_community(session))
    wrong = client.post("/api/v1/auth/token", json={"mobile": user.phone, "password": "nope-nope-1"})
    unknown = client.post("/api/v1/auth/token", json={"mobile": "13800000000", "password": "nope-nope-1"})
    a = assert_error(wrong, 401, "bad_credentials")
    b = assert_error(unknown, 401, "bad_credentials")
    assert a == b


def test_messages_follow_accept_language(client, session):
    zh = client.get("/api/v1/me")
    en = client.get("/api/v1/me", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert assert_error(zh, 401, "unauthenticated")["message"] != assert_error(en, 401)["message"]
    assert re.search(r"[\u4e00-\u9fff]", zh.get_json()["message"])
    assert en.get_json()["message"].isascii()


def test_invalid_expired_revoked_tokens_are_401(client, session, api):
    user = make_user(session, community=make_community(session))
    for header in (
        "Bearer nonsense",
        "Bearer ff_" + "x" * 40,
        "Basic abc",
        "Bearer ",
        "Bearer " + "ff_" * 200,
    ):
        assert_error(client.get("/api/v1/me", headers={"Authorization": header}), 401, "token_invalid")
    caller = api(user)
    token_id = caller.get("/api/v1/auth/tokens").get_json()["items"][0]["id"]
    assert caller.delete(f"/api/v1/auth/tokens/{token_id}").status_code == 204
    assert_error(caller.get("/api/v1/me"), 401, "token_invalid")
    # expired
    secret = device_token(session, user)
    row = session.scalar(select(ApiToken).order_by(ApiToken.id.desc()))
    row.expires_at = utcnow() - dt.timedelta(seconds=1)
    session.flush()
    assert_error(ApiClient(client, secret).get("/api/v1/me"), 401, "token_invalid")


def test_password_change_ends_device_tokens_and_deactivation_all(client, session, api):
    user = make_user(session, community=make_community(session))
    caller = api(user)
    partner = api(user, scopes=["me:read"])
    user.session_version += 1
    session.flush()
    assert_error(caller.get("/api/v1/me"), 401, "token_invalid")
    assert partner.get("/api/v1/me").status_code == 200
    user.is_active = False
    session.flush()
    assert_error(partner.get("/api/v1/me"), 401, "token_invalid")


def test_personal_tokens_scopes_and_limits(client, session, api):
    user = make_user(session, community=make_community(session))
    caller = api(user)
    made = caller.post(
        "/api/v1/auth/tokens", json={"name": "街道数据平台", "scopes": ["me:read"], "expires_in_days": 7}
    )
    assert made.status_code == 201, made.get_json()
    pat = ApiClient(client, made.get_json()["token"])
    assert pat.get("/api/v1/me").status_code == 200
    assert_error(pat.get("/api/v1/activities"), 403, "scope_missing")
    # A personal token cannot mint or list tokens, nor revoke others.
    assert_error(
        pat.post("/api/v1/auth/tokens", json={"name": "x", "scopes": ["me:read"]}), 403, "token_kind"
    )
    assert_error(pat.get("/api/v1/auth/tokens"), 403, "token_kind")
    other = caller.get("/api/v1/auth/tokens").get_json()["items"]
    device_id = next(t["id"] for t in other if t["kind"] == "device")
    assert_error(pat.delete(f"/api/v1/auth/tokens/{device_id}"), 403, "token_kind")
    for bad in (
        {"name": "x", "scopes": ["root"]},
        {"name": "x", "scopes": []},
        {"name": "", "scopes": ["me:read"]},
        {"name": "x", "scopes": ["me:read"], "expires_in_days": 10**30},
        {"name": "x", "scopes": ["me:read"], "expires_in_days": "7"},
        {"name": "x", "scopes": ["me:read"], "admin": True},
        {"name": ["x"], "scopes": "me:read"},
    ):
        assert_error(caller.post("/api/v1/auth/tokens", json=bad), 422)
    assert session.scalar(select(func.count()).select_from(ApiToken).where(ApiToken.user_id == user.id)) == 2


def test_someone_elses_token_id_is_not_found(client, session, api):
    community = make_community(session)
    a, b = make_user(session, community=community), make_user(session, community=community)
    b_client = api(b)
    b_token = b_client.get("/api/v1/auth/tokens").get_json()["items"][0]["id"]
    assert_error(api(a).delete(f"/api/v1/auth/tokens/{b_token}"), 404, "token_not_found")
    assert b_client.get("/api/v1/me").status_code == 200
    assert_error(api(a).delete(f"/api/v1/auth/tokens/{10**30}"), 404)


def test_malformed_bodies_are_4xx_with_the_error_body(client, session):
    for kwargs in (
        {"data": "{not json", "content_type": "application/json"},
        {"data": "mobile=1", "content_type": "application/x-www-form-urlencoded"},
        {"json": []},
        {"json": {"mobile": 1, "password": True}},
        {"json": {"mobile": "1" * 10_000, "password": "x"}},
    ):
        resp = client.post("/api/v1/auth/token", **kwargs)
        assert 400 <= resp.status_code < 500, (kwargs, resp.status_code)
        assert set(resp.get_json()) == {"code", "message", "details"}
    big = client.post("/api/v1/auth/token", data="x" * (9 * 1024 * 1024), content_type="application/json")
    assert_error(big, 413, "too_large")


def test_unknown_route_and_method(client):
    assert_error(client.get("/api/v1/nothing-here"), 404, "not_found")
    assert_error(client.put("/api/v1/me"), 405, "method_not_allowed")


def test_cookie_session_works_and_needs_csrf(db_url, engine, connection, session):
    from tests.conftest import make_test_app

    app = make_test_app(
        DATABASE_URL=db_url, DATABASE_ENGINE=engine, DATABASE_BIND=connection, WTF_CSRF_ENABLED=True
    )
    client = app.test_client()
    user = make_user(session, community=make_community(session))
    page = client.get("/accounts/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    logged_in = client.post(
        "/accounts/login", data={"phone": user.phone, "password": DEFAULT_PASSWORD, "csrf_token": csrf}
    )
    assert logged_in.status_code == 302
    assert client.get("/api/v1/me").status_code == 200
    refused = client.post("/api/v1/auth/tokens", json={"name": "x", "scopes": ["me:read"]})
    assert_error(refused, 400, "csrf_failed")
    csrf = client.get("/api/v1/auth/csrf").get_json()["csrf_token"]
    ok = client.post(
        "/api/v1/auth/tokens", json={"name": "x", "scopes": ["me:read"]}, headers={"X-CSRFToken": csrf}
    )
    assert ok.status_code == 201
    # A bearer token needs no CSRF token even with CSRF protection on.
    secret = device_token(session, user)
    fresh = app.test_client()
    made = fresh.post(
        "/api/v1/auth/tokens",
        json={"name": "y", "scopes": ["me:read"]},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert made.status_code == 201
    token = fresh.post("/api/v1/auth/token", json={"mobile": user.phone, "password": DEFAULT_PASSWORD})
    assert token.status_code == 201


def test_every_api_route_is_in_the_document(app, client):
    spec = client.get("/api/v1/openapi.json").get_json()
    documented = {
        (re.sub(r"\{(\w+)\}", r"<\1>", path), method.upper())
        for path, item in spec["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint.startswith("api_docs."):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"<\1>", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes.add((path, method))
    assert routes and routes == documented
    # Every operation documents its errors and, unless public, its security and scope.
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                continue
            assert "default" in op["responses"], (path, method)
            assert op.get("summary"), (path, method)
    assert set(spec["components"]["securitySchemes"]) == {"bearerAuth", "cookieAuth"}


def test_docs_page_is_server_rendered_and_self_contained(client):
    resp = client.get("/api/v1/docs")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "/api/v1/me" in html and "POST /api/v1/auth/token" in html
    assert "<script" not in html.replace('src="/static/', "") or "cdn" not in html
    assert "http://" not in html and "https://" not in html
    assert " style=" not in html


def test_privileged_roles_need_the_second_factor_for_a_token(db_url, engine, connection, session):
    import pyotp

    from portal.accounts import mfa
    from portal.people.models import Role
    from tests.conftest import make_test_app

    app = make_test_app(
        DATABASE_URL=db_url, DATABASE_ENGINE=engine, DATABASE_BIND=connection, MFA_REQUIRED=True
    )
    client = app.test_client()
    community = make_community(session)
    staff = make_user(session, community=community, roles=(Role.STAFF,))
    resident = make_user(session, community=community)
    creds = {"mobile": staff.phone, "password": DEFAULT_PASSWORD}
    assert_error(client.post("/api/v1/auth/token", json=creds), 403, "mfa_enrolment_required")
    secret = pyotp.random_base32()
    with app.test_request_context():
        mfa.enrol(session, staff, secret, pyotp.TOTP(secret).at(utcnow() - dt.timedelta(seconds=30)))
    session.flush()
    body = assert_error(client.post("/api/v1/auth/token", json=creds), 401, "mfa_required")
    assert body["details"] == {"field": "totp_code"}
    assert_error(
        client.post("/api/v1/auth/token", json={**creds, "totp_code": "000000"}), 422, "mfa_wrong_code"
    )
    ok = client.post("/api/v1/auth/token", json={**creds, "totp_code": pyotp.TOTP(secret).at(utcnow())})
    assert ok.status_code == 201, ok.get_json()
    # Residents without a second factor are not asked for one.
    plain = client.post("/api/v1/auth/token", json={"mobile": resident.phone, "password": DEFAULT_PASSWORD})
    assert plain.status_code == 201
