"""The one refusal path.

A service refuses by raising ``portal.errors.ServiceError``; views do not catch it. This
module's error handler answers every refusal, pages and JSON API alike:

* it audits the refusal, once (``audit_event`` outcome ``refused``, written after the
  request's rollback), unless the service already recorded it;
* ``/api/`` requests (and clients that ask for JSON) get ``{"code", "message", "details"}``
  with the message in the reader's language;
* a page that said how to show itself again (``on_refusal``) is rendered again with the
  refusal's status and the message on the form field it concerns (or flashed on top);
  unknown ids (404) and missing rights (403) get the error page instead.

The request boundary rolls the transaction back (status >= 400); the page is re-rendered
after a rollback, so it shows what is stored, not what the refused change had flushed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

from flask import Flask, flash, g, make_response, request
from flask.typing import ResponseReturnValue
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.audit.services import record_refusal
from portal.errors import (
    DEFAULT_CODES,
    Forbidden,
    NotFound,
    ServiceError,
    error_response,
    messages,
    wants_json,
)
from portal.extensions import db

# Refusals that are answered with the error page, never with the form again.
HARD_STATUSES = frozenset({403, 404})
_RESERVED = frozenset({"actor_id", "community_id", "target", "code", "status", "path"})


def on_refusal(
    render: Callable[[], ResponseReturnValue],
    form: Any = None,
    *,
    hard: Callable[[ServiceError], bool] | None = None,
) -> None:
    """The form helper: from here on in this request, a refusal shows the page again by
    calling ``render()`` — with the message on ``form``'s field named by the refusal.
    ``hard`` decides which refusals get the error page instead (default: 403 and 404)."""
    g._fufen_refusal_page = (render, form, hard)


def audit_as(action: str, community_id: int | None = None) -> None:
    """Name this request's refusals ``action`` (in ``community_id``) in the audit log, unless
    the service named them; refusals of rights (403) are filed as ``authz.<action>``."""
    g._fufen_refusal_as = (action, community_id)


def audit(error: ServiceError) -> None:
    """Record ``error`` as a refused action of this request (once)."""
    if error.audited or g.get("_fufen_refusal_recorded"):
        return
    user = current_user if current_user and current_user.is_authenticated else None
    detail = {k: v for k, v in error.details.items() if k not in _RESERVED}
    action, community_id = g.get("_fufen_refusal_as") or (request.endpoint or "unknown", None)
    if error.status == 403:
        action = f"authz.{action}"
    record_refusal(
        db.session,
        error.action or action,
        actor_id=getattr(user, "id", None),
        community_id=error.community_id or community_id,
        target=error.target,
        code=error.code,
        status=error.status,
        path=request.path,
        **detail,
    )
    error.audited = True


def _put_on_form(form: Any, error: ServiceError) -> bool:
    field = getattr(form, "_fields", {}).get(error.field) if error.field else None
    if field is None:
        return False
    field.errors = [*field.errors, str(error.message)]
    return True


def _page_again(error: ServiceError) -> Response | None:
    page = g.pop("_fufen_refusal_page", None)
    if page is None or wants_json():
        return None
    render, form, hard = page
    if hard(error) if hard is not None else error.status in HARD_STATUSES:
        return None
    db.session.rollback()
    if not _put_on_form(form, error):
        flash(str(error.message), "error")
    try:
        resp = make_response(render())
    except ServiceError as again:  # the page itself is refused now (e.g. the row is gone)
        audit(again)
        return _error_page(again)
    resp.status_code = error.status
    return resp


def _error_page(error: ServiceError) -> Response:
    title, _default = messages(error.status)
    return error_response(
        error.status, title, str(error.message), code=error.code, details=error.body_details() or None
    )


def answer(error: ServiceError) -> Response:
    audit(error)
    return _page_again(error) or _error_page(error)


def deny(action: str, *, community_id: int | None = None, status: int = 403, **detail: Any) -> NoReturn:
    """Refuse the request from a view's own check: audited as ``authz.<action>`` by the one
    handler, answered with the 403 page (or 404, where existence itself must not leak)."""
    _title, message = messages(status)
    error = (NotFound if status == 404 else Forbidden)(
        message, code=DEFAULT_CODES.get(status, "refused"), details=detail, community_id=community_id
    )
    error.action = f"authz.{action}"
    raise error


def init_app(app: Flask) -> None:
    app.register_error_handler(ServiceError, answer)
