"""Sessions: start a session at login, server-side idle and absolute timeouts, and the
``session_version`` that ends other sessions. (Who may act where is ``portal.policy``;
refusals go through ``portal.refusals``.)"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask, abort, current_app, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user, logout_user

from core.db import utcnow
from portal.accounts import sessions
from portal.extensions import db
from portal.people.models import User

# --- session lifetime ---------------------------------------------------------------
# The cookie names a server-side session row (portal.accounts.sessions); the user loader
# accepts a user only together with a live row, so a revoked session ends at once.

SID = "sid"
_TOUCH_EVERY = dt.timedelta(minutes=1)


def current_session_row() -> Any:
    """The ``UserSession`` row of this request (None when not logged in)."""
    return g.get("_user_session")


def _enforce_session_timeouts() -> Any:
    """Idle and absolute timeouts on the server side (ASVS 7.3.1/7.3.2)."""
    if not current_user.is_authenticated:
        return
    row = current_session_row()
    now = utcnow()
    idle: dt.timedelta = current_app.config["SESSION_IDLE_TIMEOUT"]
    absolute: dt.timedelta = current_app.config["SESSION_ABSOLUTE_TIMEOUT"]
    if row is None or now - row.last_seen_at > idle or now - row.created_at > absolute:
        if row is not None:
            row_id = row.id
            db.defer(lambda s: _end_row(s, row_id, sessions.EXPIRED))
        logout_user()
        session.clear()
        g.session_expired = True
        return
    second = _second_factor_gate(row)
    if second is not None:
        return second
    # Only touch the row once a minute, after the request's own transaction (a GET
    # stays a reader; a failed touch never fails the page).
    if now - row.last_seen_at > _TOUCH_EVERY:
        row_id = row.id
        db.defer(lambda s: sessions.touch(s, row_id, now))


# Pages a logged-in person may reach before passing the second factor.
_MFA_OPEN = frozenset(
    {
        "accounts.mfa_challenge",
        "accounts.mfa_setup",
        "accounts.logout",
        "set_language",
        "toggle_large_text",
        "static",
    }
)
# Whole blueprints that hold no personal data: health checks, the service worker and the
# offline page (a redirect there would break the PWA before the code is entered).
_MFA_OPEN_BLUEPRINTS = frozenset({"health", "ui"})


def _second_factor_gate(row: Any) -> Any:
    """Privileged roles (and anyone enrolled) pass a TOTP code once per session before
    any other page; until then every request is sent to the challenge or enrolment."""
    from portal.accounts import mfa

    if row.mfa_at is not None or request.endpoint in _MFA_OPEN or request.blueprint in _MFA_OPEN_BLUEPRINTS:
        return None
    user = current_user._get_current_object()
    if not mfa.required_for(user):
        return None
    target = "accounts.mfa_challenge" if mfa.is_enrolled(user) else "accounts.mfa_setup"
    nxt = request.full_path if request.method == "GET" else None
    if request.path.startswith("/api/"):
        abort(401)
    return redirect(url_for(target, next=nxt.rstrip("?") if nxt else None))


def mark_second_factor() -> None:
    """This session has passed the second factor."""
    row = current_session_row()
    if row is not None:
        row.mfa_at = utcnow()
        db.session.flush()


def _end_row(sess: Any, row_id: int, reason: str) -> None:
    from portal.people.models import UserSession

    row = sess.get(UserSession, row_id)
    if row is not None:
        sessions.end(sess, row, reason)


def start_session(user: User, remember: bool = False) -> None:
    """Log ``user`` in with a fresh server-side session (ASVS 7.2.4: new token on login).

    The old session row, if any, is ended: a token planted before log-in is worthless."""
    from flask_login import login_user

    old = current_session_row()
    if old is not None:
        sessions.end(db.session, old, sessions.LOGOUT)
    token, row = sessions.open_session(
        db.session, user, user_agent=request.headers.get("User-Agent", ""), ip=request.remote_addr or ""
    )
    session.clear()
    session[SID] = token
    g._user_session = row
    # Flask-Login's "remember me" cookie is never used: it would outlive the server row.
    login_user(user, remember=False, fresh=True)
    session.permanent = True


def end_session(reason: str = sessions.LOGOUT) -> None:
    """Log out of this session: end its row, forget the cookie."""
    row = current_session_row()
    if row is not None:
        sessions.end(db.session, row, reason)
    logout_user()
    session.clear()
    g._user_session = None


def init_app(app: Flask) -> None:
    from portal.extensions import login_manager

    login_manager.login_view = "accounts.login"
    # "basic", not "strong": phones hop between Wi-Fi and mobile networks, and "strong"
    # would log an older user out on every change of address.
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(token: str) -> User | None:
        try:
            raw_id, raw_version = token.split(":", 1)
            user_id = int(raw_id)
        except (ValueError, TypeError, AttributeError):
            return None
        if not 0 < user_id < 2**31:
            return None
        row = sessions.current(db.session, user_id, session.get(SID))
        if row is None:
            return None
        user = db.session.get(User, user_id)
        if user is None or not user.is_active or str(user.session_version) != raw_version:
            return None
        g._user_session = row
        return user

    app.before_request(_enforce_session_timeouts)
    app.session_interface = _NoSessionOnFailure()


class _NoSessionOnFailure(SecureCookieSessionInterface):
    """A response that failed (5xx) never sets or changes the session cookie: whatever
    the request did to the session is dropped together with its transaction."""

    def save_session(self, app: Flask, session: Any, response: Any) -> None:
        if response.status_code >= 500:
            return
        super().save_session(app, session, response)
