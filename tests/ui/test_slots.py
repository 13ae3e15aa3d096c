"""Slots on cross-thread paths are decorated (which modules ui/ may import is checked by the import
contracts in pyproject.toml, see tests/unit/test_layers.py)."""

from __future__ import annotations

import ast
from pathlib import Path

UI = Path(__file__).resolve().parents[2] / "ui"


def test_bridge_and_worker_receivers_are_slots():
    for rel, names in (("bridge.py", {"drain"}), ("workers.py", {"_deliver", "_deliver_error"})):
        tree = ast.parse((UI / rel).read_text(encoding="utf-8"))
        for fn in ast.walk(tree):
            if isinstance(fn, ast.FunctionDef) and fn.name in names:
                decos = [ast.unparse(d) for d in fn.decorator_list]
                assert any(d.startswith("Slot(") for d in decos), f"{rel}:{fn.name} lacks @Slot"
