"""The hardware inventory of a POSIX host, read in the facts round trip (app/platforms/posix/facts.py).

The snippet reads /sys/class/dmi/id, /proc/cpuinfo and /proc/meminfo with the shell's own ``read`` and
starts one program, ``lsblk``, where it exists. Everything it prints is untrusted text: the parsers
are pure, bounded and never raise, and a value the host did not give (an unreadable DMI file: the
serial is root-only on most distributions; no DMI at all in many VMs) is None.
"""

from __future__ import annotations

import json
import re

from app.domain.hardware import MAX_DISKS, PLACEHOLDERS, Disk, Hardware
from app.platforms.base import clean_value

#: The DMI files read, in /sys/class/dmi/id.
DMI_FIELDS: tuple[str, ...] = (
    "sys_vendor",
    "product_name",
    "product_serial",
    "bios_vendor",
    "bios_version",
    "bios_date",
)

#: Sections the snippet adds to the facts output, in order.
HARDWARE_SECTIONS: tuple[str, ...] = ("dmi", "lsblk", "cpu", "mem")

#: The most lsblk output parsed; a host that prints more is cut here (its JSON then fails to parse,
#: and the disks read as unknown).
MAX_LSBLK_CHARS = 256 * 1024

LSBLK_COMMAND = "lsblk --json -b -d -o NAME,SIZE,MODEL,SERIAL,TYPE"

_MEM_RE = re.compile(r"MemTotal:\s+(\d{1,15})\s*kB\s*\Z")


def hardware_snippet(markers: dict[str, str]) -> str:
    """Shell: print the hardware sections, each after its marker line (``markers`` maps section names
    to the nonce-bearing marker lines of the facts snippet)."""
    dmi = " ".join(DMI_FIELDS)
    return (
        f"printf '\\n%s\\n' '{markers['dmi']}'; "
        f"for pd_f in {dmi}; do "
        "if { IFS= read -r pd_l < /sys/class/dmi/id/$pd_f; } 2>/dev/null; "
        'then printf \'%s=%s\\n\' "$pd_f" "$pd_l"; fi; done; '
        f"printf '\\n%s\\n' '{markers['lsblk']}'; "
        f"command -v lsblk >/dev/null 2>&1 && {LSBLK_COMMAND} 2>/dev/null; "
        f"printf '\\n%s\\n' '{markers['cpu']}'; "
        "pd_c=0; pd_m=; "
        '{ while IFS= read -r pd_l; do case "$pd_l" in '
        'processor*) pd_c=$((pd_c + 1));; "model name"*) [ -n "$pd_m" ] || pd_m=$pd_l;; esac; '
        "done < /proc/cpuinfo; } 2>/dev/null; "
        'printf \'count=%s\\n%s\\n\' "$pd_c" "$pd_m"; '
        f"printf '\\n%s\\n' '{markers['mem']}'; "
        '{ while IFS= read -r pd_l; do case "$pd_l" in '
        "MemTotal:*) printf '%s\\n' \"$pd_l\"; break;; esac; done < /proc/meminfo; } 2>/dev/null; "
    )


def _value(raw: str) -> str | None:
    value = clean_value(raw)
    return None if value.lower() in PLACEHOLDERS else value


def parse_dmi(lines: list[str]) -> dict[str, str | None]:
    """``name=value`` lines -> {DMI field: value}; only the known fields, first occurrence wins."""
    out: dict[str, str | None] = {}
    for line in lines[: len(DMI_FIELDS) * 4]:
        key, sep, value = line.partition("=")
        if sep and key in DMI_FIELDS and key not in out:
            out[key] = _value(value)
    return out


def _size(value: object) -> int | None:
    # util-linux before 2.33 prints SIZE as a string even with --bytes
    if isinstance(value, str) and value.isdigit() and len(value) <= 20:
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def _opt(value: object) -> str | None:
    return _value(value) if isinstance(value, str) else None


def parse_lsblk(text: str) -> tuple[Disk, ...] | None:
    """``lsblk --json -b -d`` output -> the whole disks; None when it is missing or unreadable."""
    if not text.strip() or len(text) > MAX_LSBLK_CHARS:
        return None
    try:
        obj = json.loads(text)
    except ValueError:
        return None
    devices = obj.get("blockdevices") if isinstance(obj, dict) else None
    if not isinstance(devices, list):
        return None
    disks = []
    for d in devices:
        if not isinstance(d, dict) or not isinstance(d.get("name"), str):
            continue
        kind = _opt(d.get("type"))
        if kind not in (None, "disk"):
            continue  # loop devices, ROMs and the like are not the machine's disks
        size = _size(d.get("size"))
        if size == 0:
            continue  # an unused zram or an empty card reader
        disks.append(Disk(clean_value(d["name"]), size, _opt(d.get("model")), _opt(d.get("serial")), kind))
        if len(disks) >= MAX_DISKS:
            break
    return tuple(disks)


def parse_cpu(lines: list[str]) -> tuple[str | None, int | None]:
    """The CPU model name and the number of logical CPUs (None where /proc/cpuinfo said nothing)."""
    count: int | None = None
    model: str | None = None
    for line in lines[:4]:
        if line.startswith("count="):
            digits = line[6:].strip()
            count = int(digits) if digits.isdigit() and len(digits) <= 6 and int(digits) > 0 else None
        elif line.startswith("model name") and ":" in line:
            model = _value(line.split(":", 1)[1])
    return model, count


def parse_mem(lines: list[str]) -> int | None:
    """MemTotal in bytes, or None."""
    for line in lines[:2]:
        m = _MEM_RE.match(line.strip())
        if m:
            return int(m.group(1)) * 1024
    return None


def parse_hardware(sections: dict[str, list[str]]) -> Hardware | None:
    """The hardware sections -> Hardware; None when the host printed none of them (an older console's
    snippet, or output cut before them)."""
    if not any(s in sections for s in HARDWARE_SECTIONS):
        return None
    dmi = parse_dmi(sections.get("dmi", []))
    cpu_model, cpu_count = parse_cpu(sections.get("cpu", []))
    disks = parse_lsblk("\n".join(sections.get("lsblk", [])))
    return Hardware(
        manufacturer=dmi.get("sys_vendor"),
        model=dmi.get("product_name"),
        serial=dmi.get("product_serial"),
        bios_vendor=dmi.get("bios_vendor"),
        bios_version=dmi.get("bios_version"),
        bios_date=dmi.get("bios_date"),
        cpu_model=cpu_model,
        cpu_count=cpu_count,
        memory_bytes=parse_mem(sections.get("mem", [])),
        disks=disks or (),
    )
