"""The in-memory table of field units and the KD-tree that finds the nearest available ones.

Every unit available at build time sits in one k-d tree, as a unit vector with a fourth
coordinate that keeps each (agency, kind) group apart: chords on the unit sphere are at most 2
and groups lie 4 apart, so a query row gets every member of its own group before any point of
another: the first stranger in its answer means the group has no more members. One call then
answers every agency and kind a decision needs, instead of one call per group.

The tree is pykdtree's: one call costs a fraction of scipy's cKDTree (a decision's query over
100,000 units took 13 us with it against 27 us with cKDTree here, most of that cKDTree's
fixed cost per call). It is asked without a distance bound and for squared distances, which
spares it two passes over its answer per call.

Units move every few seconds, so rebuilding the tree on every GPS fix would cost more than the
decisions it serves. A changed unit is marked unclean at its tree position and put in its
group's "dirty" set; queries skip unclean positions and judge the dirty few directly, and the
tree is rebuilt lazily, on the next query, once some group's dirty set outgrows a small share
of that group. The tree serves small tables too: one pykdtree call costs a few microseconds,
less than a numpy pass over even a few hundred units. Answers are the same as a linear scan
over every unit (tested with random data, ties included), which stays here as the baseline.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from array import array
from dataclasses import dataclass, field

import numpy as np

# pykdtree spreads a query's rows over OpenMP threads. A decision asks a handful of rows, where
# threads cost more than they give, and idle OpenMP threads spin on cores the IVR and the
# receiver need: one thread, unless the environment says otherwise (read when pykdtree loads).
os.environ.setdefault("OMP_NUM_THREADS", "1")
from pykdtree.kdtree import KDTree  # noqa: E402

from routing.geo import haversine_m_from, haversine_m_many, m_to_chord, sphere_point, unit_vector, unit_vectors

log = logging.getLogger(__name__)

AVAILABLE = "available"


@dataclass(slots=True)
class UnitState:
    """What routing needs of a unit; `position_at` is a POSIX time, None for a fixed post."""

    id: int
    callsign: str
    agency: str
    kind: str
    status: str
    lat: float | None
    lon: float | None
    position_at: float | None
    source: str | None = "gps"
    # The position as `haversine_m_from` takes it, made with the state: a state is never
    # changed (a move is a new state), and a decision then ranks its units with plain reads.
    sphere: tuple[float, float, float] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.sphere = sphere_point(self.lat, self.lon) if self.has_position() else None

    def has_position(self) -> bool:
        return self.lat is not None and self.lon is not None

    def is_fresh(self, now: float, stale_seconds: float) -> bool:
        """A GPS position older than the stale limit is unknown; a stationed post never ages."""
        if not self.has_position():
            return False
        if self.source == "post":
            return True
        return self.position_at is not None and now - self.position_at <= stale_seconds

    def eligible(self, now: float, stale_seconds: float) -> bool:
        return self.status == AVAILABLE and self.is_fresh(now, stale_seconds)


# Distances this close to the k-th nearest count as ties: such candidates are all kept and the
# final ranking (exact great-circle metres, then call sign or name) decides between them, so
# rounding in the chord arithmetic can never pick a different unit than the linear scan.
TIE_M = 0.01
TIE_CHORD = m_to_chord(TIE_M)
# Past this many units a due rebuild runs in a thread while queries use the current tree.
BACKGROUND_REBUILD_OVER = 20_000
GROUP_SPACING = 4.0  # fourth-coordinate distance between two (agency, kind) groups
SORT_CELL_DEGREES = 0.005  # units are laid out by cells of about 500 m within their group


def with_ties(sorted_distances: list[float], k: int, tie: float) -> int:
    """How many of the first entries of an ascending list to keep: k, plus any tied with the k-th."""
    if len(sorted_distances) <= k:
        return len(sorted_distances)
    limit = sorted_distances[k - 1] + tie
    keep = k
    while keep < len(sorted_distances) and sorted_distances[keep] <= limit:
        keep += 1
    return keep


@dataclass
class _Plan:
    """The groups one tuple of wants asks of a snapshot, with how many each, and their query rows."""

    codes: list[int]  # one query row per (agency, kind) group asked
    ks: list[int]
    k_query: int  # twice the most wanted, and a few: spare for unclean, stale or tied units
    rows: np.ndarray
    xyz: np.ndarray  # a view of the rows' first three columns, where each query writes its point
    wants: list[tuple[str, tuple[str, ...], int, list[int]]]  # each want with the query rows of its kinds


class _Snapshot:
    """The units that were available when it was built, in one 4-D KD-tree.

    Arrays are indexed by tree position. A group's answer ends at its first position outside
    the group's span: another group's point, or the index pykdtree gives past its last point
    (2**32 - 1) when a query asks for more than the tree holds.
    """

    def __init__(self, units: list[UnitState]) -> None:
        self.groups: dict[tuple[str, str], int] = {}  # (agency, kind) -> group code
        codes = np.array([self.groups.setdefault((u.agency, u.kind), len(self.groups)) for u in units], dtype=np.int64)
        # Each group contiguous (its span of positions), and within a group the units
        # of one ~500 m cell side by side: the few members a query reads then share cache lines
        # in every column, where insertion order would scatter them over the whole table.
        cells = np.array([(u.lat // SORT_CELL_DEGREES, u.lon // SORT_CELL_DEGREES) for u in units]).reshape(-1, 2)
        order = np.lexsort((cells[:, 1], cells[:, 0], codes))
        units = [units[i] for i in order.tolist()]
        codes = codes[order]
        bounds = np.searchsorted(codes, np.arange(len(self.groups) + 1)).tolist()
        self.spans = list(zip(bounds[:-1], bounds[1:]))  # group code -> (start, end) positions
        self.units = units
        n = len(units)
        # One pass over the unit objects (at 100,000 units each pass costs tens of milliseconds).
        # A post never ages: +inf makes `now - position_at <= stale` true, the same test as the scan.
        columns = [(u.id, u.lat, u.lon, float("inf") if u.source == "post" else u.position_at) for u in units]
        ids, lats, lons, position_at = zip(*columns) if columns else ((), (), (), ())
        self.position = dict(zip(ids, range(n)))
        # Compact columns: a decision reads a few dozen scattered entries, and at 100,000 units
        # one byte or one double each stays in cache where a list of Python objects does not.
        self.clean = bytearray(b"\x01" * n)
        self.position_at = array("d", position_at)
        self.plans: dict[tuple, _Plan] = {}
        # An empty snapshot has no groups, so no plan ever asks its (absent) tree anything.
        self.tree = KDTree(np.column_stack((unit_vectors(lats, lons), codes.astype(float) * GROUP_SPACING))) if n else None

    def group_size(self, key: tuple[str, str]) -> int:
        code = self.groups.get(key)
        if code is None:
            return 0
        start, end = self.spans[code]
        return end - start

    def plan(self, wants) -> "_Plan":
        """Which of this snapshot's groups a set of wants asks, and the query rows for them (cached)."""
        plan = self.plans.get(wants)
        if plan is None:
            groups: dict[tuple[str, str], int] = {}  # (agency, kind) in the tree -> how many wanted
            for agency, kinds, k in wants:
                for kind in kinds:
                    if k > 0 and (agency, kind) in self.groups:
                        groups[(agency, kind)] = max(k, groups.get((agency, kind), 0))
            keys = list(groups)
            codes = [self.groups[key] for key in keys]
            rows = np.zeros((len(codes), 4))
            rows[:, 3] = np.asarray(codes, dtype=float) * GROUP_SPACING
            asked = [(agency, tuple(kinds), k, [keys.index((agency, kind)) for kind in kinds if (agency, kind) in groups])
                     for agency, kinds, k in wants]
            plan = self.plans[wants] = _Plan(codes, list(groups.values()), 2 * max(groups.values(), default=0) + 4,
                                             rows, rows[:, :3], asked)
        return plan

    def query(self, point, codes: list[int], k: int, plan: _Plan | None = None) -> tuple[list[list[float]], list[list[int]]]:
        """For each group code, its k nearest points: squared chords and positions, nearest first.

        An answer may run past its group's members into other groups (or end at the sentinel
        position); `_take_eligible` stops at the first position outside the group's span.
        A plan's own query rows are reused (queries run under the index lock).
        """
        if plan is None:
            rows = np.zeros((len(codes), 4))
            rows[:, 3] = np.asarray(codes, dtype=float) * GROUP_SPACING
            rows[:, :3] = point
        else:
            rows = plan.rows
            plan.xyz[...] = point
        squared, positions = self.tree.query(rows, k=max(k, 2), sqr_dists=True)
        return squared.tolist(), positions.tolist()

    def query_one(self, point, code: int, k: int) -> tuple[list[float], list[int]]:
        """One group's k nearest members (asked again, further, when the first answer fell short)."""
        chords, positions = self.query(point, [code], k)
        return chords[0], positions[0]


