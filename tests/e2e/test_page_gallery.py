"""Every page a volunteer, a resident, a merchant and staff use, on a 390×844 phone, in
Chinese and English.

Screenshots land in <SCREENSHOTS>/<lang>-<who>-<page>.png (what the phone screen shows).
Each page must load, fit the phone width (no sideways scrolling), obey the CSP, pass axe-core
(no serious or critical violation) and speak one language: no English sentence of the UI or of
stored data in the Chinese UI, and the reverse (tests/e2e/quality.py).
Set GALLERY_FULL=<dir> to also save full-page captures there for review.

Issue 5 pages (rewards store, vouchers, merchant portal, settlements, gifts, grants, the time
exchange, My 福分, community settings) need a little arranged data beyond the demo: a mutual-help
agreement in progress, one under dispute, and a voucher used last month (so a finished month
waits for settlement). ``_arrange`` makes them through the services, once per session.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import axe_violations
from tests.e2e.quality import language_problems

pytestmark = pytest.mark.e2e

VOLUNTEER_PHONE = "13900000101"  # 王建华: party member and volunteer of 幸福里社区
STAFF_PHONE = "13900000011"  # 李秀梅: staff of 幸福里社区
RESIDENT_PHONE = "13900000302"  # 吴小燕: resident of 幸福里社区, holds demo vouchers
ELDER_PHONE = "13900000301"  # 孙桂兰: elderly resident, asks for mutual help
HELPER_PHONE = "13900000102"  # 张丽娟: party member, helps in the time exchange
MERCHANT_PHONE = "13900000031"  # 黄志明: 惠民便利超市（幸福里店）
STREET_PHONE = "13900000001"  # 周建国: street admin of 城关街道
FULL = os.environ.get("GALLERY_FULL")

# Arranged mutual help (realistic titles: they appear in the screenshots).
ACTIVE_TITLE = "帮忙取快递"  # 孙桂兰 asks, 吴小燕 helps: in progress
DISPUTED_TITLE = "修理自行车链条"  # 孙桂兰 asks, 张丽娟 helps, 孙桂兰 disputes the hours


def _user(session: Any, phone: str) -> Any:
    from sqlalchemy import select

    from portal.people.models import User

    user = session.scalar(select(User).where(User.phone == phone))
    assert user is not None, f"the demo has no user {phone}"
    return user


def _agreement_for(session: Any, title: str, helper_phone: str) -> int:
    """The agreement on 孙桂兰's request ``title`` (created, and taken by the helper, if new)."""
    from sqlalchemy import select

    from portal.exchange import services as ex
    from portal.exchange.models import Agreement, Listing

    elder = _user(session, ELDER_PHONE)
    listing = session.scalar(select(Listing).where(Listing.owner_id == elder.id, Listing.title == title))
    if listing is None:
        listing = ex.create_listing(session, elder, "request", title, "下午三点前，放门口就好。", 60)
        return int(ex.respond(session, _user(session, helper_phone), listing.id).id)
    return int(session.scalar(select(Agreement.id).where(Agreement.listing_id == listing.id)))


