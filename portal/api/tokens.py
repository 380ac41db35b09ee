"""Bearer tokens: issue, authenticate, list, revoke. Plain values in, the caller's Session;
refusals are ``ServiceError`` with stable codes; nothing here commits."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Sequence

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from core.db import utcnow
from portal.api.models import ApiToken, TokenKind
from portal.audit.services import record
from portal.errors import Forbidden, NotFound, ServiceError
from portal.people.models import User

TOKEN_PREFIX = "ff_"
DEVICE_TOKEN_DAYS = 90
PAT_MAX_DAYS = 365
MAX_LIVE_TOKENS = 50

# What a token may do. Device tokens and cookie sessions hold every scope; a personal
# access token holds the ones chosen for it. A scope never widens a role: it only narrows
# what the person behind the token could do anyway.
SCOPES: dict[str, object] = {
    "me:read": _l("Read my profile, roles and communities"),
    "community:read": _l("Read communities, posts, teams, activities and wishes"),
    "community:write": _l("Sign up, claim posts, join teams and act on wishes"),
    "hours:read": _l("Read my hour logs"),
    "hours:write": _l("Report hours"),
    "points:read": _l("Read balances, statements, vouchers and gifts"),
    "points:write": _l("Redeem rewards, give points and pay for time"),
    "staff:read": _l("Read staff queues and the community fund"),
    "staff:write": _l("Approve and reject hours"),
    "merchant:write": _l("Fulfil vouchers at the counter"),
    "notifications:read": _l("Read notifications"),
    "notifications:write": _l("Mark notifications read"),
}
ALL_SCOPES: tuple[str, ...] = tuple(SCOPES)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _clean_name(name: str | None) -> str:
    value = (name or "").strip()
    if not value or len(value) > 60 or any(ord(ch) < 32 or 127 <= ord(ch) <= 159 for ch in value):
        raise ServiceError(
            _l("Give the token a name of 1 to 60 characters."),
            code="token_name_invalid",
            status=422,
            field="name",
        )
    return value


def _clean_scopes(scopes: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(scopes))
    unknown = [s for s in chosen if s not in SCOPES]
    if unknown or not chosen:
        raise ServiceError(
            _l("Choose at least one scope from the list."), code="scope_invalid", status=422, field="scopes"
        )
    return chosen


def _live_count(session: Session, user_id: int, now: dt.datetime) -> int:
    rows = session.scalars(
        select(ApiToken.id).where(
            ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None), ApiToken.expires_at > now
        )
    ).all()
    return len(rows)


def _issue(
    session: Session, user: User, *, kind: TokenKind, name: str, scopes: Sequence[str], days: int
) -> tuple[ApiToken, str]:
    now = utcnow()
    if _live_count(session, user.id, now) >= MAX_LIVE_TOKENS:
        raise ServiceError(
            _l("You have too many active tokens. Revoke some you no longer use first."),
            code="too_many_tokens",
            status=409,
        )
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        kind=kind,
        name=name,
        token_hash=_hash(secret),
        prefix=secret[:10],
        scopes=" ".join(scopes),
        session_version=user.session_version or 1,
        created_at=now,
        expires_at=now + dt.timedelta(days=days),
    )
    session.add(token)
    session.flush()
    record(
        session,
        "api.token.issue",
        actor_id=user.id,
        community_id=user.community_id,
        target=("api_token", token.id),
        kind=kind.value,
        scopes=token.scopes,
    )
    return token, secret


def issue_device_token(session: Session, user: User, device_name: str | None) -> tuple[ApiToken, str]:
    """A token for an app or mini-program after a password log-in."""
    name = _clean_name(device_name or "device")
    return _issue(session, user, kind=TokenKind.DEVICE, name=name, scopes=ALL_SCOPES, days=DEVICE_TOKEN_DAYS)


def create_personal_token(
    session: Session, user: User, *, name: str, scopes: Iterable[str], days: int
) -> tuple[ApiToken, str]:
    """A named, scoped, expiring token for a partner system."""
    clean = _clean_name(name)
    chosen = _clean_scopes(scopes)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= PAT_MAX_DAYS:
        raise ServiceError(
            _l("A token lasts from 1 to %(max)d days.", max=PAT_MAX_DAYS),
            code="token_days_invalid",
            status=422,
            field="expires_in_days",
        )
    return _issue(session, user, kind=TokenKind.PERSONAL, name=clean, scopes=chosen, days=days)


def authenticate(session: Session, secret: str) -> tuple[User, ApiToken] | None:
    """The user and token behind a bearer secret, or None (unknown, revoked, expired,
    deactivated, or a device token from before a password change)."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 100:
        return None
    digest = _hash(secret)
    # One round trip: the token, its person, their roles and home community (what every
    # API request needs next: the scope and role checks).
    row = session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == digest)
        .options(selectinload(User.roles), joinedload(User.community))
    ).first()
    if row is None:
        return None
    token, user = row
    if not hmac.compare_digest(token.token_hash, digest):
        return None
    if token.revoked_at is not None or token.expires_at <= utcnow():
        return None
    if not user.is_active:
        return None
    if token.kind == TokenKind.DEVICE and token.session_version != (user.session_version or 1):
        return None
    return user, token


def my_tokens(session: Session, user_id: int) -> list[ApiToken]:
    """Live tokens first by creation, newest first; expired and revoked ones are left out."""
    return list(
        session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None), ApiToken.expires_at > utcnow())
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
    )


def revoke(session: Session, actor: User, token_id: int) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != actor.id:
        # Someone else's token id is answered like a missing one.
        raise NotFound(_l("No such token."), code="token_not_found")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.flush()
        record(session, "api.token.revoke", actor_id=actor.id, target=("api_token", token.id))
    return token


def require_scope(token: ApiToken | None, scope: str) -> None:
    """Cookie sessions (token None) and device tokens hold every scope."""
    if token is not None and scope not in token.scope_list:
        raise Forbidden(
            _l("This token does not allow this action (scope %(scope)s).", scope=scope), code="scope_missing"
        )
