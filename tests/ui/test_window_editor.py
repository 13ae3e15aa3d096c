"""Maintenance windows edited from the Schedule tab (pytest-qt, offscreen, a real SQLite file): the dialog
builds the RRULE from plain choices, previews the next openings with the scheduler's own maths, refuses
what cannot work with a sentence, round-trips what it saved, and every change is in the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from PySide6.QtCore import QDate, QTime
from PySide6.QtWidgets import QDialogButtonBox, QMessageBox

from app.domain.maintenance_windows import MaintenanceWindow, next_windows
from app.domain.models import Host
from app.services import audit
from db import audit as db_audit
from db import hosts as db_hosts
from db import maintenance_windows as db_windows
from tests.ui.helpers import when_modal
from ui.dialogs import window_dialog as wd
from ui.main_window import MainWindow

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)  # a Saturday


def _schedule(qtbot, db):  # type: ignore[no-untyped-def]
    w = MainWindow(db)
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    view = w.schedule_view
    view.now_override = NOW
    with qtbot.waitSignal(view.loaded, timeout=10000):
        w.tabs.setCurrentWidget(view)
    return w, view


def _nightly(db) -> MaintenanceWindow:  # type: ignore[no-untyped-def]
    nightly = MaintenanceWindow(
        "nightly", "FREQ=DAILY;BYHOUR=2", timedelta(hours=2), "UTC", datetime(2026, 1, 1), ("lab",)
    )
    return db_windows.add_window(db, nightly)


def _save(dlg: wd.WindowDialog) -> QDialogButtonBox:
    return dlg.buttons.button(QDialogButtonBox.StandardButton.Save)


def test_adding_a_weekly_window_builds_its_rule_previews_it_and_audits_it(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    db_hosts.add_host(db, Host(name="web01", address="127.0.2.10", group="web"))
    _, view = _schedule(qtbot, db)
    assert view.windows_hint.isVisible() and "Add window" in view.windows_hint.text()

    dlg = view.add_window()
    assert view.active_dialog is dlg and dlg.isVisible()
    assert not _save(dlg).isEnabled()  # no name, no group yet
    assert "name" in dlg.preview.text()
    dlg.name_edit.setText("web-evenings")
    assert not _save(dlg).isEnabled() and "patch group" in dlg.preview.text()
    dlg.groups_edit.setText("web, web ,")
    dlg.freq_combo.setCurrentIndex(wd.WEEKLY)
    for i, c in enumerate(dlg.day_checks):
        c.setChecked(i in (1, 3))  # Tuesday, Thursday
    dlg.time_edit.setTime(QTime(22, 30))
    dlg.duration_spin.setValue(90)
    dlg.tz_combo.setCurrentText("Europe/Berlin")
    dlg.start_date.setDate(QDate(2026, 11, 1))
    assert _save(dlg).isEnabled()
    assert dlg.rrule() == "FREQ=WEEKLY;BYDAY=TU,TH;BYHOUR=22;BYMINUTE=30"
    # the preview is the scheduler's own answer: Tue 1 Dec and Thu 3 Dec 2026, 22:30 to 00:00 Berlin
    built = dlg.build()
    expected = next_windows([built], NOW, wd.PREVIEW)
    assert "Tue 2026-12-01 22:30 to 00:00 (next day)" in dlg.preview.text()
    assert expected[0].local_start().strftime("%a %Y-%m-%d %H:%M") in dlg.preview.text()

    with qtbot.waitSignal(view.loaded, timeout=10000):
        dlg.accept()
    assert not dlg.isVisible() and view.active_dialog is None
    saved = db_windows.get_window(db, "web-evenings")
    assert saved is not None
    assert saved.groups == ("web",) and saved.tz == "Europe/Berlin"
    assert saved.duration == timedelta(minutes=90) and saved.dtstart == datetime(2026, 11, 1, 22, 30)
    assert saved.rrule == "FREQ=WEEKLY;BYDAY=TU,TH;BYHOUR=22;BYMINUTE=30"
    shown = {view.occ_model.text(r, 2) for r in range(view.occ_model.rowCount())}
    assert shown == {"web-evenings"} and not view.windows_hint.isVisible()
    entry = db_audit.entries(db, action=audit.WINDOW_EDITED)[0]
    assert entry.target == "web-evenings" and entry.details["action"] == "added"
    assert entry.details["rrule"] == saved.rrule
    assert audit.verify(db).ok


def test_bad_input_is_refused_with_a_sentence_and_the_name_must_be_free(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    _nightly(db)
    _, view = _schedule(qtbot, db)
    dlg = view.add_window()
    dlg.name_edit.setText("Nightly")  # names are unique regardless of case
    dlg.groups_edit.setText("lab")
    assert not _save(dlg).isEnabled() and "already exists" in dlg.preview.text()
    # a name is a label, as the CLI takes it (#23 item 4): spaces are fine, control characters are not
    dlg.name_edit.setText("bad\x1bname")
    assert not _save(dlg).isEnabled() and "printable" in dlg.preview.text()
    dlg.name_edit.setText("lab-weekly")
    dlg.freq_combo.setCurrentIndex(wd.WEEKLY)
    for c in dlg.day_checks:
        c.setChecked(False)
    assert not _save(dlg).isEnabled() and "at least one day" in dlg.preview.text()
    dlg.freq_combo.setCurrentIndex(wd.CUSTOM)
    dlg.rrule_edit.setText("FREQ=SECONDLY")
    assert not _save(dlg).isEnabled() and "more often than hourly" in dlg.preview.text()
    dlg.rrule_edit.setText("FREQ=FORTNIGHTLY")
    assert not _save(dlg).isEnabled() and "invalid" in dlg.preview.text()
    dlg.rrule_edit.setText("FREQ=DAILY;BYHOUR=3")
    dlg.tz_combo.setCurrentText("Mars/Olympus_Mons")
    assert not _save(dlg).isEnabled() and "Unknown time zone" in dlg.preview.text()
    dlg.reject()
    assert [w.name for w in db_windows.list_windows(db)] == ["nightly"]  # nothing saved


def test_editing_round_trips_monthly_and_custom_rules_and_renames(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    db_windows.add_window(
        db,
        MaintenanceWindow(
            "patch-tuesday",
            "FREQ=MONTHLY;BYDAY=2TU;BYHOUR=22;BYMINUTE=0",
            timedelta(hours=3),
            "America/New_York",
            datetime(2026, 1, 1, 22, 0),
            ("servers",),
            description="after Microsoft's release",
        ),
    )
    db_windows.add_window(
        db,
        MaintenanceWindow(
            "fortnightly",
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=SU;BYHOUR=4",
            timedelta(hours=1),
            "UTC",
            datetime(2026, 1, 4),
            ("desktops",),
        ),
    )
    _, view = _schedule(qtbot, db)
    dlg = view.edit_window("patch-tuesday")
    assert dlg is not None
    assert dlg.freq_combo.currentIndex() == wd.MONTHLY
    assert dlg.ordinal_combo.currentData() == 2 and dlg.month_day_combo.currentText() == "Tuesday"
    assert dlg.time_edit.time() == QTime(22, 0) and dlg.duration_spin.value() == 180
    assert dlg.tz_combo.currentText() == "America/New_York" and dlg.groups_edit.text() == "servers"
    assert dlg.rrule() == "FREQ=MONTHLY;BYDAY=2TU;BYHOUR=22;BYMINUTE=0"
    # the second Tuesday of December 2026 is the 8th
    assert "Tue 2026-12-08 22:00 to 01:00 (next day)" in dlg.preview.text()
    dlg.ordinal_combo.setCurrentIndex(dlg.ordinal_combo.findData(-1))  # last Tuesday instead
    dlg.name_edit.setText("last-tuesday")
    with qtbot.waitSignal(view.loaded, timeout=10000):
        dlg.accept()
    assert db_windows.get_window(db, "patch-tuesday") is None
    renamed = db_windows.get_window(db, "last-tuesday")
    assert renamed is not None and renamed.rrule == "FREQ=MONTHLY;BYDAY=-1TU;BYHOUR=22;BYMINUTE=0"
    assert renamed.description == "after Microsoft's release" and renamed.groups == ("servers",)
    entry = db_audit.entries(db, action=audit.WINDOW_EDITED)[0]
    assert entry.details["action"] == "edited" and entry.details["renamed_from"] == "patch-tuesday"
    nxt = next_windows([renamed], NOW, 1)[0]
    assert nxt.local_start() == datetime(2026, 12, 29, 22, 0, tzinfo=ZoneInfo("America/New_York"))

    # a rule the simple forms cannot say stays as typed, in the custom field
    dlg = view.edit_window("fortnightly")
    assert dlg is not None and dlg.freq_combo.currentIndex() == wd.CUSTOM
    assert dlg.rrule_edit.text() == "FREQ=WEEKLY;INTERVAL=2;BYDAY=SU;BYHOUR=4"
    dlg.reject()
    # switching a simple rule to "custom" starts from what it said
    dlg = view.add_window()
    dlg.time_edit.setTime(QTime(3, 15))
    dlg.freq_combo.setCurrentIndex(wd.CUSTOM)
    assert dlg.rrule_edit.text() == "FREQ=DAILY;BYHOUR=3;BYMINUTE=15"
    dlg.reject()


def test_disable_and_remove_from_the_windows_menu_are_audited(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    _nightly(db)
    _, view = _schedule(qtbot, db)
    assert view.occ_model.rowCount() == 20
    view.windows_panel._fill_windows_menu()
    sub = view.windows_menu.actions()[0].menu()
    assert view.windows_menu.actions()[0].text() == "nightly"
    assert [a.text() for a in sub.actions() if a.text()] == ["Edit…", "Disable", "Remove…"]

    with qtbot.waitSignal(view.loaded, timeout=10000):
        view.set_window_enabled("nightly", False)
    got = db_windows.get_window(db, "nightly")
    assert got is not None and not got.enabled
    assert view.occ_model.rowCount() == 0  # a disabled window does not open
    view.windows_panel._fill_windows_menu()
    assert view.windows_menu.actions()[0].text() == "nightly (disabled)"

    # Cancel keeps it; Yes removes it
    seen = when_modal(QMessageBox, lambda b: b.button(QMessageBox.StandardButton.Cancel).click())
    assert not view.remove_window("nightly") and seen
    assert db_windows.get_window(db, "nightly") is not None
    when_modal(QMessageBox, lambda b: b.button(QMessageBox.StandardButton.Yes).click())
    with qtbot.waitSignal(view.loaded, timeout=10000):
        assert view.remove_window("nightly")
    assert db_windows.list_windows(db) == []
    actions = [e.details["action"] for e in db_audit.entries(db, action=audit.WINDOW_EDITED)]
    assert actions == ["removed", "disabled"]
    assert view.windows_hint.isVisible()
