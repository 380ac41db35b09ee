"""Languages: zh-CN first, English second; the choice is kept in a cookie (and on the
user's profile once logged in). Also the 长辈模式 (large text) preference."""
from __future__ import annotations

from flask import Flask, current_app, g, has_request_context, redirect, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.extensions import babel, login_manager

LOCALE_COOKIE = "fufen_lang"
LARGE_TEXT_COOKIE = "fufen_large"
ONE_YEAR = 365 * 24 * 3600


def select_locale() -> str:
    supported = current_app.config["LANGUAGES"]
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    chosen = request.cookies.get(LOCALE_COOKIE)
    if chosen in supported:
        return chosen
    if getattr(current_user, "is_authenticated", False) and current_user.locale in supported:
        return current_user.locale
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def html_lang() -> str:
    from flask_babel import get_locale

    loc = str(get_locale())
    return "zh-CN" if loc.startswith("zh") else loc


def large_text_enabled() -> bool:
    if "large_text" in g:
        return bool(g.large_text)
    cookie = request.cookies.get(LARGE_TEXT_COOKIE)
    if cookie is not None:
        return cookie == "1"
    return bool(getattr(current_user, "is_authenticated", False) and current_user.large_text)


def safe_next(target: str | None) -> str:
    """Only same-site relative paths are followed (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("main.index")


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale)
    login_manager.login_message = _l("Please log in to continue.")
    login_manager.login_message_category = "info"
    app.jinja_env.globals.update(html_lang=html_lang, large_text_enabled=large_text_enabled)

    @app.post("/lang/<code>")
    def set_language(code: str) -> Response:
        resp = redirect(safe_next(request.form.get("next")))
        if code in current_app.config["LANGUAGES"]:
            resp.set_cookie(LOCALE_COOKIE, code, max_age=ONE_YEAR, samesite="Lax", httponly=True)
            if current_user.is_authenticated:
                current_user.locale = code
        return resp

    @app.post("/large-text")
    def toggle_large_text() -> Response:
        on = not large_text_enabled()
        resp = redirect(safe_next(request.form.get("next")))
        resp.set_cookie(LARGE_TEXT_COOKIE, "1" if on else "0", max_age=ONE_YEAR, samesite="Lax", httponly=True)
        if current_user.is_authenticated:
            current_user.large_text = on
        return resp
