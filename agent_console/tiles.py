"""The base map from a tile file the centre keeps: /tiles/{z}/{x}/{y} served from an MBTiles file.

A 112 floor must not depend on the internet for its map, so no tile comes from a CDN. MBTiles
is one SQLite file (tables `tiles` and `metadata`, rows in TMS order: y counted from the
south), which any MBTiles tool makes from OpenStreetMap data for a city. Raster tiles (PNG,
JPEG, WebP) are served as they are; vector tiles (`pbf`) would need a renderer the console does
not carry, so such a file is reported and not used.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading

from flask import Blueprint, Response, abort, url_for

from siaga112.auth import require
from siaga112.web import runtime

log = logging.getLogger(__name__)

bp = Blueprint("tiles", __name__)

CONTENT_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp"}
_local = threading.local()


class TileFile:
    """One MBTiles file opened read-only (one connection per thread: sqlite3 objects stay in theirs)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.metadata = dict(self._connection().execute("SELECT name, value FROM metadata").fetchall())
        fmt = (self.metadata.get("format") or "png").lower()
        if fmt not in CONTENT_TYPES:
            raise ValueError(f"{path} holds {fmt} tiles; only raster tiles (png, jpg, webp) can be shown")
        self.content_type = CONTENT_TYPES[fmt]

    def _connection(self) -> sqlite3.Connection:
        connections = getattr(_local, "connections", None)
        if connections is None:
            connections = _local.connections = {}
        if self.path not in connections:
            connections[self.path] = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=True)
        return connections[self.path]

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        """The tile at XYZ coordinates (as Leaflet asks), read from the TMS row."""
        if not (0 <= z <= 24 and 0 <= x < 2 ** z and 0 <= y < 2 ** z):
            return None
        row = self._connection().execute(
            "SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
            (z, x, (2 ** z - 1) - y)).fetchone()
        return bytes(row[0]) if row else None

    def zoom_range(self) -> tuple[int, int]:
        def number(name, default):
            try:
                return int(self.metadata.get(name, default))
            except (TypeError, ValueError):
                return default
        return number("minzoom", 0), number("maxzoom", 19)


_files: dict[str, TileFile | None] = {}
_lock = threading.Lock()


def tile_file() -> TileFile | None:
    """The configured MBTiles file, opened once; None when unset, missing or unusable (logged once)."""
    path = runtime().settings.mbtiles_path
    if not path:
        return None
    with _lock:
        if path not in _files:
            try:
                if not os.path.isfile(path):
                    raise ValueError(f"{path} does not exist")
                _files[path] = TileFile(path)
            except (ValueError, sqlite3.Error) as error:
                log.error("base map not shown: mbtiles_path %s", error)
                _files[path] = None
        return _files[path]


def tile_settings() -> dict:
    """What the page's map needs: the tile URL template and zoom range (empty URL: no base map)."""
    found = tile_file()
    if found is not None:
        low, high = found.zoom_range()
        return {"url": url_for("console.tiles.tile", z=0, x=0, y=0).replace("/0/0/0", "/{z}/{x}/{y}"),
                "min_zoom": low, "max_zoom": high}
    return {"url": runtime().settings.tile_url or "", "min_zoom": 0, "max_zoom": 19}


@bp.get("/tiles/<int:z>/<int:x>/<int:y>")
@require("incidents:read")
def tile(z: int, x: int, y: int):
    found = tile_file()
    data = found.tile(z, x, y) if found is not None else None
    if data is None:
        abort(404)
    response = Response(data, content_type=found.content_type)
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response
