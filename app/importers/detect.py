"""Recognise an inventory file's format from its content (the extension is only a hint)."""

from __future__ import annotations

import re
from pathlib import Path

from app.domain.errors import ImportFormatError
from app.importers.ansible import parse_ini, parse_yaml
from app.importers.base import ImportResult
from app.importers.csv_file import parse_csv
from app.importers.ssh_config import parse_ssh_config

MAX_IMPORT_BYTES = 20 * 1024 * 1024

_SSH_KEYS = re.compile(r"^\s*(host|hostname|identityfile|proxyjump|user|port)\s*[ =]", re.I | re.M)
_INI_SECTION = re.compile(r"^\s*\[[^\]\n]+\]\s*$", re.M)


def detect_format(text: str, name: str = "") -> str:
    suffix = Path(name).suffix.lower()
    stripped = text.lstrip("\ufeff \t\r\n")
    if suffix in (".yml", ".yaml") or stripped.startswith("---"):
        return "ansible-yaml"
    if suffix == ".csv":
        return "csv"
    if re.search(r"^\s*host\s+\S", text, re.I | re.M) and _SSH_KEYS.search(text):
        return "ssh-config"
    if _INI_SECTION.search(text):
        return "ansible-ini"
    first = stripped.splitlines()[0] if stripped else ""
    if re.match(r"^[\w\s]+:\s*$", first):
        return "ansible-yaml"
    if "," in first or ";" in first or "\t" in first:
        return "csv"
    return "ansible-ini"  # a bare list of host names is a valid INI inventory


def parse_inventory(text: str, name: str = "", fmt: str | None = None) -> ImportResult:
    fmt = fmt or detect_format(text, name)
    parsers = {
        "csv": parse_csv,
        "ansible-ini": parse_ini,
        "ansible-yaml": parse_yaml,
        "ssh-config": parse_ssh_config,
    }
    if fmt not in parsers:
        raise ImportFormatError(
            f"Unknown inventory format {fmt!r}; use csv, ansible-ini, ansible-yaml or ssh-config."
        )
    return parsers[fmt](text)


def read_inventory(path: Path, fmt: str | None = None) -> ImportResult:
    """Read and parse an inventory file; unreadable files are a clear ImportFormatError."""
    try:
        size = path.stat().st_size
        if size > MAX_IMPORT_BYTES:
            raise ImportFormatError(f"{path} is {size // 1048576} MiB; an inventory over 20 MiB is refused.")
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImportFormatError(f"{path} does not exist.") from None
    except IsADirectoryError:
        raise ImportFormatError(f"{path} is a folder, not an inventory file.") from None
    except PermissionError:
        raise ImportFormatError(f"{path} cannot be read (permission denied).") from None
    if b"\0" in data[:8192]:
        raise ImportFormatError(
            f"{path} is a binary file, not an inventory (CSV, Ansible INI/YAML or SSH config)."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return parse_inventory(text, path.name, fmt)
