"""Where the real test data lives (../shared/data beside the checkout), or a clear skip."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def shared_data_dir() -> Path | None:
    configured = os.environ.get("SIAGA112_SHARED_DATA")
    path = Path(configured) if configured else REPO.parent / "shared" / "data"
    return path if path.is_dir() else None


def shared_file(relative: str) -> Path:
    """A file of the shared data set, or skip the test saying what is missing."""
    base = shared_data_dir()
    if base is None:
        pytest.skip("the shared test data (../shared/data, or SIAGA112_SHARED_DATA) is not present in this checkout")
    path = base / relative
    if not path.exists():
        pytest.skip(f"shared test data file {relative} is not present")
    return path
