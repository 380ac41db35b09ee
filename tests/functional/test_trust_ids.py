"""Issue 9 #7: every id — in a path, a query string or a form — goes through one
validator; an id too large for the database is a 404/400, never a 500. Walks every
rule of the URL map as a staff member of the demo data, so a new route is covered the
day it is added."""

from __future__ import annotations

import re
from typing import Any

import pytest

from portal.demo import DEMO_PASSWORD, seed_demo
from portal.ids import MAX_ID, parse_id
from tests.conftest import make_test_app

HUGE = "99999999999999999999"
JUST_OVER = str(MAX_ID + 1)
STAFF_PHONE = "13900000011"
RESIDENT_PHONE = "13900000302"
# Names forms use for ids (community, object, "kind:id" sources, cursors).
ID_FIELDS = (
    "community_id", "before", "page", "grid_id", "building_id", "organisation_id", "team_id",
    "activity_id", "post_id", "wish_id", "user_id", "member_id", "log_id", "reward_id",
    "assignment_id", "id", "recipient", "category",
)  # fmt: skip


@pytest.fixture()
def demo_app(db_url, engine, connection, session):
    app = make_test_app(
        DATABASE_URL=db_url, DATABASE_ENGINE=engine, DATABASE_BIND=connection, RATELIMIT_ENABLED=False
    )
    with app.app_context():
        seed_demo(session)
    return app


def _login(client: Any, phone: str) -> None:
    resp = client.post("/accounts/login", data={"phone": phone, "password": DEMO_PASSWORD})
    assert resp.status_code == 302


def _paths(app: Any, method: str, value: str) -> list[str]:
    out = []
    for rule in app.url_map.iter_rules():
        if method not in (rule.methods or ()) or rule.endpoint == "static":
            continue
        convs = rule._converters  # noqa: SLF001 - werkzeug has no public accessor
        if not any(type(c).__name__ == "IdConverter" for c in convs.values()):
            continue
        path = rule.rule
        for arg, conv in convs.items():
            repl = value if type(conv).__name__ == "IdConverter" else "en"
            path = re.sub(r"<(?:[^:<>]+:)?" + arg + r">", repl, path)
        out.append(path)
    return sorted(set(out))


def test_parse_id_accepts_only_database_sized_ids():
    assert parse_id("1") == 1 and parse_id(str(MAX_ID)) == MAX_ID
    for bad in ("", "0", "-1", "+1", "1.0", "１", "٣", JUST_OVER, HUGE, " ", "1e3", None, True, 2**40):
        assert parse_id(bad) is None, bad


@pytest.mark.parametrize("value", [HUGE, JUST_OVER])
@pytest.mark.parametrize("phone", [STAFF_PHONE, RESIDENT_PHONE])
def test_huge_ids_in_paths_are_404(demo_app, phone, value):
    client = demo_app.test_client()
    _login(client, phone)
    for method in ("GET", "POST"):
        paths = _paths(demo_app, method, value)
        assert paths, "the URL map has id routes"
        for path in paths:
            resp = client.open(path, method=method, data={"note": "x"})
            assert resp.status_code in (404, 405), f"{method} {path} → {resp.status_code}"


@pytest.mark.parametrize("phone", [STAFF_PHONE, RESIDENT_PHONE])
def test_huge_ids_in_queries_and_forms_never_500(demo_app, phone):
    client = demo_app.test_client()
    _login(client, phone)
    junk = {name: HUGE for name in ID_FIELDS}
    junk["source"] = f"post:{HUGE}"
    for rule in demo_app.url_map.iter_rules():
        if rule.endpoint in {"static", "accounts.logout"} or rule.arguments:
            continue
        if "GET" in (rule.methods or ()):
            resp = client.get(rule.rule, query_string=junk)
            assert resp.status_code < 500, f"GET {rule.rule}?… → {resp.status_code}"
        if "POST" in (rule.methods or ()):
            resp = client.post(rule.rule, data=junk)
            assert resp.status_code < 500, f"POST {rule.rule} → {resp.status_code}"
    # The session survived every refusal (no route logged the caller out by failing).
    assert client.get("/accounts/me").status_code == 200
