"""Reward pictures: JPEG/PNG only (magic bytes, not the name or content type, then decoded
by Pillow), at most 2 MB and 40 megapixels, re-encoded without any metadata
(``portal.images``) and stored under a random name next to the hour photos
(``instance/uploads/``)."""
from __future__ import annotations

import secrets
from pathlib import Path

from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import FileStorage

from portal.errors import ServiceError
from portal.hours.uploads import MIMETYPES, sniff, upload_dir
from portal.images import ImageRejected, sanitize

MAX_BYTES = 2 * 1024 * 1024
__all__ = ["MAX_BYTES", "MIMETYPES", "picture_file", "save_picture"]


def save_picture(file: FileStorage | None) -> str | None:
    """Validate and store; returns the stored name, or None when no file was sent."""
    if file is None or not file.filename:
        return None
    data = file.stream.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ServiceError(_l("The picture is too large (at most 2 MB)."), code="picture_too_large", field="picture")
    ext = sniff(data)
    if ext is None or len(data) < 32:
        raise ServiceError(_l("The picture must be a JPEG or PNG image."), code="picture_type", field="picture")
    try:
        data, ext = sanitize(data)
    except ImageRejected as exc:
        if exc.reason == "pixels":
            raise ServiceError(_l("The picture has too many pixels (at most 40 megapixels)."),
                               code="picture_too_many_pixels", field="picture") from None
        raise ServiceError(_l("The picture must be a JPEG or PNG image."), code="picture_type",
                           field="picture") from None
    name = "reward-" + secrets.token_hex(16) + ext
    (upload_dir() / name).write_bytes(data)
    return name


def picture_file(name: str | None) -> Path | None:
    if not name or "/" in name or "\\" in name or name.startswith("."):
        return None
    path = upload_dir() / name
    return path if path.is_file() else None