class UnitIndex:
    """Field units by id, with a lazily rebuilt KD-tree and a dirty set per (agency, kind).

    A rebuild of a small table takes a few milliseconds and is done in place by the query that
    finds it due. Past `background_rebuild_over` units it takes longer (about 0.2 s at 100,000
    here), so it runs in a thread of its own while queries go on with the current tree and its
    dirty sets, which answer correctly however stale the tree; every unit changed while the new
    tree was being built stays dirty against it.
    """

    def __init__(self, stale_seconds: float, *, min_dirty: int = 32, dirty_share: float = 0.02,
                 background_rebuild_over: int = BACKGROUND_REBUILD_OVER) -> None:
        self.stale_seconds = stale_seconds
        self.min_dirty = min_dirty
        self.dirty_share = dirty_share
        self.background_rebuild_over = background_rebuild_over
        self.units: dict[int, UnitState] = {}
        self._snapshot: _Snapshot | None = None
        self._dirty: dict[tuple[str, str], set[int]] = {}
        self._rebuild_due = True
        self._lock = threading.RLock()
        self._generation = 0  # a load() makes a rebuild in progress worthless
        self._building: threading.Thread | None = None
        self._changed_while_building: set[int] | None = None
        self.rebuilds = 0

    def __len__(self) -> int:
        return len(self.units)

    def load(self, units: list[UnitState]) -> None:
        """Replace every unit; the tree is built on first use."""
        with self._lock:
            self.units = {u.id: u for u in units}
            self._snapshot = None
            self._dirty.clear()
            self._rebuild_due = True
            self._generation += 1

    def upsert(self, unit: UnitState) -> None:
        """Take a unit's new position, status or kind; cheap, whatever the number of units."""
        with self._lock:
            old = self.units.get(unit.id)
            if old == unit:
                return
            self.units[unit.id] = unit
            if self._changed_while_building is not None:
                self._changed_while_building.add(unit.id)
            snapshot = self._snapshot
            if snapshot is not None:
                position = snapshot.position.get(unit.id)
                if position is not None:
                    snapshot.clean[position] = 0
            for state in (old, unit):
                if state is not None:
                    self._note_dirty(snapshot, state)

    def _note_dirty(self, snapshot: "_Snapshot | None", state: UnitState) -> None:
        key = (state.agency, state.kind)
        dirty = self._dirty.setdefault(key, set())
        dirty.add(state.id)
        size = snapshot.group_size(key) if snapshot is not None else 0
        if len(dirty) > max(self.min_dirty, self.dirty_share * size):
            self._rebuild_due = True

    def _current(self, now: float) -> _Snapshot:
        if self._snapshot is None or (self._rebuild_due and len(self.units) <= self.background_rebuild_over):
            self._snapshot = _Snapshot([u for u in self.units.values() if u.eligible(now, self.stale_seconds)])
            self._dirty.clear()
            self._rebuild_due = False
            self._generation += 1  # a rebuild still running in a thread is now out of date
            self.rebuilds += 1
        elif self._rebuild_due and self._building is None:
            self._rebuild_due = False
            self._changed_while_building = set()
            self._building = threading.Thread(
                target=self._rebuild, args=(list(self.units.values()), now, self._generation),
                name="unit-tree-rebuild", daemon=True)
            self._building.start()
        return self._snapshot

    def _rebuild(self, units: list[UnitState], now: float, generation: int) -> None:
        """Build a new tree from a copy of the units (no lock held), then put it in place."""
        try:
            snapshot = _Snapshot([u for u in units if u.eligible(now, self.stale_seconds)])
        except Exception:
            log.exception("the unit tree could not be rebuilt; queries go on with the current one")
            snapshot = None
        with self._lock:
            changed, self._changed_while_building = self._changed_while_building, None
            self._building = None
            if snapshot is None or generation != self._generation:
                self._rebuild_due = snapshot is None
                return
            self._snapshot = snapshot
            self._dirty = {}
            for unit_id in changed:
                position = snapshot.position.get(unit_id)
                if position is not None:
                    snapshot.clean[position] = 0
                    self._note_dirty(snapshot, snapshot.units[position])
                current = self.units.get(unit_id)
                if current is not None:
                    self._note_dirty(snapshot, current)
            self.rebuilds += 1

    def build_all(self, now: float) -> None:
        """Build the tree now (after a load), so no decision pays for a first build."""
        with self._lock:
            self._snapshot = None
            self._current(now)

    def nearest(self, agency: str, kinds, lat: float, lon: float, k: int, now: float,
                point=None) -> list[tuple[UnitState, float]]:
        """The k nearest available units with a known position, nearest first (ties by callsign)."""
        return self.nearest_many(((agency, tuple(kinds), k),), lat, lon, now, point)[0]

    def nearest_many(self, wants, lat: float, lon: float, now: float, point=None) -> list[list[tuple[UnitState, float]]]:
        """For each (agency, kinds, k) of a tuple of wants, its k nearest available units.

        Every group the wants name is asked in one tree query; a repeated tuple (one per
        category rule) reuses its plan.
        """
        if point is None:
            point = unit_vector(lat, lon)
        with self._lock:
            snapshot = self._current(now)
            plan = snapshot.plan(wants)
            taken = self._taken(snapshot, plan, point, now) if plan.codes else []
            members = snapshot.units
            answers = []
            for agency, kinds, k, rows in plan.wants:
                if k <= 0:
                    answers.append([])
                    continue
                if len(rows) == 1:
                    near = taken[rows[0]]
                else:
                    near = [pair for row in rows for pair in taken[row]]
                    if len(near) > k:
                        near = _closest(near, k)
                chosen = [members[position] for _, position in near]
                if self._dirty:
                    for kind in kinds:
                        chosen.extend(self._dirty_eligible(agency, kind, now))
                answers.append(_rank(chosen, lat, lon, k))
        return answers

    def _taken(self, snapshot: _Snapshot, plan: _Plan, point, now: float) -> list[list[tuple[float, int]]]:
        """For each group of a plan, (chord, position) of its k nearest clean, fresh members and
        any tied with the k-th, from one tree query.

        When a group's first answer runs out before it can tell (many near members changed or
        went stale, or a tie runs past its end), that group is asked again for four times as many.
        """
        chords, positions = snapshot.query(point, plan.codes, plan.k_query, plan)
        spans, stale_seconds = snapshot.spans, self.stale_seconds
        taken = []
        for code, k, row_chords, row_positions in zip(plan.codes, plan.ks, chords, positions):
            start, stop = spans[code]
            found = _take_eligible(snapshot, row_chords, row_positions, k, now, stale_seconds, start, stop)
            k_query = plan.k_query
            while found is None:
                k_query *= 4
                row_chords, row_positions = snapshot.query_one(point, code, k_query)
                found = _take_eligible(snapshot, row_chords, row_positions, k, now, stale_seconds, start, stop)
            taken.append(found)
        return taken

    def _dirty_eligible(self, agency: str, kind: str, now: float) -> list[UnitState]:
        """Units of a group changed since the build, judged on their current state."""
        dirty = self._dirty.get((agency, kind))
        if not dirty:
            return []
        chosen = []
        for unit_id in dirty:
            unit = self.units.get(unit_id)
            if unit is not None and unit.agency == agency and unit.kind == kind and unit.eligible(now, self.stale_seconds):
                chosen.append(unit)
        return chosen

    def nearest_linear(self, agency: str, kinds, lat: float, lon: float, k: int, now: float) -> list[tuple[UnitState, float]]:
        """The baseline: every unit checked, in Python; for tests."""
        chosen = [u for u in self.units.values()
                  if u.agency == agency and u.kind in kinds and u.eligible(now, self.stale_seconds)]
        return _rank(chosen, lat, lon, k)


