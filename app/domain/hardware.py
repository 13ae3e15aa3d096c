"""The hardware inventory of a host: who made it, which model, its firmware (BIOS/UEFI), CPU, memory
and disks, as the scan read them.

A field the host could not tell (an unreadable DMI file in a VM, a serial only root may read) is
None: never invented, never an empty string passed off as a value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# What firmware vendors leave in DMI/SMBIOS fields they did not fill: not a value.
PLACEHOLDERS = frozenset(
    {
        "",
        "to be filled by o.e.m.",
        "to be filled by oem",
        "default string",
        "not specified",
        "not applicable",
        "system product name",
        "system manufacturer",
        "system serial number",
        "none",
        "n/a",
        "0",
        "0123456789",
        "unknown",
    }
)

#: At most this many disks are kept per host (a storage server lists hundreds of LUNs).
MAX_DISKS = 64


@dataclass(frozen=True)
class Disk:
    """One whole disk (not a partition)."""

    name: str
    size_bytes: int | None = None
    model: str | None = None
    serial: str | None = None
    kind: str | None = None  # lsblk's TYPE ("disk"), or Windows' MediaType

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "size_bytes": self.size_bytes,
            "model": self.model,
            "serial": self.serial,
            "type": self.kind,
        }


@dataclass(frozen=True)
class Hardware:
    """What a scan learnt of a host's hardware."""

    manufacturer: str | None = None
    model: str | None = None
    serial: str | None = None
    bios_vendor: str | None = None
    bios_version: str | None = None
    bios_date: str | None = None
    cpu_model: str | None = None
    cpu_count: int | None = None
    memory_bytes: int | None = None
    disks: tuple[Disk, ...] = ()

    def as_json(self) -> dict[str, object]:
        return {
            "manufacturer": self.manufacturer,
            "model": self.model,
            "serial": self.serial,
            "bios_vendor": self.bios_vendor,
            "bios_version": self.bios_version,
            "bios_date": self.bios_date,
            "cpu_model": self.cpu_model,
            "cpu_count": self.cpu_count,
            "memory_bytes": self.memory_bytes,
            "disks": [d.as_json() for d in self.disks],
        }

    @property
    def empty(self) -> bool:
        """Nothing at all could be read."""
        return self == Hardware()

    def summary(self) -> str:
        """One line for lists: "Dell Inc. PowerEdge R650, 32 CPU, 128 GiB" (unknown parts left out)."""
        parts = [" ".join(p for p in (self.manufacturer, self.model) if p)]
        if self.cpu_count is not None:
            parts.append(f"{self.cpu_count} CPU")
        if self.memory_bytes is not None:
            parts.append(human_bytes(self.memory_bytes))
        return ", ".join(p for p in parts if p)


def search_text(hw: Hardware | None) -> str:
    """What an inventory search matches a host's hardware against (lower case)."""
    if hw is None:
        return ""
    parts = (hw.manufacturer, hw.model, hw.serial, hw.bios_vendor, hw.bios_version, hw.cpu_model)
    return " ".join(p for p in parts if p).lower()


def matches_model(hw: Hardware | None, text: str) -> bool:
    """Whether ``text`` is part of the host's manufacturer + model (case-insensitive); a host whose
    hardware is not known matches nothing."""
    if hw is None:
        return False
    return text.strip().lower() in " ".join(p for p in (hw.manufacturer, hw.model) if p).lower()


def human_bytes(n: int) -> str:
    """1073741824 -> "1 GiB" (binary units, as memory is sold and shown)."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if value >= 10 or unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover - the loop always returns


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def hardware_from_json(obj: Mapping[str, object]) -> Hardware:
    """The inverse of :meth:`Hardware.as_json` (as stored); wrong types read as unknown."""
    raw_disks = obj.get("disks")
    disks = []
    if isinstance(raw_disks, list):
        for d in raw_disks[:MAX_DISKS]:
            if isinstance(d, dict) and isinstance(d.get("name"), str):
                disks.append(
                    Disk(
                        d["name"],
                        _int(d.get("size_bytes")),
                        _text(d.get("model")),
                        _text(d.get("serial")),
                        _text(d.get("type")),
                    )
                )
    return Hardware(
        manufacturer=_text(obj.get("manufacturer")),
        model=_text(obj.get("model")),
        serial=_text(obj.get("serial")),
        bios_vendor=_text(obj.get("bios_vendor")),
        bios_version=_text(obj.get("bios_version")),
        bios_date=_text(obj.get("bios_date")),
        cpu_model=_text(obj.get("cpu_model")),
        cpu_count=_int(obj.get("cpu_count")),
        memory_bytes=_int(obj.get("memory_bytes")),
        disks=tuple(disks),
    )
