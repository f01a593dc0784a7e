"""Places: importing boundaries and points of interest from GeoJSON, and finding them fast.

Jurisdictions (kecamatan, kelurahan) come from real boundary files; each kecamatan carries its
police sector (Polsek). Lookups use prepared polygons found through an STRtree (asked once per
grid cell at load), because a decision is made for every call and alarm. Points (hospitals,
cameras) are found through a grid whose cells each list the few places that can be nearest
anywhere in them (worked out once at load with a KD-tree on unit vectors), then ranked exactly.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import shapely
from scipy.spatial import cKDTree
from shapely.geometry import shape
from shapely.ops import nearest_points
from sqlalchemy import select
from sqlalchemy.orm import Session

from routing.geo import (EARTH_RADIUS_M, chord_to_m, haversine_m, haversine_m_from, haversine_m_many, m_to_chord,
                         sphere_point, tenths, unit_vector, unit_vectors, validate_point)
from routing.unit_index import TIE_CHORD, TIE_M, nearest_positions, with_ties
from siaga112.models import Camera, Jurisdiction, PointOfInterest

LEVELS = ("kota", "kecamatan", "kelurahan")
POI_KINDS = ("police_station", "hospital", "puskesmas", "fire_station", "disaster_office", "other")
# Words found in the wild for the kinds above (OSM amenity values, Indonesian names).
POI_KIND_WORDS = {
    "police": "police_station", "polsek": "police_station", "polres": "police_station",
    "polresta": "police_station", "hospital": "hospital", "rumah_sakit": "hospital", "rs": "hospital",
    "rsud": "hospital", "clinic": "puskesmas", "fire_station": "fire_station", "damkar": "fire_station",
    "bpbd": "disaster_office",
}


class ImportProblem(ValueError):
    """A GeoJSON file that cannot be imported; the message names the feature and the reason."""


# --- Import ---------------------------------------------------------------------------------

def _features(path: Path) -> list[dict]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise ImportProblem(f"{path} cannot be read: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise ImportProblem(f"{path} is not JSON (line {error.lineno}).") from None
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection" or not isinstance(data.get("features"), list):
        raise ImportProblem(f"{path} is not a GeoJSON FeatureCollection.")
    return data["features"]


def _first(props: dict, *names: str):
    for name in names:
        value = props.get(name)
        if value not in (None, ""):
            return value
    return None


def _polygon(feature: dict, where: str):
    geometry = feature.get("geometry") or {}
    if geometry.get("type") not in ("Polygon", "MultiPolygon"):
        raise ImportProblem(f"{where}: a boundary must be a Polygon or MultiPolygon, not {geometry.get('type')!r}.")
    try:
        geom = shape(geometry)
    except (ValueError, TypeError, AttributeError, IndexError):
        raise ImportProblem(f"{where}: the geometry is malformed.") from None
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise ImportProblem(f"{where}: coordinates are out of range (GeoJSON wants [longitude, latitude]).")
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    if geom.is_empty or geom.area == 0:
        raise ImportProblem(f"{where}: the polygon is empty.")
    return geom


def import_boundaries(session: Session, path: str | Path, level: str) -> dict[str, int]:
    """Load kecamatan or kelurahan polygons; a second import of the same codes updates them."""
    if level not in LEVELS:
        raise ImportProblem(f"level must be one of {', '.join(LEVELS)}, not {level!r}.")
    rows = []
    for index, feature in enumerate(_features(Path(path))):
        props = feature.get("properties") or {}
        code = _first(props, "kode", "code", "id", f"kode_{level}")
        name = _first(props, "nama", "name", f"nama_{level}")
        where = f"feature {index + 1} ({name or code or 'unnamed'})"
        if code is None or name is None:
            raise ImportProblem(f"{where}: needs a code (kode) and a name (nama) property.")
        geom = _polygon(feature, where)
        if level == "kelurahan":
            parent_code = _first(props, "kode_kecamatan", "parent_code")
            parent_name = _first(props, "nama_kecamatan", "kecamatan")
            sector = _first(props, "police_sector", "polsek") or (f"Polsek {parent_name}" if parent_name else None)
        elif level == "kecamatan":
            parent_code = _first(props, "kode_kota", "parent_code")
            parent_name = _first(props, "nama_kota", "kota")
            sector = _first(props, "police_sector", "polsek") or f"Polsek {name}"
        else:
            parent_code = _first(props, "kode_provinsi", "parent_code")
            parent_name = _first(props, "nama_provinsi", "provinsi")
            sector = _first(props, "police_sector", "polres")
        centroid = geom.representative_point() if not geom.contains(geom.centroid) else geom.centroid
        rows.append(dict(level=level, code=str(code), name=str(name), parent_code=parent_code and str(parent_code),
                         parent_name=parent_name and str(parent_name), police_sector=sector,
                         geometry=shapely.geometry.mapping(geom), centroid_lat=centroid.y, centroid_lon=centroid.x))
    if not rows:
        raise ImportProblem(f"{path} has no features.")
    existing = {j.code: j for j in session.scalars(select(Jurisdiction).where(Jurisdiction.code.in_([r["code"] for r in rows])))}
    created = updated = 0
    for row in rows:
        current = existing.get(row["code"])
        if current is None:
            session.add(Jurisdiction(**row))
            created += 1
        else:
            for key, value in row.items():
                setattr(current, key, _json_ready(value))
            updated += 1
    session.flush()
    return {"created": created, "updated": updated}


def _json_ready(value):
    """GeoJSON mappings from shapely hold tuples; JSON columns compare and store lists."""
    return json.loads(json.dumps(value)) if isinstance(value, dict) else value


def _poi_kind(raw) -> str | None:
    if raw is None:
        return None
    key = str(raw).strip().lower().replace(" ", "_").replace("-", "_")
    if key in POI_KINDS:
        return key
    return POI_KIND_WORDS.get(key)


def import_pois(session: Session, path: str | Path) -> dict[str, int]:
    """Load police stations, hospitals and puskesmas, fire stations (Point features, kind/name/agency)."""
    rows = []
    for index, feature in enumerate(_features(Path(path))):
        props = feature.get("properties") or {}
        name = _first(props, "name", "nama")
        where = f"feature {index + 1} ({name or 'unnamed'})"
        geometry = feature.get("geometry") or {}
        if geometry.get("type") != "Point":
            raise ImportProblem(f"{where}: a point of interest must be a Point.")
        coordinates = geometry.get("coordinates") or []
        if len(coordinates) < 2:
            raise ImportProblem(f"{where}: the point has no coordinates.")
        try:
            lat, lon = validate_point(coordinates[1], coordinates[0])
        except ValueError as error:
            raise ImportProblem(f"{where}: {error}") from None
        kind = _poi_kind(_first(props, "kind", "amenity", "type"))
        if kind is None:
            raise ImportProblem(f"{where}: kind must be one of {', '.join(POI_KINDS)}.")
        if name is None:
            raise ImportProblem(f"{where}: needs a name.")
        key = str(_first(props, "id", "kode", "code") or f"{kind}:{name}")
        extra = {k: v for k, v in props.items() if k not in {"kind", "name", "nama", "agency"}}
        rows.append(dict(kind=kind, name=str(name), lat=lat, lon=lon, agency_code=_first(props, "agency"),
                         properties=extra or None, source_key=key))
    existing = {p.source_key: p for p in session.scalars(
        select(PointOfInterest).where(PointOfInterest.source_key.in_([r["source_key"] for r in rows])))}
    created = updated = 0
    for row in rows:
        current = existing.get(row["source_key"])
        if current is None:
            session.add(PointOfInterest(**row))
            created += 1
        else:
            for key, value in row.items():
                setattr(current, key, value)
            updated += 1
    session.flush()
    return {"created": created, "updated": updated}


# --- Jurisdiction lookup ---------------------------------------------------------------------

@dataclass(frozen=True)
class Area:
    """One jurisdiction as the index holds it (no ORM object: the index outlives sessions)."""

    level: str
    code: str
    name: str
    parent_code: str | None
    parent_name: str | None
    police_sector: str | None


GRID_STEP_DEGREES = 0.001  # ~110 m cells
GRID_MAX_CELLS = 250_000
# Cells are grown by this much before they are tested, so a point that rounding hashes into a
# cell it lies a hair outside of is still covered by what was found for that cell.
GRID_SLACK_DEGREES = 1e-9


class _Layer:
    """The polygons of one level, found by an STRtree and tested exactly with prepared geometry.

    The STRtree is asked once, at load, which polygons touch each cell of a fine grid over the
    layer; a decision then only hashes its point to a cell and tests that cell's few polygons.
    A cell that lies wholly inside one polygon and touches no other needs no test at all: most
    cells inside a kelurahan are like that. This keeps the per-decision cost at a microsecond
    or two, where building a shapely Point for a tree query alone costs more.
    """

    def __init__(self, areas: list[Area], geoms: list) -> None:
        order = sorted(range(len(areas)), key=lambda i: areas[i].code)  # ties resolve by code, as the scan does
        self.areas = [areas[i] for i in order]
        self.geoms = np.array([geoms[i] for i in order], dtype=object)
        shapely.prepare(self.geoms)
        self.tree = shapely.STRtree(self.geoms)
        self._build_grid()

    def _build_grid(self) -> None:
        minx, miny, maxx, maxy = shapely.total_bounds(self.geoms)
        step = GRID_STEP_DEGREES
        while math.ceil((maxx - minx) / step + 1) * math.ceil((maxy - miny) / step + 1) > GRID_MAX_CELLS:
            step *= 2
        self.x0, self.y0, self.step = minx, miny, step
        self.nx, self.ny = int((maxx - minx) // step) + 1, int((maxy - miny) // step) + 1
        ix, iy = np.meshgrid(np.arange(self.nx), np.arange(self.ny), indexing="xy")
        ix, iy = ix.ravel(), iy.ravel()
        slack = GRID_SLACK_DEGREES
        boxes = shapely.box(minx + ix * step - slack, miny + iy * step - slack,
                            minx + (ix + 1) * step + slack, miny + (iy + 1) * step + slack)
        box_index, polygon = self.tree.query(boxes, predicate="intersects")
        found: dict[int, list[int]] = {}
        for box, polygon_index in zip(box_index.tolist(), polygon.tolist()):
            found.setdefault(box, []).append(polygon_index)
        lone = [(box, polygons[0]) for box, polygons in found.items() if len(polygons) == 1]
        covered = shapely.covers(self.geoms[[p for _, p in lone]], boxes[[b for b, _ in lone]]) if lone else []
        # One flat list over the grid, each cell its answer: an Area where the cell lies wholly
        # inside one polygon, the indices of its few candidate polygons, or None where none
        # reaches. A list indexed by cell reads one pointer; a dict of 250,000 ints is several
        # times the memory, and a lookup in it is a cache miss or two more.
        self.cells = [None] * (self.nx * self.ny)
        for box, polygons in found.items():
            self.cells[int(iy[box] * self.nx + ix[box])] = np.array(sorted(polygons))
        for (box, p), inside in zip(lone, covered):
            if inside:
                self.cells[int(iy[box] * self.nx + ix[box])] = self.areas[p]

    def find(self, lon: float, lat: float) -> Area | None:
        ix, iy = int((lon - self.x0) // self.step), int((lat - self.y0) // self.step)
        if not (0 <= ix < self.nx and 0 <= iy < self.ny):
            return None
        candidates = self.cells[iy * self.nx + ix]
        if candidates is None or type(candidates) is Area:
            return candidates
        hits = shapely.intersects_xy(self.geoms[candidates], lon, lat)
        for index, hit in zip(candidates.tolist(), hits.tolist()):
            if hit:
                return self.areas[index]
        return None

    def find_linear(self, lon: float, lat: float) -> Area | None:
        """The baseline the benchmark and tests compare with: every polygon tested, in code order."""
        hits = np.flatnonzero(shapely.intersects_xy(self.geoms, lon, lat))
        return self.areas[hits[0]] if len(hits) else None

    def nearest(self, point, lat: float, lon: float) -> tuple[Area, float] | None:
        if not self.areas:
            return None
        index = int(self.tree.nearest(point))
        on_edge = nearest_points(self.geoms[index], point)[0]
        return self.areas[index], haversine_m(lat, lon, on_edge.y, on_edge.x)


@dataclass(frozen=True)
class Located:
    """Where a point lies; shared between decisions (a kelurahan's usual answer is made once)."""

    kecamatan: Area | None
    kelurahan: Area | None
    kota: str | None
    police_sector: str | None
    nearest: tuple[Area, float] | None = None  # set when the point lies outside every jurisdiction

    @cached_property
    def names(self) -> dict:
        """The names a decision shows: kota, kecamatan, kelurahan, police sector (copy before changing)."""
        kecamatan, kelurahan = self.kecamatan, self.kelurahan
        return {
            "kota": self.kota,
            # Kelurahan loaded without their kecamatan layer still know their kecamatan's name.
            "kecamatan": kecamatan.name if kecamatan else kelurahan.parent_name if kelurahan else None,
            "kelurahan": kelurahan.name if kelurahan else None,
            "police_sector": self.police_sector,
        }

    @cached_property
    def sentence(self) -> str | None:
        """Where it is, in the words of a decision's explanation; None outside every jurisdiction."""
        place = self.names
        if not (place["kecamatan"] or place["kelurahan"]):
            return None
        where = ", ".join(filter(None, [
            place["kelurahan"] and f"Kelurahan {place['kelurahan']}",
            place["kecamatan"] and f"Kecamatan {place['kecamatan']}",
            place["kota"],
        ]))
        return f"Location in {where}; police sector {place['police_sector'] or 'unknown'}."


class JurisdictionIndex:
    """Which kecamatan and kelurahan contain a point, and which police sector answers there."""

    def __init__(self, rows: list[tuple[Area, dict]]) -> None:
        by_level: dict[str, tuple[list, list]] = {level: ([], []) for level in LEVELS}
        self.by_code: dict[str, Area] = {}
        for area, geometry in rows:
            by_level[area.level][0].append(area)
            by_level[area.level][1].append(shape(geometry))
            self.by_code[area.code] = area
        self.layers = {level: _Layer(*by_level[level]) for level in LEVELS if by_level[level][0]}
        self._settled = {area.code: located for area in by_level["kelurahan"][0]
                         if (located := self._settle(area)) is not None}

    def _settle(self, kelurahan: Area) -> Located | None:
        """A kelurahan's answer wherever the point lies in it, when its kecamatan and kota are known by code."""
        kecamatan = self.by_code.get(kelurahan.parent_code) if kelurahan.parent_code else None
        if kecamatan is None or kecamatan.parent_name is None:
            return None  # the answer depends on the point: locate works it out each time
        return Located(kecamatan, kelurahan, kecamatan.parent_name, kecamatan.police_sector or kelurahan.police_sector)

    @classmethod
    def from_session(cls, session: Session) -> "JurisdictionIndex":
        rows = [
            (Area(j.level, j.code, j.name, j.parent_code, j.parent_name, j.police_sector), j.geometry)
            for j in session.scalars(select(Jurisdiction).where(Jurisdiction.level.in_(LEVELS)))
        ]
        return cls(rows)

    def __len__(self) -> int:
        return len(self.by_code)

    def _find(self, level: str, lat: float, lon: float, linear: bool) -> Area | None:
        layer = self.layers.get(level)
        if layer is None:
            return None
        return layer.find_linear(lon, lat) if linear else layer.find(lon, lat)

    def locate(self, lat: float, lon: float, *, linear: bool = False) -> Located:
        """The kecamatan, kelurahan, kota and police sector at a point (`linear`: test every polygon)."""
        kelurahan = self._find("kelurahan", lat, lon, linear)
        if kelurahan is not None:
            settled = self._settled.get(kelurahan.code)
            if settled is not None:
                return settled
        # A kelurahan belongs to exactly one kecamatan by law; the (simplified) kecamatan
        # polygons may disagree near their edges, so the kelurahan's own parent wins.
        kecamatan = self.by_code.get(kelurahan.parent_code) if kelurahan and kelurahan.parent_code else None
        if kecamatan is None:
            kecamatan = self._find("kecamatan", lat, lon, linear)
        sector = (kecamatan.police_sector if kecamatan else None) or (kelurahan.police_sector if kelurahan else None)
        kota = None
        if kecamatan is not None:
            kota = kecamatan.parent_name
        elif kelurahan is not None:
            parent = self.by_code.get(kelurahan.parent_code or "")
            kota = parent.parent_name if parent else None
        if kota is None:
            found = self._find("kota", lat, lon, linear)
            kota = found.name if found else None
        nearest = None
        if kecamatan is None and kelurahan is None:
            layer = self.layers.get("kecamatan") or self.layers.get("kelurahan")
            if layer is not None:
                nearest = layer.nearest(shapely.points(lon, lat), lat, lon)
        return Located(kecamatan, kelurahan, kota, sector, nearest)


# --- Points of interest and cameras ----------------------------------------------------------

@dataclass(frozen=True)
class Place:
    id: int
    kind: str
    name: str
    lat: float
    lon: float
    extra: tuple = ()  # (key, value) pairs carried into the result, e.g. stream URLs

    @cached_property
    def result_template(self) -> dict:
        """What a decision lists of the place, its distance left to fill in (made once)."""
        return {"id": self.id, "name": self.name, "kind": self.kind, "lat": self.lat, "lon": self.lon,
                "distance_m": None, **dict(self.extra)}


class PointIndex:
    """Nearest points of one sort by great-circle distance, ranked exactly, found through a grid.

    A decision only hashes its point to a grid cell and ranks that cell's few candidates;
    outside the grid a KD-tree on unit vectors finds them. Either way the candidates are ranked
    by exact distance (to the millimetre) and then by name, as the linear scan ranks them.
    """

    def __init__(self, places: list[Place]) -> None:
        self.places = sorted(places, key=lambda p: (p.name, p.id))
        self.lats = np.array([p.lat for p in self.places], dtype=float)
        self.lons = np.array([p.lon for p in self.places], dtype=float)
        self.xyz = unit_vectors(self.lats, self.lons) if self.places else np.empty((0, 3))
        self.tree = cKDTree(self.xyz) if self.places else None
        self._grids: dict[tuple[int, float | None], _CandidateGrid] = {}
        # What ranking reads of each place, in one tuple: its sphere point, its name, its index.
        self._rows = [(*sphere_point(p.lat, p.lon), p.name, i) for i, p in enumerate(self.places)]
        self._xyz = [tuple(row) for row in self.xyz.tolist()]
        self._templates = [p.result_template for p in self.places]

    def __len__(self) -> int:
        return len(self.places)

    def prepare(self, k: int, max_m: float | None = None) -> None:
        """Build the grid for this (k, max_m) now, so no decision pays for it."""
        if self.places and k > 0 and (k, max_m) not in self._grids:
            self._grids[(k, max_m)] = _CandidateGrid(self, k, max_m)

    def nearest(self, lat: float, lon: float, k: int, max_m: float | None = None, point=None) -> list[dict]:
        """The k nearest places (within max_m), nearest first, as a decision lists them."""
        if not self.places or k <= 0:
            return []
        grid = self._grids.get((k, max_m))
        if grid is None:
            self.prepare(k, max_m)
            grid = self._grids[(k, max_m)]
        if point is None:
            point = unit_vector(lat, lon)
        rows = grid.candidates(lat, lon)
        if rows is None:
            rows = [self._rows[i] for i in self._from_tree(lat, lon, k, max_m, point)]
        elif len(rows) > CHORD_FILTER_OVER * k:
            rows = [self._rows[i] for i in self._closest_by_chord([row[4] for row in rows], point, k)]
        return self._ranked(lat, lon, rows, k, max_m)

    def _closest_by_chord(self, indices, point, k: int) -> list[int]:
        """The k candidates nearest by straight line, and any tied with the k-th.

        Chords order exactly as great-circle distances and cost a few multiplications, so only
        these few go on to be measured in metres and ranked by name.
        """
        px, py, pz = point
        xyz = self._xyz
        scored = []
        for i in indices:
            x, y, z = xyz[i]
            scored.append(((x - px) ** 2 + (y - py) ** 2 + (z - pz) ** 2, i))
        scored.sort()
        limit = (math.sqrt(scored[k - 1][0]) + TIE_CHORD) ** 2
        return [i for squared, i in scored if squared <= limit]

    def _from_tree(self, lat: float, lon: float, k: int, max_m: float | None, point) -> list[int]:
        """The k nearest and any tied with the k-th, within max_m: for points off the grid."""
        if point is None:
            point = unit_vector(lat, lon)
        bound = m_to_chord(max_m + TIE_M) if max_m is not None else np.inf
        k_query = k + 2
        while True:
            chords, indices = self.tree.query(point, k=min(k_query, len(self.places)), distance_upper_bound=bound)
            chords, indices = np.atleast_1d(chords).tolist(), np.atleast_1d(indices).tolist()
            found = [i for c, i in zip(chords, indices) if c != np.inf]
            keep = with_ties(chords, k, TIE_CHORD)
            if keep < len(chords) or len(found) < len(chords) or k_query >= len(self.places):
                return found[:keep]
            k_query *= 4

    def nearest_linear(self, lat: float, lon: float, k: int, max_m: float | None = None) -> list[dict]:
        """The baseline: distance to every point, then the same ranking."""
        if not self.places or k <= 0:
            return []
        distances = haversine_m_many(lat, lon, self.lats, self.lons)
        return self._ranked(lat, lon, [self._rows[i] for i in nearest_positions(distances, k, TIE_M)], k, max_m)

    def _ranked(self, lat, lon, rows, k, max_m) -> list[dict]:
        """Nearest first by distance to the millimetre, then by name: both paths end here.

        Sorted by millimetres first, the places within max_m are a prefix of the ranking.
        """
        distances = haversine_m_from(lat, lon, rows)
        scored = sorted([(int(d * 1000 + 0.5), row[3], row[4], d) for d, row in zip(distances, rows)])
        templates = self._templates
        limit = float("inf") if max_m is None else max_m * 1000
        return [dict(templates[i], distance_m=tenths(d)) for mm, _, i, d in scored[:k] if mm <= limit]


# A cell's few candidates are ranked in metres at once; only a long list is first cut down by
# chord (cheaper per place), to the k nearest and their ties.
CHORD_FILTER_OVER = 3
PLACE_GRID_STEP_DEGREES = 0.002  # ~220 m cells: few candidates each
PLACE_GRID_MARGIN_DEGREES = 0.05  # the grid reaches ~5 km past the outermost places
PLACE_GRID_MAX_CELLS = 250_000


class _CandidateGrid:
    """For each cell of a grid, every place that can be among the k nearest of any point in it.

    With c the cell's centre, r its radius and D the distance from c to its k-th nearest place,
    a point p of the cell has k places within D + r, so its k nearest lie within D + 2r of c
    (and within max_m + r, when a radius limits them). Those are the cell's candidates; a metre
    is added for rounding. Ranking them exactly then gives exactly the scan's answer.
    """

    def __init__(self, index: PointIndex, k: int, max_m: float | None) -> None:
        minx, maxx = float(index.lons.min()) - PLACE_GRID_MARGIN_DEGREES, float(index.lons.max()) + PLACE_GRID_MARGIN_DEGREES
        miny, maxy = float(index.lats.min()) - PLACE_GRID_MARGIN_DEGREES, float(index.lats.max()) + PLACE_GRID_MARGIN_DEGREES
        miny, maxy = max(miny, -90.0), min(maxy, 90.0)
        step = PLACE_GRID_STEP_DEGREES
        while math.ceil((maxx - minx) / step) * math.ceil((maxy - miny) / step) > PLACE_GRID_MAX_CELLS:
            step *= 2
        self.x0, self.y0, self.step = minx, miny, step
        self.nx, self.ny = math.ceil((maxx - minx) / step), math.ceil((maxy - miny) / step)
        ix, iy = np.meshgrid(np.arange(self.nx), np.arange(self.ny), indexing="xy")
        west, south = minx + ix.ravel() * step, miny + iy.ravel() * step
        centre_lat, centre_lon = south + step / 2, west + step / 2
        radius = np.zeros(len(west))
        for corner_lat, corner_lon in ((south, west), (south, west + step), (south + step, west), (south + step, west + step)):
            corner_lat = np.clip(corner_lat, -90.0, 90.0)
            radius = np.maximum(radius, _haversine_pairs(centre_lat, centre_lon, corner_lat, corner_lon))
        radius = radius * 1.01 + 1.0
        centres = unit_vectors(centre_lat, centre_lon)
        if len(index.places) >= k:
            chords, _ = index.tree.query(centres, k=[k])
            reach = chord_to_m(chords[:, 0]) + 2 * radius
        else:
            reach = np.full(len(west), np.inf)
        if max_m is not None:
            reach = np.minimum(reach, max_m + radius)
        reach = reach + 1.0  # rounding: distances are ranked to the millimetre
        within = index.tree.query_ball_point(centres, r=[m_to_chord(m) for m in reach.tolist()])
        shared: dict[tuple, tuple] = {}  # neighbouring cells mostly list the same places: keep one copy
        rows = index._rows
        self.cells = [shared.get(key) or shared.setdefault(key, tuple(rows[i] for i in key))
                      for key in (tuple(sorted(found)) for found in within)]

    def candidates(self, lat: float, lon: float) -> tuple[tuple, ...] | None:
        """The ranking rows of the places to rank for this point; None off the grid."""
        ix, iy = int((lon - self.x0) // self.step), int((lat - self.y0) // self.step)
        if 0 <= ix < self.nx and 0 <= iy < self.ny:
            return self.cells[iy * self.nx + ix]
        return None


def _haversine_pairs(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle metres between matching rows of two point arrays (grid building only)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2 - lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(a)))


def load_points(session: Session, kinds: tuple[str, ...]) -> PointIndex:
    rows = session.scalars(select(PointOfInterest).where(PointOfInterest.kind.in_(kinds)))
    return PointIndex([Place(p.id, p.kind, p.name, p.lat, p.lon) for p in rows])


def load_cameras(session: Session) -> PointIndex:
    return PointIndex([
        Place(c.id, "camera", c.name, c.lat, c.lon, (("stream_url", c.stream_url), ("snapshot_url", c.snapshot_url)))
        for c in session.scalars(select(Camera))
    ])


__all__ = [
    "Area", "ImportProblem", "JurisdictionIndex", "Located", "Place", "PointIndex",
    "import_boundaries", "import_pois", "load_cameras", "load_points",
]
