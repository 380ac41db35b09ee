"""Route-wide security properties, checked over every rule in the URL map (so a new
route is covered the day it is added):

* anonymous visitors reach only the public pages; everything else sends them to log in;
* every POST route refuses a request without a CSRF token (400) and changes nothing;
* no GET changes state, for a resident and for staff, with real ids from the demo data;
* none of this ever answers 500.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func, select

from core.db import Base
from portal.demo import DEMO_PASSWORD, seed_demo
from tests.conftest import make_test_app

# Pages anyone may see without logging in.
PUBLIC = {
    "static",
    "main.index",
    "health.healthz",
    "health.readyz",
    "main.services",
    "main.points",
    "accounts.login",
    "accounts.signup",
    # The JSON API's document, its docs page and the list of token scopes.
    "api_docs.openapi_json",
    "api_docs.docs_page",
    "Auth.list_scopes",
    # The installable app's worker and offline page, and the style guide (no data in them).
    "ui.service_worker",
    "ui.offline",
    "ui.styleguide",
    # A community's public transparency page: totals and signed ledger heads, no person's data.
    "transparency.community",
}
# Tables a GET may legitimately write to: audit rows of refused access.
GET_MAY_WRITE = {"audit_event"}
STAFF_PHONE = "13900000011"  # 李秀梅, staff of 幸福里社区
RESIDENT_PHONE = "13900000302"  # 吴小燕, resident of 幸福里社区


@pytest.fixture()
def csrf_app(db_url, engine, connection):
    return make_test_app(
        DATABASE_URL=db_url,
        DATABASE_ENGINE=engine,
        DATABASE_BIND=connection,
        WTF_CSRF_ENABLED=True,
        RATELIMIT_ENABLED=False,
    )


@pytest.fixture()
def demo(csrf_app, session):
    with csrf_app.app_context():
        return seed_demo(session)


def _urls(app: Any, method: str) -> list[tuple[str, str]]:
    """(endpoint, url) for every rule accepting ``method``; path parameters get id 1
    (the demo data's first row of every table) or a harmless string."""
    out = []
    for rule in app.url_map.iter_rules():
        if method not in (rule.methods or ()) or rule.endpoint == "static":
            continue
        values = {}
        for arg in rule.arguments:
            conv = rule._converters.get(arg)  # noqa: SLF001 - werkzeug has no public accessor
            values[arg] = (
                1 if conv is not None and type(conv).__name__ in {"IntegerConverter", "IdConverter"} else "en"
            )
        with app.test_request_context():
            from flask import url_for

            out.append((rule.endpoint, url_for(rule.endpoint, **values)))
    return sorted(set(out))


def _login(client: Any, phone: str) -> None:
    page = client.get("/accounts/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page
    )
    assert token, "login form carries a CSRF token"
    resp = client.post(
        "/accounts/login", data={"phone": phone, "password": DEMO_PASSWORD, "csrf_token": token.group(1)}
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]


def _row_counts(session: Any) -> dict[str, int]:
    session.expire_all()
    return {
        t.name: session.scalar(select(func.count()).select_from(t)) or 0 for t in Base.metadata.sorted_tables
    }


def test_anonymous_visitors_reach_only_public_pages(csrf_app, demo):
    client = csrf_app.test_client()
    leaks = []
    for endpoint, url in _urls(csrf_app, "GET"):
        resp = client.get(url)
        assert resp.status_code < 500, f"{url} answered {resp.status_code}"
        if endpoint in PUBLIC:
            continue
        if resp.status_code == 200:
            leaks.append(url)
        elif resp.status_code == 302:
            assert "/accounts/login" in resp.headers["Location"], f"{url} → {resp.headers['Location']}"
    assert leaks == [], "pages served to anonymous visitors"


@pytest.mark.parametrize("phone", [RESIDENT_PHONE, STAFF_PHONE])
def test_every_post_requires_a_csrf_token(csrf_app, demo, session, phone):
    client = csrf_app.test_client()
    _login(client, phone)
    before = _row_counts(session)
    for endpoint, url in _urls(csrf_app, "POST"):
        resp = client.post(url, data={"id": "1", "amount": "1", "note": "x"})
        assert resp.status_code == 400, f"{endpoint} {url} answered {resp.status_code} without a CSRF token"
    after = _row_counts(session)
    changed = {t for t in before if before[t] != after[t]} - GET_MAY_WRITE
    assert changed == set()


@pytest.mark.parametrize("phone", [RESIDENT_PHONE, STAFF_PHONE])
def test_no_get_changes_state(csrf_app, demo, session, phone):
    client = csrf_app.test_client()
    _login(client, phone)
    before = _row_counts(session)
    for endpoint, url in _urls(csrf_app, "GET"):
        if endpoint == "accounts.logout":
            continue
        resp = client.get(url)
        assert resp.status_code < 500, f"{endpoint} {url} answered {resp.status_code}"
    after = _row_counts(session)
    changed = {t: (before[t], after[t]) for t in before if before[t] != after[t] and t not in GET_MAY_WRITE}
    assert changed == {}, f"GET requests changed rows: {changed}"
