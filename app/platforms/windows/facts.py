"""Facts of a Windows host, in one WinRM round trip (the POSIX facts snippet cannot run there)."""

from __future__ import annotations

from app.domain.errors import AdapterError
from app.domain.hardware import MAX_DISKS, PLACEHOLDERS, Disk, Hardware
from app.domain.models import OsFacts
from app.platforms.windows.output import int_value, json_value, text_value
from app.platforms.windows.scripts import render, script_body
from app.transports.base import Transport


def facts_script() -> str:
    return render("windows-facts", script_body("windows-facts"))


def parse_windows_facts(text: str) -> tuple[OsFacts, frozenset[str]]:
    """The facts script's JSON -> OsFacts (id "windows") and the managers found ("wua", "choco",
    "winget")."""
    obj = json_value(text)
    if not isinstance(obj, dict):
        raise AdapterError("The host did not answer the Windows facts script with JSON.")
    caption = text_value(obj.get("Caption"), 128)
    version = text_value(obj.get("Version"), 32)
    build = text_value(obj.get("Build"), 32)
    uptime = obj.get("UptimeSeconds")
    facts = OsFacts(
        id="windows",
        id_like=(),
        name=caption or "Microsoft Windows",
        version=version,
        version_codename=text_value(obj.get("DisplayVersion"), 16),
        pretty_name=caption
        + (f" ({text_value(obj.get('DisplayVersion'), 16)})" if obj.get("DisplayVersion") else ""),
        kernel=build or version,
        uptime_seconds=float(uptime)
        if isinstance(uptime, int | float) and not isinstance(uptime, bool)
        else None,
        hostname=text_value(obj.get("Hostname"), 64),
        hardware=parse_windows_hardware(obj.get("Hardware")),
    )
    managers = {"wua"}
    if obj.get("Choco") is True:
        managers.add("choco")
    if obj.get("WinGet") is True:
        managers.add("winget")
    return facts, frozenset(managers)


def _text(value: object, limit: int = 128) -> str | None:
    text = text_value(value, limit)
    return None if text.lower() in PLACEHOLDERS else text


def _count(value: object) -> int | None:
    n = int_value(value, -1) if not isinstance(value, bool) else -1
    return n if n > 0 else None  # 0 is what [int64]$null gives: unknown, not none


def parse_windows_hardware(value: object) -> Hardware | None:
    """The facts script's ``Hardware`` object (CIM Win32_ComputerSystem, Win32_BIOS, Win32_Processor,
    Win32_DiskDrive) -> Hardware; None when the script sent none (a console older than the host's)."""
    if not isinstance(value, dict):
        return None
    raw = value.get("Disks")
    items = raw if isinstance(raw, list) else [raw] if isinstance(raw, dict) else []
    disks = tuple(
        Disk(
            text_value(d.get("Name"), 64),
            _count(d.get("Size")),
            _text(d.get("Model")),
            _text(d.get("Serial")),
            _text(d.get("MediaType"), 64),
        )
        for d in items[:MAX_DISKS]
        if isinstance(d, dict) and text_value(d.get("Name"), 64)
    )
    return Hardware(
        manufacturer=_text(value.get("Manufacturer")),
        model=_text(value.get("Model")),
        serial=_text(value.get("Serial")),
        bios_vendor=_text(value.get("BiosVendor")),
        bios_version=_text(value.get("BiosVersion")),
        bios_date=_text(value.get("BiosDate"), 32),
        cpu_model=_text(value.get("CpuModel"), 256),
        cpu_count=_count(value.get("LogicalProcessors")),
        memory_bytes=_count(value.get("MemoryBytes")),
        disks=disks,
    )


def is_windows(facts: OsFacts) -> bool:
    return facts.id == "windows"


def gather_windows_facts(transport: Transport) -> tuple[OsFacts, frozenset[str]]:
    """Facts of a Windows host and the package managers found on it."""
    res = transport.run(facts_script(), timeout=60)
    if not res.ok:
        raise AdapterError(f"Could not read the Windows version: {res.err.strip()[:300] or res.exit_status}")
    return parse_windows_facts(res.out)
