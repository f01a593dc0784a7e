"""Every script the pages load parses: one syntax error leaves a console without its live queue."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted(p for p in ROOT.glob("*/**/static/**/*.js") if "vendor" not in p.parts and ".venv" not in p.parts)


@pytest.mark.parametrize("script", SCRIPTS, ids=[str(p.relative_to(ROOT)) for p in SCRIPTS])
def test_every_console_script_parses(script):
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        pytest.skip("node is not installed (the browser tests still load every script)")
    result = subprocess.run([node, "--check", str(script)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
