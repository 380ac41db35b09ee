"""``Idempotency-Key`` for POSTs that move points or stock.

The first successful answer (2xx) is stored with the key, in the request's own
transaction, so it exists exactly when the effect does. A retry with the same key and the
same request gets that status and body again (``Idempotent-Replayed: true``) and changes
nothing; the same key with a different request is a 422. Refusals (4xx) are not stored:
they changed nothing, so a retry is simply judged again. Keys live 24 hours per user.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Response, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from core.db import utcnow
from portal.api.models import IdempotencyRecord
from portal.errors import Conflict, ServiceError
from portal.extensions import db

F = TypeVar("F", bound=Callable[..., Any])
HEADER = "Idempotency-Key"
KEY_RE = re.compile(r"^[\x21-\x7e]{1,100}$")
TTL = dt.timedelta(hours=24)
PARAMETER = {
    "in": "header",
    "name": HEADER,
    "required": False,
    "description": "A unique key per intended action (e.g. a UUID). A retry with the same key and body "
    "returns the first answer; the same key with another body is refused with 422.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": r"^[\x21-\x7e]+$"},
}


def request_hash() -> str:
    body = request.get_data(cache=True)
    try:
        canonical = (
            json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode() if body else b""
        )
    except ValueError:
        canonical = body
    h = hashlib.sha256()
    for part in (request.method.encode(), request.path.encode(), canonical):
        h.update(part)
        h.update(b"\0")
    return h.hexdigest()


def current_key() -> str | None:
    """The request's key, validated (400 when malformed)."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not KEY_RE.match(key):
        raise ServiceError(
            _l("The Idempotency-Key header must be 1 to 100 visible ASCII characters."),
            code="idempotency_key_invalid",
            status=400,
        )
    return key


def idempotent(blp: Any) -> Callable[[F], F]:
    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            key = current_key()
            if key is None or not current_user.is_authenticated:
                return view(*args, **kwargs)
            session = db.session
            digest = request_hash()
            found = session.scalar(
                select(IdempotencyRecord).where(
                    IdempotencyRecord.user_id == current_user.id, IdempotencyRecord.key == key
                )
            )
            if found is not None and found.created_at < utcnow() - TTL:
                session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == found.id))
                found = None
            if found is not None:
                if found.request_hash != digest:
                    raise ServiceError(
                        _l("This Idempotency-Key was already used for a different request."),
                        code="idempotency_key_reused",
                        status=422,
                    )
                replay = Response(found.body, status=found.status, mimetype="application/json")
                replay.headers["Idempotent-Replayed"] = "true"
                return replay
            resp = view(*args, **kwargs)
            if not isinstance(resp, Response):
                resp = blp_make_response(resp)
            if 200 <= resp.status_code < 300:
                try:
                    with session.begin_nested():
                        session.add(
                            IdempotencyRecord(
                                user_id=current_user.id,
                                key=key,
                                request_hash=digest,
                                status=resp.status_code,
                                body=resp.get_data(as_text=True),
                            )
                        )
                        session.flush()
                except IntegrityError:
                    # The same key is being used by a request running right now.
                    raise Conflict(
                        _l(
                            "A request with this Idempotency-Key is still being processed. Try again shortly."
                        ),
                        code="idempotency_in_progress",
                    ) from None
            return resp

        return blp.doc(parameters=[PARAMETER])(wrapped)  # type: ignore[no-any-return]

    return decorator


def blp_make_response(rv: Any) -> Response:
    from flask import current_app

    return current_app.make_response(rv)