def _arrange(app: Any) -> dict[str, Any]:
    """Ids for the page paths; makes the issue-5 data the demo lacks (idempotent)."""
    from sqlalchemy import select

    from core.db import utcnow
    from portal.exchange import services as ex
    from portal.exchange.models import Agreement, AgreementStatus, Listing, ListingStatus
    from portal.extensions import db
    from portal.people.models import Role
    from portal.places.models import Community
    from portal.rewards import services as rw
    from portal.rewards.models import Reward, VoucherStatus
    from portal.volunteering.activities import Activity
    from portal.volunteering.posts import ServicePost
    from portal.volunteering.teams import Team
    from portal.volunteering.wishes import Wish

    with app.app_context():
        session = db.session
        community = session.scalar(select(Community).where(Community.name == "幸福里社区"))
        cid = community.id

        def first(model: Any) -> int:
            value = session.scalar(select(model.id).where(model.community_id == cid).order_by(model.id))
            assert value is not None, f"the demo has no {model.__name__} in 幸福里社区"
            return int(value)

        ids: dict[str, Any] = {
            "community": cid,
            "post": first(ServicePost),
            "team": first(Team),
            "activity": first(Activity),
            "wish": first(Wish),
        }

        # Rewards: the merchant's shop, a shop reward, the resident's open and used vouchers.
        merchant = _user(session, MERCHANT_PHONE)
        role = next(r for r in merchant.roles if r.role == Role.MERCHANT)
        ids["m_cid"], ids["org"] = role.community_id, role.organisation_id
        ids["reward"] = session.scalar(
            select(Reward.id).where(Reward.organisation_id == role.organisation_id).order_by(Reward.price)
        )
        resident = _user(session, RESIDENT_PHONE)
        vouchers = {v.idem_key: v for v in rw.my_vouchers(session, resident.id)}
        open_v, used_v = vouchers.get("demo-voucher-grain"), vouchers.get("demo-voucher-eggs")
        assert open_v is not None and used_v is not None, "the demo resident has no vouchers"
        ids["voucher"], ids["voucher_used"], ids["code"] = open_v.id, used_v.id, open_v.code
        # The used voucher was used last month: a finished month waits for settlement.
        now = utcnow()
        if used_v.status == VoucherStatus.FULFILLED and rw.month_of(used_v.fulfilled_at) == rw.month_of(now):
            used_v.fulfilled_at = used_v.fulfilled_at - dt.timedelta(days=35)
        ids["month"] = rw.month_of(used_v.fulfilled_at)

        # Mutual help: the demo's paid agreement (王建华 helped), one in progress (吴小燕 helps),
        # one under dispute, and an open request by 孙桂兰.
        elder = _user(session, ELDER_PHONE)
        ids["agreement_paid"] = session.scalar(
            select(Agreement.id)
            .where(Agreement.status == AgreementStatus.PAID, Agreement.receiver_id == elder.id)
            .order_by(Agreement.id)
        )
        ids["agreement_active"] = _agreement_for(session, ACTIVE_TITLE, RESIDENT_PHONE)
        disputed = _agreement_for(session, DISPUTED_TITLE, HELPER_PHONE)
        agreement = session.get(Agreement, disputed)
        if agreement.status == AgreementStatus.ACTIVE:
            ex.mark_done(session, _user(session, HELPER_PHONE), disputed, 120)
            ex.dispute(session, elder, disputed, "说好一小时，记了两小时，链条也没修好。")
        ids["agreement_disputed"] = disputed
        ids["listing"] = session.scalar(
            select(Listing.id)
            .where(Listing.owner_id == elder.id, Listing.status == ListingStatus.OPEN)
            .order_by(Listing.id)
        )
        assert None not in ids.values(), ids
        session.commit()
        return ids


def _gift_confirm(page: Page) -> None:
    """The gift's second step: the form filled in, the check-and-confirm page shown."""
    page.goto("/exchange/gift")
    page.locator("input[name=phone]").fill(ELDER_PHONE)
    page.locator("input[name=amount]").fill("5")
    page.locator("input[name=note]").fill("孙阿姨，买点水果")
    page.locator("form[action='/exchange/gift'] button").click()
    expect(page.locator("form[action='/exchange/gift/confirm']")).to_be_visible()


# (name, path) or (name, step): a step drives the page to what the screenshot shows.
Pages = list[tuple[str, "str | Callable[[Page], None]"]]

VOLUNTEER_PAGES: Pages = [
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
    ("agreement-paid", "/exchange/agreements/{agreement_paid}"),
]

