"""Fixtures of the location-link tests: a Twilio recorder, a public address, calls, photos, a phone."""

from __future__ import annotations

import io
import re

import pytest

from tests.support.twilio_recorder import twilio_recorder  # noqa: F401  (fixture)

PUBLIC = "https://112.example.go.id"
CALLER = "+6281234567890"
LINK = re.compile(r"https://112\.example\.go\.id/l/([A-Za-z0-9_-]+)")


@pytest.fixture
def link_settings(runtime, twilio_recorder):  # noqa: F811
    runtime.settings.public_base_url = PUBLIC
    return runtime.settings


def token_of(url: str) -> str:
    return LINK.search(url).group(1)


def phone_post(client, token: str, path: str, **kwargs):
    """A request the caller's page makes (it always sends its marker header)."""
    headers = {"X-Siaga-Link": "1", **kwargs.pop("headers", {})}
    return client.post(f"/l/{token}{path}", headers=headers, **kwargs)


def jpeg(size=(640, 480), color=(200, 30, 30), gps: tuple[float, float] | None = None,
         extra_exif: bool = True) -> bytes:
    """A JPEG made by Pillow, with an EXIF GPS block (and a camera owner) when asked."""
    from PIL import Image

    image = Image.new("RGB", size, color)
    exif = Image.Exif()
    if extra_exif:
        exif[0x013B] = "Owner Name"  # Artist
    if gps is not None:
        lat, lon = gps
        exif.get_ifd(0x8825).update({
            1: "S" if lat < 0 else "N", 2: _dms(abs(lat)), 3: "W" if lon < 0 else "E", 4: _dms(abs(lon)),
        })
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def _dms(value: float):
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round(((value - degrees) * 60 - minutes) * 60, 4)
    return (float(degrees), float(minutes), float(seconds))
