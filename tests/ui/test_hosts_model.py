"""The inventory model sorts and filters itself (no proxy): order, selection and totals stay right
when scan results change rows or filters change, and the filter matches the displayed fields."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt

from app.domain.models import Host, HostStatus
from ui.models.hosts_model import COL_NAME, COL_URGENT
from ui.views.inventory import InventoryView


def _hosts() -> list[Host]:
    return [
        Host(
            name="web-01", address="127.0.9.1", id=1, group="web", last_status=HostStatus.OK, pending_urgent=1
        ),
        Host(
            name="web-02", address="127.0.9.2", id=2, group="web", last_status=HostStatus.OK, pending_urgent=5
        ),
        Host(
            name="db-01",
            address="127.0.1.1",
            id=3,
            group="databases",
            os_name="Debian GNU/Linux 12",
            last_status=HostStatus.UNREACHABLE,
            pending_urgent=3,
            reboot_required=True,
        ),
        Host(name="ws-01", address="127.0.2.1", id=4, port=2222),
    ]


def _view(qtbot) -> InventoryView:  # type: ignore[no-untyped-def]
    v = InventoryView()
    qtbot.addWidget(v)
    v.set_hosts(_hosts())
    v.show()
    return v


def _names(v: InventoryView) -> list[str]:
    return [v.model.data(v.model.index(r, COL_NAME)) for r in range(v.model.rowCount())]


def test_sort_is_the_models_and_follows_changed_rows(qtbot):
    v = _view(qtbot)
    assert _names(v) == ["db-01", "web-01", "web-02", "ws-01"]  # by name, as the view starts
    v.table.sortByColumn(COL_URGENT, Qt.SortOrder.DescendingOrder)
    assert _names(v) == ["web-02", "db-01", "web-01", "ws-01"]  # never scanned (-1) last
    assert [v.model.host_at(r).name for r in range(4)] == _names(v)  # the model holds the order
    v.select_ids({1})
    # a scan result moves web-01 to the top; the selection goes with it
    v.update_hosts([replace(v.model.host_by_id(1), pending_urgent=9)])
    assert _names(v)[0] == "web-01"
    assert [h.name for h in v.selected_hosts()] == ["web-01"]
    assert v.model.row_of(1) == 0
    # a change that keeps the order does not re-sort (no layout change at all)
    layouts: list[int] = []
    v.model.layoutChanged.connect(lambda *a: layouts.append(1))
    v.update_hosts([replace(v.model.host_by_id(3), pending_urgent=4)])
    assert not layouts and _names(v) == ["web-01", "web-02", "db-01", "ws-01"]
    # a reload keeps the chosen sort
    v.set_hosts(_hosts())
    assert _names(v) == ["web-02", "db-01", "web-01", "ws-01"]


def test_filter_matches_displayed_fields_not_across_them(qtbot):
    v = _view(qtbot)
    v.filter_edit.setText("WEB")
    assert _names(v) == ["web-01", "web-02"]
    v.filter_edit.setText("debian")  # the OS
    assert _names(v) == ["db-01"]
    v.filter_edit.setText(":2222")  # the address as shown, with its port
    assert _names(v) == ["ws-01"]
    v.filter_edit.setText("0110")  # never across two fields (a name ending "01", an address "10…")
    assert _names(v) == []
    v.filter_edit.clear()
    assert len(_names(v)) == 4
    # an update refreshes what the filter sees
    v.filter_edit.setText("renamed")
    v.update_hosts([replace(v.model.host_by_id(4), name="renamed-ws")])
    assert _names(v) == ["renamed-ws"]


def test_totals_follow_updates(qtbot):
    v = _view(qtbot)
    t = v.model.totals()
    assert (t["urgent"], t["bad"], t["never"], t["reboot"]) == (9, 1, 1, 1)
    v.update_hosts([replace(v.model.host_by_id(3), last_status=HostStatus.OK, pending_urgent=0)])
    t = v.model.totals()
    assert (t["urgent"], t["bad"], t["never"], t["reboot"]) == (6, 0, 1, 1)


def test_filter_keeps_the_selection_of_rows_still_shown(qtbot):
    v = _view(qtbot)
    v.select_ids({1, 3})  # web-01, db-01
    resets: list[int] = []
    v.model.modelReset.connect(lambda: resets.append(1))
    v.filter_edit.setText("web")
    assert _names(v) == ["web-01", "web-02"]
    assert [h.name for h in v.selected_hosts()] == ["web-01"]  # db-01 is filtered out
    assert v.model.row_of(3) is None and v.model.host_by_id(3).name == "db-01"
    assert v.count_label.text() == "2 of 4 hosts"
    v.filter_edit.clear()
    assert [h.name for h in v.selected_hosts()] == ["web-01"]  # stays where it was, not re-selected
    assert v.count_label.text() == "4 hosts"
    assert not resets  # layout changes, never a reset: the scroll position and current row survive


def test_same_rows_after_a_key_is_no_layout_change(qtbot):
    v = _view(qtbot)
    v.filter_edit.setText("web-")
    layouts: list[int] = []
    v.model.layoutChanged.connect(lambda *a: layouts.append(1))
    v.filter_edit.setText("web")  # still web-01 and web-02
    assert not layouts and _names(v) == ["web-01", "web-02"]
    v.filter_edit.setText("web-01")
    assert layouts == [1] and _names(v) == ["web-01"]


def test_updates_move_hosts_across_the_filter(qtbot):
    v = _view(qtbot)
    v.filter_edit.setText("debian")
    assert _names(v) == ["db-01"]
    v.update_hosts([replace(v.model.host_by_id(4), os_name="Debian GNU/Linux 13")])
    assert _names(v) == ["db-01", "ws-01"]
    v.update_hosts([replace(v.model.host_by_id(3), os_name="Ubuntu 24.04")])
    assert _names(v) == ["ws-01"]
    # a host filtered out still counts, and still updates
    assert v.model.total_count() == 4
    v.update_hosts([replace(v.model.host_by_id(1), pending_urgent=7)])
    assert v.model.host_by_id(1).pending_urgent == 7 and v.model.totals()["urgent"] == 7 + 5 + 3


def test_scope_and_text_filter_combine_and_sorting_keeps_both(qtbot):
    v = _view(qtbot)
    v.set_scope([1, 3, 4], "Missing urgent")
    assert _names(v) == ["db-01", "web-01", "ws-01"]
    assert v.model.host_ids() == {1, 3, 4}
    v.filter_edit.setText("0")  # every name has a 0; the scope still applies
    assert _names(v) == ["db-01", "web-01", "ws-01"]
    v.filter_edit.setText("web")
    assert _names(v) == ["web-01"]
    v.filter_edit.setText("")
    v.table.sortByColumn(COL_URGENT, Qt.SortOrder.DescendingOrder)
    assert _names(v) == ["db-01", "web-01", "ws-01"]  # 3, 1, never scanned
    v.update_hosts([replace(v.model.host_by_id(1), pending_urgent=9)])  # re-sorted, still scoped
    assert _names(v) == ["web-01", "db-01", "ws-01"]
    v.clear_scope()
    assert v.model.host_ids() is None
    assert _names(v) == ["web-01", "web-02", "db-01", "ws-01"]
    # a reload keeps sort, text filter and scope
    v.filter_edit.setText("web")
    v.set_hosts(_hosts())
    assert _names(v) == ["web-02", "web-01"]


def test_search_texts_are_built_after_a_load_not_by_the_first_key(qtbot, monkeypatch):
    import ui.views.inventory as inventory

    monkeypatch.setattr(inventory, "SEARCH_PREPARE_DELAY_MS", 50)
    v = _view(qtbot)
    assert v.model._search == []  # not while loading
    qtbot.waitUntil(lambda: len(v.model._search) == 4, timeout=3000)
    v.filter_edit.setText("web")
    assert _names(v) == ["web-01", "web-02"]
