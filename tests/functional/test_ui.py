"""The UI shell: language switch, 长辈模式, navigation, friendly error pages, CSRF on the
preference forms, security headers, and templates that obey the CSP (no CDN, no inline)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from flask import abort

from portal.i18n import LARGE_TEXT_COOKIE, LOCALE_COOKIE, compile_catalogs
from tests.conftest import make_test_app

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"


@pytest.fixture(scope="module", autouse=True)
def _catalogs() -> None:
    compile_catalogs()


def _cookie(resp, name: str) -> str | None:
    for header in resp.headers.getlist("Set-Cookie"):
        if header.startswith(f"{name}="):
            return header.split(";", 1)[0].split("=", 1)[1]
    return None


def _html(resp) -> str:
    return resp.get_data(as_text=True)


# --- language -------------------------------------------------------------------------


def test_chinese_is_the_default(client):
    page = _html(client.get("/"))
    assert '<html lang="zh-CN"' in page
    assert "欢迎来到福分" in page
    for label in ("首页", "服务", "福分", "登录"):
        assert label in page


def test_switching_to_english_sets_a_cookie_and_renders_english(client):
    resp = client.post("/lang/en", data={"next": "/services"})
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith("/services")
    assert _cookie(resp, LOCALE_COOKIE) == "en"
    page = _html(client.get("/"))
    assert '<html lang="en"' in page
    assert "Welcome to Fufen" in page
    assert ">Home<" in page and ">Services<" in page and ">Points<" in page
    back = client.post("/lang/zh_Hans_CN", data={"next": "/"})
    assert _cookie(back, LOCALE_COOKIE) == "zh_Hans_CN"
    assert "欢迎来到福分" in _html(client.get("/"))


def test_unknown_language_is_ignored(client):
    resp = client.post("/lang/xx", data={"next": "/"})
    assert resp.status_code == 302
    assert _cookie(resp, LOCALE_COOKIE) is None


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example"])
def test_next_never_leaves_the_site(client, target):
    resp = client.post("/lang/en", data={"next": target})
    assert resp.headers["Location"] == "/"


def test_language_forms_post_back_to_the_current_page(client):
    page = _html(client.get("/services"))
    assert 'action="/lang/en"' in page and 'action="/lang/zh_Hans_CN"' in page
    assert '<input type="hidden" name="next" value="/services">' in page


# --- 长辈模式 ---------------------------------------------------------------------------


def test_large_text_toggle_puts_a_class_on_html(client):
    assert 'class="large-text"' not in _html(client.get("/"))
    resp = client.post("/large-text", data={"next": "/points"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/points")
    assert _cookie(resp, LARGE_TEXT_COOKIE) == "1"
    page = _html(client.get("/"))
    assert '<html lang="zh-CN" class="large-text">' in page
    assert 'aria-pressed="true"' in page
    off = client.post("/large-text", data={"next": "/"})
    assert _cookie(off, LARGE_TEXT_COOKIE) == "0"
    assert 'class="large-text"' not in _html(client.get("/"))


# --- navigation and pages -----------------------------------------------------------


def test_logged_out_tabs_and_calls_to_action(client):
    page = _html(client.get("/"))
    nav = page[page.index('<nav class="tabbar"') : page.index("</nav>", page.index('<nav class="tabbar"'))]
    assert re.findall(r'href="([^"]+)"', nav) == ["/", "/services", "/points", "/accounts/login"]
    assert 'aria-current="page"' in nav
    assert 'href="/accounts/signup"' in page


@pytest.mark.parametrize("path", ["/services", "/points"])
def test_section_pages_render(client, path):
    resp = client.get(path)
    assert resp.status_code == 200
    assert 'aria-current="page"' in _html(resp)


def test_points_page_asks_logged_out_visitors_to_log_in(client):
    page = _html(client.get("/points"))
    assert "登录后查看您的福分" in page


def test_services_lists_community_pages_that_exist(app, client):
    page = _html(client.get("/services"))
    if "community.home" in app.view_functions:
        assert 'href="/community/"' in page
    else:
        assert 'class="empty"' in page


def _sign_up(client, session, phone="13712345678", name="老张"):
    from portal.places.models import Community, Street

    street = Street(name="测试街道")
    session.add(street)
    session.flush()
    community = Community(street_id=street.id, name="测试社区")
    session.add(community)
    session.flush()
    resp = client.post(
        "/accounts/signup",
        data={
            "phone": phone,
            "display_name": name,
            "community": str(community.id),
            "password": "Lamp-post-42!",
            "confirm": "Lamp-post-42!",
        },
    )
    assert resp.status_code == 302, _html(resp)[:2000]
    return community


def test_logged_in_home_shows_real_community_and_roles(app, client, session):
    if "accounts.signup" not in app.view_functions:
        pytest.skip("accounts.signup not available yet")
    community = _sign_up(client, session)
    page = _html(client.get("/"))
    assert "老张，您好" in page
    assert community.name in page and "测试街道" in page
    assert "居民" in page  # the resident role
    nav = page[page.index('<nav class="tabbar"') :]
    assert 'href="/accounts/me"' in nav
    points = _html(client.get("/points"))
    assert 'class="stat">0<' in points  # nothing earned yet, read from the ledger


# --- error pages --------------------------------------------------------------------


@pytest.fixture()
def error_app(tmp_path):
    app = make_test_app(DATABASE_URL=f"sqlite:///{tmp_path / 'e.db'}")

    @app.get("/_test/forbidden")
    def forbidden():
        abort(403)

    @app.get("/_test/boom")
    def boom():
        raise RuntimeError("boom")

    return app


@pytest.mark.parametrize(
    "path,status,zh,en",
    [
        ("/no-such-page", 404, "找不到这个页面", "Page not found"),
        ("/_test/forbidden", 403, "没有权限", "Not allowed"),
        ("/_test/boom", 500, "出了点问题", "Something went wrong"),
    ],
)
def test_error_pages_are_friendly_in_both_languages(error_app, path, status, zh, en, caplog):
    client = error_app.test_client()
    resp = client.get(path)
    assert resp.status_code == status
    page = _html(resp)
    assert zh in page and "回到首页" in page
    # 4xx pages are normal pages; a 5xx page is standalone (no navigation: it must not read
    # the user or anything else from the database, which may be what failed).
    assert ('class="tabbar"' in page) == (status < 500)
    client.set_cookie(LOCALE_COOKIE, "en")
    resp = client.get(path)
    assert resp.status_code == status
    assert en in _html(resp) and "Back to home" in _html(resp)
    assert "Traceback" not in _html(resp)


# --- CSRF on the preference forms ----------------------------------------------------


def test_language_and_large_text_posts_need_a_csrf_token(tmp_path):
    app = make_test_app(WTF_CSRF_ENABLED=True, DATABASE_URL=f"sqlite:///{tmp_path / 'c.db'}")
    client = app.test_client()
    for url in ("/lang/en", "/large-text"):
        resp = client.post(url, data={"next": "/"})
        assert resp.status_code == 400
        assert _cookie(resp, LOCALE_COOKIE) is None and _cookie(resp, LARGE_TEXT_COOKIE) is None
        assert "页面已过期" in _html(resp)
    page = _html(client.get("/"))
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    resp = client.post("/lang/en", data={"next": "/", "csrf_token": token})
    assert resp.status_code == 302 and _cookie(resp, LOCALE_COOKIE) == "en"


# --- security headers ---------------------------------------------------------------


def test_security_headers(client):
    resp = client.get("/")
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "http" not in csp
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "Permissions-Policy" in resp.headers
    assert resp.status_code == 200  # no HTTPS redirect in tests
    # Error pages carry the same headers.
    assert "frame-ancestors 'none'" in client.get("/no-such-page").headers["Content-Security-Policy"]


def test_force_https_redirects_when_configured(tmp_path):
    app = make_test_app(TALISMAN_FORCE_HTTPS=True, DATABASE_URL=f"sqlite:///{tmp_path / 'h.db'}")
    resp = app.test_client().get("/")
    assert resp.status_code in (301, 302)
    assert resp.headers["Location"].startswith("https://")
    secure = app.test_client().get("/", base_url="https://localhost")
    assert "max-age=" in secure.headers["Strict-Transport-Security"]


def test_talisman_leaves_session_cookie_flags_to_config(tmp_path):
    app = make_test_app(DATABASE_URL=f"sqlite:///{tmp_path / 's.db'}")
    app.test_client().get("/")
    assert app.config["SESSION_COOKIE_SECURE"] is False
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


# --- assets: local only, CSP-clean templates ----------------------------------------


def _templates() -> list[Path]:
    return sorted(TEMPLATES.rglob("*.html"))


def _markup(template: Path) -> str:
    """The template without its {# comments #}."""
    return re.sub(r"\{#.*?#\}", "", template.read_text(encoding="utf-8"), flags=re.S)


@pytest.mark.parametrize("template", _templates(), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_templates_load_nothing_from_other_sites(template):
    text = _markup(template)
    remote = re.findall(r'(?:src|href|action)\s*=\s*["\'](?:https?:)?//[^"\']+', text, re.I)
    assert not remote, f"remote asset or link in {template.name}: {remote}"


@pytest.mark.parametrize("template", _templates(), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_templates_have_no_inline_styles_or_scripts(template):
    """The CSP blocks inline styles and scripts: they would silently not work."""
    text = _markup(template)
    assert not re.search(r"\sstyle\s*=", text, re.I), f"style= attribute in {template.name}"
    assert not re.search(r"<style[\s>]", text, re.I), f"<style> in {template.name}"
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text, re.I), f"inline <script> in {template.name}"
    assert not re.search(r"\son[a-z]+\s*=", text, re.I), f"inline event handler in {template.name}"


def test_static_css_loads_nothing_remote():
    for css in (ROOT / "static").rglob("*.css"):
        assert not re.search(r"url\(\s*['\"]?(?:https?:)?//", css.read_text(encoding="utf-8")), css
        assert "@import" not in css.read_text(encoding="utf-8"), css


def _fetch(client, url: str) -> tuple[int, bytes]:
    resp = client.get(url)
    try:
        return resp.status_code, resp.get_data()
    finally:
        resp.close()  # static files are streamed from open files


def test_manifest_and_icons_are_served(client):
    status, body = _fetch(client, "/static/manifest.webmanifest")
    assert status == 200
    manifest = json.loads(body)
    assert manifest["short_name"] == "福分" and manifest["start_url"] == "/"
    for icon in manifest["icons"]:
        assert _fetch(client, icon["src"])[0] == 200
    assert _fetch(client, "/static/favicon.svg")[0] == 200


# --- the form macro ------------------------------------------------------------------


def test_render_field_links_label_hint_and_errors(app):
    from flask import render_template_string
    from flask_wtf import FlaskForm
    from wtforms import BooleanField, StringField
    from wtforms.validators import DataRequired

    class F(FlaskForm):
        phone = StringField("Phone", validators=[DataRequired(message="Enter your phone.")])
        agree = BooleanField("I agree")

    with app.test_request_context("/", method="POST", data={"phone": ""}):
        form = F(meta={"csrf": False})
        form.validate()
        html = render_template_string(
            '{% from "_forms.html" import render_field, csrf %}{{ csrf() }}'
            '{{ render_field(form.phone, hint="11 digits", inputmode="numeric") }}{{ render_field(form.agree) }}',  # noqa: E501
            form=form,
        )
    assert '<label for="phone">Phone' in html
    assert 'aria-describedby="phone-hint phone-error"' in html
    assert 'aria-invalid="true"' in html and 'inputmode="numeric"' in html and "required" in html
    assert 'id="phone-hint"' in html and 'id="phone-error"' in html
    assert '<p class="field-error">Enter your phone.</p>' in html
    assert 'class="field field-check"' in html and '<label for="agree">I agree</label>' in html
    assert 'name="csrf_token"' in html
