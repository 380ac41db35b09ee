"""Issue 9 pages in a real browser: sign-up with the separate consent box, two-step
verification (enrol with the QR page, recovery codes, the challenge at the next log-in),
My security and privacy, and the approval queue with points — in zh and en, 390×844.

A fresh account is signed up for each run, so the shared demo staff are never enrolled."""

from __future__ import annotations

import itertools
import re
import time
from typing import Any

import pyotp
import pytest
from playwright.sync_api import Page, expect

from core.db import utcnow

_seq = itertools.count(int(time.time()) % 100000)
PASSWORD = "Plum-Blossom-77"


def _phone() -> str:
    return f"137{next(_seq):08d}"


def _lang(page: Page, code: str) -> None:
    page.context.add_cookies([{"name": "fufen_lang", "value": code, "url": page.url or "http://127.0.0.1"}])


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_consent_and_two_step_verification(
    page: Page, console_errors: list[str], shoot: Any, lang: str
) -> None:
    page.goto("/accounts/signup")
    _lang(page, "en" if lang == "en" else "zh_Hans_CN")
    page.goto("/accounts/signup")
    box = page.locator("input[name=sensitive_consent]")
    expect(box).not_to_be_checked()
    phone = _phone()
    page.locator("input[name=phone]").fill(phone)
    page.locator("input[name=display_name]").fill("王阿姨")
    page.locator("select[name=community]").select_option(index=1)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("input[name=confirm]").fill(PASSWORD)
    box.check()
    box.scroll_into_view_if_needed()
    shoot(page, f"{lang}-signup-consent")
    page.locator("form.form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/accounts/me"))

    page.goto("/accounts/mfa/setup")
    expect(page.locator(".qr svg")).to_be_visible()
    shoot(page, f"{lang}-mfa-setup")
    secret = page.locator(".secret-key").inner_text().replace(" ", "")
    page.locator("input[name=code]").fill(pyotp.TOTP(secret).at(utcnow()))
    page.locator("form.form button[type=submit]").click()
    codes = page.locator(".recovery-codes code")
    expect(codes).to_have_count(10)
    shoot(page, f"{lang}-mfa-recovery-codes")
    first = codes.first.inner_text().replace(" ", "")

    page.goto("/accounts/security")
    expect(page.locator(".badge-ok").first).to_be_visible()
    shoot(page, f"{lang}-security", full_page=True)

    page.goto("/accounts/me")
    page.locator("form[action='/accounts/logout'] button").click()
    page.goto("/accounts/login")
    page.locator("input[name=phone]").fill(phone)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form.form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/accounts/mfa"))
    shoot(page, f"{lang}-mfa-challenge")
    page.locator("input[name=code]").fill(first)
    page.locator("form.form button[type=submit]").first.click()
    expect(page).not_to_have_url(re.compile(r"/accounts/mfa"))
    assert console_errors == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_approval_queue_shows_points(page: Page, shoot: Any, lang: str) -> None:
    from portal.demo import DEMO_PASSWORD

    page.goto("/accounts/login")
    _lang(page, "en" if lang == "en" else "zh_Hans_CN")
    page.goto("/accounts/login")
    page.locator("input[name=phone]").fill("13900000011")
    page.locator("input[name=password]").fill(DEMO_PASSWORD)
    page.locator("form.form button[type=submit]").click()
    expect(page).not_to_have_url(re.compile(r"/accounts/login"))
    page.goto("/hours/review")
    expect(page.locator(".budget")).to_be_visible()
    page.locator(".budget").scroll_into_view_if_needed()
    shoot(page, f"{lang}-hours-queue-points")
