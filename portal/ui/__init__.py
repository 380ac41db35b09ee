"""The design system's server side: ONE date format (Jinja filters), the living style page
(``/styleguide``, development only), and the installable-app pieces (service worker at
``/sw.js``, the offline page).

Templates use the macros in ``templates/_ui.html`` and the filters registered here::

    {{ when|date }}        2026-12-04            (Asia/Shanghai)
    {{ when|datetime }}    2026-12-04 09:00
    {{ when|time }}        09:00
"""

from __future__ import annotations

from flask import Flask, Response


def init_app(app: Flask) -> None:
    from portal.ui import dates
    from portal.ui.views import bp

    dates.register(app)
    app.register_blueprint(bp)
    app.jinja_env.globals.update(reason_text=_reason_text, message_title=_title, message_body=_body)
    app.after_request(_vary)


def _vary(response: Response) -> Response:
    """Pages differ by language (cookie, profile or Accept-Language) and text size: shared
    caches must not hand one reader's page to another."""
    if response.mimetype == "text/html":
        response.vary.add("Cookie")
        response.vary.add("Accept-Language")
    return response


def _reason_text(reason: str | None) -> object:
    """A ledger reason in the reader's language (see portal.reasons)."""
    from portal.i18n import html_lang
    from portal.reasons import render

    return render(reason, page_lang=html_lang())


def _title(n: object) -> str:
    from portal.notifications.services import title_of

    return title_of(n)  # type: ignore[arg-type]


def _body(n: object) -> str:
    from portal.notifications.services import body_of

    return body_of(n)  # type: ignore[arg-type]
