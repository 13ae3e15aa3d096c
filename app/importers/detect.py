"""Recognise an inventory file's format from its content (the extension is only a hint)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import IO

from app.domain.errors import ImportFormatError
from app.importers.ansible import parse_ini, parse_yaml
from app.importers.base import (
    MAX_HOSTS_PER_FILE,
    MAX_IMPORT_BYTES,
    ImportResult,
    read_bounded,
    read_bounded_stream,
)
from app.importers.csv_file import parse_csv
from app.importers.ssh_config import parse_ssh_config

__all__ = ["MAX_IMPORT_BYTES", "detect_format", "parse_inventory", "read_inventory", "read_inventory_stream"]

# [ \t]* rather than \s*: \s also matches newlines, and at every line start of a long run of blank
# lines the engine would scan the rest of the run again (quadratic).
_SSH_KEYS = re.compile(r"^[ \t]*(host|hostname|identityfile|proxyjump|user|port)[ \t]*[ =]", re.I | re.M)
_SSH_HOST = re.compile(r"^[ \t]*host[ \t]+\S", re.I | re.M)
_INI_SECTION = re.compile(r"^[ \t]*\[[^\]\n]+\][ \t\r]*$", re.M)


def detect_format(text: str, name: str = "") -> str:
    suffix = Path(name).suffix.lower()
    stripped = text.lstrip("\ufeff \t\r\n")
    if suffix in (".yml", ".yaml") or stripped.startswith("---"):
        return "ansible-yaml"
    if suffix == ".csv":
        return "csv"
    if _SSH_HOST.search(text) and _SSH_KEYS.search(text):
        return "ssh-config"
    if _INI_SECTION.search(text):
        return "ansible-ini"
    first = (stripped.partition("\n")[0].splitlines() or [""])[0]
    if re.match(r"^[\w\s]+:\s*$", first):
        return "ansible-yaml"
    if "," in first or ";" in first or "\t" in first:
        return "csv"
    return "ansible-ini"  # a bare list of host names is a valid INI inventory


def parse_inventory(
    text: str, name: str = "", fmt: str | None = None, *, max_hosts: int = MAX_HOSTS_PER_FILE
) -> ImportResult:
    """Parse ``text``; at most ``max_hosts`` hosts are read (a setting may pass its own), more are
    reported as a problem of the file."""
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
    return parsers[fmt](text, max_hosts=max_hosts)


def read_inventory(
    path: Path,
    fmt: str | None = None,
    *,
    limit: int = MAX_IMPORT_BYTES,
    max_hosts: int = MAX_HOSTS_PER_FILE,
) -> ImportResult:
    """Read and parse an inventory file; unreadable files (missing, a folder, a device or FIFO, over
    ``limit`` bytes, binary) are a clear ImportFormatError."""
    return _parse_bytes(read_bounded(path, limit), str(path), path.name, fmt, max_hosts)


def read_inventory_stream(
    stream: IO[bytes],
    fmt: str | None = None,
    *,
    name: str = "<stdin>",
    limit: int = MAX_IMPORT_BYTES,
    max_hosts: int = MAX_HOSTS_PER_FILE,
) -> ImportResult:
    """Read and parse an inventory from a stream the user named (stdin), with the same size cap."""
    return _parse_bytes(read_bounded_stream(stream, limit, name), name, "", fmt, max_hosts)


def _parse_bytes(data: bytes, where: str, name: str, fmt: str | None, max_hosts: int) -> ImportResult:
    if b"\0" in data[:8192]:
        raise ImportFormatError(
            f"{where} is a binary file, not an inventory (CSV, Ansible INI/YAML or SSH config)."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    del data  # the last reference: up to 20 MB less while the hosts are built
    return parse_inventory(text, name, fmt, max_hosts=max_hosts)
