"""Import dialog: preview with problems and their line numbers; import adds the good rows."""

from __future__ import annotations

from PySide6.QtCore import Qt

from app.domain.models import Host
from db import hosts as db_hosts
from ui.dialogs.import_dialog import ImportDialog
from ui.main_window import MainWindow


def _preview_names(dlg: ImportDialog) -> list[str]:
    return [dlg.preview.item(r, 0).text() for r in range(dlg.preview.rowCount())]


def test_csv_with_a_bad_row(qtbot, db, tmp_path):
    db_hosts.add_host(db, Host(name="existing", address="127.9.9.9"))
    f = tmp_path / "hosts.csv"
    f.write_text(
        "name,address,port,user,group\n"
        "web01,127.0.9.1,22,admin,web\n"
        "bad,127.0.9.2,70000,admin,web\n"
        "db01,127.0.9.3,,root,databases\n"
        "existing,127.0.9.4,,,\n",
        encoding="utf-8",
    )
    w = MainWindow(db)
    qtbot.addWidget(w)
    w.show()
    w.import_action.trigger()
    dlg = w.active_dialog
    assert isinstance(dlg, ImportDialog)
    dlg.load_file(f)
    qtbot.waitUntil(lambda: not dlg.loading)

    assert _preview_names(dlg) == ["web01", "db01"]
    problems = dlg.problem_texts()
    assert any(p.startswith("line 3:") and "70000" in p for p in problems), problems
    assert any(p.startswith("line 5:") and "existing" in p for p in problems), problems
    assert "2 host(s) will be added" in dlg.summary.text()
    assert dlg.import_button.isEnabled()

    qtbot.mouseClick(dlg.import_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dlg.importing)
    assert sorted(h.name for h in dlg.added) == ["db01", "web01"]
    assert "Imported 2" in dlg.summary.text()
    # problems stay visible after importing, so the dialog stays open until closed
    assert dlg.isVisible()
    qtbot.mouseClick(dlg.close_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.active_dialog is None)

    web = db_hosts.find_host(db, "web01")
    assert web.port == 22 and web.user == "admin" and web.group == "web"
    assert db_hosts.find_host(db, "bad") is None
    assert w.inventory.model.rowCount() == 3


def test_unreadable_file_is_a_sentence(qtbot, db, tmp_path):
    dlg = ImportDialog(db)
    qtbot.addWidget(dlg)
    dlg.load_file(tmp_path / "missing.csv")
    qtbot.waitUntil(lambda: not dlg.loading)
    assert dlg.problem_texts() == [f"{tmp_path / 'missing.csv'} does not exist."]
    assert not dlg.import_button.isEnabled()
    binary = tmp_path / "blob.csv"
    binary.write_bytes(b"\0\1\2" * 100)
    dlg.load_file(binary)
    qtbot.waitUntil(lambda: not dlg.loading)
    assert "binary file" in dlg.problem_texts()[0]


def test_a_large_file_is_read_off_the_main_thread_and_previewed_in_part(qtbot, db, tmp_path, monkeypatch):
    """Reading and previewing 100,000 hosts froze the window for seconds."""
    import threading

    import ui.dialogs.import_dialog as module

    f = tmp_path / "big.csv"
    f.write_text("name,address\n" + "".join(f"h{i:05d},h{i:05d}.big.invalid\n" for i in range(5000)))
    readers: list[str] = []
    real = module.read_inventory

    def spy(*a, **k):  # type: ignore[no-untyped-def]
        readers.append(threading.current_thread().name)
        return real(*a, **k)

    monkeypatch.setattr(module, "read_inventory", spy)
    dlg = ImportDialog(db)
    qtbot.addWidget(dlg)
    dlg.load_file(f)
    qtbot.waitUntil(lambda: not dlg.loading, timeout=30000)
    assert readers and readers[0] != threading.main_thread().name
    assert dlg.preview.rowCount() == module.PREVIEW_ROWS
    assert "5,000 host(s) will be added" in dlg.summary.text() and "first 1,000 shown" in dlg.summary.text()


def test_the_import_itself_runs_off_the_main_thread(qtbot, db, tmp_path, monkeypatch):
    """100,000 hosts took the window's thread for seconds while they were written."""
    import threading

    import ui.dialogs.import_dialog as module

    f = tmp_path / "hosts.csv"
    f.write_text("name,address\nweb01,127.0.9.1\nweb02,127.0.9.2\n")
    writers: list[str] = []
    real = module.inventory.import_hosts

    def spy(*a, **k):  # type: ignore[no-untyped-def]
        writers.append(threading.current_thread().name)
        return real(*a, **k)

    monkeypatch.setattr(module.inventory, "import_hosts", spy)
    dlg = ImportDialog(db)
    qtbot.addWidget(dlg)
    dlg.load_file(f)
    qtbot.waitUntil(lambda: not dlg.loading)
    qtbot.mouseClick(dlg.import_button, Qt.MouseButton.LeftButton)
    assert dlg.importing and not dlg.close_button.isEnabled()
    qtbot.waitUntil(lambda: not dlg.importing, timeout=30000)
    assert writers and writers[0] != threading.main_thread().name
    assert sorted(h.name for h in dlg.added) == ["web01", "web02"]
    assert {h.name for h in db_hosts.list_hosts(db)} == {"web01", "web02"}  # seen by the window's connection
