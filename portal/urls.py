"""Where a ``next`` parameter may send someone: only a path on this site.

One function for every redirect that takes a target from the request (log-in GET and
POST, the language and large-text switches). The value is parsed, not pattern-matched:
browsers drop tabs and newlines and treat ``\\`` like ``/``, so ``/%09/evil.com`` becomes
``//evil.com`` — any control character, backslash, scheme or host refuses the target,
also after one round of percent-decoding.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit, urlunsplit

from flask import url_for

MAX_NEXT_LENGTH = 2048


def _clean(text: str) -> bool:
    return not any(ord(c) < 0x21 or ord(c) == 0x7F or c == "\\" for c in text)


def safe_path(target: str | None) -> str | None:
    """``target`` as a same-site path (path + query), or None when it is anything else."""
    if not target or len(target) > MAX_NEXT_LENGTH or not isinstance(target, str):
        return None
    decoded = unquote(target)
    if not _clean(target) or not _clean(decoded):
        return None
    try:
        parts = urlsplit(target)
    except ValueError:
        return None
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return None
    for path in (parts.path, decoded):
        if path.startswith("//"):
            return None
    return urlunsplit(("", "", parts.path, parts.query, ""))


def safe_next(target: str | None) -> str:
    """The same-site path in ``target``, or the home page."""
    return safe_path(target) or url_for("main.index")
