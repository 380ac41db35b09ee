"""Server-side, revocable sessions (ASVS 7.4).

The signed Flask cookie only names a session (``sid``, 32 random bytes); the session
itself is a ``user_session`` row. ``current`` is consulted by the user loader on every
request, so ending a row ends the session on its next request, wherever the cookie is.
The row also records when the second factor was checked (``mfa_at``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.db import utcnow
from portal.people.models import User, UserSession

# Reasons stored in ``revoked_reason``.
LOGOUT = "logout"
PASSWORD = "password"
DEACTIVATED = "deactivated"
OTHER_DEVICES = "other_devices"
EXPIRED = "expired"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def open_session(
    session: Session, user: User, *, user_agent: str = "", ip: str = ""
) -> tuple[str, UserSession]:
    """A new session row for ``user``; returns the cookie token and the row."""
    token = secrets.token_urlsafe(32)
    row = UserSession(
        token_hash=_digest(token), user_id=user.id, user_agent=(user_agent or "")[:200], ip=(ip or "")[:45]
    )
    session.add(row)
    session.flush()
    return token, row


def current(session: Session, user_id: int, token: object) -> UserSession | None:
    """The live session row named by ``token`` for ``user_id``, or None."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        return None
    row = session.scalar(select(UserSession).where(UserSession.token_hash == _digest(token)))
    if row is None or row.user_id != user_id or row.revoked_at is not None:
        return None
    return row


def end(session: Session, row: UserSession, reason: str) -> None:
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        row.revoked_reason = reason
        session.flush()


def end_all(session: Session, user_id: int, reason: str, *, keep: UserSession | None = None) -> int:
    """End every live session of ``user_id`` (except ``keep``); returns how many."""
    stmt = (
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
        .execution_options(synchronize_session=False)
    )
    if keep is not None:
        stmt = stmt.where(UserSession.id != keep.id)
    return int(session.execute(stmt).rowcount or 0)


def live_sessions(session: Session, user_id: int) -> list[UserSession]:
    return list(
        session.scalars(
            select(UserSession)
            .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
            .order_by(UserSession.last_seen_at.desc())
        )
    )


def touch(session: Session, row_id: int, when: dt.datetime) -> None:
    session.execute(update(UserSession).where(UserSession.id == row_id).values(last_seen_at=when))
