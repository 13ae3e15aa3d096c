"""The hardware inventory in the POSIX facts round trip (app/platforms/posix/hardware.py).

tests/data/facts/hardware_vm_real.txt is the facts snippet's real output on the Debian 12 VM these
tests were written on: no DMI at all (the hypervisor exposes none), a zram device of size 0 and one
virtio disk without model or serial.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.hardware import Hardware, hardware_from_json, matches_model
from app.platforms.posix.facts import facts_command, marker, new_nonce, parse_facts
from app.platforms.posix.hardware import (
    MAX_LSBLK_CHARS,
    parse_cpu,
    parse_dmi,
    parse_hardware,
    parse_lsblk,
    parse_mem,
)
from app.transports.base import decode

DATA = Path(__file__).resolve().parents[4] / "data" / "facts"
NONCE = "0123456789abcdef0123456789abcdef"


def sections(**bodies: str) -> str:
    return "".join(f"\n{marker(NONCE, name)}\n{body}" for name, body in bodies.items())


def test_real_vm_recording_reads_what_is_there_and_invents_nothing() -> None:
    facts, _ = parse_facts(decode((DATA / "hardware_vm_real.txt").read_bytes()), NONCE)
    hw = facts.hardware
    assert hw is not None
    assert hw.manufacturer is None and hw.model is None and hw.serial is None
    assert hw.bios_vendor is None and hw.bios_version is None and hw.bios_date is None
    assert hw.cpu_model == "AMD EPYC" and hw.cpu_count == 2
    assert hw.memory_bytes == 24683784 * 1024
    assert [d.name for d in hw.disks] == ["vda"]  # the empty zram device is not a disk
    assert hw.disks[0].size_bytes == 274877906944 and hw.disks[0].model is None


def test_the_snippet_reads_this_machine_in_a_real_shell() -> None:
    nonce = new_nonce()
    out = subprocess.run(["sh", "-c", facts_command(nonce)], capture_output=True, check=True, timeout=20)
    hw = parse_facts(decode(out.stdout), nonce)[0].hardware
    assert hw is not None
    assert hw.cpu_count == os.cpu_count()
    with open("/proc/meminfo") as f:
        kib = int(f.readline().split()[1])
    assert hw.memory_bytes == kib * 1024


def test_dmi_of_a_physical_server_and_its_placeholders() -> None:
    dmi = parse_dmi(
        [
            "sys_vendor=Dell Inc.",
            "product_name=PowerEdge R650",
            "product_serial=To Be Filled By O.E.M.",
            "bios_vendor=Dell Inc.",
            "bios_version=1.10.2",
            "bios_date=05/16/2023",
            "sys_vendor=forged second line",
            "evil=1",
        ]
    )
    assert dmi == {
        "sys_vendor": "Dell Inc.",
        "product_name": "PowerEdge R650",
        "product_serial": None,
        "bios_vendor": "Dell Inc.",
        "bios_version": "1.10.2",
        "bios_date": "05/16/2023",
    }


def test_a_root_only_serial_is_unknown_not_empty() -> None:
    # /sys/class/dmi/id/product_serial is mode 0400: a non-root login cannot read it, and the
    # snippet prints no line for it
    text = sections(dmi="sys_vendor=LENOVO\nproduct_name=20XW\n", end="")
    hw = parse_hardware({"dmi": ["sys_vendor=LENOVO", "product_name=20XW"]})
    assert hw is not None and hw.serial is None and hw.model == "20XW"
    assert parse_facts(text, NONCE)[0].hardware == Hardware(manufacturer="LENOVO", model="20XW")


def test_no_hardware_sections_is_none_not_an_empty_inventory() -> None:
    assert parse_hardware({}) is None
    assert parse_hardware({"mem": []}) == Hardware()


def test_lsblk_old_string_sizes_and_non_disks() -> None:
    text = (
        '{"blockdevices": [{"name": "sda", "size": "500107862016", "model": "Samsung SSD 860",'
        ' "serial": "S3Z9NB0K", "type": "disk"}, {"name": "sr0", "size": 1073741312, "model": "DVD",'
        ' "serial": null, "type": "rom"}, {"name": "loop0", "size": 4096, "type": "loop"}]}'
    )
    disks = parse_lsblk(text)
    assert disks is not None and len(disks) == 1
    assert disks[0].size_bytes == 500107862016 and disks[0].serial == "S3Z9NB0K"


def test_lsblk_broken_answers_are_unknown() -> None:
    assert parse_lsblk("") is None
    assert parse_lsblk("lsblk: unknown column: SERIAL") is None
    assert parse_lsblk('{"blockdevices": "nope"}') is None
    assert parse_lsblk("[" * 10 + "]" * 10) is None
    assert parse_lsblk('{"blockdevices": []}' + " " * MAX_LSBLK_CHARS) is None
    assert parse_lsblk('{"blockdevices": [{"name": 3}, {"name": "vda", "size": -1}]}') == (
        parse_lsblk('{"blockdevices": [{"name": "vda"}]}')
    )


def test_cpu_and_memory_values_from_a_hostile_host() -> None:
    assert parse_cpu(["count=0", ""]) == (None, None)
    assert parse_cpu(["count=99999999", "model name\t: \x1b[31mEvil\x07CPU"]) == ("[31mEvilCPU", None)
    assert parse_mem(["MemTotal:  lots kB"]) is None
    assert parse_mem(["MemTotal:       16318012 kB"]) == 16318012 * 1024


def test_model_filter_and_stored_form() -> None:
    hw = Hardware(manufacturer="Dell Inc.", model="PowerEdge R650", cpu_count=4)
    assert matches_model(hw, "poweredge") and matches_model(hw, "dell inc. power")
    assert not matches_model(hw, "ThinkPad") and not matches_model(None, "")
    assert hardware_from_json(hw.as_json()) == hw
    assert hardware_from_json({"cpu_count": True, "disks": [{"name": 1}], "model": 7}) == Hardware()


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["dmi", "lsblk", "cpu", "mem"]), st.lists(st.text(), max_size=6)))
def test_parse_hardware_never_raises(data: dict[str, list[str]]) -> None:
    hw = parse_hardware(data)
    assert (hw is None) == (not data)
