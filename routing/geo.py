"""Coordinates: validation in human words, great-circle distance, and unit vectors for the KD-tree.

Every place that accepts a position from outside (callers, apps, units, panels) validates it
here, so a NaN, a swapped pair or the (0, 0) "null island" of a phone without a fix is refused
with one sentence the console can show as is.
"""

from __future__ import annotations

import math

import numpy as np

from siaga112.i18n import Problem

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG); great-circle distances use it


class BadPoint(Problem):
    """A position that is not one: its English sentence, and `notice`, the same as a stored message."""


def validate_point(lat, lon) -> tuple[float, float]:
    """Return (lat, lon) as floats, or raise BadPoint (a ValueError) with a sentence a person can act on."""
    try:
        lat_f = float(lat)
        lon_f = float(lon)
    except (TypeError, ValueError):
        raise BadPoint("Latitude and longitude must be numbers in decimal degrees.", "position.not_numbers") from None
    if isinstance(lat, bool) or isinstance(lon, bool):
        raise BadPoint("Latitude and longitude must be numbers in decimal degrees.", "position.not_numbers")
    if not (math.isfinite(lat_f) and math.isfinite(lon_f)):
        raise BadPoint("Latitude and longitude must be finite numbers, not NaN or infinity.", "position.not_finite")
    if not -90.0 <= lat_f <= 90.0:
        raise BadPoint(f"Latitude {lat_f:g} is out of range; it must be between -90 and 90.",
                       "position.lat_range", value=f"{lat_f:g}")
    if not -180.0 <= lon_f <= 180.0:
        raise BadPoint(f"Longitude {lon_f:g} is out of range; it must be between -180 and 180.",
                       "position.lon_range", value=f"{lon_f:g}")
    if lat_f == 0.0 and lon_f == 0.0:
        raise BadPoint("The position 0, 0 is the default of a device without a fix, not a real location.",
                       "position.null_island")
    return lat_f, lon_f


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two points."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def sphere_point(lat: float, lon: float) -> tuple[float, float, float]:
    """What `haversine_m_from` needs of a point, worked out once: (latitude and its cosine, longitude), radians."""
    phi = math.radians(lat)
    return phi, math.cos(phi), math.radians(lon)


# A decision measures from one point several times (units of each agency, hospitals,
# cameras): the last origin's radians and cosine are kept for the next call.
_last_origin: tuple = ((None, None), None)


def haversine_m_from(lat: float, lon: float, points) -> list[float]:
    """Great-circle metres from one point to each of `points`: tuples that begin with a
    `sphere_point` (anything may follow, e.g. a name to rank by).

    The same formula as `haversine_m`, with each point's radians and cosine made once, when
    the point was loaded, instead of in every decision.
    """
    global _last_origin
    key, origin = _last_origin  # one tuple, read at once: safe with other threads deciding
    if key != (lat, lon):
        origin = sphere_point(lat, lon)
        _last_origin = ((lat, lon), origin)
    p1, c1, l1 = origin
    sin, sqrt, asin, diameter = math.sin, math.sqrt, math.asin, 2 * EARTH_RADIUS_M
    distances = []
    append = distances.append
    for point in points:
        # The haversine terms in `haversine_m`'s order; these same operations give the
        # metres both the indexed and the linear path rank by.
        root = sqrt(sin((point[0] - p1) / 2) ** 2 + c1 * point[1] * sin((point[2] - l1) / 2) ** 2)
        append(diameter * asin(root if root < 1.0 else 1.0))
    return distances


def tenths(metres: float) -> float:
    """A non-negative distance to 0.1 m, as results show it (half up; a fifth of `round(x, 1)`'s cost)."""
    return int(metres * 10 + 0.5) / 10


def haversine_m_many(lat: float, lon: float, lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
    """Great-circle distances in metres from one point to many (the linear-scan baseline)."""
    p1 = math.radians(lat)
    p2 = np.radians(lats)
    dp = p2 - p1
    dl = np.radians(lons - lon)
    a = np.sin(dp / 2) ** 2 + math.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(a)))


def unit_vectors(lats, lons) -> np.ndarray:
    """Points on the unit sphere: straight-line (chord) order there equals great-circle order."""
    la = np.radians(np.asarray(lats, dtype=float))
    lo = np.radians(np.asarray(lons, dtype=float))
    cos_la = np.cos(la)
    return np.column_stack((cos_la * np.cos(lo), cos_la * np.sin(lo), np.sin(la)))


def unit_vector(lat: float, lon: float) -> tuple[float, float, float]:
    """One point on the unit sphere (the per-decision fast path of `unit_vectors`), as plain
    floats: a decision does a little arithmetic with it, where numpy scalars cost more."""
    la, lo = math.radians(lat), math.radians(lon)
    cos_la = math.cos(la)
    return cos_la * math.cos(lo), cos_la * math.sin(lo), math.sin(la)


def chord_to_m(chord) -> np.ndarray:
    """Turn chord lengths on the unit sphere into great-circle metres."""
    chord = np.minimum(np.asarray(chord, dtype=float), 2.0)
    return 2 * EARTH_RADIUS_M * np.arcsin(chord / 2)


def m_to_chord(metres: float) -> float:
    """The chord on the unit sphere that spans `metres` of great circle (for radius queries)."""
    angle = min(math.pi, metres / EARTH_RADIUS_M)
    return 2 * math.sin(angle / 2)
