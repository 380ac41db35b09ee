"""Journeys in a real browser on a phone: sign up, log in, 长辈模式, language switch.

Screenshots land in docs/screenshots/ (zh-* and en-*) for the README and for review.
"""

from __future__ import annotations

import random
import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e


def _new_phone() -> str:
    return "137" + "".join(random.choice("0123456789") for _ in range(8))


def _set_language(page: Page, code: str) -> None:
    page.locator(f"form[action='/lang/{code}'] button").click()
    expect(page.locator("html")).to_have_attribute("lang", "en" if code == "en" else "zh-CN")


def _log_in(page: Page, phone: str, password: str) -> None:
    page.goto("/accounts/login")
    page.locator("input[name=phone]").fill(phone)
    page.locator("input[name=password]").fill(password)
    page.locator("form.form button[type=submit]").click()
    expect(page).not_to_have_url(re.compile(r"/accounts/login"))


def _log_out(page: Page) -> None:
    page.goto("/accounts/me")
    page.locator("form[action='/accounts/logout'] button").click()
    expect(page).to_have_url(re.compile(r"/accounts/login"))


def test_sign_up_then_log_in_on_a_phone(page: Page, console_errors: list[str], shoot: Any) -> None:
    phone, password, name = _new_phone(), "Lamp-post-42!", "小李"
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    shoot(page, "zh-home")
    page.locator("main a.btn-primary").click()  # the big sign-up button
    expect(page).to_have_url(re.compile(r"/accounts/signup"))
    shoot(page, "zh-signup")

    page.locator("input[name=phone]").fill(phone)
    page.locator("input[name=display_name]").fill(name)
    page.locator("select[name=community]").select_option(index=1)
    page.locator("input[name=password]").fill(password)
    page.locator("input[name=confirm]").fill(password)
    page.locator("form.form button[type=submit]").click()

    expect(page).to_have_url(re.compile(r"/accounts/me"))
    expect(page.locator(".flash-success")).to_be_visible()
    expect(page.locator("main")).to_contain_text(name)
    shoot(page, "zh-me")

    _log_out(page)
    shoot(page, "zh-login")
    _log_in(page, phone, password)
    page.goto("/")
    expect(page.locator("h1.page-title")).to_contain_text(name)
    shoot(page, "zh-home-logged-in")
    assert console_errors == []


def test_large_text_mode_scales_text_and_targets(page: Page, console_errors: list[str], shoot: Any) -> None:
    page.goto("/")
    html = page.locator("html")
    normal = float(page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)"))
    toggle = page.locator("button.large-toggle")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    toggle.click()
    expect(html).to_have_class(re.compile(r"\blarge-text\b"))
    expect(page.locator("button.large-toggle")).to_have_attribute("aria-pressed", "true")
    page.wait_for_load_state("load")  # the stylesheet of the reloaded page, before measuring
    large = float(page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)"))
    assert 1.25 <= large / normal <= 1.5
    # Every tab and button is at least 48px tall: easy to hit for older hands.
    heights = page.evaluate(
        "[...document.querySelectorAll('.tab, main .btn, .tool-btn')]"
        ".map(e => e.getBoundingClientRect().height)"
    )
    assert heights and min(heights) >= 48
    _assert_no_horizontal_scroll(page)
    shoot(page, "zh-home-large-text")
    page.goto("/accounts/signup")
    _assert_no_horizontal_scroll(page)
    shoot(page, "zh-signup-large-text")
    page.locator("button.large-toggle").click()
    expect(html).not_to_have_class(re.compile(r"\blarge-text\b"))
    assert console_errors == []


def test_switch_language_to_english_and_back(
    page: Page, console_errors: list[str], shoot: Any, demo_login: dict[str, str]
) -> None:
    page.goto("/")
    _set_language(page, "en")
    expect(page.locator("nav.tabbar")).to_contain_text("Home")
    expect(page.locator("h1")).to_contain_text("Welcome")
    shoot(page, "en-home")
    page.goto("/accounts/login")
    expect(page.locator("h1")).to_have_text("Log in")
    shoot(page, "en-login")
    page.goto("/accounts/signup")
    shoot(page, "en-signup")
    _log_in(page, demo_login["phone"], demo_login["password"])
    page.goto("/accounts/me")
    expect(page.locator("main")).to_contain_text(demo_login["name"])
    shoot(page, "en-me")
    page.goto("/")
    shoot(page, "en-home-logged-in")
    _set_language(page, "zh_Hans_CN")
    expect(page.locator("nav.tabbar")).to_contain_text("首页")
    assert console_errors == []


@pytest.mark.parametrize(
    "path", ["/", "/services", "/points", "/accounts/login", "/accounts/signup", "/no-such-page"]
)
def test_pages_fit_a_phone_and_obey_the_csp(page: Page, console_errors: list[str], path: str) -> None:
    page.goto(path)
    expect(page.locator("nav.tabbar")).to_be_visible()
    _assert_no_horizontal_scroll(page)
    # The tab bar sits at the bottom of the phone screen.
    box = page.locator("nav.tabbar").bounding_box()
    assert box is not None and box["y"] + box["height"] >= 844 - 1
    if path == "/no-such-page":  # the document itself is a deliberate 404
        console_errors = [e for e in console_errors if "404" not in e]
    assert console_errors == [], console_errors  # e.g. an inline style blocked by the CSP


def test_desktop_gets_a_side_navigation(browser: Any, base_url: str, shoot: Any) -> None:
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 800}, locale="zh-CN")
    page = context.new_page()
    try:
        page.goto("/")
        nav = page.locator("nav.tabbar").bounding_box()
        main = page.locator("main").bounding_box()
        assert nav is not None and main is not None
        assert nav["x"] + nav["width"] <= main["x"]  # beside the content, not below it
        assert nav["y"] < 200
        expect(page.locator(".account-links")).to_be_visible()
        shoot(page, "zh-home-desktop", full_page=False)
    finally:
        context.close()


def _assert_no_horizontal_scroll(page: Page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"page is {overflow}px wider than the phone screen"
