"""The JSON API, ``/api/v1`` (flask-smorest on marshmallow): for the mini-program, apps and
partner systems. Views are thin: parse with a schema → call the same service as the page →
dump with a schema. Refusals go through the portal's one error path (``portal.errors``) as
``{"code", "message", "details"}``; the OpenAPI document is at ``/api/v1/openapi.json`` and
its human rendering at ``/api/v1/docs``.
"""

from __future__ import annotations

import importlib
from typing import Any

from flask import Flask, request
from flask_smorest import Api as _Api

from portal.api.schemas import ErrorSchema
from portal.ids import MAX_ID, IdConverter

PREFIX = "/api/v1"
# Resource modules, each exposing ``blp`` (a flask_smorest.Blueprint).
RESOURCES = (
    "portal.api.views.auth",
    "portal.api.views.me",
    "portal.api.views.activities",
    "portal.api.views.community",
    "portal.api.views.hours",
    "portal.api.views.wishes",
    "portal.api.views.points",
    "portal.api.views.notifications",
)


class Api(_Api):
    """flask-smorest without its own error handlers: the portal's handlers (portal.errors)
    answer every error, pages and API alike, with the one body."""

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self) -> None:
        return None


def _register(api: Api, csrf: Any, blp: Any, names: set[str]) -> None:
    # Token requests carry no cookie to forge; cookie sessions are CSRF-checked in
    # authenticate_request.
    csrf.exempt(blp)
    api.register_blueprint(blp, url_prefix=f"{PREFIX}{blp.url_prefix or ''}")
    names.add(blp.name)


def spec_options() -> dict[str, Any]:
    return {
        "info": {
            "description": (
                "福分 (Fufen) community volunteer time bank — JSON API v1.\n\n"
                "Authenticate with `POST /api/v1/auth/token` (mobile number and password) and send "
                "`Authorization: Bearer <token>`. Partner systems use personal access tokens with "
                "scopes. Errors are always `{code, message, details}`; messages follow "
                "`Accept-Language` (zh-CN by default, en). Lists are cursor-paginated: pass "
                "`next_cursor` back as `cursor`. POSTs that move points or stock accept an "
                "`Idempotency-Key` header."
            )
        },
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Device or personal token.",
                },
                "cookieAuth": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "fufen_session",
                    "description": "The website's session; unsafe methods then need the X-CSRFToken header.",
                },
            }
        },
        "servers": [{"url": "/"}],
    }


def init_app(app: Flask) -> None:
    from portal.api import docs
    from portal.api.auth import authenticate_request
    from portal.extensions import csrf

    app.config.setdefault("API_TITLE", "Fufen API")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("API_SPEC_OPTIONS", spec_options())
    api = Api(app)
    # Path ids go through the portal's one id converter (portal.ids): document its range.
    api.register_converter(IdConverter, lambda _conv: {"type": "integer", "minimum": 0, "maximum": MAX_ID})
    names: set[str] = set()
    for name in RESOURCES:
        module = importlib.import_module(name)
        for blp in getattr(module, "blueprints", (module.blp,)):
            _register(api, csrf, blp, names)

    @app.before_request
    def api_request() -> None:
        if request.blueprint in names:
            authenticate_request()

    app.extensions["fufen_api"] = api
    docs.init_app(app, api)
