"""DESIGN.md's layers, enforced: ui → app → db, Qt only in ui/, SQL only in db/."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SQL = re.compile(
    r"^\s*(SELECT\s.+\sFROM\s|INSERT\s+(OR\s+\w+\s+)?INTO\s|UPDATE\s+\w+\s+SET\s|DELETE\s+FROM\s|"
    r"(CREATE|DROP|ALTER)\s+(TABLE|INDEX|VIEW|TRIGGER)\s|PRAGMA\s+\w+)",
    re.I | re.S,
)


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def _violations(package: str, forbidden: tuple[str, ...]) -> list[str]:
    bad = []
    for path in _modules(package):
        for name in _imports(path):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    return bad


def test_packages_exist() -> None:
    for package in ("app", "db", "ui"):
        assert _modules(package), f"{package}/ has no modules"


def test_app_is_qt_widget_free_and_never_imports_ui() -> None:
    assert _violations("app", ("PySide6.QtWidgets", "PySide6.QtGui", "PySide6.QtCharts", "ui")) == []


def test_ui_never_talks_to_hosts_keyring_or_sqlite_directly() -> None:
    assert _violations("ui", ("paramiko", "winrm", "keyring", "sqlite3", "secretstorage")) == []


def test_db_imports_neither_ui_nor_qt() -> None:
    assert _violations("db", ("ui", "PySide6")) == []


@pytest.mark.parametrize("package", ["app", "ui"])
def test_only_db_runs_sql(package: str) -> None:
    bad = []
    for path in _modules(package):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.match(node.value):
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: SQL text {node.value[:40]!r}")
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("execute", "executemany", "executescript", "query")
            ):
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: calls .{node.func.attr}()")
    assert _violations(package, ("sqlite3",)) == []
    assert bad == []


def test_only_app_secrets_touches_keyring() -> None:
    users = [
        str(p.relative_to(ROOT))
        for p in _modules("app") + _modules("db")
        if any(n == "keyring" or n.startswith("keyring.") for n in _imports(p))
    ]
    assert users in ([], ["app/secrets.py"])