RESIDENT_PAGES: Pages = [
    ("points", "/points"),
    ("store", "/rewards/"),
    ("store-reward", "/rewards/{reward}"),
    ("store-confirm", "/rewards/{reward}/redeem"),
    ("vouchers", "/rewards/vouchers"),
    ("voucher", "/rewards/vouchers/{voucher}"),
    ("voucher-used", "/rewards/vouchers/{voucher_used}"),
    ("exchange", "/exchange/"),
    ("gift", "/exchange/gift"),
    ("gift-confirm", _gift_confirm),
    ("listing-new", "/exchange/listings/new?kind=offer"),
    ("listing", "/exchange/listings/{listing}"),
    ("agreement", "/exchange/agreements/{agreement_active}"),
]

MERCHANT_PAGES: Pages = [
    ("home", "/merchant/{m_cid}/{org}/"),
    ("verify", "/merchant/verify"),
    ("verify-code", "/merchant/verify?code={code}"),
    ("rewards", "/merchant/{m_cid}/{org}/rewards"),
    ("reward-new", "/merchant/{m_cid}/{org}/rewards/new"),
    ("history", "/merchant/{m_cid}/{org}/history"),
    ("statements", "/merchant/{m_cid}/{org}/statements"),
    ("statement", "/merchant/{m_cid}/{org}/statements/{month}"),
]

STAFF_PAGES: Pages = [
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
    ("exchange", "/exchange/"),
    ("grants", "/exchange/staff/grants"),
    ("disputes", "/exchange/staff/disputes"),
    ("agreement-disputed", "/exchange/agreements/{agreement_disputed}"),
    ("settings", "/settings/"),
]

STREET_PAGES: Pages = [
    ("settlements", "/rewards/settlements"),
    ("statement", "/merchant/{m_cid}/{org}/statements/{month}"),
]

WHO: dict[str, tuple[str, Pages]] = {
    "volunteer": (VOLUNTEER_PHONE, VOLUNTEER_PAGES),
    "resident": (RESIDENT_PHONE, RESIDENT_PAGES),
    "merchant": (MERCHANT_PHONE, MERCHANT_PAGES),
    "staff": (STAFF_PHONE, STAFF_PAGES),
    "street": (STREET_PHONE, STREET_PAGES),
}


def _log_in(page: Page, phone: str, password: str) -> None:
    page.goto("/accounts/login")
    page.locator("input[name=phone]").fill(phone)
    page.locator("input[name=password]").fill(password)
    page.locator("form.form button[type=submit]").click()
    expect(page).not_to_have_url(re.compile(r"/accounts/login"))


@pytest.fixture(scope="module")
def ids(live_app: Any, demo_login: dict[str, str]) -> dict[str, Any]:
    return _arrange(live_app)


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("who", list(WHO))
def test_gallery(
    browser: Browser,
    browser_context_args: dict[str, Any],
    base_url: str,
    ids: dict[str, Any],
    demo_login: dict[str, str],
    shoot: Any,
    lang: str,
    who: str,
) -> None:
    phone, pages = WHO[who]
    context = browser.new_context(**browser_context_args)
    if lang == "en":
        context.add_cookies([{"name": "fufen_lang", "value": "en", "url": base_url}])
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(f"{page.url}: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
    problems: list[str] = []
    try:
        _log_in(page, phone, demo_login["password"])
        for name, target in pages:
            if callable(target):
                target(page)
                url = page.url
            else:
                url = target.format(**ids)
                response = page.goto(url)
                assert response is not None
                if response.status >= 400:
                    problems.append(f"{url}: HTTP {response.status}")
                    continue
            expect(page.locator("html")).to_have_attribute("lang", "en" if lang == "en" else "zh-CN")
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            if overflow > 0:
                problems.append(f"{url}: {overflow}px wider than the phone")
            problems.extend(axe_violations(page, f"{lang}-{who}-{name} {url}"))
            problems.extend(language_problems(page, lang, f"{lang}-{who}-{name} {url}"))
            shoot(page, f"{lang}-{who}-{name}")
            if FULL:
                Path(FULL).mkdir(parents=True, exist_ok=True)
                page.screenshot(path=f"{FULL}/{lang}-{who}-{name}.png", full_page=True)
    finally:
        context.close()
    assert problems == [], problems
    assert errors == [], errors
