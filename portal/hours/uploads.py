"""Photo uploads for hour reports: JPEG/PNG only (checked by magic bytes, not by the name
or the browser's content type, then decoded by Pillow), at most 5 MB and 40 megapixels,
re-encoded without any metadata (``portal.images``: no EXIF/GPS) and stored under a random
name in ``instance/uploads/`` (or ``UPLOAD_FOLDER``). Served only through a view that
checks who may see it."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import FileStorage

from portal.errors import ServiceError
from portal.images import ImageRejected, sanitize

MAX_BYTES = 5 * 1024 * 1024
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


def save_photo(file: FileStorage | None) -> str | None:
    """Validate and store; returns the stored name (random) or None when no file was sent."""
    if file is None or not file.filename:
        return None
    data = file.stream.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ServiceError(_l("The photo is too large (at most 5 MB)."), code="photo_too_large", field="photo")
    ext = sniff(data)
    if ext is None or len(data) < 32:
        raise ServiceError(_l("The photo must be a JPEG or PNG picture."), code="photo_type", field="photo")
    try:
        data, ext = sanitize(data)
    except ImageRejected as exc:
        if exc.reason == "pixels":
            raise ServiceError(_l("The photo has too many pixels (at most 40 megapixels)."),
                               code="photo_too_many_pixels", field="photo") from None
        raise ServiceError(_l("The photo must be a JPEG or PNG picture."), code="photo_type", field="photo") from None
    name = secrets.token_hex(16) + ext
    (upload_dir() / name).write_bytes(data)
    return name


def photo_file(name: str) -> Path | None:
    if not name or "/" in name or "\\" in name or name.startswith("."):
        return None
    path = upload_dir() / name
    return path if path.is_file() else None
