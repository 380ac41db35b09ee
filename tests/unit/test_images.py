"""portal.images: only complete JPEG/PNG pictures pass, re-encoded without metadata,
orientation applied, downscaled, pixel bombs refused."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from portal import images
from tests.image_samples import FAKE_JPEG, assert_clean, huge_png, phone_jpeg, png


def test_jpeg_loses_exif_gps_and_keeps_its_orientation():
    data, ext = images.sanitize(phone_jpeg((40, 20), orientation=6))
    assert ext == ".jpg"
    im = assert_clean(data, "JPEG")
    assert im.size == (20, 40)  # rotated 90° clockwise: the red left half is now on top
    assert im.getpixel((10, 5))[0] > 200 and im.getpixel((10, 35))[2] > 200


def test_png_loses_text_chunks_and_keeps_transparency():
    out = io.BytesIO()
    Image.new("RGBA", (10, 10), (0, 255, 0, 0)).save(out, "PNG")
    data, ext = images.sanitize(out.getvalue())
    assert ext == ".png" and assert_clean(data, "PNG").getpixel((1, 1))[3] == 0
    data, ext = images.sanitize(png())
    assert ext == ".png" and assert_clean(data, "PNG").size == (16, 8)


def test_large_pictures_are_scaled_down_to_the_long_side():
    data, _ = images.sanitize(png((3200, 1000), text=None))
    assert Image.open(io.BytesIO(data)).size == (images.MAX_SIDE, 500)


@pytest.mark.parametrize(
    "data",
    [
        FAKE_JPEG,
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,
        phone_jpeg()[:200],  # truncated: the header is fine, the pixels are missing
        b"GIF89a" + b"\x00" * 64,
    ],
)
def test_what_is_not_a_complete_jpeg_or_png_is_refused(data):
    with pytest.raises(images.ImageRejected) as exc:
        images.sanitize(data)
    assert exc.value.reason == "type"


def test_too_many_pixels_are_refused_before_decoding():
    with pytest.raises(images.ImageRejected) as exc:
        images.sanitize(huge_png())
    assert exc.value.reason == "pixels"
    assert Image.MAX_IMAGE_PIXELS == images.MAX_PIXELS
