"""Photos from a caller's phone: proven to be images by Pillow, read for an EXIF position, re-encoded bare.

What arrives is untrusted bytes. It is an image only if Pillow can verify and decode it as
JPEG, PNG or WebP within a pixel limit (a small file that unpacks to gigapixels is refused
before it is decoded). The copy anybody sees is re-encoded from the pixels alone, so no EXIF
(the phone's position, its serial number, the owner's name) reaches a screen. The position in
the EXIF GPS block is read, and used when the browser gave none.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

ALLOWED_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
MAX_PIXELS = 40_000_000  # a 40-megapixel camera is as far as a phone goes
VIEW_MAX_SIDE = 2048  # the copy people see is never larger than this
VIEW_QUALITY = 85
EXIF_MAX_BYTES = 64 * 1024  # an APP1 segment is at most 64 KiB
GPS_IFD = 0x8825


class NotAnImage(ValueError):
    """The upload is not a photo we accept; the sentence says why."""


@dataclass
class Photo:
    content_type: str
    width: int
    height: int
    view_jpeg: bytes  # re-encoded, without metadata
    gps: tuple[float, float, float | None] | None  # (lat, lon, accuracy_m) from EXIF, if any


def read_photo(data: bytes, exif_segment: bytes | None = None) -> Photo:
    """Check, strip and measure one uploaded photo (raises NotAnImage)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not data:
        raise NotAnImage("The upload is empty.")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            kind = probe.format
            width, height = probe.size
            if kind not in ALLOWED_FORMATS:
                raise NotAnImage("Only JPEG, PNG and WebP photos are accepted.")
            if width * height > MAX_PIXELS or width <= 0 or height <= 0:
                raise NotAnImage(f"A photo of {width}x{height} pixels is too large.")
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            gps = gps_position(image.getexif())
            upright = ImageOps.exif_transpose(image)
            pixels = upright.convert("RGB")
    except NotAnImage:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise NotAnImage("The upload is not a photo we can read.") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise NotAnImage(f"The photo is damaged ({type(error).__name__}).") from None
    if gps is None and exif_segment:
        gps = gps_from_segment(exif_segment)
    pixels.thumbnail((VIEW_MAX_SIDE, VIEW_MAX_SIDE))
    out = io.BytesIO()
    pixels.save(out, "JPEG", quality=VIEW_QUALITY, optimize=True)  # no exif= given: none is written
    return Photo(ALLOWED_FORMATS[kind], pixels.width, pixels.height, out.getvalue(), gps)


def gps_from_segment(segment: bytes) -> tuple[float, float, float | None] | None:
    """The position in a raw EXIF block the page cut from the original file before resizing it."""
    from PIL import Image

    if len(segment) > EXIF_MAX_BYTES:
        return None
    if segment.startswith(b"Exif\x00\x00"):
        segment = segment[6:]
    if segment[:4] not in (b"II*\x00", b"MM\x00*"):
        return None
    exif = Image.Exif()
    try:
        exif.load(segment)
        return gps_position(exif)
    except Exception:  # noqa: BLE001 - a broken EXIF block just gives no position
        return None


def gps_position(exif) -> tuple[float, float, float | None] | None:
    """(lat, lon, accuracy_m) from an EXIF GPS IFD, or None when it has no usable position."""
    from routing.geo import validate_point

    try:
        gps = exif.get_ifd(GPS_IFD)
    except Exception:  # noqa: BLE001
        return None
    if not gps or 2 not in gps or 4 not in gps:
        return None
    try:
        lat = _degrees(gps[2]) * (-1 if str(gps.get(1, "N")).upper().startswith("S") else 1)
        lon = _degrees(gps[4]) * (-1 if str(gps.get(3, "E")).upper().startswith("W") else 1)
        lat, lon = validate_point(lat, lon)
    except (TypeError, ValueError, ZeroDivisionError, IndexError):
        return None
    accuracy = None
    error = gps.get(31)  # GPSHPositioningError, in metres
    try:
        if error is not None and math.isfinite(float(error)) and 0 <= float(error) < 100_000:
            accuracy = float(error)
    except (TypeError, ValueError, ZeroDivisionError):
        accuracy = None
    return lat, lon, accuracy


def _degrees(value) -> float:
    degrees, minutes, seconds = (float(part) for part in value)
    result = degrees + minutes / 60 + seconds / 3600
    if not math.isfinite(result):
        raise ValueError("not a finite angle")
    return result
