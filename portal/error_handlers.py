"""The app's error handlers: friendly pages in both languages (DB-free ones when the
database is down), the one JSON body for the API; bad input never becomes a 500.
(``portal.errors`` holds the refusal types and bodies every layer uses; refusals
themselves are answered by ``portal.refusals``.)"""

from __future__ import annotations

import logging

from flask import Flask, Response, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from portal.errors import error_response, messages
from portal.outage import is_db_unavailable, standalone_error

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(_e: CSRFError) -> Response:
        return error_response(
            400,
            _("Form expired"),
            _(
                "This form has expired or was not sent from this site. Please go back, reload the page and try again."  # noqa: E501
            ),
            code="csrf_failed",
        )

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException) -> Response:
        status = e.code or 500
        if status >= 500:
            return standalone_error(status)
        title, message = messages(status)
        # webargs (the JSON API's input parsing) attaches the per-field messages.
        fields = (
            getattr(e, "data", {}).get("messages") if isinstance(getattr(e, "data", None), dict) else None
        )
        details = {"fields": fields} if fields else None
        resp = error_response(status, title, message, details=details)
        for name, value in e.get_headers():
            if name.lower() not in ("content-type", "content-length"):
                resp.headers[name] = value
        return resp

    @app.errorhandler(Exception)
    def unhandled(e: Exception) -> Response:
        # Never touch the database here (it may be the thing that failed): the standalone
        # page reads no user, settings or session.
        if is_db_unavailable(e):
            log.warning("database unavailable on %s %s: %s", request.method, request.path, e)
            return standalone_error(503, "unavailable", retry_after=30)
        log.exception("unhandled error on %s %s", request.method, request.path)
        return standalone_error(500)
