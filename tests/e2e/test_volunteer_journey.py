"""Issue #4, "done when": a NEW volunteer goes from sign-up to earned 福分 on a 390-px phone
screen, and staff approve — every action through the browser.

Only the arrangement uses the services directly: the activity is published through
``portal.activities.services.create_activity``, and the passing of time is simulated by
moving the activity's times (and the check-in already made) back, as the real clock would.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from core import clock

pytestmark = pytest.mark.e2e

STAFF_PHONE = "13900000011"  # 李秀梅, staff of 幸福里社区 (docs/demo-logins.md)
RESIDENT_PHONE = "13900000301"  # 孙桂兰, resident of 幸福里社区, posts micro-wishes
COMMUNITY = "幸福里社区"


def _new_phone() -> str:
    return "136" + "".join(random.choice("0123456789") for _ in range(8))


def _log_in(page: Page, phone: str, password: str) -> None:
    page.goto("/accounts/login")
    page.locator("input[name=phone]").fill(phone)
    page.locator("input[name=password]").fill(password)
    page.locator("form.form button[type=submit]").click()
    expect(page).not_to_have_url(re.compile(r"/accounts/login"))


def _flash_ok(page: Page) -> None:
    expect(page.locator(".flash-success").first).to_be_visible()


@pytest.fixture()
def staff_page(
    browser: Browser, browser_context_args: dict[str, Any], demo_login: dict[str, str]
) -> Iterator[Page]:
    """A second phone: the community staff member (also the activity's leader)."""
    context: BrowserContext = browser.new_context(**browser_context_args)
    page = context.new_page()
    page.set_default_timeout(10_000)
    _log_in(page, STAFF_PHONE, demo_login["password"])
    try:
        yield page
    finally:
        context.close()


# --- arrangement through the services ------------------------------------------------------


def _publish_activity(app: Any, title: str) -> int:
    """Staff publish an activity starting in 20 minutes (sign-up closes in 10)."""
    from sqlalchemy import select

    from core.db import utcnow
    from portal.activities import services as svc
    from portal.extensions import db
    from portal.people.models import User
    from portal.places.models import Community

    with app.app_context():
        staff = db.session.scalar(select(User).where(User.phone == STAFF_PHONE))
        community = db.session.scalar(select(Community).where(Community.name == COMMUNITY))
        now = utcnow()
        activity = svc.create_activity(
            db.session,
            staff,
            community.id,
            svc.ActivityData(
                title=title,
                place="幸福里小区中心花园",
                description="清理花坛杂草、捡拾垃圾。",
                starts_at=now + dt.timedelta(minutes=20),
                ends_at=now + dt.timedelta(minutes=80),
                signup_deadline=now + dt.timedelta(minutes=10),
                capacity=10,
                leader_id=staff.id,
                points_per_hour=10,
            ),
            now=now,
        )
        db.session.commit()
        return int(activity.id)


def _time_passes(app: Any, activity_id: int, minutes: int) -> None:
    """``minutes`` go by: the activity's times and the check-ins already made move back."""
    from sqlalchemy import select

    from portal.extensions import db
    from portal.volunteering.activities import Activity, ActivitySignup

    delta = dt.timedelta(minutes=minutes)
    with app.app_context():
        activity = db.session.get(Activity, activity_id)
        activity.starts_at -= delta
        activity.ends_at -= delta
        activity.signup_deadline -= delta
        activity.created_at -= delta
        for row in db.session.scalars(
            select(ActivitySignup).where(ActivitySignup.activity_id == activity_id)
        ):
            row.created_at -= delta
            if row.checked_in_at is not None:
                row.checked_in_at -= delta
        db.session.commit()


# --- the journey ---------------------------------------------------------------------------


def _sign_up(page: Page, phone: str, name: str, password: str) -> None:
    page.goto("/")
    page.locator("main a.btn-primary").click()  # the big sign-up button
    expect(page).to_have_url(re.compile(r"/accounts/signup"))
    page.locator("input[name=phone]").fill(phone)
    page.locator("input[name=display_name]").fill(name)
    page.get_by_role("combobox", name=re.compile("社区|[Cc]ommunity")).select_option(label=COMMUNITY)
    page.locator("input[name=password]").fill(password)
    page.locator("input[name=confirm]").fill(password)
    page.locator("form.form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/accounts/me"))
    _flash_ok(page)
    expect(page.locator("main")).to_contain_text(name)


def _read_code(staff: Page, activity_id: int, phase: str) -> str:
    staff.goto(f"/activities/{activity_id}/screen?phase={phase}")
    code = staff.locator(".checkin-code")
    expect(code).to_have_text(re.compile(r"^\s*\d{6}\s*$"))
    expect(staff.locator(".flash-warning")).to_have_count(0)  # the window is open
    return code.inner_text().strip()


