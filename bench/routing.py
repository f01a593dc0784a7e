"""Routing speed: one whole decision (jurisdiction, agencies, ranked units, hospitals, cameras).

For 100 to 100,000 field units spread over the real Kota Malang and Kota Probolinggo
boundaries (kecamatan + kelurahan), the engine's indexed path (a grid of cells over prepared
polygons found by an STRtree; one k-d tree over every available unit, each (agency, kind) kept
apart by a fourth coordinate; grids of candidate hospitals and cameras) is timed against the
linear baseline in the same run (every polygon tested; numpy great-circle distance over every
unit, hospital and camera), the two in turns, and every pair of decisions is compared: the
benchmark fails if any answer differs. glibc's malloc thresholds are held for the run, so
the baseline's large temporaries never page-fault by the luck of earlier allocations
(`steady_allocator`); page faults a decision are reported for both paths.

Then the real Montgomery County (PA) 911 event sample is replayed through the engine: its
EMS / Fire / Traffic titles become our categories, and its points are moved into Kota Malang
by an affine map (shift the sample's median point onto Malang's centre, scale by 0.2 so the
county's ~50 km spread falls over the ~12 km city), keeping the real clustering of calls.

    .venv/bin/python -m bench.routing
    .venv/bin/python -m bench.routing --malloc-as-is   (glibc's moving thresholds; see steady_allocator)
    .venv/bin/python -m bench.routing --sizes 100,1000 --queries 500   (quick)
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import csv
import gc
import json
import os
import random
import resource
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from routing.engine import RoutingEngine  # noqa: E402
from routing.geo import unit_vector  # noqa: E402
from routing.places import Area, JurisdictionIndex, Place, PointIndex  # noqa: E402
from routing.rules import load_rules  # noqa: E402
from routing.unit_index import UnitState  # noqa: E402

CITIES = {
    "malang": ("kota_malang_kecamatan.geojson", "kota_malang_kelurahan.geojson"),
    "probolinggo": ("kota_probolinggo_kecamatan.geojson", "kota_probolinggo_kelurahan.geojson"),
}
CATEGORIES = ["crime", "fire", "medical", "traffic_accident", "flood", "domestic_violence", "general"]
MALANG_CENTRE = (-7.9783, 112.6359)
MONTCO_SCALE = 0.2

# Montgomery County titles that are not plain "EMS/Fire/Traffic" in our rules' terms.
MONTCO_TITLES = {
    "EMS: VEHICLE ACCIDENT": "traffic_accident",
    "Fire: VEHICLE ACCIDENT": "traffic_accident",
    "Traffic: VEHICLE ACCIDENT -": "traffic_accident",
    "Traffic: DISABLED VEHICLE -": "public_order",
    "Traffic: ROAD OBSTRUCTION -": "fallen_tree",
    "Traffic: HAZARDOUS ROAD CONDITIONS -": "road_damage",
    "Traffic: VEHICLE FIRE -": "fire",
    "EMS: ASSAULT VICTIM": "crime",
    "Fire: ELECTRICAL FIRE OUTSIDE": "power_outage",
}
MONTCO_PREFIX = {"EMS": "medical", "Fire": "fire", "Traffic": "traffic_accident"}


def shared_data() -> Path:
    configured = os.environ.get("SIAGA112_SHARED_DATA")
    return Path(configured) if configured else REPO.parent / "shared" / "data"


# glibc's mallopt parameters (malloc.h) and the values held for a run.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
HEAP_TRIM_BYTES = 256 << 20
HEAP_MMAP_BYTES = 32 << 20  # glibc's upper limit for the threshold on 64-bit


def steady_allocator() -> bool:
    """Keep the linear scan's large temporaries on the heap, so its time is the scan's own.

    glibc serves blocks over a moving threshold (128 KiB at first) with fresh mappings, and
    gives a heap's top back to the system once more than twice that lies free there. Whether
    the scan's 800 KB numpy temporaries at 100,000 units then cost about 570 page faults a
    decision (some 0.6 ms) depends on where unrelated, earlier allocations happened to land:
    the same scan measured 3.1 ms after one commit and 3.7 ms after another that never touched
    it. Fixed thresholds give every run the heap a long-running server settles into. The
    indexed path allocates nothing that large, so this moves only the baseline, and only down.
    Returns whether glibc took the settings.
    """
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError, TypeError):
        return False  # not glibc: nothing of this applies
    return bool(mallopt(M_TRIM_THRESHOLD, HEAP_TRIM_BYTES)) and bool(mallopt(M_MMAP_THRESHOLD, HEAP_MMAP_BYTES))


def page_faults() -> int:
    """Minor page faults of this thread so far (memory the kernel had to map on first touch)."""
    return resource.getrusage(getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF)).ru_minflt


def load_jurisdictions(data: Path) -> tuple[JurisdictionIndex, list]:
    """Both cities' kecamatan and kelurahan, straight from the files (no database needed)."""
    from shapely.geometry import shape

    rows, shapes = [], []
    for kecamatan_file, kelurahan_file in CITIES.values():
        for name, level in ((kecamatan_file, "kecamatan"), (kelurahan_file, "kelurahan")):
            for feature in json.loads((data / "boundaries" / name).read_text())["features"]:
                p = feature["properties"]
                if level == "kecamatan":
                    area = Area(level, p["kode"], p["nama"], p["kode_kota"], p["nama_kota"], f"Polsek {p['nama']}")
                else:
                    area = Area(level, p["kode"], p["nama"], p["kode_kecamatan"], p["nama_kecamatan"],
                                f"Polsek {p['nama_kecamatan']}")
                rows.append((area, feature["geometry"]))
                if level == "kelurahan":
                    shapes.append(shape(feature["geometry"]))
    return JurisdictionIndex(rows), shapes


