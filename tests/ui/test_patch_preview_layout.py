"""#23 item 1: the patch preview hid what it would do: From/To cut to the same prefix ("5.36.0-7+…" →
"5.36.0-7+…"), the Change column to "up…", because the dialog was a fixed 860x640 whatever the
screen. The dialog sizes to its screen, elides in the middle and shows full versions in tooltips."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QTreeWidgetItem

from app.domain.models import InstallPlan, PackageChange
from db import hosts as db_hosts
from tests.support.fleet import populate
from ui.dialogs.patch_dialog import PatchDialog

CHANGES = (
    PackageChange("apt", "perl-base", "5.36.0-7+deb12u1", "5.36.0-7+deb12u2"),
    PackageChange("apt", "libssl3", "3.0.15-1~deb12u1", "3.0.17-1~deb12u2"),
    PackageChange("apt", "linux-image-6.1.0-37-amd64-unsigned", None, "6.1.140-1"),
    PackageChange("apt", "openssh-server", "1:9.2p1-2+deb12u5", "1:9.2p1-2+deb12u6"),
)


@pytest.fixture
def dialog(qtbot, db):  # type: ignore[no-untyped-def]
    populate(db, hosts=12, days=2)
    hosts = db_hosts.list_hosts(db)[:3]
    dlg = PatchDialog(db, None, hosts)
    qtbot.addWidget(dlg)
    dlg.show()
    dlg.plans = {h.id: InstallPlan(CHANGES, reboot_expected=True) for h in hosts if h.id is not None}
    dlg._fill_plan_tree()
    qtbot.wait(50)
    yield dlg
    dlg.close()


def _fits(dlg: PatchDialog, item: QTreeWidgetItem, col: int) -> bool:
    tree = dlg.plan_tree
    width = QFontMetrics(item.font(col)).horizontalAdvance(item.text(col))
    indent = tree.indentation() * 2 if col == 0 else 0
    return width + indent + 10 <= tree.columnWidth(col)


def test_preview_shows_full_versions_or_a_tooltip_with_them(dialog) -> None:  # type: ignore[no-untyped-def]
    tree = dialog.plan_tree
    assert tree.textElideMode() == Qt.TextElideMode.ElideMiddle  # both ends of a version stay visible
    problems = []
    for i in range(tree.topLevelItemCount()):
        top = tree.topLevelItem(i)
        for j in range(top.childCount()):
            item = top.child(j)
            c = CHANGES[j]
            for col, full in ((0, c.name), (1, c.from_version or "—"), (2, c.to_version or "—")):
                if item.text(col) == full and _fits(dialog, item, col):
                    continue
                if full not in item.toolTip(col):
                    problems.append(f"{top.text(0)} {c.name} column {col}: {full!r} cut, no tooltip")
            if not _fits(dialog, item, 3):  # the kind of change is short: always whole
                problems.append(f"{top.text(0)} {c.name}: change {item.text(3)!r} cut")
    assert problems == []


def test_preview_sizes_to_its_screen(dialog) -> None:  # type: ignore[no-untyped-def]
    screen = dialog.screen().availableGeometry()
    assert dialog.width() <= screen.width() and dialog.height() <= screen.height()
    # and uses it: not a fixed small box on a big screen
    assert dialog.width() >= min(860, screen.width() * 0.7)


def test_package_labels_have_their_whole_text_in_a_tooltip(dialog) -> None:  # type: ignore[no-untyped-def]
    lst = dialog.package_list
    assert lst.count() > 0
    for i in range(lst.count()):
        item = lst.item(i)
        assert item.text() in item.toolTip()
