"""Photo uploads for hour reports: JPEG/PNG only (checked by magic bytes, not by the name
or the browser's content type, then decoded by Pillow), at most 5 MB and 40 megapixels,
re-encoded without any metadata (``portal.images``: no EXIF/GPS) and stored under a random
name in ``instance/uploads/`` (or ``UPLOAD_FOLDER``). Served only through a view that
checks who may see it."""

from __future__ import annotations

from pathlib import Path

from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import FileStorage

from portal.uploads import MIMETYPES, store_image, stored_file

__all__ = ["MAX_BYTES", "MIMETYPES", "photo_file", "save_photo"]

MAX_BYTES = 5 * 1024 * 1024


def save_photo(file: FileStorage | None) -> str | None:
    """Validate and store; returns the stored name (random) or None when no file was sent."""
    return store_image(
        file,
        field="photo",
        max_bytes=MAX_BYTES,
        prefix="",
        too_large=_l("The photo is too large (at most 5 MB)."),
        wrong_type=_l("The photo must be a JPEG or PNG picture."),
        too_many_pixels=_l("The photo has too many pixels (at most 40 megapixels)."),
    )


def photo_file(name: str) -> Path | None:
    return stored_file(name)