def random_points(shapes, count: int, rng: random.Random) -> list[tuple[float, float]]:
    """Points inside the kelurahan polygons (90%) and just around the cities (10%)."""
    import shapely

    points = []
    while len(points) < count:
        polygon = rng.choice(shapes)
        minx, miny, maxx, maxy = polygon.bounds
        margin = 0.02 if rng.random() < 0.1 else 0.0
        lon, lat = rng.uniform(minx - margin, maxx + margin), rng.uniform(miny - margin, maxy + margin)
        if margin or shapely.intersects_xy(polygon, lon, lat):
            points.append((lat, lon))
    return points


def synthetic_units(rules, shapes, count: int, rng: random.Random, now: float) -> list[UnitState]:
    agencies = sorted(rules.agencies)
    positions = random_points(shapes, count, rng)
    units = []
    for i, (lat, lon) in enumerate(positions):
        agency = rng.choice(agencies)
        units.append(UnitState(
            id=i + 1, callsign=f"{agency.upper()}-{i + 1:06d}", agency=agency,
            kind=rng.choice(rules.agencies[agency].unit_kinds), status=rng.choice(["available"] * 7 + ["dispatched", "off_duty"]),
            lat=lat, lon=lon, position_at=now - rng.uniform(0, 400), source=rng.choice(["gps"] * 9 + ["post"])))
    return units


def build_engine(rules, jurisdictions, hospitals, cameras, units, now: float) -> RoutingEngine:
    engine = RoutingEngine(rules, unit_speed_kmh=40, unit_stale_seconds=300)
    engine.use_places(jurisdictions, hospitals, cameras)
    engine.units.load(units)
    engine.units.build_all(now)  # the same clock as the decisions: a unit stale at build stays stale
    return engine


