"""Input rules for accounts: mainland mobile numbers and the password policy.

No Flask request needed: refusals are ``ServiceError`` with lazily translated messages,
so the rules can be unit-tested and reused by the API and CLI.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from pathlib import Path

from flask_babel import lazy_gettext as _l

from portal.errors import ServiceError

PHONE_INPUT_MAX = 32  # what a form may send before normalisation
PASSWORD_MIN = 8  # ASVS 6.2.1
PASSWORD_MAX = 128  # long passphrases are welcome, megabyte ones are not (argon2 cost)

_MOBILE = re.compile(r"1[3-9][0-9]{9}")  # [0-9], not \d: \d also matches other scripts' digits
_SEPARATORS = re.compile(r"[\s\-()./]")
COMMON_PASSWORDS_FILE = Path(__file__).resolve().parent / "data" / "common_passwords.txt"


def normalize_phone(raw: str | None) -> str:
    """``"+86 138-1234-5678"`` → ``"13812345678"``.

    Accepts full-width digits (Chinese input methods type them), spaces, dashes, dots,
    brackets and a +86 / 0086 / 86 country prefix. Anything else is refused.
    """
    if raw is None:
        raise ServiceError(_l("Enter your mobile number."), code="phone_missing", status=422, field="phone")
    if len(raw) > PHONE_INPUT_MAX:
        raise ServiceError(
            _l("Enter an 11-digit mainland mobile number, e.g. 138 1234 5678."),
            code="phone_invalid",
            status=422,
            field="phone",
        )
    value = _SEPARATORS.sub("", unicodedata.normalize("NFKC", raw))
    if not value:
        raise ServiceError(_l("Enter your mobile number."), code="phone_missing", status=422, field="phone")
    if value.startswith("+86"):
        value = value[3:]
    elif value.startswith("0086"):
        value = value[4:]
    elif len(value) == 13 and value.startswith("86"):
        value = value[2:]
    if not _MOBILE.fullmatch(value):
        raise ServiceError(
            _l("Enter an 11-digit mainland mobile number, e.g. 138 1234 5678."),
            code="phone_invalid",
            status=422,
            field="phone",
        )
    return value


def try_normalize_phone(raw: str | None) -> str | None:
    try:
        return normalize_phone(raw)
    except ServiceError:
        return None


def normalize_password(password: str) -> str:
    """NFKC, so a password typed with a full-width input method (ＡＢＣ１２３) matches the
    same password typed half-width. Used before hashing and verifying."""
    return unicodedata.normalize("NFKC", password)


@functools.lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def is_common_password(password: str) -> bool:
    return normalize_password(password).strip().lower() in common_passwords()


def check_password_policy(password: str | None, *, phone: str | None = None, field: str = "password") -> None:
    """Refuse passwords that are too short, too long, common, or the phone number."""
    if not password:
        raise ServiceError(_l("Choose a password."), code="password_missing", status=422, field=field)
    normalized = normalize_password(password)
    if len(normalized) < PASSWORD_MIN:
        raise ServiceError(
            _l("Use at least %(min)d characters for your password.", min=PASSWORD_MIN),
            code="password_short",
            status=422,
            field=field,
        )
    if len(normalized) > PASSWORD_MAX:
        raise ServiceError(
            _l("Use at most %(max)d characters for your password.", max=PASSWORD_MAX),
            code="password_long",
            status=422,
            field=field,
        )
    if is_common_password(normalized):
        raise ServiceError(
            _l("This password is too common and easy to guess. Please choose another one."),
            code="password_common",
            status=422,
            field=field,
        )
    if phone:
        own = try_normalize_phone(phone)
        as_phone = try_normalize_phone(normalized) if len(normalized) <= PHONE_INPUT_MAX else None
        if own is not None and (as_phone == own or own in normalized and len(normalized) <= len(own) + 3):
            raise ServiceError(
                _l("Do not use your mobile number as your password."),
                code="password_is_phone",
                status=422,
                field=field,
            )