def test_new_volunteer_earns_fufen_on_a_phone(
    page: Page, staff_page: Page, live_app: Any, console_errors: list[str]
) -> None:
    staff = staff_page
    phone, name, password = _new_phone(), "新志愿者" + str(random.randint(100, 999)), "Lamp-post-42!"
    title = f"花园清洁 {random.randint(1000, 9999)}"
    activity_id = _publish_activity(live_app, title)

    # 1. Sign up, choosing the demo community.
    _sign_up(page, phone, name, password)

    # 2. The services tab lists what a volunteer can do.
    page.locator("nav.tabbar a[href='/services']").click()
    expect(page).to_have_url(re.compile(r"/services$"))
    for href in ("/posts/", "/activities/", "/wishes/", "/hours/"):
        expect(page.locator(f"main a[href='{href}']")).to_be_visible()

    # 3. Claim a service post (the demo's 应急员 has four places).
    page.locator("main a[href='/posts/']").click()
    page.locator("main a", has_text="应急员").first.click()
    expect(page).to_have_url(re.compile(r"/posts/\d+$"))
    page.locator("form[action$='/claim'] button[type=submit]").click()
    _flash_ok(page)
    expect(page.locator("form[action*='/posts/claims/'][action$='/withdraw']")).to_be_visible()

    # 4. Sign up for the activity from the activities list.
    page.goto("/services")
    page.locator("main a[href='/activities/']").click()
    page.locator("main a", has_text=title).click()
    expect(page).to_have_url(re.compile(rf"/activities/{activity_id}$"))
    page.locator(f"form[action='/activities/{activity_id}/signup'] button[type=submit]").click()
    _flash_ok(page)
    expect(page.locator(".badge-ok", has_text=re.compile("报名|signed up"))).to_be_visible()

    # 5. The activity is on: the leader shows the code, the volunteer types it.
    _time_passes(live_app, activity_id, 30)  # started 10 minutes ago
    code = _read_code(staff, activity_id, "in")
    page.reload()
    page.locator("input[name=code]").fill(code)
    page.locator(f"form[action='/activities/{activity_id}/check'] button[type=submit]").click()
    _flash_ok(page)
    expect(page.locator("main")).to_contain_text(re.compile("签到|Checked in"))

    # 6. An hour later, after the end: check out with the check-out code.
    _time_passes(live_app, activity_id, 60)
    code = _read_code(staff, activity_id, "out")
    page.reload()
    page.locator("input[name=code]").fill(code)
    page.locator(f"form[action='/activities/{activity_id}/check'] button[type=submit]").click()
    _flash_ok(page)
    expect(page.locator("form[action$='/check']")).to_have_count(0)

    # 7. Staff approve the hours in the approval queue.
    staff.goto("/hours/review")
    entry = staff.locator("#review-form li.list-item", has_text=name)
    expect(entry).to_have_count(1)
    expect(entry).to_contain_text(title)
    entry.get_by_role("checkbox").check()
    staff.locator("#review-form button[formaction$='/hours/review/approve']").click()
    _flash_ok(staff)
    expect(staff.locator("#review-form li.list-item", has_text=name)).to_have_count(0)

    # 8. The volunteer sees the 福分 and the message.
    page.locator("nav.tabbar a[href='/points']").click()
    balance = page.locator("#balance-title + .stat")
    expect(balance).to_have_text(re.compile(r"^\s*[1-9]\d*\s*$"))
    earned = int(balance.inner_text())
    # The approval message links to the hours page and names the same 福分.
    page.goto("/inbox/")
    expect(page.locator("main .list-item a[href='/hours/']")).to_contain_text(f"+{earned}")
    page.goto("/hours/")
    expect(page.locator("main")).to_contain_text(title)
    assert console_errors == [], console_errors


def test_micro_wish_from_post_to_rating(
    page: Page,
    browser: Browser,
    browser_context_args: dict[str, Any],
    demo_login: dict[str, str],
    console_errors: list[str],
) -> None:
    """A resident posts a wish, a new volunteer claims and fulfils it, the resident confirms."""
    resident_ctx = browser.new_context(**browser_context_args)
    resident = resident_ctx.new_page()
    resident.set_default_timeout(10_000)
    try:
        _log_in(resident, RESIDENT_PHONE, demo_login["password"])
        wish_title = f"帮忙换灯泡 {random.randint(1000, 9999)}"
        resident.goto("/wishes/new")
        resident.locator("input[name=title]").fill(wish_title)
        resident.locator("textarea[name=description]").fill("厨房灯泡坏了，够不着。")
        resident.locator("main form button.btn-primary").click()
        expect(resident).to_have_url(re.compile(r"/wishes/\d+$"))
        wish_url = resident.url

        _sign_up(page, _new_phone(), "帮帮忙" + str(random.randint(100, 999)), "Lamp-post-42!")
        page.goto("/wishes/")
        page.locator("main a", has_text=wish_title).click()
        page.locator("form[action$='/claim'] button").click()
        expect(page.locator("form[action$='/fulfil']")).to_be_visible()
        # Yesterday in the community's time: 09:00–09:30 then is in the past at any hour
        # (today's 09:00–09:30 is "the future" before 09:30 in China, 01:30 UTC).
        yesterday = clock.local_today() - dt.timedelta(days=1)
        page.locator("input[name=day]").fill(yesterday.isoformat())
        page.locator("input[name=start]").fill("09:00")
        page.locator("input[name=end]").fill("09:30")
        page.locator("textarea[name=note]").fill("已换好新灯泡。")
        page.locator("form[action$='/fulfil'] button").click()
        expect(page.locator("form[action$='/fulfil']")).to_have_count(0)

        resident.goto(wish_url)
        resident.locator("label[for='rating-5']").click()  # the stars are labels of hidden radios
        resident.locator("textarea[name=comment]").fill("谢谢！")
        resident.locator("form[action$='/confirm'] button").click()
        expect(resident.locator("main")).to_contain_text("★★★★★")
        expect(resident.locator("form[action$='/confirm']")).to_have_count(0)
        page.goto("/inbox/")
        expect(page.locator("main .list-item").first).to_be_visible()
    finally:
        resident_ctx.close()
    assert console_errors == [], console_errors
