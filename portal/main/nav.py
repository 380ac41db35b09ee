"""Navigation helpers for the layout: defensive URL building and the four main tabs.

Features land at different times; a tab whose endpoint does not exist yet must not
turn every page into a 500, so the layout builds URLs with ``url_for_safe``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.routing import BuildError


def url_for_safe(endpoint: str, *fallbacks: str, **values: Any) -> str | None:
    """``url_for(endpoint)``, else the first fallback endpoint that exists, else None."""
    for name in (endpoint, *fallbacks):
        try:
            return url_for(name, **values)
        except BuildError:
            continue
    return None


@dataclass(frozen=True)
class Tab:
    key: str
    label: Any  # lazy string: translated at render time
    endpoint: str
    fallbacks: tuple[str, ...]
    sections: tuple[str, ...]  # blueprint names / endpoints that make this tab "current"
    icon: str


TABS = (
    Tab("home", _l("Home"), "main.index", (), ("main.index",), "home"),
    Tab("services", _l("Services"), "main.services", (), ("main.services", "community"), "services"),
    Tab(
        "points", _l("Points"), "main.points", (), ("main.points", "ledger", "rewards", "exchange"), "points"
    ),
    Tab("me", _l("Me"), "accounts.me", ("accounts.login",), ("accounts",), "me"),
)


def current_tab() -> str | None:
    endpoint = request.endpoint or ""
    blueprint = request.blueprint or ""
    for tab in TABS:
        if endpoint in tab.sections or blueprint in tab.sections:
            return tab.key
    return None


def nav_tabs() -> list[dict[str, Any]]:
    """The tabs with their URLs (None when neither endpoint nor fallback exists)."""
    active = current_tab()
    tabs = []
    for tab in TABS:
        fallbacks = tab.fallbacks
        label, icon = tab.label, tab.icon
        if tab.key == "me" and not getattr(current_user, "is_authenticated", False):
            # Logged out: the fourth tab is "Log in" (no redirect chain through "Me").
            url = url_for_safe("accounts.login", "accounts.me")
            label, icon = _l("Log in"), "login"
        else:
            url = url_for_safe(tab.endpoint, *fallbacks)
        tabs.append({"key": tab.key, "label": label, "url": url, "icon": icon, "current": tab.key == active})
    return tabs
