"""One way to read a row id from a request: path, query string or form.

An id is 1–10 ASCII digits and at most 2**31 - 1 (the largest PostgreSQL ``integer``
and far inside SQLite's range). Anything else is not an id: path parameters answer
404 (the URL names nothing), query and form values are treated as invalid input (400).
Every ``<int:…>`` in a route goes through ``IdConverter`` (installed as the app's
``int`` converter), every query/form id through ``parse_id`` / ``id_arg``.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, abort
from werkzeug.routing import BaseConverter, ValidationError

MAX_ID = 2**31 - 1


def parse_id(raw: object) -> int | None:
    """``raw`` as an id, or None when it is not one (empty, signed, huge, non-ASCII)."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw if 0 < raw <= MAX_ID else None
    if not isinstance(raw, str):
        return None
    raw = raw.strip()
    if not raw or len(raw) > 10 or not (raw.isascii() and raw.isdigit()):
        return None
    value = int(raw)
    return value if 0 < value <= MAX_ID else None


def id_arg(raw: str) -> int:
    """``type=`` for ``request.args.get``: raises ValueError so that a bad id falls back
    to the default (None) instead of reaching the database."""
    value = parse_id(raw)
    if value is None:
        raise ValueError("not an id")
    return value


def require_id(raw: object) -> int:
    """An id the request must carry: 400 when it is missing or not an id."""
    value = parse_id(raw)
    if value is None:
        abort(400)
    return value


def optional_id(raw: object) -> int | None:
    """None when absent; 400 when present but not an id."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    return require_id(raw)


def coerce_id(raw: Any) -> int | None:
    """``coerce=`` for WTForms SelectFields of ids. Submitted text that is not an id is
    a field error ("not a valid choice"); empty is None; the server's own choice values
    (ints, including a 0 "none" entry) pass through for rendering."""
    if raw is None or raw == "":
        return None
    if raw == "0":  # the forms' "none" entry
        return 0
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    value = parse_id(raw)
    if value is None:
        raise ValueError("not an id")
    return value


class IdConverter(BaseConverter):
    """``<int:x>``: digits only, 0 ≤ x ≤ MAX_ID (0 is a "none" sentinel in some URLs,
    e.g. community-run rewards); anything else does not match (404)."""

    regex = r"\d{1,10}"
    weight = 50
    part_isolating = True

    def to_python(self, value: str) -> int:
        if value == "0":
            return 0
        parsed = parse_id(value)
        if parsed is None:
            raise ValidationError()
        return parsed

    def to_url(self, value: Any) -> str:
        return str(int(value))


def init_app(app: Flask) -> None:
    # Before any blueprint registers a route: rules bind their converter when added.
    app.url_map.converters["int"] = IdConverter

    # Defence in depth: a number that still reaches the database out of range (a
    # form's integer field, a future route) is bad input, never a 500.
    from sqlalchemy.exc import DataError

    def out_of_range(exc: Exception) -> Any:
        import logging

        from portal.errors import error_response

        logging.getLogger(__name__).warning("number out of range: %s", exc)
        return error_response(400, *_bad_request())

    app.register_error_handler(OverflowError, out_of_range)
    app.register_error_handler(DataError, out_of_range)


def _bad_request() -> tuple[str, str]:
    from flask_babel import gettext as _

    return _("Bad request"), _("The request could not be understood. Please check what you entered.")
