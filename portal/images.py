"""Uploaded pictures (hour photos, reward pictures): decode with Pillow and re-encode.

A file is accepted only when Pillow decodes it completely as a real JPEG or PNG of at most
``MAX_PIXELS`` pixels. The stored file is never the uploaded bytes: the EXIF orientation is
applied to the pixels, the picture is scaled down to ``MAX_SIDE`` on its long side and
written afresh — JPEG (quality 85) without EXIF/ICC/comments, PNG (optimized) without text
chunks — so no metadata (GPS location, camera, timestamps) is ever kept (PIPL data
minimisation). Only the PNG transparency survives, because it is part of the picture.
"""

from __future__ import annotations

import io

from PIL import Image, ImageOps

MAX_PIXELS = 40_000_000
MAX_SIDE = 1600
JPEG_QUALITY = 85
_EXT = {"JPEG": ".jpg", "MPO": ".jpg", "PNG": ".png"}  # MPO: the multi-picture JPEG of many phones
_PNG_MODES = {"1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"}

# Defensive, process-wide: Pillow refuses (DecompressionBombError) anything above twice this
# even where this module's explicit check is not used.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


class ImageRejected(Exception):
    """The upload is not an acceptable picture; ``reason`` is ``"type"`` or ``"pixels"``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _open(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data), formats=["JPEG", "PNG"])
    if im.format not in _EXT:
        raise ImageRejected("type")
    if im.width * im.height > MAX_PIXELS:  # checked on the header, before any decoding
        raise ImageRejected("pixels")
    return im


def sanitize(data: bytes) -> tuple[bytes, str]:
    """Decode ``data``, return the re-encoded picture and its extension (``.jpg``/``.png``).

    Raises ``ImageRejected`` when it is not a complete JPEG/PNG or has too many pixels."""
    try:
        with _open(data) as probe:
            probe.verify()  # structure and checksums (PNG CRCs); the object is unusable after
        im = _open(data)
        im.load()  # decode every pixel: truncated or garbage data fails here
        fmt = im.format
        im = ImageOps.exif_transpose(im)  # the orientation becomes the pixels' own
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected("pixels") from None
    except Exception:  # noqa: BLE001 -- untrusted input: Pillow raises OSError, SyntaxError, struct.error, ...
        raise ImageRejected("type") from None
    ext = _EXT[fmt]
    im.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    if ext == ".jpg":
        if im.mode not in ("L", "RGB"):
            im = im.convert("RGB")
        im.info = {}  # no comment / ICC / EXIF falls back from the source
        im.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, exif=b"", icc_profile=None)
    else:
        if im.mode not in _PNG_MODES:
            im = im.convert("RGBA")
        keep = {"transparency": im.info["transparency"]} if "transparency" in im.info else {}
        im.info = keep  # no tEXt/iTXt/zTXt, eXIf, iCCP, dates
        im.save(out, "PNG", optimize=True, **keep)
    return out.getvalue(), ext
