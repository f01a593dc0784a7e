"""Small parsers shared by routing's views: query-string points and radii, in human errors."""

from __future__ import annotations

from flask import g, request

from routing.geo import validate_point
from siaga112.errors import ApiError

MAX_RADIUS_M = 100_000


def near_arg() -> tuple[tuple[float, float] | None, float | None]:
    """`?near=lat,lon&radius_m=N` as ((lat, lon), metres), or (None, None) when absent."""
    near = request.args.get("near")
    if not near:
        if request.args.get("radius_m"):
            raise ApiError(400, "invalid_near", "radius_m needs near=lat,lon.")
        return None, None
    try:
        lat, lon = near.split(",")
        point = validate_point(float(lat), float(lon))
    except ValueError as error:
        message = str(error) if "," in near and len(near.split(",")) == 2 else "near must be lat,lon in decimal degrees."
        raise ApiError(400, "invalid_near", message if message[0].isupper() else "near must be lat,lon in decimal degrees.") from None
    raw = request.args.get("radius_m", "1000")
    try:
        radius = float(raw)
    except ValueError:
        raise ApiError(400, "invalid_radius", "radius_m must be a number of metres.") from None
    if not 0 < radius <= MAX_RADIUS_M:
        raise ApiError(400, "invalid_radius", f"radius_m must be more than 0 and at most {MAX_RADIUS_M}.")
    return point, radius


def actor() -> str:
    principal = g.get("principal")
    return principal.name if principal is not None else "anonymous"