def _take_eligible(snapshot: _Snapshot, squared: list[float], positions: list[int], k: int, now: float,
                   stale_seconds: float, start: int, stop: int) -> list[tuple[float, int]] | None:
    """Walk one group's answer nearest first: (squared chord, position) of its k nearest clean,
    fresh members and any tied with the k-th; None when the answer ends before that is known."""
    clean, position_at = snapshot.clean, snapshot.position_at
    taken: list[tuple[float, int]] = []
    limit = None
    for chord, position in zip(squared, positions):
        if not start <= position < stop:  # another group's point, or the sentinel: no more members
            return taken
        if limit is not None and chord > limit:
            return taken
        if clean[position] and now - position_at[position] <= stale_seconds:
            taken.append((chord, position))
            if len(taken) == k:
                limit = _tie_limit(chord)
    return None


def _tie_limit(squared: float) -> float:
    """The largest squared chord that ties with this one (TIE_CHORD further out)."""
    return (math.sqrt(squared) + TIE_CHORD) ** 2


def _closest(near: list[tuple[float, int]], k: int) -> list[tuple[float, int]]:
    """Of several kinds' candidates, the k nearest by chord and any tied with the k-th.

    Only these need their great-circle distance: the rest have k units strictly nearer.
    """
    near.sort()
    limit = _tie_limit(near[k - 1][0])
    return [pair for pair in near if pair[0] <= limit]


