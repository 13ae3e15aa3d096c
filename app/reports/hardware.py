"""The hardware inventory as a file: CSV (one row per host, one cell per field) or JSON."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence

from app.domain.hardware import Hardware, matches_model
from app.domain.models import Host
from app.reports.render import spreadsheet_cell

COLUMNS = (
    "host",
    "address",
    "group",
    "manufacturer",
    "model",
    "serial",
    "bios_vendor",
    "bios_version",
    "bios_date",
    "cpu_model",
    "cpu_count",
    "memory_bytes",
    "disks",
)


def _rows(
    hosts: Sequence[Host], hardware: Mapping[int, Hardware], model: str | None
) -> list[tuple[Host, Hardware | None]]:
    rows = [(h, hardware.get(h.id) if h.id is not None else None) for h in hosts]
    return [(h, hw) for h, hw in rows if not model or matches_model(hw, model)]


def hardware_csv(hosts: Sequence[Host], hardware: Mapping[int, Hardware], model: str | None = None) -> str:
    """Hosts never read have empty hardware cells; so do fields the host could not tell."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for h, hw in _rows(hosts, hardware, model):
        values: list[object] = [h.name, h.address, h.group]
        if hw is None:
            values += [None] * (len(COLUMNS) - 3)
        else:
            disks = "; ".join(f"{d.name} {d.size_bytes or '?'} {d.model or ''}".strip() for d in hw.disks)
            values += [hw.manufacturer, hw.model, hw.serial, hw.bios_vendor, hw.bios_version, hw.bios_date,
                       hw.cpu_model, hw.cpu_count, hw.memory_bytes, disks]  # fmt: skip
        w.writerow([spreadsheet_cell(v) for v in values])
    return buf.getvalue()


def hardware_json(hosts: Sequence[Host], hardware: Mapping[int, Hardware], model: str | None = None) -> str:
    data = {
        "hosts": [
            {"host": h.name, "address": h.address, "group": h.group, "hardware": hw.as_json() if hw else None}
            for h, hw in _rows(hosts, hardware, model)
        ]
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
