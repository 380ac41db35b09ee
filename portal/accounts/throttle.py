"""Login throttling that slows guessing down without letting an attacker lock a user out
(ASVS 6.1.1, 6.3.1).

Design
------
Only *failed* attempts are counted (a resident who logs in many times a day is never
slowed down). Counters live in Flask-Limiter's storage (``limiter.limiter``: memory://
per app in tests and development, Redis in production) and are keyed by the normalised
phone number, whether or not an account exists, so a refusal never tells which numbers
have accounts.

A request comes either from a **known device** for the account — the browser holds a
signed ``fufen_device`` cookie, set after an earlier *successful* login to that same
account — or from an **unknown device** (the OWASP "device cookie" scheme):

* unknown device: three budgets must all have room, and a failure spends one of each:

  1. per IP: ``LOGIN_LIMIT_PER_IP`` failures (any account) — one machine cannot spray
     passwords over many numbers;
  2. per (account, IP): ``LOGIN_LIMIT_PER_ACCOUNT`` — the normal "too many wrong
     passwords" limit. An attacker at another address exhausts only *their own* pair:
     the owner, logging in from their address, is not affected;
  3. per account from all unknown devices: ``LOGIN_LIMIT_PER_ACCOUNT_GLOBAL`` (looser,
     default 50 per hour) — caps a botnet guessing one account from many addresses.
     When this trips, new devices wait, but…

* known device: only its own budget counts (``LOGIN_LIMIT_PER_ACCOUNT`` failures per
  device cookie and account). An attacker cannot spend it without the owner's cookie,
  so the owner's own phone always gets in, even while the account is under attack.
  Once a device cookie's budget is spent it is treated as an unknown device.

A successful login clears the (account, IP) and device counters; the per-IP and global
counters only run out (otherwise an attacker could reset them by logging into an account
of their own between guesses). The check and the count are two storage operations, so a
burst of parallel requests can overshoot a budget by the number of requests in flight —
bounded and acceptable for throttling; it is not a security boundary on its own.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from flask import Request, Response, current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from limits import RateLimitItem, parse

from portal.extensions import limiter

DEVICE_COOKIE = "fufen_device"
DEVICE_MAX_AGE = 180 * 24 * 3600
DEVICE_MAX_ACCOUNTS = 5  # a family sharing one phone
DEFAULT_GLOBAL_LIMIT = "50 per hour"


@dataclass(frozen=True)
class Device:
    """A browser that has logged in successfully before (signed cookie)."""

    nonce: str
    user_ids: tuple[int, ...] = field(default_factory=tuple)

    def knows(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.user_ids


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="fufen.login-device")


def read_device(request: Request) -> Device | None:
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw or len(raw) > 512:
        return None
    try:
        data = _serializer().loads(raw, max_age=DEVICE_MAX_AGE)
        nonce = str(data["n"])
        ids = tuple(int(i) for i in data["u"])[:DEVICE_MAX_ACCOUNTS]
    except (BadSignature, KeyError, TypeError, ValueError):
        return None
    return Device(nonce=nonce, user_ids=ids)


def remember_device(response: Response, device: Device | None, user_id: int) -> None:
    """After a successful login: add ``user_id`` to this browser's device cookie."""
    nonce = device.nonce if device else secrets.token_urlsafe(16)
    ids = [i for i in (device.user_ids if device else ()) if i != user_id]
    ids = ([user_id] + ids)[:DEVICE_MAX_ACCOUNTS]
    response.set_cookie(
        DEVICE_COOKIE,
        _serializer().dumps({"n": nonce, "u": ids}),
        max_age=DEVICE_MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
        path="/accounts/",
    )


def _limit(name: str, default: str | None = None) -> RateLimitItem:
    value = current_app.config.get(name, default)
    return parse(str(value))


@dataclass(frozen=True)
class Budget:
    item: RateLimitItem
    key: tuple[str, ...]
    name: str


def _budgets(phone: str, ip: str, device: Device | None, user_id: int | None) -> tuple[list[Budget], bool]:
    """The budgets that apply to this attempt, and whether it counts as a known device."""
    per_account = _limit("LOGIN_LIMIT_PER_ACCOUNT")
    if device is not None and device.knows(user_id):
        own = Budget(per_account, ("login-device", device.nonce, phone), "device")
        if limiter.limiter.test(own.item, *own.key):
            return [own], True
    return [
        Budget(_limit("LOGIN_LIMIT_PER_IP"), ("login-ip", ip), "ip"),
        Budget(per_account, ("login-account-ip", phone, ip), "account_ip"),
        Budget(
            _limit("LOGIN_LIMIT_PER_ACCOUNT_GLOBAL", DEFAULT_GLOBAL_LIMIT),
            ("login-account", phone),
            "account",
        ),
    ], False


class LoginThrottle:
    """One login attempt's view of the counters."""

    def __init__(self, phone: str, ip: str, device: Device | None, user_id: int | None) -> None:
        self.enabled = bool(limiter.enabled and limiter.initialized)
        self.phone = phone
        self.ip = ip or "unknown"
        self.device = device
        self.budgets, self.known_device = (
            _budgets(phone, self.ip, device, user_id) if self.enabled else ([], False)
        )

    def exhausted(self) -> list[str]:
        """Names of the budgets with no room left (empty: the attempt may go ahead)."""
        return [b.name for b in self.budgets if not limiter.limiter.test(b.item, *b.key)]

    def failed(self) -> None:
        for b in self.budgets:
            limiter.limiter.hit(b.item, *b.key)

    def succeeded(self) -> None:
        for b in self.budgets:
            if b.name in ("device", "account_ip"):
                limiter.limiter.clear(b.item, *b.key)


def check_budget(name: str, limit: str, *key: str) -> bool:
    """A plain failure budget (e.g. wrong current password on the change form): True when
    there is room left."""
    if not (limiter.enabled and limiter.initialized):
        return True
    return limiter.limiter.test(parse(limit), name, *key)


def spend_budget(name: str, limit: str, *key: str) -> None:
    if limiter.enabled and limiter.initialized:
        limiter.limiter.hit(parse(limit), name, *key)
