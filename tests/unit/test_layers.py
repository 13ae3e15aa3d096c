"""The layers hold: the import contracts of pyproject.toml pass, and SQL text is only in db/.

Which package may import which (ui → app → db → app.domain, Qt only in ui/, paramiko, winrm, keyring
and sqlite3 never in ui/, keyring only in app/secrets.py) is import-linter's job; this test runs its
contracts so `make test` fails on a broken layer as `make lint` does. What import-linter cannot see,
SQL written outside db/, is checked here on the syntax tree.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
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


def test_packages_exist() -> None:
    for package in ("app", "db", "ui"):
        assert _modules(package), f"{package}/ has no modules"


def test_import_contracts_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    cli = pytest.importorskip("importlinter.cli", reason="import-linter is in the dev extra")
    monkeypatch.chdir(ROOT)
    monkeypatch.syspath_prepend(str(ROOT))
    assert cli.lint_imports(no_cache=True, no_logo=True) == 0, "an import contract is broken (see output)"


def test_every_part_of_app_has_a_layer() -> None:
    """A contract is silent about modules it does not name: each package and module of app/ is in
    the layers contract, so nothing new escapes it."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    (layers,) = [c for c in config["contracts"] if c["type"] == "layers"]
    named = {m.strip() for layer in layers["layers"] for m in re.split(r"[:|]", layer)}
    parts = {
        f"app.{p.stem}"
        for p in (ROOT / "app").iterdir()
        if (p.is_dir() and (p / "__init__.py").exists()) or (p.suffix == ".py" and p.stem != "__init__")
    }
    assert parts - named == set()


def test_domain_imports_only_the_standard_library_and_dateutil() -> None:
    """import-linter forbids a list of packages; this says the same positively for the pure layer."""
    allowed = set(sys.stdlib_module_names) | {"dateutil", "app"}
    bad = []
    for path in sorted((ROOT / "app" / "domain").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                if name.split(".")[0] not in allowed or (
                    name.startswith("app.") and not name.startswith("app.domain")
                ):
                    bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert bad == []


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
    assert bad == []
