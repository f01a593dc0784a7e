"""Local storage a centre depends on (the recordings folder, the call journal): free space and
writability, and the private copies of what the database holds that a start without it needs."""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from pathlib import Path

PROBE_BYTES = 4096


def disk_health(folder: str | os.PathLike, warn_below_percent: float) -> dict:
    """Free space of the disk holding `folder`: `ok`, `low` (below the warning share) or `full`."""
    path = Path(folder)
    probe = path if path.exists() else path.parent
    try:
        usage = shutil.disk_usage(probe)
    except OSError as error:
        return {"status": "unreadable", "path": str(path), "reason": str(error)[:200]}
    free_percent = 100.0 * usage.free / usage.total if usage.total else 0.0
    status = "full" if usage.free < 1024 * 1024 else "low" if free_percent < warn_below_percent else "ok"
    return {"status": status, "path": str(path), "free_bytes": usage.free, "total_bytes": usage.total,
            "free_percent": round(free_percent, 1)}


def write_probe(folder: str | os.PathLike) -> str | None:
    """None if a small file can be written, synced and removed in `folder`; else why not."""
    path = Path(folder) / f".siaga112-probe-{uuid.uuid4().hex[:8]}"
    try:
        with path.open("wb") as probe:
            probe.write(b"\0" * PROBE_BYTES)
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as error:
        return f"{error.strerror or error.__class__.__name__} ({error.errno})"
    finally:
        try:
            path.unlink()
        except OSError:
            pass
    return None


def write_private_copy(path: str | os.PathLike, data) -> None:
    """Write `data` as JSON to `path` whole or not at all (synced, then renamed into place),
    readable by this service's user alone: such copies hold keys or token hashes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def read_private_copy(path: str | os.PathLike, max_age_s: float | None = None):
    """What `write_private_copy` wrote, and its age in seconds; None if there is none, or if it
    is older than `max_age_s`. Raises OSError or ValueError for a copy that cannot be read."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as handle:
            age = max(0.0, time.time() - os.fstat(handle.fileno()).st_mtime)
            if max_age_s is not None and age > max_age_s:
                return None
            return json.load(handle), age
    except FileNotFoundError:
        return None
