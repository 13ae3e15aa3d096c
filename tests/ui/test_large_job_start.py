"""What the window pays when a job of many hosts starts (#25, the GUI while it scans 1,000 hosts),
checked by what it does rather than by a clock."""

from __future__ import annotations

import threading
from types import SimpleNamespace

from app.domain.models import Host
from tests.support.fleet import populate
from ui.main_window import MainWindow
from ui.views.job_panel import JobPanel


def test_a_block_of_hosts_stays_one_selection_range_when_the_inventory_reloads(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    populate(db, hosts=120, days=1)
    w = MainWindow(db, runner=None, secrets=None)
    qtbot.addWidget(w)
    inv = w.inventory
    block = {inv.model.host_at(r).id for r in range(10, 90)}  # type: ignore[union-attr]
    inv.select_ids(block)
    sel = inv.table.selectionModel().selection()
    # every row was its own range (80 here, 1,000 in a 1,000-host scan): each paint and each
    # selection change then walked all of them
    assert sel.count() == 1
    inv.set_hosts(inv.model.hosts())  # a reload keeps the selection by host id
    assert inv.table.selectionModel().selection().count() == 1
    assert {h.id for h in inv.selected_hosts()} == block
    # a set with gaps: one range per run of neighbouring rows, and exactly those rows
    gappy = {inv.model.host_at(r).id for r in (*range(0, 5), 7, *range(20, 23))}  # type: ignore[union-attr]
    inv.select_ids(gappy | {None, 10_000_000})  # no id / a host that is gone: left out
    assert inv.table.selectionModel().selection().count() == 3
    assert {h.id for h in inv.selected_hosts()} == gappy


def _shown_with(qtbot, hosts: list[Host]) -> JobPanel:  # type: ignore[no-untyped-def]
    panel = JobPanel()
    qtbot.addWidget(panel)
    panel.start_job(SimpleNamespace(job_id=1, cancel_event=threading.Event()), hosts)  # type: ignore[arg-type]
    panel.show()  # the first job is what first shows the panel
    qtbot.waitExposed(panel)
    return panel


def test_a_long_host_name_does_not_widen_the_job_logs_host_filter(qtbot) -> None:  # type: ignore[no-untyped-def]
    few = _shown_with(qtbot, [Host(name=f"web{i:02d}", address="127.0.0.1", id=i) for i in range(1, 4)])
    many = [Host(name=f"host{i:04d}", address="127.0.0.1", id=i) for i in range(1, 1001)]
    many.append(Host(name="x" * 300, address="127.0.0.1", id=5000))
    big = _shown_with(qtbot, many)
    # the combo measured every host's name when first shown: a thousand of them as a 1,000-host
    # scan began, and a hostile 300-character name widened the panel
    assert big.host_filter.sizeHint().width() == few.host_filter.sizeHint().width()
    assert big.host_filter.count() == len(many) + 1
    assert big.host_filter.itemData(big.host_filter.count() - 1) == 5000  # every host is there
