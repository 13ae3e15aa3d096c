"""#24 item 4 in the window: the host detail's Hardware tab and the inventory filter by model."""

from __future__ import annotations

from app.domain.hardware import Disk, Hardware
from app.domain.models import Host, OsFacts, ScanResult
from db import hosts as db_hosts
from db import scans as db_scans
from ui.main_window import MainWindow
from ui.views.host_detail import hardware_text

R650 = Hardware(
    manufacturer="Dell Inc.",
    model="PowerEdge R650",
    serial="7XK2QK3",
    bios_vendor="Dell Inc.",
    bios_version="1.10.2",
    bios_date="05/16/2023",
    cpu_count=32,
    memory_bytes=128 * 2**30,
    disks=(Disk("sda", 480 * 10**9, "PERC H755"),),
)


def test_hardware_text_says_what_is_not_known() -> None:
    text = hardware_text(Hardware(cpu_count=2))
    assert "Manufacturer: not known" in text and "Serial number: not known" in text
    assert "CPU: not known (2 logical)" in text and "Disks: not known" in text
    assert "Not read yet" in hardware_text(None)
    full = hardware_text(R650)
    assert "Model: PowerEdge R650" in full and "Memory: 128 GiB" in full and "sda: 447 GiB, PERC H755" in full


def test_detail_tab_and_filter_by_model(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    hosts = [db_hosts.add_host(db, Host(name=n, address=f"127.0.33.{i}")) for i, n in ((1, "a1"), (2, "b2"))]
    for h, hw in zip(hosts, (R650, Hardware(manufacturer="LENOVO", model="ThinkCentre M70q")), strict=True):
        db_scans.record_scan(db, h.id, None, ScanResult(OsFacts(id="debian", hardware=hw), ("apt",), ()))
    win = MainWindow(db, runner=None, secrets=None)
    qtbot.addWidget(win)
    win.show()
    try:
        win.show_inventory()
        win.inventory.filter_edit.setText("poweredge")
        assert [win.inventory.model.host_at(r).name for r in range(win.inventory.model.rowCount())] == ["a1"]
        win.inventory.filter_edit.setText("")
        win.inventory.select_host(hosts[0].id)
        first = hosts[0].id
        qtbot.waitUntil(lambda: win.detail.host is not None and win.detail.host.id == first, timeout=5000)
        assert win.detail.tabs.tabText(win.detail.tabs.indexOf(win.detail.hardware)) == "Hardware"
        assert "Serial number: 7XK2QK3" in win.detail.hardware.text()
    finally:
        win.close()
