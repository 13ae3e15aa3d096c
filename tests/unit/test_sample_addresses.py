"""Sample data, fixtures and docs name only loopback addresses or names under .invalid: a user or a
test may click Scan on anything the tree shows, and a private or public address would reach out."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRIVATE = re.compile(
    r"(?<![\d.])(10\.\d{1,3}\.\d{1,3}\.\d{1,3}|192\.168\.\d{1,3}\.\d{1,3}|172\.(1[6-9]|2\d|3[01])\.\d{1,3}\.\d{1,3}"
    # and the documentation ranges (TEST-NET-1/2/3): not loopback either, and a click on Scan dials them
    r"|192\.0\.2\.\d{1,3}|198\.51\.100\.\d{1,3}|203\.0\.113\.\d{1,3})(?![\d.])"
)
# the same made by an f-string template (a ten, a dot, then a brace): literals alone let generated
# fleets through
PRIVATE_TEMPLATE = re.compile(r"(?<![\w.])(10|192\.168|172\.(1[6-9]|2\d|3[01]))\.(\d{1,3}\.){0,2}\{")
FOLDERS = ("app", "db", "ui", "tests", "bench", "docs", "resources", "packaging")
SUFFIXES = {".py", ".md", ".csv", ".ini", ".yml", ".yaml", ".json", ".txt", ".conf", ".cfg", ".toml", ".spec"}


def test_no_private_addresses_in_the_tree() -> None:
    files = [ROOT / "README.md", ROOT / "build.spec"]
    files += [p for f in FOLDERS for p in (ROOT / f).rglob("*") if p.suffix in SUFFIXES and p.is_file()]
    bad = []
    for path in files:
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if PRIVATE.search(line) or (path.suffix == ".py" and PRIVATE_TEMPLATE.search(line)):
                bad.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()[:100]}")
    assert bad == []
