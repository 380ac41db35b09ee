"""Reward pictures: JPEG/PNG only (magic bytes, not the name or content type, then decoded
by Pillow), at most 2 MB and 40 megapixels, re-encoded without any metadata
(``portal.images``) and stored under a random name next to the hour photos
(``instance/uploads/``)."""

from __future__ import annotations

from pathlib import Path

from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import FileStorage

from portal.uploads import MIMETYPES, store_image, stored_file

MAX_BYTES = 2 * 1024 * 1024
__all__ = ["MAX_BYTES", "MIMETYPES", "picture_file", "save_picture"]


def save_picture(file: FileStorage | None) -> str | None:
    """Validate and store; returns the stored name, or None when no file was sent."""
    return store_image(
        file,
        field="picture",
        max_bytes=MAX_BYTES,
        prefix="reward-",
        too_large=_l("The picture is too large (at most 2 MB)."),
        wrong_type=_l("The picture must be a JPEG or PNG image."),
        too_many_pixels=_l("The picture has too many pixels (at most 40 megapixels)."),
    )


def picture_file(name: str | None) -> Path | None:
    return stored_file(name)