def percentile(values, q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def time_decisions(engine, queries, now: float, linear: bool) -> tuple[list[float], list[float], list[dict], int]:
    """Wall-clock and on-CPU microseconds per decision, the decisions, and the page faults they took.

    On a shared machine the wall-clock tail mostly measures other processes holding the CPU;
    the thread's CPU time is the cost of the decision itself. Both are reported.
    """
    engine.decide("fire", *queries[0][1:], now=now, linear=linear)  # warm: trees and arrays built
    # The long-lived unit table is moved out of the collector's sight, as a server does after
    # loading (gc.freeze); otherwise a full collection over 100,000 objects lands in some decision.
    gc.collect()
    gc.freeze()
    times, cpu, answers = [], [], []
    faults = page_faults()
    for category, lat, lon in queries:
        # The CPU clock is a system call of its own (about a microsecond): it is read outside
        # the wall-clock window, so that window holds the decision and nothing else.
        start_cpu = time.thread_time_ns()
        start = time.perf_counter_ns()
        answer = engine.decide(category, lat, lon, now=now, linear=linear)
        end = time.perf_counter_ns()
        cpu.append((time.thread_time_ns() - start_cpu) / 1000)
        times.append((end - start) / 1000)
        answers.append(answer)
    return times, cpu, answers, page_faults() - faults


def time_in_turns(engine, queries, linear_queries, now: float, turns: int = 3):
    """`time_decisions` for both paths, in alternating blocks of queries.

    This machine's speed drifts by a third from one minute to the next (other tenants of the
    host); timing all of one path and then all of the other could put them in different
    moments. In a few turns each path sees much the same moments. The turns are long, so
    that the linear scan's sweeps over every unit (which empty the caches) are paid by few
    indexed decisions: with thirty short turns the indexed p50 at 100,000 units rose by a
    fifth, a cost of the baseline's, not of the index.
    """
    fast, fast_cpu, fast_answers, slow, slow_cpu, slow_answers = [], [], [], [], [], []
    faults = {False: 0, True: 0}
    fast_block, slow_block = -(-len(queries) // turns), -(-len(linear_queries) // turns)
    for turn in range(turns):
        for path_queries, block, linear, into in ((queries, fast_block, False, (fast, fast_cpu, fast_answers)),
                                                  (linear_queries, slow_block, True, (slow, slow_cpu, slow_answers))):
            chunk = path_queries[turn * block:(turn + 1) * block]
            if chunk:
                *parts, block_faults = time_decisions(engine, chunk, now, linear=linear)
                for total, part in zip(into, parts):
                    total.extend(part)
                faults[linear] += block_faults
    return fast, fast_cpu, fast_answers, slow, slow_cpu, slow_answers, faults


def time_units(engine, queries, now: float, linear: bool) -> list[float]:
    times = []
    for category, lat, lon in queries:
        rule = engine.rules.resolve(category)[0]
        start = time.perf_counter_ns()
        engine._units_for(rule, (lat, lon), unit_vector(lat, lon), now, linear)
        times.append((time.perf_counter_ns() - start) / 1000)
    return times


def run_sizes(sizes, query_count: int, data: Path, seed: int) -> list[dict]:
    rng = random.Random(seed)
    rules = load_rules(REPO / "config" / "routing_rules.yaml")
    jurisdictions, shapes = load_jurisdictions(data)
    hospitals = PointIndex([Place(i, "hospital", f"RS {i:03d}", lat, lon)
                            for i, (lat, lon) in enumerate(random_points(shapes, 60, rng))])
    cameras = PointIndex([Place(i, "camera", f"CCTV {i:03d}", lat, lon)
                          for i, (lat, lon) in enumerate(random_points(shapes, 300, rng))])
    now = time.time()
    rows = []
    for size in sizes:
        units = synthetic_units(rules, shapes, size, rng, now)
        engine = build_engine(rules, jurisdictions, hospitals, cameras, units, now)
        queries = [(rng.choice(CATEGORIES), lat, lon) for lat, lon in random_points(shapes, query_count, rng)]
        linear_queries = queries if size <= 10_000 else queries[: max(200, query_count // 5)]
        fast, fast_cpu, fast_answers, slow, slow_cpu, slow_answers, faults = time_in_turns(engine, queries, linear_queries, now)
        mismatches = sum(a != b for a, b in zip(fast_answers, slow_answers))
        # The unit search alone (what the indexes are for), without the lookup and result assembly
        # both paths share.
        unit_fast = time_units(engine, queries, now, linear=False)
        unit_slow = time_units(engine, linear_queries, now, linear=True)
        rows.append({"units": size, "queries": len(queries), "fast_p50": percentile(fast, 50), "fast_p99": percentile(fast, 99),
                     "linear_p50": percentile(slow, 50), "linear_p99": percentile(slow, 99),
                     "cpu_fast_p50": percentile(fast_cpu, 50), "cpu_fast_p99": percentile(fast_cpu, 99),
                     "cpu_linear_p50": percentile(slow_cpu, 50), "cpu_linear_p99": percentile(slow_cpu, 99),
                     "compared": len(slow_answers), "mismatches": mismatches,
                     "units_fast_p50": percentile(unit_fast, 50), "units_slow_p50": percentile(unit_slow, 50),
                     "faults_fast": faults[False] / len(fast), "faults_slow": faults[True] / len(slow)})
        print(f"{size:>7} units: indexed p50 {rows[-1]['fast_p50']:8.1f} us p99 {rows[-1]['fast_p99']:8.1f} us | "
              f"linear p50 {rows[-1]['linear_p50']:8.1f} us p99 {rows[-1]['linear_p99']:8.1f} us | "
              f"x{rows[-1]['linear_p50'] / rows[-1]['fast_p50']:.1f} (p50) x{rows[-1]['linear_p99'] / rows[-1]['fast_p99']:.1f} (p99) | "
              f"{mismatches} of {len(slow_answers)} differ | unit search alone x{rows[-1]['units_slow_p50'] / rows[-1]['units_fast_p50']:.1f} | "
              f"page faults a decision {rows[-1]['faults_fast']:.1f} / {rows[-1]['faults_slow']:.1f}",
              flush=True)
    return rows


def montco_category(title: str) -> str:
    return MONTCO_TITLES.get(title) or MONTCO_PREFIX.get(title.split(":")[0], "general")


def replay_montco(data: Path, units_count: int, seed: int) -> dict:
    path = data / "calls" / "montco_911_sample_20000.csv"
    with open(path, newline="", encoding="utf-8") as handle:
        events = list(csv.DictReader(handle))
    lats = np.array([float(e["lat"]) for e in events])
    lons = np.array([float(e["lng"]) for e in events])
    centre = (float(np.median(lats)), float(np.median(lons)))
    moved = [(montco_category(e["title"]),
              MALANG_CENTRE[0] + MONTCO_SCALE * (float(e["lat"]) - centre[0]),
              MALANG_CENTRE[1] + MONTCO_SCALE * (float(e["lng"]) - centre[1])) for e in events]
    rng = random.Random(seed)
    rules = load_rules(REPO / "config" / "routing_rules.yaml")
    jurisdictions, shapes = load_jurisdictions(data)
    now = time.time()
    hospitals = PointIndex([Place(i, "hospital", f"RS {i:03d}", lat, lon)
                            for i, (lat, lon) in enumerate(random_points(shapes, 60, rng))])
    engine = build_engine(rules, jurisdictions, hospitals, PointIndex([]), synthetic_units(rules, shapes, units_count, rng, now), now)
    results = {}
    for mode, linear in (("indexed", False), ("linear", True)):
        engine.decide("fire", *moved[0][1:], now=now, linear=linear)
        start = time.perf_counter()
        answers = [engine.decide(c, lat, lon, now=now, linear=linear) for c, lat, lon in moved]
        elapsed = time.perf_counter() - start
        results[mode] = {"per_second": len(moved) / elapsed, "answers": answers}
    same = sum(a == b for a, b in zip(results["indexed"]["answers"], results["linear"]["answers"]))
    inside = sum(1 for a in results["indexed"]["answers"] if a["jurisdiction"]["kecamatan"])
    categories: dict[str, int] = {}
    for category, _, _ in moved:
        categories[category] = categories.get(category, 0) + 1
    return {"events": len(moved), "units": units_count, "indexed_per_s": results["indexed"]["per_second"],
            "linear_per_s": results["linear"]["per_second"], "same": same, "inside": inside, "categories": categories}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000,100000")
    parser.add_argument("--queries", type=int, default=3000)
    parser.add_argument("--replay-units", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=112)
    parser.add_argument("--malloc-as-is", action="store_true",
                        help="leave glibc's moving malloc thresholds alone (see steady_allocator)")
    args = parser.parse_args()
    held = False if args.malloc_as_is else steady_allocator()
    print(f"malloc: {'trim and mmap thresholds held' if held else 'as the C library sets it'}", flush=True)
    data = shared_data()
    if not (data / "boundaries").is_dir():
        sys.exit(f"the shared data set is not at {data} (set SIAGA112_SHARED_DATA)")
    rows = run_sizes([int(s) for s in args.sizes.split(",")], args.queries, data, args.seed)
    print()
    print("| units | indexed p50 / p99 (us) | linear p50 / p99 (us) | speed-up p50 / p99 | on-CPU indexed p50 / p99 (us) "
          "| on-CPU linear p50 / p99 (us) | on-CPU speed-up p50 / p99 | unit search alone p50, indexed / linear (us) "
          "| answers compared / differing | page faults a decision, indexed / linear |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['units']:,} | {r['fast_p50']:.1f} / {r['fast_p99']:.1f} | {r['linear_p50']:.1f} / {r['linear_p99']:.1f} | "
              f"{r['linear_p50'] / r['fast_p50']:.1f}x / {r['linear_p99'] / r['fast_p99']:.1f}x | "
              f"{r['cpu_fast_p50']:.1f} / {r['cpu_fast_p99']:.1f} | {r['cpu_linear_p50']:.1f} / {r['cpu_linear_p99']:.1f} | "
              f"{r['cpu_linear_p50'] / r['cpu_fast_p50']:.1f}x / {r['cpu_linear_p99'] / r['cpu_fast_p99']:.1f}x | "
              f"{r['units_fast_p50']:.1f} / {r['units_slow_p50']:.1f} ({r['units_slow_p50'] / r['units_fast_p50']:.0f}x) | "
              f"{r['compared']:,} / {r['mismatches']} | {r['faults_fast']:.1f} / {r['faults_slow']:.1f} |")
    replay = replay_montco(data, args.replay_units, args.seed)
    print()
    print(f"Montgomery County 911 replay: {replay['events']:,} events against {replay['units']:,} units: "
          f"indexed {replay['indexed_per_s']:,.0f} decisions/s, linear {replay['linear_per_s']:,.0f} decisions/s "
          f"(x{replay['indexed_per_s'] / replay['linear_per_s']:.1f}); {replay['same']:,} identical answers; "
          f"{replay['inside']:,} fell inside a Malang kecamatan; categories {replay['categories']}")
    if any(r["mismatches"] for r in rows) or replay["same"] != replay["events"]:
        sys.exit("the indexed engine and the linear scan disagree")


if __name__ == "__main__":
    main()
