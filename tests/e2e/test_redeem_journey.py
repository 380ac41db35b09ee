"""Issue #5, "done when": a resident spends 福分 in the rewards store and a shop accepts the
voucher, on two 390-px phones — every action through the browser.

Only the arrangement uses the services: the demo merchant lists a reward with a unique title
(``portal.rewards.services.create_reward``), so the journey does not depend on the demo's
stock or monthly limits.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

pytestmark = pytest.mark.e2e

RESIDENT_PHONE = "13900000302"  # 吴小燕, resident of 幸福里社区 with demo 福分 (docs/demo-logins.md)
MERCHANT_PHONE = "13900000031"  # 黄志明, 惠民便利超市（幸福里店）
PRICE = 5


def _log_in(page: Page, phone: str, password: str) -> None:
    page.goto("/accounts/login")
    page.locator("input[name=phone]").fill(phone)
    page.locator("input[name=password]").fill(password)
    page.locator("form.form button[type=submit]").click()
    expect(page).not_to_have_url(re.compile(r"/accounts/login"))


def _phone(
    browser: Browser, browser_context_args: dict[str, Any], phone: str, password: str
) -> Iterator[Page]:
    context: BrowserContext = browser.new_context(**browser_context_args)
    page = context.new_page()
    page.set_default_timeout(10_000)
    _log_in(page, phone, password)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture()
def merchant_page(
    browser: Browser, browser_context_args: dict[str, Any], demo_login: dict[str, str]
) -> Iterator[Page]:
    """A second phone: the shopkeeper at the counter."""
    yield from _phone(browser, browser_context_args, MERCHANT_PHONE, demo_login["password"])


def _list_reward(app: Any, title: str) -> int:
    """The demo shop lists a new reward; the resident can afford it."""
    from sqlalchemy import select

    from portal.extensions import db
    from portal.people.models import Role, User
    from portal.rewards import services as svc

    with app.app_context():
        merchant = db.session.scalar(select(User).where(User.phone == MERCHANT_PHONE))
        resident = db.session.scalar(select(User).where(User.phone == RESIDENT_PHONE))
        role = next(r for r in merchant.roles if r.role == Role.MERCHANT)
        reward = svc.create_reward(
            db.session,
            merchant,
            role.community_id,
            role.organisation_id,
            svc.RewardData(
                title=title,
                category="discount",
                price=PRICE,
                stock=5,
                monthly_limit=1,
                description="凭券到店领取手工皂一块。",
            ),
        )
        assert svc.spendable(db.session, role.community_id, resident.id) >= PRICE, (
            "the demo resident cannot afford the reward"
        )
        db.session.commit()
        return int(reward.id)


def _figures(page: Page) -> tuple[int, int, int]:
    """Balance, available and held on the My 福分 page."""
    page.goto("/points")
    balance = page.locator("#balance-title + .stat")
    expect(balance).to_have_text(re.compile(r"^\s*\d+\s*$"))
    available = page.locator(".points-figures .figure-available dd")
    held = page.locator(".points-figures .figure:not(.figure-available) dd")
    return int(balance.inner_text()), int(available.inner_text()), int(held.inner_text())


def test_resident_redeems_and_merchant_accepts(
    page: Page, merchant_page: Page, live_app: Any, demo_login: dict[str, str], console_errors: list[str]
) -> None:
    resident, merchant = page, merchant_page
    merchant_errors: list[str] = []
    merchant.on("console", lambda msg: merchant_errors.append(msg.text) if msg.type == "error" else None)
    title = f"手工皂一块 {random.randint(1000, 9999)}"
    reward_id = _list_reward(live_app, title)
    _log_in(resident, RESIDENT_PHONE, demo_login["password"])
    balance, available, held = _figures(resident)

    # 1. From the services tab to the store, to the reward.
    resident.locator("nav.tabbar a[href='/services']").click()
    resident.locator("main a[href='/rewards/']").click()
    expect(resident).to_have_url(re.compile(r"/rewards/$"))
    resident.locator("main a.list-item", has_text=title).click()
    expect(resident).to_have_url(re.compile(rf"/rewards/{reward_id}$"))

    # 2. Redeem asks for confirmation first; nothing is held until "yes".
    resident.locator(f"main a[href='/rewards/{reward_id}/redeem']").click()
    expect(resident).to_have_url(re.compile(rf"/rewards/{reward_id}/redeem$"))
    expect(resident.locator("main")).to_contain_text(title)
    expect(resident.locator(f"main a[href='/rewards/{reward_id}']")).to_be_visible()  # "no, go back"
    resident.locator(f"form[action='/rewards/{reward_id}/redeem'] button[type=submit]").click()

    # 3. The voucher: a QR code and the code to show at the counter.
    expect(resident).to_have_url(re.compile(r"/rewards/vouchers/\d+\?new=1$"))
    expect(resident.locator(".flash-success")).to_be_visible()  # "Redeemed!" for this tab only
    voucher_url = resident.url.split("?")[0]
    voucher_id = int(voucher_url.rsplit("/", 1)[1])
    shown = resident.locator(".voucher-code")
    expect(shown).to_have_text(re.compile(r"^\s*[A-Z0-9]{4} [A-Z0-9]{4}\s*$"))
    expect(resident.locator("img.voucher-qr")).to_be_visible()
    # Cancelling asks first: the button opens a confirmation holding the real form.
    expect(resident.locator("form[action$='/cancel']")).to_be_hidden()
    resident.locator("details.confirm summary").click()
    expect(resident.locator("form[action$='/cancel'] button")).to_be_visible()
    code = shown.inner_text().strip()  # as the shopkeeper reads it: "ABCD EFGH"

    # The price is held, not yet spent.
    assert _figures(resident) == (balance, available - PRICE, held + PRICE)

    # 4. The shopkeeper types the code at the counter and checks it.
    merchant.goto("/merchant/")
    expect(merchant).to_have_url(re.compile(r"/merchant/\d+/\d+/$"))
    box = merchant.locator("form.verify-box")
    box.locator("input[name=code]").fill(code.lower())
    box.locator("button[type=submit]").click()
    expect(merchant).to_have_url(re.compile(r"/merchant/verify\?code="))
    card = merchant.locator(".voucher-card")
    expect(card).to_contain_text(title)
    expect(card.locator(".voucher-code")).to_have_text(code)

    # 5. ... and accepts it: back on the shop page, the voucher no longer waits.
    merchant.locator("form[method=post][action='/merchant/verify'] button[type=submit]").click()
    expect(merchant).to_have_url(re.compile(r"/merchant/\d+/\d+/$"))
    expect(merchant.locator(".flash-success")).to_contain_text(title)
    expect(merchant.locator("main .list-item", has_text=code.replace(" ", ""))).to_have_count(0)

    # 6. The resident's voucher is used: no cancel button, the code struck through.
    resident.goto(voucher_url)
    expect(resident.locator(".voucher-code-void")).to_be_visible()
    expect(resident.locator("form[action$='/cancel']")).to_have_count(0)
    resident.goto("/rewards/vouchers")
    row = resident.locator(f"main a.list-item[href='/rewards/vouchers/{voucher_id}']")
    expect(row.locator(".badge")).to_be_visible()
    expect(row.locator(".badge-ok")).to_have_count(0)  # "ready to use" is the green badge

    # 7. My 福分: the points are spent, nothing is held for this voucher any more.
    resident.locator("nav.tabbar a[href='/points']").click()
    expect(resident).to_have_url(re.compile(r"/points$"))
    assert _figures(resident) == (balance - PRICE, available - PRICE, held)
    newest = resident.locator(".statement-line").first
    expect(newest.locator(".amount-out")).to_have_text(f"-{PRICE}")
    expect(newest).to_contain_text(re.compile(rf"#{voucher_id}\b"))  # "Voucher #<id> used"
    expect(newest).to_contain_text(f"{balance - PRICE}")
    assert console_errors == [], console_errors
    assert merchant_errors == [], merchant_errors
