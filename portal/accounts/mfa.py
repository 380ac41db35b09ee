"""TOTP second factor (RFC 6238, pyotp) with one-time recovery codes.

Required for the privileged roles (staff, street admins, merchants, system admins)
when ``MFA_REQUIRED`` is on (production; see README for development). Anyone who has
enrolled is asked for a code at every log-in. Codes are 6 digits, 30-second steps,
±1 step of clock drift; an accepted step is remembered so a code works once. Wrong
codes spend the per-account login budget; every outcome is audited.

``verify_second_factor`` is the one check, for the web challenge and the API token.
"""

from __future__ import annotations

import hashlib
import io
import secrets

import pyotp
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.db import utcnow
from portal.accounts.throttle import check_budget, spend_budget
from portal.audit.services import record, record_refusal
from portal.errors import ServiceError
from portal.people.models import RecoveryCode, Role, User

PRIVILEGED = frozenset({Role.STAFF, Role.STREET_ADMIN, Role.MERCHANT, Role.SYSADMIN})
ISSUER = "Fufen 福分"
RECOVERY_CODES = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i


class Throttled(ServiceError):
    status = 429


WRONG_CODE = _l("That code is not correct. Check the time on your phone and try again.")
TOO_MANY = _l("Too many wrong codes. Please wait a while and try again.")


def is_privileged(user: User) -> bool:
    return any(r.role in PRIVILEGED for r in user.roles)


def is_enrolled(user: User) -> bool:
    return bool(user.mfa_secret) and user.mfa_enabled_at is not None


def required_for(user: User) -> bool:
    """True when ``user`` must pass a second factor before using the site."""
    if is_enrolled(user):
        return True
    return bool(current_app.config.get("MFA_REQUIRED")) and is_privileged(user)


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.phone, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The enrolment QR code as inline SVG, drawn on the server (no CDN, no JS)."""
    import qrcode
    from qrcode.image.svg import SvgPathImage

    img = qrcode.make(uri, image_factory=SvgPathImage, box_size=12, border=2)
    buf = io.BytesIO()
    img.save(buf)
    svg = buf.getvalue().decode()
    return svg[svg.index("<svg") :]


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def _normalise(code: str | None) -> str:
    return "".join(ch for ch in (code or "").lower() if ch.isalnum())[:32]


def _matching_step(secret: str, code: str) -> int | None:
    if not (len(code) == 6 and code.isascii() and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    now = int(utcnow().timestamp())
    for drift in (-1, 0, 1):
        at = now + drift * totp.interval
        if secrets.compare_digest(totp.at(at), code):
            return at // totp.interval
    return None


def _budget() -> str:
    return str(current_app.config["LOGIN_LIMIT_PER_ACCOUNT"])


def _refuse(session: Session, user: User, action: str, reason: str) -> None:
    spend_budget("mfa", _budget(), str(user.id))
    record_refusal(session, action, actor_id=user.id, community_id=user.community_id, reason=reason)
    raise ServiceError(WRONG_CODE, code="mfa_wrong_code", status=422, field="code")


def _throttle(session: Session, user: User, action: str) -> None:
    if not check_budget("mfa", _budget(), str(user.id)):
        record_refusal(session, action, actor_id=user.id, community_id=user.community_id, reason="throttled")
        raise Throttled(TOO_MANY, code="throttled", field="code")


def verify_second_factor(session: Session, user: User, code: str | None) -> str:
    """Check a TOTP code or an unused recovery code for an enrolled ``user``.

    Returns "totp" or "recovery"; raises ``ServiceError`` (422) or ``Throttled`` (429)."""
    _throttle(session, user, "mfa.verify")
    cleaned = _normalise(code)
    if not is_enrolled(user):
        _refuse(session, user, "mfa.verify", "not_enrolled")
    assert user.mfa_secret is not None
    step = _matching_step(user.mfa_secret, cleaned)
    if step is not None:
        if user.mfa_last_step is not None and step <= user.mfa_last_step:
            _refuse(session, user, "mfa.verify", "replayed")
        user.mfa_last_step = step
        session.flush()
        record(session, "mfa.verify", actor_id=user.id, community_id=user.community_id, method="totp")
        return "totp"
    if len(cleaned) == 10:
        used = session.execute(
            update(RecoveryCode)
            .where(
                RecoveryCode.user_id == user.id,
                RecoveryCode.code_hash == _hash(cleaned),
                RecoveryCode.used_at.is_(None),
            )
            .values(used_at=utcnow())
        ).rowcount
        if used:
            record(session, "mfa.verify", actor_id=user.id, community_id=user.community_id, method="recovery")
            return "recovery"
    _refuse(session, user, "mfa.verify", "wrong_code")
    raise AssertionError("unreachable")


def enrol(session: Session, user: User, secret: str, code: str | None) -> list[str]:
    """Turn the second factor on with ``secret`` once ``code`` proves the phone has it.
    Returns the recovery codes (shown once; only hashes are stored)."""
    _throttle(session, user, "mfa.enrol")
    if not (isinstance(secret, str) and len(secret) == 32):
        _refuse(session, user, "mfa.enrol", "no_pending_secret")
    step = _matching_step(secret, _normalise(code))
    if step is None:
        _refuse(session, user, "mfa.enrol", "wrong_code")
    user.mfa_secret = secret
    user.mfa_enabled_at = utcnow()
    user.mfa_last_step = step
    codes = _new_recovery_codes(session, user)
    record(session, "mfa.enrol", actor_id=user.id, community_id=user.community_id)
    return codes


def _new_recovery_codes(session: Session, user: User) -> list[str]:
    session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        .values(used_at=utcnow())
    )
    codes = ["".join(secrets.choice(_ALPHABET) for _ in range(10)) for _ in range(RECOVERY_CODES)]
    session.add_all(RecoveryCode(user_id=user.id, code_hash=_hash(c)) for c in codes)
    session.flush()
    return codes


def regenerate_recovery_codes(session: Session, user: User, code: str | None) -> list[str]:
    verify_second_factor(session, user, code)
    codes = _new_recovery_codes(session, user)
    record(session, "mfa.recovery_codes", actor_id=user.id, community_id=user.community_id)
    return codes


def disable(session: Session, user: User, code: str | None) -> None:
    """Turn the second factor off — only for people whose roles do not require it."""
    if bool(current_app.config.get("MFA_REQUIRED")) and is_privileged(user):
        record_refusal(session, "mfa.disable", actor_id=user.id, reason="required")
        raise ServiceError(
            _l("Your role requires a second factor; it cannot be turned off."),
            code="mfa_required",
            status=403,
        )
    verify_second_factor(session, user, code)
    user.mfa_secret = None
    user.mfa_enabled_at = None
    user.mfa_last_step = None
    session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        .values(used_at=utcnow())
    )
    session.flush()
    record(session, "mfa.disable", actor_id=user.id, community_id=user.community_id)


def recovery_codes_left(session: Session, user: User) -> int:
    return len(
        session.scalars(
            select(RecoveryCode.id).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        ).all()
    )
