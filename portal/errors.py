"""Friendly error pages in both languages; bad input never becomes a 500."""

from __future__ import annotations

import logging
from typing import Any

from flask import Response, jsonify, render_template, request
from flask_babel import gettext as _

log = logging.getLogger(__name__)


def wants_json() -> bool:
    return request.path.startswith("/api/") or (request.accept_mimetypes.best == "application/json")


# Stable machine-readable codes for refusals that do not come from a service rule.
DEFAULT_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "rate_limited",
    500: "server_error",
}


def json_error(
    status: int, message: str, *, code: str | None = None, details: dict | None = None
) -> Response:
    """The one JSON error body: ``{"code", "message", "details"}`` (message in the
    reader's language, code stable for programs)."""
    resp = jsonify(
        code=code or DEFAULT_CODES.get(status, "error"), message=str(message), details=details or {}
    )
    resp.status_code = status
    return resp


def error_response(
    status: int, title: str, message: str, *, code: str | None = None, details: dict | None = None
) -> Response:
    if wants_json():
        return json_error(status, message, code=code, details=details)
    else:
        resp = Response(render_template("errors/error.html", status=status, title=title, message=message))
    resp.status_code = status
    return resp


def conflict_response() -> Response:
    return error_response(
        409,
        _("Please try again"),
        _("Someone else changed this at the same moment. Nothing was saved; please try again."),
    )


def messages(status: int) -> tuple[str, str]:
    table = {
        400: (_("Bad request"), _("The request could not be understood. Please check what you entered.")),
        403: (_("Not allowed"), _("You do not have permission to do this here.")),
        404: (_("Page not found"), _("The page you are looking for does not exist or has moved.")),
        405: (_("Not allowed"), _("This action is not available in this way.")),
        409: (_("Please try again"), _("Someone else changed this at the same moment. Nothing was saved.")),
        413: (_("Too large"), _("What you sent is too large.")),
        429: (_("Too many attempts"), _("Too many attempts. Please wait a while and try again.")),
        500: (
            _("Something went wrong"),
            _("Something went wrong on our side. Nothing was changed; please try again later."),
        ),
    }
    return table.get(status, (_("Error"), _("The request could not be completed.")))


class ServiceError(Exception):
    """A business rule refused the request. ``message`` is already translated (use
    ``lazy_gettext`` at raise time or ``gettext`` inside a request); ``status`` is the
    HTTP status the web layer answers with; ``code`` is stable for the JSON API;
    ``field`` names the input it concerns (the form helper puts the message there);
    ``details`` are more facts for the JSON body and the audit record.

    Refusals are audited once, by the request's error handler (``portal.refusals``);
    ``community_id``/``target``/``action`` tell it where to file the refusal. A service that
    records the refusal itself (``portal.audit.services.refused``) marks it ``audited``.
    """

    status = 400

    def __init__(
        self,
        message: str,
        *,
        code: str = "refused",
        status: int | None = None,
        field: str | None = None,
        details: dict[str, Any] | None = None,
        community_id: int | None = None,
        target: tuple[str, int] | None = None,
        action: str | None = None,
    ) -> None:
        super().__init__(str(message))
        self.message = message
        self.code = code
        self.field = field
        self.details: dict[str, Any] = dict(details or {})
        self.community_id = community_id
        self.target = target
        self.action = action
        self.audited = False
        if status is not None:
            self.status = status

    def body_details(self) -> dict[str, Any]:
        """``details`` of the JSON body: the field, then the other facts."""
        return {**({"field": self.field} if self.field else {}), **self.details}


class NotFound(ServiceError):
    status = 404


class Forbidden(ServiceError):
    status = 403


class Conflict(ServiceError):
    status = 409
