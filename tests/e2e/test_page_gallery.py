"""Every page a volunteer and a staff member use, on a 390×844 phone, in Chinese and English.

Screenshots land in docs/screenshots/<lang>-<who>-<page>.png (what the phone screen shows).
Each page must load, fit the phone width (no sideways scrolling) and obey the CSP.
Set GALLERY_FULL=<dir> to also save full-page captures there for review.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.e2e

VOLUNTEER_PHONE = "13900000101"      # 王建华: party member and volunteer of 幸福里社区
STAFF_PHONE = "13900000011"          # 李秀梅: staff of 幸福里社区
FULL = os.environ.get("GALLERY_FULL")


def _ids(app: Any) -> dict[str, int]:
    from sqlalchemy import select

    from portal.activities.models import Activity
    from portal.community.models import Community
    from portal.extensions import db
    from portal.posts.models import ServicePost
    from portal.teams.models import Team
    from portal.wishes.models import Wish

    with app.app_context():
        community = db.session.scalar(select(Community).where(Community.name == "幸福里社区"))
        cid = community.id

        def first(model: Any) -> int:
            value = db.session.scalar(select(model.id).where(model.community_id == cid).order_by(model.id))
            assert value is not None, f"the demo has no {model.__name__} in 幸福里社区"
            return int(value)

        return {"community": cid, "post": first(ServicePost), "team": first(Team),
                "activity": first(Activity), "wish": first(Wish)}


VOLUNTEER_PAGES = [
    ("home", "/"),
    ("services", "/services"),
    ("posts", "/posts/"),
    ("post", "/posts/{post}"),
    ("teams", "/teams/"),
    ("team", "/teams/{team}"),
    ("activities", "/activities/"),
    ("activity", "/activities/{activity}"),
    ("activities-mine", "/activities/mine"),
    ("check", "/activities/{activity}/check?phase=in"),
    ("hours", "/hours/"),
    ("hours-report", "/hours/report"),
    ("wishes", "/wishes/"),
    ("wish", "/wishes/{wish}"),
    ("wish-new", "/wishes/new"),
    ("compliance-me", "/compliance/me"),
    ("inbox", "/inbox/"),
    ("points", "/points"),
    ("community", "/community/"),
]

STAFF_PAGES = [
    ("home", "/"),
    ("activity", "/activities/{activity}"),
    ("activity-new", "/activities/new"),
    ("checkin-screen", "/activities/{activity}/screen?phase=in"),
    ("participants", "/activities/{activity}/participants"),
    ("hours-review", "/hours/review"),
    ("compliance", "/compliance/"),
    ("community-manage", "/community/{community}/manage"),
    ("community-members", "/community/{community}/manage/members"),
    ("community-roles", "/community/{community}/manage/roles"),
    ("community-reports", "/community/{community}/manage/reports"),
    ("posts-manage", "/community/{community}/posts"),
    ("posts-claims", "/community/{community}/posts/claims"),
    ("post-new", "/community/{community}/posts/new"),
    ("team-new", "/teams/new"),
    ("wish", "/wishes/{wish}"),
]


def _log_in(page: Page, phone: str, password: str) -> None:
    page.goto("/accounts/login")
    page.locator("input[name=phone]").fill(phone)
    page.locator("input[name=password]").fill(password)
    page.locator("form.form button[type=submit]").click()
    expect(page).not_to_have_url(re.compile(r"/accounts/login"))


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("who", ["volunteer", "staff"])
def test_gallery(browser: Browser, browser_context_args: dict[str, Any], base_url: str, live_app: Any,
                 demo_login: dict[str, str], shoot: Any, lang: str, who: str) -> None:
    ids = _ids(live_app)
    context = browser.new_context(**browser_context_args)
    if lang == "en":
        context.add_cookies([{"name": "fufen_lang", "value": "en", "url": base_url}])
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(f"{page.url}: {msg.text}") if msg.type == "error" else None)
    problems: list[str] = []
    try:
        _log_in(page, VOLUNTEER_PHONE if who == "volunteer" else STAFF_PHONE, demo_login["password"])
        for name, path in VOLUNTEER_PAGES if who == "volunteer" else STAFF_PAGES:
            url = path.format(**ids)
            response = page.goto(url)
            assert response is not None
            if response.status >= 400:
                problems.append(f"{url}: HTTP {response.status}")
                continue
            expect(page.locator("html")).to_have_attribute("lang", "en" if lang == "en" else "zh-CN")
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            if overflow > 0:
                problems.append(f"{url}: {overflow}px wider than the phone")
            shoot(page, f"{lang}-{who}-{name}")
            if FULL:
                Path(FULL).mkdir(parents=True, exist_ok=True)
                page.screenshot(path=f"{FULL}/{lang}-{who}-{name}.png", full_page=True)
    finally:
        context.close()
    assert problems == [], problems
    assert errors == [], errors
