"""ui/ never imports paramiko, winrm, keyring or sqlite3; slots on cross-thread paths are decorated."""

from __future__ import annotations

import ast
from pathlib import Path

UI = Path(__file__).resolve().parents[2] / "ui"
FORBIDDEN = {"paramiko", "winrm", "keyring", "sqlite3"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


def test_ui_does_not_import_forbidden_modules():
    bad = {str(p.relative_to(UI.parent)): sorted(_imports(p) & FORBIDDEN) for p in UI.rglob("*.py")}
    assert {k: v for k, v in bad.items() if v} == {}


def test_bridge_and_worker_receivers_are_slots():
    for rel, names in (("bridge.py", {"drain"}), ("workers.py", {"_deliver", "_deliver_error"})):
        tree = ast.parse((UI / rel).read_text(encoding="utf-8"))
        for fn in ast.walk(tree):
            if isinstance(fn, ast.FunctionDef) and fn.name in names:
                decos = [ast.unparse(d) for d in fn.decorator_list]
                assert any(d.startswith("Slot(") for d in decos), f"{rel}:{fn.name} lacks @Slot"
