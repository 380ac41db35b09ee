"""Schemas shared by every API resource: the error body, list pages and their arguments."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from portal.api.pagination import MAX_CURSOR
from portal.ids import MAX_ID as IDS_MAX

# Ids in bodies and filters: the portal's id range (portal.ids: PostgreSQL ``integer``);
# bigger numbers are refused as input, never passed to the database.
MAX_ID = IDS_MAX


def Id(**kw: Any) -> fields.Integer:  # noqa: N802 - reads like a field class
    """An id in a JSON body (a JSON number only)."""
    return fields.Integer(strict=True, validate=validate.Range(1, MAX_ID), **kw)


def QueryId(**kw: Any) -> fields.Integer:  # noqa: N802
    """An id in the query string (digits)."""
    return fields.Integer(validate=validate.Range(1, MAX_ID), **kw)


class ErrorSchema(Schema):
    code = fields.String(required=True, metadata={"description": "Stable machine-readable code."})
    message = fields.String(required=True, metadata={"description": "In the Accept-Language (zh-CN, en)."})
    details = fields.Dict(
        required=True,
        metadata={
            "description": "More about the refusal: `field` (the input it concerns) or `fields` "
            "(per-location, per-field messages for invalid input)."
        },
    )


class PageArgs(Schema):
    cursor = fields.String(
        validate=validate.Length(1, MAX_CURSOR),
        metadata={"description": "The `next_cursor` of the previous page; omit for the first page."},
    )
    limit = fields.Integer(load_default=20, validate=validate.Range(1, 100))


def page_of(item: type[Schema] | Schema, name: str) -> type[Schema]:
    """``{"items": [...], "next_cursor": str | null}`` for ``item``."""
    attrs: dict[str, Any] = {
        "items": fields.List(fields.Nested(item), required=True),
        "next_cursor": fields.String(
            required=True, allow_none=True, metadata={"description": "null on the last page."}
        ),
    }
    return Schema.from_dict(attrs, name=name)


class CommunityRefSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)


# Free text. Names and titles are one line with something visible; longer texts may hold
# tabs and line breaks. No other control characters (C0, DEL, C1): they are refused here
# with 422 instead of travelling on to the services (which refuse them too).
_LINE_CHARS = r"[^\x00-\x1f\x7f-\x9f]"
_TEXT_CHARS = r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"
_VISIBLE = r"[^\s\x00-\x1f\x7f-\x9f]"
LINE = f"^{_LINE_CHARS}*{_VISIBLE}{_LINE_CHARS}*$"
TEXT = f"^{_TEXT_CHARS}*{_VISIBLE}{_TEXT_CHARS}*$"
OPTIONAL_TEXT = f"^{_TEXT_CHARS}*$"


def Line(max_len: int, **kw: Any) -> fields.String:  # noqa: N802
    """A one-line name or title: 1..max_len characters, not blank."""
    return fields.String(validate=[validate.Length(1, max_len), validate.Regexp(LINE)], **kw)


def Text(max_len: int, *, optional: bool = False, **kw: Any) -> fields.String:  # noqa: N802
    """A paragraph (line breaks allowed); blank only when ``optional``."""
    if optional:
        return fields.String(validate=[validate.Length(0, max_len), validate.Regexp(OPTIONAL_TEXT)], **kw)
    return fields.String(validate=[validate.Length(1, max_len), validate.Regexp(TEXT)], **kw)