def _rank(units: list[UnitState], lat: float, lon: float, k: int) -> list[tuple[UnitState, float]]:
    """Nearest first by great-circle distance, equal distances by call sign: both paths end here."""
    if len(units) == 1 and k > 0:  # the usual answer to a want of one unit: nothing to sort
        return [(units[0], haversine_m_from(lat, lon, (units[0].sphere,))[0])]
    distances = haversine_m_from(lat, lon, [u.sphere for u in units])
    scored = sorted(zip(distances, [u.callsign for u in units], units))
    return [(unit, distance) for distance, _, unit in scored[:k]]


class LinearUnits:
    """The same units as flat numpy columns, scanned whole: the benchmark's and tests' baseline.

    Each decision computes the great-circle distance to every unit once, then picks each
    agency's nearest eligible units from it: what a straightforward implementation would do.
    """

    def __init__(self, units: list[UnitState], stale_seconds: float) -> None:
        self.units = units
        self.stale_seconds = stale_seconds
        # Agencies and kinds as small integers, so the per-decision masks are cheap comparisons.
        self._codes: dict[str, int] = {}
        self.agency = np.array([self._code(u.agency) for u in units], dtype=np.int32)
        self.kind = np.array([self._code(u.kind) for u in units], dtype=np.int32)
        self.available = np.array([u.status == AVAILABLE and u.has_position() for u in units], dtype=bool)
        self.post = np.array([u.source == "post" for u in units], dtype=bool)
        self.position_at = np.array([u.position_at if u.position_at is not None else -np.inf for u in units], dtype=float)
        self.lat = np.array([u.lat if u.lat is not None else np.nan for u in units], dtype=float)
        self.lon = np.array([u.lon if u.lon is not None else np.nan for u in units], dtype=float)
        self._distances: tuple | None = None

    def _code(self, name: str) -> int:
        return self._codes.setdefault(name, len(self._codes))

    def _all_distances(self, lat: float, lon: float) -> np.ndarray:
        if self._distances is None or self._distances[0] != (lat, lon):
            self._distances = ((lat, lon), haversine_m_many(lat, lon, self.lat, self.lon))
        return self._distances[1]

    def nearest(self, agency: str, kinds, lat: float, lon: float, k: int, now: float) -> list[tuple[UnitState, float]]:
        if k <= 0 or not self.units:
            return []
        distances = self._all_distances(lat, lon)
        fresh = self.post | (now - self.position_at <= self.stale_seconds)
        kind_codes = [self._codes[k] for k in kinds if k in self._codes]
        mask = (self.agency == self._codes.get(agency, -1)) & np.isin(self.kind, kind_codes) & self.available & fresh
        indices = np.flatnonzero(mask)
        if len(indices) == 0:
            return []
        return _rank([self.units[indices[j]] for j in nearest_positions(distances[indices], k, TIE_M)], lat, lon, k)


def nearest_positions(distances: np.ndarray, k: int, tie: float) -> list[int]:
    """Positions of the k smallest distances and of any tied with the k-th (within `tie`).

    A few spare are taken at once; only when even the last spare ties with the k-th (many
    units at one post) is the whole array asked which ones do.
    """
    count = len(distances)
    take = k + 4
    if take >= count:
        return list(range(count))
    part = np.argpartition(distances, take - 1)[:take]
    near = np.sort(distances[part])
    if near[-1] <= near[k - 1] + tie:
        return np.flatnonzero(distances <= near[k - 1] + tie).tolist()
    return part.tolist()
