"""Defaults and wording (#23 item 9, the rest): plain words instead of jargon, a maintenance-windows
button that does not read as Microsoft Windows, thousands separators, donut labels that do not pile
up at scale, and a Patch action in the Updates tab."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from PySide6.QtCore import QLocale

from app.domain.compliance import Summary, UpdateHost, UpdateStatus
from app.domain.models import Classification, Host, OsFacts, PendingUpdate, ScanResult, UpdateKind
from db import hosts as db_hosts
from db import scans as db_scans
from ui.charts import classification_chart, show_slice_labels
from ui.dialogs.first_run import keyring_words
from ui.dialogs.patch_dialog import PatchDialog
from ui.numbers import count_text
from ui.views.update_view import UpdateView

UI = Path(__file__).resolve().parents[2] / "ui"

#: What the console used to say, and must not say again.
JARGON = ('"Run due work now"', "Keyring backend: {name}", 'QPushButton("Windows")', 'setText("Keyring: ok')


def test_no_jargon_left_in_the_console() -> None:
    for path in UI.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for phrase in JARGON:
            assert phrase not in text, f"{path.name}: {phrase}"


def test_fail_keyring_reads_as_plain_words() -> None:
    assert keyring_words("fail Keyring") == (
        "No usable keyring was found on this desktop: passwords cannot be saved yet."
    )
    assert "SecretService" in keyring_words("SecretService Keyring")


def test_maintenance_windows_button_says_maintenance(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    from ui.views.windows_panel import WindowsPanel

    panel = WindowsPanel(db, lambda: datetime.now(UTC))
    qtbot.addWidget(panel)
    assert "maintenance" in panel.windows_button.text().lower()


@pytest.fixture
def german():  # type: ignore[no-untyped-def]
    before = QLocale()
    QLocale.setDefault(QLocale(QLocale.Language.German, QLocale.Country.Germany))
    yield
    QLocale.setDefault(before)


def test_large_numbers_have_separators(german) -> None:  # type: ignore[no-untyped-def]
    assert count_text(1234567) == "1.234.567"
    assert count_text(12) == "12"


def test_dashboard_tiles_group_digits(qtbot) -> None:  # type: ignore[no-untyped-def]
    from app.domain.compliance import Tile
    from ui.views.dashboard import TileButton

    tile = TileButton(Tile.HOSTS)
    qtbot.addWidget(tile)
    tile.set_value(12345)
    assert tile.number.text() == count_text(12345) != "12345"


def test_c_locale_still_groups_digits() -> None:
    before = QLocale()
    QLocale.setDefault(QLocale.c())
    try:
        assert count_text(12345) == "12,345"
    finally:
        QLocale.setDefault(before)


def test_donut_labels_do_not_pile_up_at_scale(qapp) -> None:  # type: ignore[no-untyped-def]
    summary = Summary({}, 3, 2, 12000, 7)
    _chart, pie = classification_chart(summary)
    show_slice_labels(pie)
    shown = [sl.label() for sl in pie.slices() if sl.isLabelVisible()]
    assert shown == ["Non-critical: 12,000"]  # the two thin slices' labels overlapped it
    assert [sl.label() for sl in pie.slices()][:2] == ["Urgent: 3", "Important: 2"]  # in the legend


def _scanned(db, name: str) -> Host:  # type: ignore[no-untyped-def]
    host = db_hosts.add_host(db, Host(name=name, address=f"{name}.example.invalid"))
    assert host.id is not None
    up = PendingUpdate(
        "apt", "openssl", "3.0.1", "3.0.2", kind=UpdateKind.SECURITY, classification=Classification.URGENT
    )
    other = PendingUpdate("apt", "curl", "7.1", "7.2", classification=Classification.NONCRITICAL)
    facts = OsFacts(id="debian", name="Debian", pretty_name="Debian 12", version="12", kernel="6.1.0")
    db_scans.record_scan(db, host.id, None, ScanResult(facts, ("apt",), (up, other), complete=True))
    return db_hosts.get_host(db, host.id)


def test_updates_tab_patch_targets_the_hosts_that_need_it(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    view = UpdateView(db)
    qtbot.addWidget(view)
    need = (
        UpdateHost(1, "web1", "3.0.1", "3.0.2", "urgent", None, None, "openssl"),
        UpdateHost(2, "web2", "3.0.1", "3.0.2", "urgent", None, None, "openssl"),
    )
    assert not view.patch_button.isEnabled()
    view.busy += 1
    view._status_loaded(UpdateStatus("CVE-2099-0001", need, (), ()))
    assert view.patch_button.isEnabled()
    assert view.patch_targets() == ([1, 2], ["openssl"])
    view.status_tables[0].selectRow(1)
    with qtbot.waitSignal(view.patch_requested) as sig:
        view.patch_button.click()
    assert sig.args == [[2], ["openssl"]]  # the selected row only
    view.set_patch_allowed(False)  # a job runs
    assert not view.patch_button.isEnabled()


def test_updates_tab_patch_opens_the_preview_with_that_package(qtbot, db, window) -> None:  # type: ignore[no-untyped-def]
    a, b = _scanned(db, "web1"), _scanned(db, "web2")
    window.reload_hosts()
    window.show_update("openssl")
    view = window.updates_view
    qtbot.waitUntil(lambda: view.status is not None and not view.busy)
    qtbot.waitUntil(view.patch_button.isEnabled)
    view.patch_button.click()
    dlg = window.active_dialog
    assert isinstance(dlg, PatchDialog)
    assert {h.id for h in dlg.hosts} == {a.id, b.id}
    assert dlg.chosen_packages() == {"openssl"}  # curl stays unchecked
    dlg.reject()
