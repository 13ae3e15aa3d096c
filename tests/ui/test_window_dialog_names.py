"""#23 item 4: the window editor disagreed with the CLI: a window the CLI accepted ("Saturday night")
could not be saved in the GUI (the name error showed at once and Save stayed disabled), and a new
window opened already showing a red error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from PySide6.QtWidgets import QDialogButtonBox

from app.domain.maintenance_windows import MaintenanceWindow
from ui.dialogs import window_dialog as wd

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _save_enabled(dlg: wd.WindowDialog) -> bool:
    return dlg.buttons.button(QDialogButtonBox.StandardButton.Save).isEnabled()


def test_a_name_the_cli_accepts_can_be_saved(qtbot) -> None:  # type: ignore[no-untyped-def]
    dlg = wd.WindowDialog(["lab"], now=NOW)
    qtbot.addWidget(dlg)
    dlg.name_edit.setText("Saturday night")
    dlg.groups_edit.setText("lab")
    assert _save_enabled(dlg), dlg.preview.text()
    assert dlg.build().name == "Saturday night"


def test_a_window_added_by_the_cli_opens_ready_to_save(qtbot) -> None:  # type: ignore[no-untyped-def]
    """As `patchdesk windows add "Saturday night" …` stores it: editing it saves without a rename."""
    w = MaintenanceWindow(
        "Saturday night",
        "FREQ=WEEKLY;BYDAY=SA;BYHOUR=22",
        timedelta(hours=4),
        "UTC",
        datetime(2026, 1, 1),
        ("lab",),
    )
    dlg = wd.WindowDialog(["lab"], existing=w, now=NOW)
    qtbot.addWidget(dlg)
    assert _save_enabled(dlg), dlg.preview.text()
    assert dlg.preview.objectName() != "errorText"


def test_a_new_window_opens_without_a_red_error(qtbot) -> None:  # type: ignore[no-untyped-def]
    dlg = wd.WindowDialog(["lab"], now=NOW)
    qtbot.addWidget(dlg)
    assert dlg.preview.objectName() != "errorText"
    assert not _save_enabled(dlg)  # nothing to save yet: it says what to fill in instead
    assert "name" in dlg.preview.text().lower()


def test_names_that_cannot_be_shown_are_still_refused(qtbot) -> None:  # type: ignore[no-untyped-def]
    dlg = wd.WindowDialog(["lab"], now=NOW)
    qtbot.addWidget(dlg)
    dlg.groups_edit.setText("lab")
    for bad in ("bad\x1bname", "x" * 300):
        dlg.name_edit.setText(bad)
        assert not _save_enabled(dlg)
        assert dlg.preview.objectName() == "errorText"
