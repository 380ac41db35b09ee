"""The pages served when the database is unavailable (probes: ``portal.health``).

The error path never touches the database: when PostgreSQL is down or the session is
broken, anything that loads the user (``current_user``), reads settings or renders the
normal layout (navigation, CSRF token, 长辈模式 from the profile) would raise again and
gunicorn would answer its bare "Internal Server Error". ``standalone_error`` renders
``errors/standalone.html``, which reads only cookies and the Accept-Language header and
shows the message in both languages.
"""

from __future__ import annotations

import logging

from flask import Response, current_app, jsonify, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import exc as sa_exc

log = logging.getLogger(__name__)

# The portal's own cookies that these pages read (i18n sets them).
LOCALE_COOKIE = "fufen_lang"
LARGE_TEXT_COOKIE = "fufen_large"


# Errors that mean "the database (or our connection to it) is not usable right now",
# as opposed to a bug: the answer is a 503 maintenance page, not a 500.
DB_UNAVAILABLE = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.PendingRollbackError,
    sa_exc.TimeoutError,  # connection pool exhausted
)

LOCALES = ("zh_Hans_CN", "en")


def is_db_unavailable(error: BaseException) -> bool:
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, sa_exc.OperationalError):
        # Deadlocks, serialization failures and lock timeouts are OperationalErrors too, but
        # the database is fine: those are races (409), handled where the commit happens.
        code = getattr(getattr(error, "orig", None), "sqlstate", None) or ""
        return not code.startswith("40") and code != "55P03"
    return isinstance(error, DB_UNAVAILABLE)


def _reader_locale() -> str:
    """The reader's language from the cookie or the browser, never from the profile."""
    chosen = request.cookies.get(LOCALE_COOKIE)
    if chosen in LOCALES:
        return chosen
    best = request.accept_languages.best_match(["zh", "zh-CN", "en"], default="zh")
    return "en" if best == "en" else "zh_Hans_CN"


def _texts(kind: str, status: int) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for loc in LOCALES:
        with force_locale(loc):
            if kind == "unavailable":
                title = _("Service temporarily unavailable")
                message = _(
                    "Fufen cannot reach its database at the moment, usually for a minute or two during "
                    "maintenance. Please try again shortly."
                )
                if request.method not in ("GET", "HEAD", "OPTIONS"):
                    message += " " + _("Nothing you sent just now was saved.")
            elif kind == "unknown_outcome":
                title = _("We could not confirm your change")
                message = _(
                    "The connection to the database was lost while your change was being saved, so it "
                    "may or may not have been saved. Before trying again, check your statement under "
                    "My Fufen or the page you came from. Sending this same form again will not do it twice."
                )
            else:
                title = _("Something went wrong")
                message = _("Something went wrong on our side. Nothing was changed; please try again later.")
            out[loc] = {"title": title, "message": message, "home": _("Back to home"), "lang": loc}
    return out


def standalone_error(status: int, kind: str = "error", *, retry_after: int | None = None) -> Response:
    """An error answer that needs no database: JSON for the API, else a self-contained page
    in the reader's language with the other language below it."""
    texts = _texts(kind, status)
    primary = _reader_locale()
    if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
        t = texts[primary]
        resp = jsonify(error={"status": status, "code": kind, "title": t["title"], "message": t["message"]})
    else:
        order = [texts[primary]] + [t for loc, t in texts.items() if loc != primary]
        with force_locale(primary):
            # Not render_template: context processors would run, and Flask-Login's loads
            # the user from the database.
            html = current_app.jinja_env.get_template("errors/standalone.html").render(
                url_for=url_for,
                status=status,
                blocks=order,
                html_lang="zh-CN" if primary.startswith("zh") else "en",
                large=request.cookies.get(LARGE_TEXT_COOKIE) == "1",
            )
        resp = Response(html, mimetype="text/html")
    resp.status_code = status
    resp.headers["Cache-Control"] = "no-store"
    if retry_after is not None:
        resp.headers["Retry-After"] = str(retry_after)
    return resp
