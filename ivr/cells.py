"""Cell towers from OpenCelliD's CSV, for a coarse fix of callers whose network names their cell.

OpenCelliD columns: radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,
updated,averageSignal (more columns are ignored). Loading the same file again updates the
cells in place (upsert on mcc, mnc, area, cell).
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable, Iterator

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from routing.geo import validate_point
from siaga112.models import CellTower

log = logging.getLogger(__name__)
BATCH = 1000
REQUIRED = ("radio", "mcc", "net", "area", "cell", "lon", "lat")


@dataclass
class ImportResult:
    loaded: int = 0
    skipped: int = 0


def read_cells(lines: Iterable[str], result: ImportResult) -> Iterator[dict]:
    """Rows of an OpenCelliD CSV as cell_towers values; a bad row is counted and skipped."""
    reader = csv.DictReader(lines)
    missing = [name for name in REQUIRED if name not in (reader.fieldnames or [])]
    if missing:
        raise ValueError(f"not an OpenCelliD CSV: no column {', '.join(missing)}")
    for number, row in enumerate(reader, start=2):
        try:
            lat, lon = validate_point(row["lat"], row["lon"])
            updated = row.get("updated") or ""
            yield {
                "radio": row["radio"].strip().upper()[:8],
                "mcc": int(row["mcc"]), "mnc": int(row["net"]), "area": int(row["area"]), "cell": int(row["cell"]),
                "lat": lat, "lon": lon,
                "range_m": float(row["range"]) if row.get("range") else None,
                "samples": int(row["samples"]) if row.get("samples") else None,
                "updated_at": datetime.fromtimestamp(int(updated), timezone.utc) if updated.isdigit() else None,
            }
        except (ValueError, TypeError, KeyError) as error:
            result.skipped += 1
            log.info("cell CSV line %d skipped: %s", number, error)


def import_cells(session: Session, lines: Iterable[str]) -> ImportResult:
    """Upsert every cell of the CSV in batches."""
    result = ImportResult()
    dialect = session.get_bind().dialect.name
    make_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    batch: list[dict] = []

    def flush() -> None:
        # The same cell twice in one batch would make one statement update a row twice.
        unique = list({(r["mcc"], r["mnc"], r["area"], r["cell"]): r for r in batch}.values())
        statement = make_insert(CellTower.__table__).values(unique)
        statement = statement.on_conflict_do_update(
            index_elements=["mcc", "mnc", "area", "cell"],
            set_={name: statement.excluded[name] for name in ("radio", "lat", "lon", "range_m", "samples", "updated_at")},
        )
        session.execute(statement)
        result.loaded += len(unique)
        batch.clear()

    for values in read_cells(lines, result):
        batch.append(values)
        if len(batch) >= BATCH:
            flush()
    if batch:
        flush()
    return result
