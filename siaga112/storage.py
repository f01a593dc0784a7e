"""Local storage a centre depends on (the recordings folder, the call journal): free space and writability."""

from __future__ import annotations

import os
import shutil
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
