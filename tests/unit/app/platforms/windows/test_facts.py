"""Windows facts, against Windows-format data in tests/data/windows/."""

from __future__ import annotations

import json
from pathlib import Path

from app.platforms.windows.facts import parse_windows_facts

DATA = Path(__file__).resolve().parents[4] / "data" / "windows"


def test_facts() -> None:
    facts, managers = parse_windows_facts((DATA / "facts_server2022.json").read_text())
    assert (
        facts.pretty_name == "Microsoft Windows Server 2022 Standard (21H2)"
        and facts.uptime_seconds == 86400.0
    )
    assert managers == {"wua", "choco"}


def test_hardware_from_cim() -> None:
    facts, _ = parse_windows_facts((DATA / "facts_server2022.json").read_text())
    hw = facts.hardware
    assert hw is not None
    assert (hw.manufacturer, hw.model, hw.serial) == ("Dell Inc.", "PowerEdge R650", "7XK2QK3")
    assert (hw.bios_vendor, hw.bios_version, hw.bios_date) == ("Dell Inc.", "1.10.2", "2023-05-16")
    assert hw.cpu_count == 32 and hw.memory_bytes == 128 * 2**30
    # one disk: PowerShell 5.1 wrote the one-element array as a bare object
    assert [d.model for d in hw.disks] == ["DELL PERC H755 SCSI Disk Device"]


def test_hardware_the_host_could_not_tell_is_unknown() -> None:
    obj = json.loads((DATA / "facts_server2022.json").read_text())
    obj["Hardware"] = {
        "Manufacturer": "System manufacturer",
        "Model": "",
        "MemoryBytes": 0,
        "LogicalProcessors": None,
        "Serial": "Default string",
        "Disks": [{"Name": "\\\\.\\PHYSICALDRIVE0", "Size": 0}, {"Name": ""}, "junk"],
    }
    hw = parse_windows_facts(json.dumps(obj))[0].hardware
    assert hw is not None
    assert hw.manufacturer is None and hw.model is None and hw.serial is None
    assert hw.memory_bytes is None and hw.cpu_count is None
    assert [(d.name, d.size_bytes) for d in hw.disks] == [("\\\\.\\PHYSICALDRIVE0", None)]


def test_facts_without_hardware_say_nothing_of_it() -> None:
    obj = json.loads((DATA / "facts_server2022.json").read_text())
    del obj["Hardware"]
    assert parse_windows_facts(json.dumps(obj))[0].hardware is None
    obj["Hardware"] = "not an object"
    assert parse_windows_facts(json.dumps(obj))[0].hardware is None
