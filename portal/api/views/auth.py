"""Tokens: log in for a device token, list and revoke my tokens, personal access tokens."""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from flask_babel import lazy_gettext as _l
from flask_smorest import Blueprint
from flask_wtf.csrf import generate_csrf
from marshmallow import Schema, fields, validate

from portal.accounts import mfa
from portal.accounts import services as accounts
from portal.accounts.throttle import read_device
from portal.api import tokens
from portal.api.auth import Unauthorized, actor, current_token, protected
from portal.api.models import TokenKind
from portal.api.schemas import Line
from portal.errors import Forbidden
from portal.extensions import db, limiter

blp = Blueprint("Auth", __name__, url_prefix="/auth", description="Access tokens (log in, list, revoke).")


class LoginSchema(Schema):
    mobile = fields.String(
        required=True, validate=validate.Length(1, 32), metadata={"example": "13900000001"}
    )
    password = fields.String(required=True, validate=validate.Length(1, 256))
    device_name = Line(60, metadata={"example": "iPhone 15 微信小程序"})
    totp_code = fields.String(
        validate=validate.Length(1, 20),
        metadata={
            "description": "The 6-digit authenticator code (or a recovery code): required for staff, "
            "merchants and administrators, and for anyone who turned the second factor on."
        },
    )


class TokenSchema(Schema):
    id = fields.Integer(required=True)
    kind = fields.Enum(TokenKind, by_value=True, required=True)
    name = fields.String(required=True)
    prefix = fields.String(required=True, metadata={"description": "First characters, to recognise it."})
    scopes = fields.List(fields.String(), required=True, attribute="scope_list")
    created_at = fields.DateTime(required=True)
    expires_at = fields.DateTime(required=True)


class IssuedTokenSchema(TokenSchema):
    token = fields.String(required=True, metadata={"description": "The secret; shown only once."})
    token_type = fields.String(required=True, metadata={"enum": ["Bearer"]})


class TokenListSchema(Schema):
    items = fields.List(fields.Nested(TokenSchema), required=True)


class PersonalTokenSchema(Schema):
    name = Line(60, required=True)
    scopes = fields.List(
        fields.String(validate=validate.OneOf(tokens.ALL_SCOPES)),
        required=True,
        validate=validate.Length(1, len(tokens.ALL_SCOPES)),
    )
    expires_in_days = fields.Integer(
        strict=True, load_default=90, validate=validate.Range(1, tokens.PAT_MAX_DAYS)
    )


class ScopeSchema(Schema):
    name = fields.String(required=True)
    description = fields.String(required=True)


class ScopeListSchema(Schema):
    items = fields.List(fields.Nested(ScopeSchema), required=True)


def _issued(token: Any, secret: str) -> dict[str, Any]:
    fields_ = ("id", "name", "prefix", "scope_list", "created_at", "expires_at")
    return {
        **{f: getattr(token, f) for f in fields_},
        "kind": token.kind,
        "token": secret,
        "token_type": "Bearer",
    }


def _login_key() -> str:
    return f"api-login:{request.remote_addr or ''}"


@blp.route("/token", methods=["POST"])
@limiter.limit(lambda: str(current_app.config["LOGIN_LIMIT_PER_IP"]), key_func=_login_key)
@blp.arguments(LoginSchema)
@blp.response(201, IssuedTokenSchema)
@blp.doc(security=[])
def login(data: dict[str, Any]) -> dict[str, Any]:
    """Log in with mobile number and password; returns a device token.

    The same checks as the website's log-in (throttled per address, account and device;
    the same answer for unknown numbers and wrong passwords)."""
    result = accounts.authenticate(
        db.session,
        phone=data["mobile"],
        password=data["password"],
        ip=request.remote_addr or "",
        device=read_device(request),
    )
    _second_factor(result.user, data.get("totp_code"))
    token, secret = tokens.issue_device_token(db.session, result.user, data.get("device_name"))
    return _issued(token, secret)


def _second_factor(user: Any, code: str | None) -> None:
    """The same second factor as the website's log-in (``mfa.verify_second_factor``)."""
    if not mfa.required_for(user):
        return
    if not mfa.is_enrolled(user):
        raise Forbidden(
            _l("Set up the second factor on the website first (My account → Security), then log in here."),
            code="mfa_enrolment_required",
        )
    if not code:
        raise Unauthorized(
            _l("Enter the 6-digit code from your authenticator app."), code="mfa_required", field="totp_code"
        )
    mfa.verify_second_factor(db.session, user, code)


@blp.route("/tokens", methods=["GET"])
@protected(blp, None, personal_tokens=False)
@blp.response(200, TokenListSchema)
def list_tokens() -> dict[str, Any]:
    """My live tokens (device and personal), newest first. Secrets are never shown again."""
    return {"items": tokens.my_tokens(db.session, actor().id)}


@blp.route("/tokens", methods=["POST"])
@protected(blp, None, personal_tokens=False)
@blp.arguments(PersonalTokenSchema)
@blp.response(201, IssuedTokenSchema)
def create_personal_token(data: dict[str, Any]) -> dict[str, Any]:
    """Create a personal access token for a partner system, with the scopes it needs."""
    token, secret = tokens.create_personal_token(
        db.session, actor(), name=data["name"], scopes=data["scopes"], days=data["expires_in_days"]
    )
    return _issued(token, secret)


@blp.route("/tokens/<int:token_id>", methods=["DELETE"])
@protected(blp, None)
@blp.response(204)
def revoke_token(token_id: int) -> None:
    """Revoke one of my tokens (any token may revoke itself)."""
    current = current_token()
    if current is not None and current.kind == TokenKind.PERSONAL and current.id != token_id:
        raise Forbidden(
            _l("Personal access tokens cannot do this; use the app or the website."), code="token_kind"
        )
    tokens.revoke(db.session, actor(), token_id)


@blp.route("/scopes", methods=["GET"])
@blp.response(200, ScopeListSchema)
@blp.doc(security=[])
def list_scopes() -> dict[str, Any]:
    """The scopes a personal access token can hold."""
    return {"items": [{"name": k, "description": str(v)} for k, v in tokens.SCOPES.items()]}


class CsrfSchema(Schema):
    csrf_token = fields.String(required=True, metadata={"description": "Send as the X-CSRFToken header."})


@blp.route("/csrf", methods=["GET"])
@protected(blp, None, personal_tokens=False)
@blp.response(200, CsrfSchema)
def csrf_token() -> dict[str, Any]:
    """The CSRF token for a cookie session: unsafe methods on the API need it in the
    `X-CSRFToken` header (bearer tokens do not)."""
    return {"csrf_token": generate_csrf()}
