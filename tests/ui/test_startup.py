"""Start-up: what the first job needs (and the keyring check) comes once the window is up, the
Qt-free core is imported before Qt, and what start-up built is frozen for the garbage collector."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

_SESSION = """
import sys
from app.cli import main as cli
import ui.app
ui.app.WARM_UP_DELAY_MS = 0
missing_before = []
keyring_at_show = []
warm = ui.app._warm_up

def recording_warm_up():
    # what the start-up path itself imported, up to the window being shown
    missing_before.extend(m for m in ui.app.WARM_UP_MODULES if m in sys.modules)
    keyring_at_show.append("keyring" in sys.modules)
    warm()

ui.app._warm_up = recording_warm_up
rc = ui.app.run_gui(cli.parse(["--db", sys.argv[1], "--no-first-run"]))
import threading
for t in threading.enumerate():
    if t.name == "warm-up":
        t.join(30)
print("rc", rc)
import gc
print("frozen", gc.get_freeze_count())
print("before", ",".join(missing_before))
print("after", ",".join(m for m in ui.app.WARM_UP_MODULES if m in sys.modules))
print("keyring_at_show", keyring_at_show)
print("keyring_at_end", "keyring" in sys.modules)
"""


def _run_gui(code: str, tmp_path: Path) -> dict[str, str]:
    """Run ``code`` (a GUI start that quits on its own after a second) in a fresh interpreter;
    its printed ``key value`` lines."""
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "PATCHDESK_GUI_SELFTEST": "1",  # quits on its own after a second
        "PATCHDESK_SCHEDULER": "off",
        "PATCHDESK_LOG_DIR": str(tmp_path / "logs"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
    }
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "pd.sqlite3")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return dict(line.split(" ", 1) if " " in line else (line, "") for line in proc.stdout.splitlines())


def test_first_job_modules_are_imported_after_the_window_is_up(tmp_path: Path) -> None:
    import ui.app

    lines = _run_gui(_SESSION, tmp_path)
    assert lines["rc"] == "0"
    # what start-up built is exempt from the collector's full passes (ui/app.py)
    assert int(lines["frozen"]) > 10_000
    assert lines["before"] == ""  # not on the start-up path...
    assert lines["after"].split(",") == list(ui.app.WARM_UP_MODULES)  # ...but there for the first job
    # The keyring check (importing keyring: ~100 ms) waits until the window is up
    # (ui/main_window.py STARTUP_CHORES_DELAY_MS), and still happens.
    assert lines["keyring_at_show"] == "[False]"
    assert lines["keyring_at_end"] == "True"


_ORDER = """
import importlib.abc
import sys


class Spy(importlib.abc.MetaPathFinder):
    before_qt = None

    def find_spec(self, name, path, target=None):
        if name == "PySide6" and Spy.before_qt is None:
            Spy.before_qt = set(sys.modules)
        return None


sys.meta_path.insert(0, Spy())
from ui.main import CORE_BEFORE_QT, main

rc = main(["--db", sys.argv[1], "--no-first-run"])
print("rc", rc)
print("missing", ",".join(m for m in CORE_BEFORE_QT if m not in Spy.before_qt))
"""


def test_core_is_imported_before_qt(tmp_path: Path) -> None:
    """PySide6 reads the source of every module imported after it; the Qt-free core the window
    needs comes first (ui/main.py)."""
    lines = _run_gui(_ORDER, tmp_path)
    assert lines["rc"] == "0"
    assert lines["missing"] == ""


_FIRST_FRAME = """
import gc
import sys

from ui.main import main
import ui.main_window

at_show = {}
show = ui.main_window.MainWindow.show


def recording_show(self):
    at_show["gc"] = gc.isenabled()
    at_show["charts"] = "PySide6.QtCharts" in sys.modules
    show(self)


ui.main_window.MainWindow.show = recording_show
rc = main(["--db", sys.argv[1], "--no-first-run"])
print("rc", rc)
print("gc_at_show", at_show["gc"])
print("gc_after", gc.isenabled())
print("charts_at_show", at_show["charts"])
print("charts_after", "PySide6.QtCharts" in sys.modules)
"""


def test_start_up_runs_without_the_garbage_collector_and_without_qtcharts(tmp_path: Path) -> None:
    """The collector's passes over what start-up builds, and QtCharts (the dashboard's charts come with
    its first figures, after the first frame), cost the cold start at 5,000 hosts (#25)."""
    lines = _run_gui(_FIRST_FRAME, tmp_path)
    assert lines["rc"] == "0"
    assert lines["gc_at_show"] == "False"
    assert lines["gc_after"] == "True"  # resumed once the window is up
    assert lines["charts_at_show"] == "False"
    assert lines["charts_after"] == "True"  # the dashboard drew its charts in the self-test's second


def test_the_quickened_pyside_import_hook_answers_as_the_original(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """ui/main.py quicken_pyside_import_hook: the same answer for every module, in 2 ms instead of 14."""
    import db.hosts  # noqa: F401
    import ui.main_window  # noqa: F401  (PySide6 and its hook with it)
    from ui.main import quicken_pyside_import_hook

    feature = sys.modules.get("shibokensupport.feature")
    # the PySide6 that pyproject.toml allows has the hook this replaces
    assert feature is not None and callable(getattr(feature, "_mod_uses_pyside", None))
    monkeypatch.setattr(feature, "_mod_uses_pyside", feature._mod_uses_pyside)  # restored afterwards
    quicken_pyside_import_hook()
    fast = feature._mod_uses_pyside
    assert fast.quickened and fast.original is not fast
    quicken_pyside_import_hook()  # once is enough: not wrapped twice
    assert feature._mod_uses_pyside is fast
    modules = [m for m in list(sys.modules.values()) if getattr(m, "__file__", None)]
    answers = {m.__name__: fast(m) for m in modules}
    assert answers == {m.__name__: fast.original(m) for m in modules}
    assert answers["ui.main_window"] is True and answers["db.hosts"] is False
