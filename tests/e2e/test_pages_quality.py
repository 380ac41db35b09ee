"""长辈模式 on a small phone, and the installable app (service worker, offline page).

* At 360×640 in 长辈模式, on the pages each role uses most: every visible text ≥ 18 px
  (header, tab bar and the /points chart included), every tap target ≥ 48×48 px, no
  sideways scroll.
* The service worker registers; with the network cut, a page kept for the activity (my
  voucher with its QR code) still reads, and any other page shows the offline page.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import axe_violations
from tests.e2e.quality import size_problems
from tests.e2e.test_page_gallery import (
    RESIDENT_PHONE,
    STAFF_PHONE,
    VOLUNTEER_PHONE,
    _arrange,
    _log_in,
)

pytestmark = pytest.mark.e2e

SMALL = {"width": 360, "height": 640}
# Screenshots kept for review (docs/screenshots with UPDATE_SCREENSHOTS=1): the busiest pages.
SHOOT = {
    "/",
    "/points",
    "/accounts/me",
    "/activities/{activity}",
    "/hours/review",
    "/rewards/vouchers/{voucher}",
}
LARGE_TEXT_PAGES: dict[str, tuple[str, list[str]]] = {
    "volunteer": (
        VOLUNTEER_PHONE,
        [
            "/",
            "/services",
            "/activities/",
            "/activities/{activity}",
            "/activities/{activity}/check?phase=in",
            "/hours/",
            "/hours/report",
            "/wishes/",
            "/wishes/{wish}",
            "/points",
            "/inbox/",
            "/accounts/me",
        ],
    ),
    "resident": (
        RESIDENT_PHONE,
        ["/rewards/", "/rewards/vouchers", "/rewards/vouchers/{voucher}", "/exchange/", "/exchange/gift"],
    ),
    "staff": (
        STAFF_PHONE,
        [
            "/",
            "/hours/review",
            "/activities/{activity}/participants",
            "/exchange/staff/grants",
            "/compliance/",
        ],
    ),
}


@pytest.fixture(scope="module")
def ids(live_app: Any, demo_login: dict[str, str]) -> dict[str, Any]:
    return _arrange(live_app)


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("who", list(LARGE_TEXT_PAGES))
def test_large_text_on_a_small_phone(
    browser: Browser,
    browser_context_args: dict[str, Any],
    base_url: str,
    ids: dict[str, Any],
    demo_login: dict[str, str],
    shoot: Any,
    who: str,
    lang: str,
) -> None:
    phone, paths = LARGE_TEXT_PAGES[who]
    context = browser.new_context(**{**browser_context_args, "viewport": SMALL, "screen": SMALL})
    context.add_cookies(
        [{"name": "fufen_large", "value": "1", "url": base_url}]
        + ([{"name": "fufen_lang", "value": "en", "url": base_url}] if lang == "en" else [])
    )
    page = context.new_page()
    problems: list[str] = []
    try:
        _log_in(page, phone, demo_login["password"])
        for path in paths:
            url = path.format(**ids)
            response = page.goto(url)
            assert response is not None and response.status < 400, f"{url}: {response and response.status}"
            expect(page.locator("html")).to_have_class(re.compile(r"\blarge-text\b"))
            label = f"{lang}-large-{who} {url}"
            problems.extend(size_problems(page, label))
            problems.extend(axe_violations(page, label))
            if path in SHOOT:
                name = re.sub(r"[^a-z0-9]+", "-", url.split("?")[0].strip("/")).strip("-") or "home"
                shoot(page, f"{lang}-large360-{who}-{name}")
    finally:
        context.close()
    assert problems == [], "\n".join(problems)


def test_service_worker_and_offline_page(
    browser: Browser,
    browser_context_args: dict[str, Any],
    base_url: str,
    ids: dict[str, Any],
    demo_login: dict[str, str],
    shoot: Any,
) -> None:
    context = browser.new_context(**browser_context_args, service_workers="allow")
    page = context.new_page()
    try:
        _log_in(page, RESIDENT_PHONE, demo_login["password"])
        page.goto("/")
        scope = page.evaluate(
            "navigator.serviceWorker.ready.then((r) => r.active && r.scope)"
        )  # resolves once the worker is active
        assert scope == base_url + "/"
        page.reload()  # now controlled by the worker
        assert page.evaluate("!!navigator.serviceWorker.controller")
        voucher = f"/rewards/vouchers/{ids['voucher']}"
        page.goto(voucher)  # kept for offline reading
        code = page.locator(".voucher-code").inner_text()

        context.set_offline(True)
        page.goto(voucher)
        expect(page.locator(".voucher-code")).to_have_text(code)
        expect(page.locator("img.voucher-qr")).to_be_visible()
        expect(page.locator("#offline-banner")).to_be_visible()
        shoot(page, "zh-offline-voucher")
        page.goto("/teams/")  # never kept: the offline page
        expect(page.locator("h1")).to_have_text("现在没有网络")
        shoot(page, "zh-offline-page")
        context.set_offline(False)
        page.goto("/teams/")  # back online: the live page, not a copy
        expect(page.locator("h1")).not_to_have_text("现在没有网络")
    finally:
        context.close()
