"""Authorisation: who may act in which community.

Every view that touches community data calls one of these server-side; the ids in
URLs and forms are never trusted on their own (no cross-community IDOR). Denials are
audited and answered with 403 (or 404 where existence itself must not leak).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, abort, current_app, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user, logout_user

from core.db import utcnow
from portal.accounts import sessions
from portal.audit.services import record_refusal
from portal.extensions import db
from portal.people.models import Role, User
from portal.places.models import Community

F = TypeVar("F", bound=Callable[..., Any])


def has_role(user: User, role: Role, community: Community | int | None = None) -> bool:
    """True when ``user`` holds ``role`` in ``community`` (or, with no community, anywhere).

    Street admins hold every staff power in the communities of their street;
    system admins everywhere. Residents hold RESIDENT in their home community.
    """
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    community_id = community.id if isinstance(community, Community) else community
    if community_id is None:
        return any(r.role == role for r in user.roles) or (
            role == Role.RESIDENT and user.community_id is not None
        )
    if role == Role.RESIDENT and user.community_id == community_id:
        return True
    for r in user.roles:
        if r.role == role and r.community_id == community_id:
            return True
    if role == Role.STAFF:
        return community_id in admin_community_ids(user)
    return False


def admin_community_ids(user: User) -> set[int]:
    """Communities a street admin / system admin oversees."""
    from sqlalchemy import select

    if any(r.role == Role.SYSADMIN for r in user.roles):
        return set(db.session.scalars(select(Community.id)))
    street_ids = {r.street_id for r in user.roles if r.role == Role.STREET_ADMIN}
    if not street_ids:
        return set()
    return set(db.session.scalars(select(Community.id).where(Community.street_id.in_(street_ids))))


def staff_community_ids(user: User) -> set[int]:
    """Communities where ``user`` may act as staff."""
    own = {r.community_id for r in user.roles if r.role == Role.STAFF and r.community_id is not None}
    return own | admin_community_ids(user)


def community_ids_for(user: User, roles: Iterable[Role]) -> set[int]:
    roles = set(roles)
    ids = {r.community_id for r in user.roles if r.role in roles and r.community_id is not None}
    if Role.RESIDENT in roles and user.community_id is not None:
        ids.add(user.community_id)
    if Role.STAFF in roles:
        ids |= admin_community_ids(user)
    return ids


def deny(action: str, *, community_id: int | None = None, status: int = 403, **detail: Any) -> None:
    """Refuse the request: audit the refusal and abort with ``status``."""
    actor = current_user.id if current_user.is_authenticated else None
    record_refusal(
        db.session, f"authz.{action}", actor_id=actor, community_id=community_id, path=request.path, **detail
    )
    abort(status)


def require_community_role(user: User, role: Role, community_id: int, action: str) -> None:
    if not has_role(user, role, community_id):
        deny(action, community_id=community_id, role=role.value)


def roles_required(*roles: Role) -> Callable[[F], F]:
    """View decorator: the user must hold one of ``roles`` somewhere. Community-level
    checks on the objects a view touches still happen in the view or service."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
            if not any(has_role(current_user, r) for r in roles):
                deny(view.__name__, roles=[r.value for r in roles])
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


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
        "main.healthz",
    }
)


def _second_factor_gate(row: Any) -> Any:
    """Privileged roles (and anyone enrolled) pass a TOTP code once per session before
    any other page; until then every request is sent to the challenge or enrolment."""
    from portal.accounts import mfa

    if row.mfa_at is not None or request.endpoint in _MFA_OPEN:
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
