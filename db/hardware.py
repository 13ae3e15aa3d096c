"""The hardware inventory of each host (table host_hardware, written with every successful scan)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from app.domain.hardware import Hardware, hardware_from_json
from db.connection import Database
from db.database import now_iso

_COLUMNS = (
    "manufacturer, model, serial, bios_vendor, bios_version, bios_date, cpu_model, cpu_count, "
    "memory_bytes, disks"
)


def save(db: Database, host_id: int, hw: Hardware) -> None:
    """Store what the host's scan read, replacing the last one (runs in the caller's transaction)."""
    db.execute(
        f"INSERT OR REPLACE INTO host_hardware (host_id, {_COLUMNS}, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            host_id,
            hw.manufacturer,
            hw.model,
            hw.serial,
            hw.bios_vendor,
            hw.bios_version,
            hw.bios_date,
            hw.cpu_model,
            hw.cpu_count,
            hw.memory_bytes,
            json.dumps([d.as_json() for d in hw.disks]),
            now_iso(),
        ],
    )


def _row(row: Sequence[Any]) -> Hardware:
    try:
        disks = json.loads(row[9] or "[]")
    except ValueError:
        disks = []
    names = _COLUMNS.replace(" ", "").split(",")
    obj: dict[str, object] = dict(zip(names[:9], row[:9], strict=True))
    obj["disks"] = disks
    return hardware_from_json(obj)


def hardware_for(db: Database, host_id: int) -> Hardware | None:
    """The host's hardware as last read; None when no scan has read it yet."""
    row = db.execute(f"SELECT {_COLUMNS} FROM host_hardware WHERE host_id = ?", [host_id]).fetchone()
    return _row(row) if row is not None else None


def all_hardware(db: Database) -> dict[int, Hardware]:
    """Every host's hardware, by host id (hosts never read are absent)."""
    rows = db.execute(f"SELECT host_id, {_COLUMNS} FROM host_hardware").fetchall()
    return {int(r[0]): _row(r[1:]) for r in rows}


def updated_at(db: Database, host_id: int) -> str | None:
    row = db.execute("SELECT updated_at FROM host_hardware WHERE host_id = ?", [host_id]).fetchone()
    return str(row[0]) if row is not None else None


def search_texts(db: Database) -> dict[int, str]:
    """Per host, what the inventory filter matches its hardware against: manufacturer, model, serial,
    BIOS version and CPU, casefolded (one query, for the whole inventory)."""
    rows = db.execute(
        "SELECT host_id, manufacturer, model, serial, bios_vendor, bios_version, cpu_model FROM host_hardware"
    ).fetchall()
    return {int(r[0]): " ".join(str(v) for v in r[1:] if v).casefold() for r in rows}
