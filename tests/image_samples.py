"""Real little pictures for upload tests (Pillow): a phone-style JPEG with EXIF GPS and an
orientation tag, a PNG with a text chunk, a fake JPEG (magic bytes, then garbage) and a PNG
with more pixels than ``portal.images.MAX_PIXELS``."""

from __future__ import annotations

import io

from PIL import ExifTags, Image, PngImagePlugin

FAKE_JPEG = b"\xff\xd8\xff\xe0" + b"not a picture at all, just bytes " * 4


def png(size: tuple[int, int] = (16, 8), mode: str = "RGB", text: str | None = "secret note") -> bytes:
    out = io.BytesIO()
    info = PngImagePlugin.PngInfo()
    if text:
        info.add_text("Comment", text)
    Image.new(mode, size, "red" if mode != "1" else 1).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def phone_jpeg(size: tuple[int, int] = (40, 20), orientation: int = 6) -> bytes:
    """A JPEG like a phone's: EXIF with GPS (Beijing) and Orientation (6 = rotate 90° CW),
    a comment and left half red, right half blue (to see the rotation)."""
    im = Image.new("RGB", size, "blue")
    im.paste("red", (0, 0, size[0] // 2, size[1]))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "PhoneMaker"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (39.0, 54.0, 27.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (116.0, 23.0, 17.0)
    out = io.BytesIO()
    im.save(out, "JPEG", exif=exif.tobytes(), comment=b"taken at home")
    data = out.getvalue()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the sample has GPS
    return data


def huge_png() -> bytes:
    """48 megapixels (above the 40 MP limit) yet a few KB: a one-bit blank PNG."""
    return png((8000, 6000), mode="1", text=None)


def assert_clean(data: bytes, fmt: str) -> Image.Image:
    """``data`` is a complete picture of ``fmt`` with no EXIF, ICC, comment or text chunk."""
    im = Image.open(io.BytesIO(data))
    assert im.format == fmt
    im.load()
    assert not im.getexif() and b"Exif" not in data and b"GPS" not in data
    assert not {"exif", "icc_profile", "comment", "Comment"} & set(im.info)
    assert b"secret note" not in data and b"taken at home" not in data and b"PhoneMaker" not in data
    return im
