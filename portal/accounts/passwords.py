"""argon2id password hashing with parameters from the app config.

Passwords are NFKC-normalised before hashing and verifying, so full-width and half-width
input (Chinese input methods) of the same password match."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app, has_app_context

from portal.accounts.policy import normalize_password


def _hasher() -> PasswordHasher:
    if has_app_context():
        cfg = current_app.config
        return PasswordHasher(
            time_cost=cfg["ARGON2_TIME_COST"],
            memory_cost=cfg["ARGON2_MEMORY_COST"],
            parallelism=cfg["ARGON2_PARALLELISM"],
        )
    return PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher().hash(normalize_password(password))


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, normalize_password(password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)


# A fixed hash to verify against when the phone number is unknown, so that a login for
# a non-existent account takes as long as one for a real account (no user enumeration
# by timing). Built lazily per parameter set.
_DUMMY: dict[tuple[int, int, int], str] = {}


def burn_time(password: str) -> None:
    h = _hasher()
    key = (h.time_cost, h.memory_cost, h.parallelism)
    if key not in _DUMMY:
        _DUMMY[key] = h.hash("not-a-real-password")
    verify_password(_DUMMY[key], password)
