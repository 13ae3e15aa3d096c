"""CSV inventories: a header row, then one host per row.

Recognised columns (case-insensitive, aliases in brackets): name, address [host, hostname, ip], port,
user [username], transport, group, ring, criticality, key [key_file, identity_file], tags
(separated by ``;``). Unknown columns are reported once and ignored.
"""

from __future__ import annotations

import csv
import io

from app.domain.errors import ConfigError, ImportFormatError
from app.domain.inventory import parse_choice
from app.domain.models import Criticality, Host, Ring, TransportKind
from app.importers.base import MAX_HOSTS_PER_FILE, ImportProblem, ImportResult, port_of, quote

_ALIASES = {
    "name": "name",
    "address": "address",
    "host": "address",
    "hostname": "address",
    "ip": "address",
    "port": "port",
    "user": "user",
    "username": "user",
    "transport": "transport",
    "group": "group",
    "ring": "ring",
    "criticality": "criticality",
    "key": "key",
    "key_file": "key",
    "identity_file": "key",
    "tags": "tags",
}

_MAX_CELL_CHARS = 1024


def parse_csv(text: str, *, max_hosts: int = MAX_HOSTS_PER_FILE) -> ImportResult:
    result = ImportResult("csv", max_hosts=max_hosts)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFormatError("The CSV file is empty: it needs a header row (name,address,...).") from None
    except csv.Error as exc:
        raise ImportFormatError(f"The CSV file cannot be read: {exc}.") from exc
    cols: list[str | None] = []
    for raw in header:
        key = _ALIASES.get(raw.strip().lower().replace(" ", "_"))
        if key is None and raw.strip():
            result.problems.append(ImportProblem(1, f"unknown column {quote(raw.strip())} ignored"))
        cols.append(key)
    if "address" not in cols and "name" not in cols:
        raise ImportFormatError(
            "The CSV header has neither a 'name' nor an 'address' column; "
            "the first row must name the columns."
        )
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            result.problems.append(ImportProblem(reader.line_num, f"unreadable row: {exc}"))
            continue
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(cols):
            result.problems.append(ImportProblem(line, f"{len(row)} fields but the header has {len(cols)}"))
            continue
        values = {k: v.strip() for k, v in zip(cols, row, strict=False) if k}
        if result.full:  # past the host cap, rows are only counted for the report
            result.admit(values.get("name") or values.get("address") or "", line)
            continue
        too_long = next((k for k, v in values.items() if len(v) > _MAX_CELL_CHARS), None)
        if too_long is not None:
            # Checked here so that no later message quotes a huge cell in full.
            cell = values[too_long]
            result.problems.append(
                ImportProblem(
                    line, f"the {too_long} {quote(cell)} is too long (at most {_MAX_CELL_CHARS:,} characters)"
                )
            )
            continue
        try:
            host = _row_to_host(values)
        except ConfigError as exc:
            result.problems.append(ImportProblem(line, str(exc)))
            continue
        result.add(host, line)
    return result.finish()


def _row_to_host(v: dict[str, str]) -> Host:
    name = v.get("name") or v.get("address") or ""
    address = v.get("address") or name
    if not name:
        raise ConfigError("the row has neither a name nor an address")
    transport = parse_choice(TransportKind, v["transport"], "transport") if v.get("transport") else "ssh"
    return Host(
        name=name,
        address=address,
        port=port_of(v.get("port", "")),
        user=v.get("user") or None,
        transport=TransportKind(transport),
        group=v.get("group") or None,
        ring=Ring(parse_choice(Ring, v["ring"], "ring")) if v.get("ring") else Ring.PRODUCTION,
        criticality=(
            Criticality(parse_choice(Criticality, v["criticality"], "criticality"))
            if v.get("criticality")
            else Criticality.STANDARD
        ),
        key_file=v.get("key") or None,
        tags=tuple(t.strip() for t in v.get("tags", "").split(";") if t.strip()),
    )
