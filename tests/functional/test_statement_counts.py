"""SQL statements per request for the main pages, logged in (SQLite and PostgreSQL).

Each page is requested once with a small world and once after more rows were added
(activities, sign-ups, hour logs, rewards, ledger postings, notifications). The test fails
when a page needs more statements than its budget, when its count grows with the number
of rows (an N+1: one query per listed item), or when a read request writes. Savepoint
bookkeeping of the test harness is not counted. Budgets are what the pages need today plus
a little room; lower them when a page gets leaner, never raise them to hide a regression.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event

from portal.activities import services as activities
from portal.people.models import Role
from portal.volunteering.recording import record_hours
from tests.factories import give_points, login, make_activity, make_community, make_reward, make_user


def _morning_days_ago(days: int) -> dt.datetime:
    """07:00 in Shanghai ``days`` ago (UTC): logs of a few hours from here stay on one local
    day, whatever the hour the suite runs at."""
    shanghai = ZoneInfo("Asia/Shanghai")
    day = dt.datetime.now(shanghai).date() - dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(7), tzinfo=shanghai).astimezone(dt.UTC)


# page -> (who, budget)
PAGES = {
    "/": ("volunteer", 12),
    "/activities/": ("volunteer", 6),
    "/activities/{activity}": ("volunteer", 8),
    "/points": ("volunteer", 8),
    "/rewards/": ("volunteer", 8),
    # +3 (issue 9 #1): the community rates, the total "approve all" would pay, this month's budget.
    "/hours/review": ("staff", 15),
}
_HARNESS = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")
_WRITES = ("INSERT", "UPDATE", "DELETE")


@contextmanager
def counting(engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def before(_conn, _cursor, statement, _params, _context, _executemany) -> None:
        if not statement.lstrip().upper().startswith(_HARNESS):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


def _grow(session, w: dict, n: int) -> None:
    """Add ``n`` of everything the pages list."""
    c, staff, vol = w["community"], w["staff"], w["volunteer"]
    shop = w["shop"]
    base = _morning_days_ago(3)
    for _ in range(n):
        other = make_user(session, community=c)
        # 3 hours apart: the volunteer's sign-ups must not overlap (issue 9 #10).
        act = make_activity(session, c, staff, starts_in_hours=24 + 3 * w["k"])
        activities.signup(session, other, act.id)
        activities.signup(session, vol, act.id)
        make_reward(session, c, shop, price=5, stock=3, monthly_limit=2, title=f"奖品{w['k']}")
        give_points(session, c, vol, 3)
        start = base + dt.timedelta(hours=w["k"])
        for person in (vol, other):
            record_hours(
                session,
                user_id=person.id,
                community_id=c.id,
                source="other",
                source_id=None,
                started_at=start,
                ended_at=start + dt.timedelta(minutes=30),
                description="扫楼道",
                reported_by=person,
            )
        w["k"] += 1
        w["activity"] = act.id
    session.flush()


def _counts(app, engine, w: dict) -> dict[str, int]:
    out = {}
    clients = {}
    for who in ("volunteer", "staff"):
        clients[who] = app.test_client()
        assert login(clients[who], w[who]).status_code == 302
    for page, (who, _budget) in PAGES.items():
        url = page.format(activity=w["activity"])
        clients[who].get(url)  # warm: first-request work (template compilation, caches)
        with counting(engine) as statements:
            resp = clients[who].get(url)
        assert resp.status_code == 200, (url, resp.status_code)
        out[page] = len(statements)
        writes = [sql for sql in statements if sql.lstrip().upper().startswith(_WRITES)]
        assert not writes, f"{url} writes on a read request: {writes}"
        if os.environ.get("FUFEN_DUMP_SQL"):  # FUFEN_DUMP_SQL=1 pytest -s …: see what a page runs
            print(f"\n== {url}: {len(statements)} statements")
            for sql in statements:
                print("  ", " ".join(sql.split())[:300])
    return out


@pytest.fixture()
def world(app, session):
    with app.app_context():
        c = make_community(session)
        w = {
            "community": c,
            "staff": make_user(session, community=c, roles=(Role.STAFF,)),
            "volunteer": make_user(session, community=c),
            "shop": make_user(session, community=c, roles=(Role.MERCHANT,)),
            "k": 0,
        }
        _grow(session, w, 2)
    # Requests run outside this app context: each gets its own context and database
    # session, as in production (a shared one would hide per-request loads).
    return w


def test_main_pages_stay_within_budget_and_do_not_grow_with_rows(app, engine, session, world):
    small = _counts(app, engine, world)
    with app.app_context():
        _grow(session, world, 6)
    large = _counts(app, engine, world)
    report = {page: (small[page], large[page], PAGES[page][1]) for page in PAGES}
    grows = {p: v for p, v in report.items() if v[1] > v[0]}
    over = {p: v for p, v in report.items() if max(v[0], v[1]) > v[2]}
    assert not grows, f"statement count grows with rows (small, large, budget): {grows}"
    assert not over, f"over budget (small, large, budget): {over}"
