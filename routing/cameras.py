"""CCTV cameras: where they are and where to watch them, so the console can open the nearest ones."""

from __future__ import annotations

from urllib.parse import urlparse

from sqlalchemy import select
from sqlalchemy.orm import Session

from routing.geo import haversine_m, validate_point
from siaga112.models import Camera

URL_SCHEMES = ("http", "https", "rtsp", "rtsps")


class CameraProblem(ValueError):
    """A camera that cannot be registered; the message says why."""


def _url(value, name: str) -> str | None:
    if value in (None, ""):
        return None
    parsed = urlparse(str(value))
    if parsed.scheme not in URL_SCHEMES or not parsed.netloc:
        raise CameraProblem(f"{name} must be an {', '.join(URL_SCHEMES)} address, not {value!r}.")
    return str(value)


def add_camera(session: Session, name: str, lat, lon, *, stream_url=None, snapshot_url=None) -> Camera:
    """Register a camera, or update the one with the same name (imports can be re-run)."""
    name = (name or "").strip()
    if not name:
        raise CameraProblem("A camera needs a name.")
    try:
        lat, lon = validate_point(lat, lon)
    except ValueError as error:
        raise CameraProblem(str(error)) from None
    stream, snapshot = _url(stream_url, "stream_url"), _url(snapshot_url, "snapshot_url")
    if stream is None and snapshot is None:
        raise CameraProblem("Give a stream URL or a snapshot URL, or both.")
    camera = session.scalar(select(Camera).where(Camera.name == name))
    if camera is None:
        camera = Camera(name=name)
        session.add(camera)
    camera.lat, camera.lon, camera.stream_url, camera.snapshot_url = lat, lon, stream, snapshot
    session.flush()
    return camera


def camera_to_dict(camera: Camera, distance_m: float | None = None) -> dict:
    data = {"id": camera.id, "name": camera.name, "lat": camera.lat, "lon": camera.lon,
            "stream_url": camera.stream_url, "snapshot_url": camera.snapshot_url}
    if distance_m is not None:
        data["distance_m"] = round(distance_m, 1)
    return data


def list_cameras(session: Session, near: tuple[float, float] | None = None, radius_m: float | None = None) -> list[dict]:
    """Every camera by name, or those within radius_m of a point, nearest first."""
    cameras = list(session.scalars(select(Camera).order_by(Camera.name)))
    if near is None:
        return [camera_to_dict(c) for c in cameras]
    ranked = sorted(((haversine_m(near[0], near[1], c.lat, c.lon), c) for c in cameras), key=lambda p: (p[0], p[1].name))
    return [camera_to_dict(c, d) for d, c in ranked if radius_m is None or d <= radius_m]
