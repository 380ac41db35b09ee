"""Who is calling: a bearer token (apps, mini-program, partner systems) or the portal's
cookie session (then CSRF still applies to unsafe methods). One before-request hook for
every API blueprint; ``protected`` declares the scope a view needs and documents it."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import current_app, g, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.api import tokens
from portal.api.models import ApiToken, TokenKind
from portal.errors import Forbidden, ServiceError
from portal.extensions import csrf, db
from portal.people.models import User

F = TypeVar("F", bound=Callable[..., Any])
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SECURITY = [{"bearerAuth": []}, {"cookieAuth": []}]


class Unauthorized(ServiceError):
    status = 401


def authenticate_request() -> None:
    """Before every API request: resolve a bearer token, or check CSRF for a cookie session."""
    g.api_token = None
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _sep, secret = header.strip().partition(" ")
        found = tokens.authenticate(db.session, secret.strip()) if scheme.lower() == "bearer" else None
        if found is None:
            raise Unauthorized(
                _l("The access token is not valid: it is unknown, expired or revoked. Log in again."),
                code="token_invalid",
            )
        user, token = found
        # Flask-Login's current_user for this request only (nothing is written to a cookie).
        g._login_user = user
        g.api_token = token
        return
    if (
        request.method not in SAFE_METHODS
        and current_user.is_authenticated
        and current_app.config.get("WTF_CSRF_ENABLED", True)
    ):
        csrf.protect()


def current_token() -> ApiToken | None:
    return g.get("api_token")


def actor() -> User:
    return current_user._get_current_object()  # type: ignore[attr-defined, no-any-return]


def require(scope: str | None, *, personal_tokens: bool = True) -> None:
    """The caller must be authenticated, hold ``scope`` (None: any) and, for actions that
    manage credentials, not be a personal access token."""
    if not current_user.is_authenticated:
        raise Unauthorized(_l("Log in or send an access token."), code="unauthenticated")
    token = current_token()
    if token is not None and token.kind == TokenKind.PERSONAL and not personal_tokens:
        raise Forbidden(
            _l("Personal access tokens cannot do this; use the app or the website."), code="token_kind"
        )
    if scope:
        tokens.require_scope(token, scope)


def protected(blp: Any, scope: str | None, *, personal_tokens: bool = True) -> Callable[[F], F]:
    """View decorator: ``require(scope)`` before the view; documents the security
    requirement and the scope (``x-scope``) in the OpenAPI document."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            require(scope, personal_tokens=personal_tokens)
            return view(*args, **kwargs)

        extra = {"x-scope": scope or "", "x-personal-tokens": personal_tokens}
        return blp.doc(security=SECURITY, **extra)(wrapped)  # type: ignore[no-any-return]

    return decorator
