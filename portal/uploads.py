"""Storing uploaded images (hour photos, reward pictures): JPEG/PNG only, checked by magic
bytes (not by the name or the browser's content type), then decoded and re-encoded by
Pillow without any metadata (``portal.images``: no EXIF/GPS), stored under a random name in
``instance/uploads/`` (or ``UPLOAD_FOLDER``) and served only through views that check who
may see them."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import current_app
from werkzeug.datastructures import FileStorage

from portal.errors import ServiceError
from portal.images import ImageRejected, sanitize

_MAGIC = {b"\xff\xd8\xff": ".jpg", b"\x89PNG\r\n\x1a\n": ".png"}
MIMETYPES = {".jpg": "image/jpeg", ".png": "image/png"}


def upload_dir() -> Path:
    folder = current_app.config.get("UPLOAD_FOLDER") or os.path.join(current_app.instance_path, "uploads")
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    return path


def sniff(data: bytes) -> str | None:
    for magic, ext in _MAGIC.items():
        if data.startswith(magic):
            return ext
    return None


def store_image(
    file: FileStorage | None,
    *,
    field: str,
    max_bytes: int,
    prefix: str,
    too_large: Any,
    wrong_type: Any,
    too_many_pixels: Any,
) -> str | None:
    """Validate, re-encode and store one uploaded image (shared by hour photos and reward
    pictures); returns the stored random name, or None when no file was sent. Refusals are
    ServiceErrors with codes ``<field>_too_large``, ``<field>_type``, ``<field>_too_many_pixels``."""
    if file is None or not file.filename:
        return None
    data = file.stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ServiceError(too_large, code=f"{field}_too_large", field=field)
    ext = sniff(data)
    if ext is None or len(data) < 32:
        raise ServiceError(wrong_type, code=f"{field}_type", field=field)
    try:
        data, ext = sanitize(data)
    except ImageRejected as exc:
        if exc.reason == "pixels":
            raise ServiceError(too_many_pixels, code=f"{field}_too_many_pixels", field=field) from None
        raise ServiceError(wrong_type, code=f"{field}_type", field=field) from None
    _spend_upload_budget(field)
    name = prefix + secrets.token_hex(16) + ext
    path = upload_dir() / name
    path.write_bytes(data)
    # The file lives only if the request that brought it commits (issue 9 #9).
    from portal.extensions import db

    db.on_rollback(lambda: path.unlink(missing_ok=True))
    return name


def _spend_upload_budget(field: str) -> None:
    """Per-user upload budget (``UPLOAD_LIMIT_PER_USER``): every stored image counts,
    whether or not its request succeeds."""
    from flask_babel import lazy_gettext as _l
    from flask_login import current_user
    from limits import parse

    from portal.extensions import limiter

    if not (limiter.enabled and limiter.initialized) or not getattr(current_user, "is_authenticated", False):
        return
    limit = parse(str(current_app.config.get("UPLOAD_LIMIT_PER_USER", "30 per hour")))
    if not limiter.limiter.hit(limit, "upload", str(current_user.id)):
        raise ServiceError(
            _l("You have uploaded many pictures in a short time. Please wait a while and try again."),
            code="upload_throttled",
            field=field,
            status=429,
        )


def stored_file(name: str | None) -> Path | None:
    """The stored upload called ``name`` (a bare random name, never a path), if it exists."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        return None
    path = upload_dir() / name
    return path if path.is_file() else None
