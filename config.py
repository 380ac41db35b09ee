"""Configuration classes. Settings come from the environment; nothing is read at import
time by the app itself — ``create_app`` picks a class (or a mapping) explicitly."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


class Config:
    """Shared defaults. Subclasses override; ``from_env`` applies environment variables."""

    ENV_NAME = "base"
    SECRET_KEY: str | None = None
    DATABASE_URL = f"sqlite:///{BASE_DIR / 'instance' / 'fufen.db'}"
    # Languages: zh-CN is the default (Babel spells it zh_Hans_CN), English second.
    BABEL_DEFAULT_LOCALE = "zh_Hans_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = {"zh_Hans_CN": "简体中文", "en": "English"}
    BABEL_TRANSLATION_DIRECTORIES = str(BASE_DIR / "translations")
    # Sessions: HttpOnly, SameSite=Lax; idle and absolute limits enforced per request.
    SESSION_COOKIE_NAME = "fufen_session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    SESSION_IDLE_TIMEOUT = dt.timedelta(minutes=30)
    SESSION_ABSOLUTE_TIMEOUT = dt.timedelta(hours=12)
    PERMANENT_SESSION_LIFETIME = dt.timedelta(hours=12)
    # Forms
    WTF_CSRF_ENABLED = True
    WTF_CSRF_TIME_LIMIT = 3600 * 8
    MAX_CONTENT_LENGTH = 8 * 1024 * 1024
    # Rate limits (Flask-Limiter). memory:// by default; Redis in production.
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_ENABLED = True
    RATELIMIT_HEADERS_ENABLED = True
    LOGIN_LIMIT_PER_IP = "30 per 15 minutes"
    LOGIN_LIMIT_PER_ACCOUNT = "10 per 15 minutes"
    LOGIN_LIMIT_PER_ACCOUNT_GLOBAL = "50 per hour"
    SIGNUP_LIMIT_PER_IP = "20 per hour"
    REDEEM_LIMIT = "10 per minute; 50 per day"  # per user (rewards store)
    UPLOAD_LIMIT_PER_USER = "30 per hour"  # stored pictures per user (hour photos, rewards)
    GIFT_LIMIT = "10 per minute; 50 per day"  # per user (API gifts; the service caps amounts per day)
    # Number of reverse proxies in front of the app (nginx: 1). Their X-Forwarded-For is
    # trusted so that rate limits key on the client's address, not the proxy's.
    PROXY_FIX_X_FOR = 0
    # Security headers
    TALISMAN_FORCE_HTTPS = False
    # Second factor (TOTP) for staff, street admins, merchants and system admins. On in
    # production; off by default for `make run` and the tests (see README) — anyone who
    # has enrolled is asked for a code whatever this says.
    MFA_REQUIRED = True
    # Version of the sensitive-information consent text (templates/accounts/consent_text.html).
    CONSENT_VERSION = "2026-12-01"
    # Ledger
    # Largest total of one posting or hold (sum of its positive amounts); None = no cap.
    LEDGER_MAX_POSTING: int | None = 100_000
    # PostgreSQL: post through the one-round-trip plpgsql functions (False: the portable path).
    LEDGER_USE_PG_FUNCTIONS = True
    # Signed checkpoints: the private key file (cron host only, never in the database) and
    # the public keys (hex, comma-separated in the environment) that `ledger verify` accepts.
    LEDGER_SIGNING_KEY_FILE: str | None = None
    LEDGER_VERIFY_KEYS: tuple[str, ...] = ()
    # Password hashing (argon2id). Tests lower the cost.
    ARGON2_TIME_COST = 3
    ARGON2_MEMORY_COST = 65536
    ARGON2_PARALLELISM = 2

    @classmethod
    def from_env(cls) -> dict[str, object]:
        values = {k: getattr(cls, k) for k in dir(cls) if k.isupper()}
        if os.environ.get("DATABASE_URL"):
            values["DATABASE_URL"] = os.environ["DATABASE_URL"]
        if os.environ.get("SECRET_KEY"):
            values["SECRET_KEY"] = os.environ["SECRET_KEY"]
        if os.environ.get("RATELIMIT_STORAGE_URI"):
            values["RATELIMIT_STORAGE_URI"] = os.environ["RATELIMIT_STORAGE_URI"]
        if os.environ.get("LEDGER_MAX_POSTING"):
            raw = os.environ["LEDGER_MAX_POSTING"].strip().lower()
            values["LEDGER_MAX_POSTING"] = None if raw in {"none", "0"} else int(raw)
        if os.environ.get("LEDGER_SIGNING_KEY_FILE"):
            values["LEDGER_SIGNING_KEY_FILE"] = os.environ["LEDGER_SIGNING_KEY_FILE"]
        if os.environ.get("LEDGER_VERIFY_KEYS"):
            values["LEDGER_VERIFY_KEYS"] = tuple(
                k.strip() for k in os.environ["LEDGER_VERIFY_KEYS"].split(",") if k.strip()
            )
        if os.environ.get("LEDGER_USE_PG_FUNCTIONS") is not None:
            values["LEDGER_USE_PG_FUNCTIONS"] = _env_bool("LEDGER_USE_PG_FUNCTIONS", True)
        if os.environ.get("PROXY_FIX_X_FOR"):
            values["PROXY_FIX_X_FOR"] = int(os.environ["PROXY_FIX_X_FOR"])
        if os.environ.get("FUFEN_MFA_REQUIRED") is not None:
            values["MFA_REQUIRED"] = _env_bool("FUFEN_MFA_REQUIRED", True)
        if os.environ.get("SESSION_COOKIE_SECURE") is not None:
            values["SESSION_COOKIE_SECURE"] = _env_bool("SESSION_COOKIE_SECURE", False)
        return values


class DevelopmentConfig(Config):
    ENV_NAME = "development"
    # A fixed development key keeps sessions across restarts of `make run`; production
    # refuses to start without SECRET_KEY.
    SECRET_KEY = "dev-only-not-secret"
    # Demo logins work without an authenticator app; FUFEN_MFA_REQUIRED=1 turns it on.
    MFA_REQUIRED = False


class TestingConfig(Config):
    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = "test-only-not-secret"
    DATABASE_URL = "sqlite:///:memory:"
    WTF_CSRF_ENABLED = False  # functional tests that check CSRF switch it back on
    MFA_REQUIRED = False  # tests of the second factor switch it on
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 1024
    ARGON2_PARALLELISM = 1


class ProductionConfig(Config):
    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    # __Host- prefix: Secure, path=/, no Domain — the cookie cannot be set by a subdomain.
    SESSION_COOKIE_NAME = "__Host-fufen_session"
    TALISMAN_FORCE_HTTPS = True


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def load(name: str | None = None) -> dict[str, object]:
    """Settings for ``name`` (default: $FUFEN_CONFIG or development) with env overrides."""
    name = name or os.environ.get("FUFEN_CONFIG", "development")
    try:
        cls = CONFIGS[name]
    except KeyError:
        raise RuntimeError(f"unknown FUFEN_CONFIG {name!r}; use one of {sorted(CONFIGS)}") from None
    return cls.from_env()
