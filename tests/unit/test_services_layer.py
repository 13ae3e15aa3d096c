"""Use cases once: the CLI and the GUI write through app/services/, never straight into db/.

The services sit below the CLI and never import it (nor ui/); the CLI's command modules and the GUI
call the services for every write of the inventory, windows, rules and settings, and for audit entries.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: db/ write functions that belong to a service (module alias used in the tree -> functions)
WRITES = {
    "db_hosts": {"add_host", "update_host", "remove_host", "trust_host_key", "forget_host_keys"},
    "db_policy": {"add_window", "update_window", "remove_window", "save_rule", "remove_rule", "reset_rules"},
    "joblogs": {"set_retention_days"},
    "db_compliance": {"set_stale_days"},
    "audit": {"record"},
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def _direct_writes(path: Path) -> list[str]:
    bad = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.attr in WRITES.get(node.func.value.id, ())
        ):
            bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.func.value.id}.{node.func.attr}()")
    return bad


def test_services_import_neither_the_cli_nor_the_gui() -> None:
    bad = [
        f"{p.relative_to(ROOT)} imports {name}"
        for p in sorted((ROOT / "app" / "services").rglob("*.py"))
        for name in _imports(p)
        if name.split(".")[0] == "ui" or name == "app.cli" or name.startswith("app.cli.")
    ]
    assert bad == []


def test_the_cli_and_the_gui_write_through_services() -> None:
    files = sorted((ROOT / "app" / "cli").rglob("*.py")) + sorted((ROOT / "ui").rglob("*.py"))
    bad = [w for p in files for w in _direct_writes(p)]
    assert bad == []


def test_the_old_cli_modules_are_gone() -> None:
    assert not (ROOT / "app" / "cli.py").exists()
    assert not (ROOT / "app" / "cli_policy.py").exists()
