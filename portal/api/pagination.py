"""Cursor pagination: keyset over (sort key, id), so pages are stable while rows are added,
and a cursor is bound to the filters it was made with.

A cursor is opaque to clients: base64url of JSON ``{"k": [key, id], "f": filter-hash}``.
Anything else — wrong shape, wrong types, out-of-range ids, another filter's cursor — is a
400 ``bad_cursor``, never a 500.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import Session

from portal.errors import ServiceError

MAX_ID = 2**63 - 1
MAX_CURSOR = 400


class BadCursor(ServiceError):
    status = 400


def _bad() -> BadCursor:
    return BadCursor(_l("This page link is not valid. Start again from the first page."), code="bad_cursor")


def _filter_hash(filters: Mapping[str, Any]) -> str:
    raw = json.dumps({k: filters[k] for k in sorted(filters)}, default=str, sort_keys=True)
    return hashlib.sha256(raw.encode()).hexdigest()[:12]


def _encode(key: Any, row_id: int, filters: Mapping[str, Any]) -> str:
    if isinstance(key, dt.datetime):
        key = {"t": key.astimezone(dt.UTC).isoformat()}
    raw = json.dumps({"k": [key, row_id], "f": _filter_hash(filters)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str, key_kind: str | None, filters: Mapping[str, Any]) -> tuple[Any, int]:
    if len(cursor) > MAX_CURSOR:
        raise _bad()
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise _bad() from None
    if not isinstance(data, dict) or data.get("f") != _filter_hash(filters):
        raise _bad()
    k = data.get("k")
    if not isinstance(k, list) or len(k) != 2:
        raise _bad()
    key, row_id = k
    if isinstance(row_id, bool) or not isinstance(row_id, int) or not 0 <= row_id <= MAX_ID:
        raise _bad()
    if key_kind == "datetime":
        if not isinstance(key, dict) or not isinstance(key.get("t"), str):
            raise _bad()
        try:
            key = dt.datetime.fromisoformat(key["t"])
        except ValueError:
            raise _bad() from None
        if key.tzinfo is None:
            raise _bad()
    elif key_kind == "int":
        if isinstance(key, bool) or not isinstance(key, int) or abs(key) > MAX_ID:
            raise _bad()
    elif key is not None:
        raise _bad()
    return key, row_id


@dataclass
class Page:
    items: list[Any]
    next_cursor: str | None


def paginate(
    session: Session,
    stmt: Select[Any],
    *,
    id_col: Any,
    key_col: Any = None,
    key_kind: str | None = None,
    descending: bool = False,
    cursor: str | None,
    limit: int,
    filters: Mapping[str, Any],
    key_of: Any = None,
) -> Page:
    """One page of ``stmt`` ordered by (key_col, id_col). ``key_of(row)`` reads the key of
    a result row (default: the attribute named like the key column)."""
    if cursor:
        key, last_id = _decode(cursor, key_kind if key_col is not None else None, filters)
        if key_col is None:
            cond = id_col < last_id if descending else id_col > last_id
        elif descending:
            cond = or_(key_col < key, and_(key_col == key, id_col < last_id))
        else:
            cond = or_(key_col > key, and_(key_col == key, id_col > last_id))
        stmt = stmt.where(cond)
    order = [
        c.desc() if descending else c.asc() for c in ([key_col] if key_col is not None else []) + [id_col]
    ]
    rows = list(session.scalars(stmt.order_by(*order).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        key = None
        if key_col is not None:
            key = key_of(last) if key_of else getattr(last, key_col.key)
        next_cursor = _encode(key, last.id, filters)
    return Page(rows, next_cursor)


def id_cursor(row_id: int | None, filters: Mapping[str, Any]) -> str | None:
    """A cursor for APIs that page by an id of their own (e.g. ``ledger.statement``)."""
    return None if row_id is None else _encode(None, row_id, filters)


def id_from_cursor(cursor: str | None, filters: Mapping[str, Any]) -> int | None:
    return None if not cursor else _decode(cursor, None, filters)[1]
