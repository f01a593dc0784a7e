"""Routing is the core: it must run without the IVR, the console or the recordings."""

from __future__ import annotations

import ast
from pathlib import Path

ROUTING = Path(__file__).resolve().parents[2] / "routing"
FORBIDDEN = ("ivr", "agent_console", "recordings")


def test_no_routing_module_imports_the_ivr_console_or_recordings():
    offenders = []
    for path in ROUTING.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.relative_to(ROUTING.parent)}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []


def test_the_frame_imports_no_domain_and_not_the_centre_wiring():
    frame = ROUTING.parent / "siaga112"
    offenders = []
    for path in frame.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.relative_to(frame.parent)}: {n}" for n in names
                          if n.split(".")[0] in (*FORBIDDEN, "routing", "center")]
    assert offenders == []
