"""``patchdesk --self-test``: start the whole application headless, check it, and quit.

This is the smoke test of a packaged build (qutebrowser's release check, adapted): what breaks when a
PyInstaller bundle misses a piece -- a Qt plugin, an icon, keyring's backends, a lazily imported
module, the migrations -- breaks here, on the build machine, and not at an offline site. It also runs
from source (``python -m ui.main --self-test``), so the test suite keeps it honest.

Everything runs in a temporary data directory (database, logs, XDG dirs), so the user's real
inventory is never touched. Each check prints one line to stdout; a condition of the environment
rather than of the build (no keyring, no X11 libraries) prints a ``WARNING`` line and is not a
failure. Any failed check or unexpected exception prints ``FAILED: reason`` and exits 1.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path
from types import TracebackType
from typing import Any

#: What main() looks for in argv before the CLI parser sees it.
FLAG = "--self-test"

#: How long the window is left running (its start-up timers fire) before the self-test closes it.
SETTLE_MS = 500
#: A start that takes longer than this is a hung start, not a slow one.
WATCHDOG_MS = 60_000


class SelfTestFailure(Exception):
    """A check failed; the message is the one-line reason printed after ``FAILED:``."""


def _process_age() -> float | None:
    """Seconds since this process was started (the bundle's bootloader included), Linux only."""
    try:
        stat = Path("/proc/self/stat").read_text()
        # Field 22 (starttime, in clock ticks since boot) comes after the parenthesised command name.
        start_ticks = int(stat.rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


class _Report:
    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.age0 = _process_age()
        self.warnings = 0

    def since_start(self) -> float:
        """Seconds since the process started (or since the self-test began where /proc is absent)."""
        return (self.age0 or 0.0) + time.monotonic() - self.t0

    def line(self, what: str, text: str) -> None:
        print(f"  {what:<12} {text}", flush=True)

    def warn(self, what: str, text: str) -> None:
        self.warnings += 1
        print(f"  {what:<12} WARNING: {text}", flush=True)


def _prepare_environment(tmp: Path) -> None:
    """A throw-away data dir for everything the app writes; headless unless a display is there."""
    for var, sub in (
        ("PATCHDESK_DB", "data/patchdesk.sqlite3"),
        ("PATCHDESK_LOG_DIR", "logs"),
        ("XDG_DATA_HOME", "xdg-data"),
        ("XDG_CONFIG_HOME", "xdg-config"),
        ("XDG_CACHE_HOME", "xdg-cache"),
        ("XDG_STATE_HOME", "xdg-state"),
    ):
        os.environ[var] = str(tmp / sub)
    if not os.environ.get("XDG_RUNTIME_DIR"):
        # Without it Qt prints "XDG_RUNTIME_DIR not set" on stderr and uses /tmp/runtime-$USER.
        runtime = tmp / "runtime"
        runtime.mkdir(mode=0o700)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    has_display = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if not has_display and not os.environ.get("QT_QPA_PLATFORM"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"


def _check_modules(report: _Report) -> None:
    """Import every module of app/, db/ and ui/: a bundle that lost one fails here, not at a site."""
    import importlib
    import pkgutil

    count = 0
    for package_name in ("app", "db", "ui"):
        package = importlib.import_module(package_name)
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{package_name}."):
            if info.name == __name__:
                continue
            try:
                importlib.import_module(info.name)
            except Exception as exc:
                raise SelfTestFailure(f"module {info.name} does not import: {exc!r}") from exc
            count += 1
    if count < 20:  # walk_packages finding almost nothing means the bundle's importer lost them
        raise SelfTestFailure(f"only {count} modules of app/, db/ and ui/ were found")
    # The third-party pieces that load lazily or through plugins of their own.
    for name in ("paramiko", "cryptography.hazmat.bindings._rust", "winrm", "spnego", "sqlite_utils", "yaml"):
        try:
            importlib.import_module(name)
        except Exception as exc:
            raise SelfTestFailure(f"{name} does not import: {exc!r}") from exc
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from dateutil import rrule, tz

    if tz.gettz("Europe/Berlin") is None:
        raise SelfTestFailure("dateutil has no time zone data")
    berlin = ZoneInfo("Europe/Berlin")
    rule = rrule.rrulestr("FREQ=WEEKLY;BYDAY=SA;BYHOUR=2", dtstart=datetime(2025, 1, 1, tzinfo=berlin))
    if rule.after(datetime(2025, 1, 1, tzinfo=berlin)) is None:
        raise SelfTestFailure("a maintenance-window recurrence rule produced nothing")
    report.line("modules", f"{count} of app/db/ui import; paramiko, cryptography, winrm, zoneinfo ok")


def _check_database(report: _Report) -> None:
    from app.domain.errors import PatchdeskError
    from db.database import default_db_path, open_database, schema_version
    from db.schema import SCHEMA_VERSION

    path = default_db_path()
    try:
        for _ in range(2):  # create and migrate, then reopen the migrated file
            db = open_database(path)
            try:
                version = schema_version(db)
                tables = len(db.table_names())
            finally:
                db.conn.close()
    except PatchdeskError as exc:
        raise SelfTestFailure(f"database: {exc}") from exc
    if version != SCHEMA_VERSION:
        raise SelfTestFailure(f"database migrated to schema {version}, expected {SCHEMA_VERSION}")
    report.line("database", f"schema {version}, {tables} tables ({path})")


def _check_keyring(report: _Report) -> Any:
    """The secret store the window gets, or None; no usable keyring is a warning, not a failure."""
    from app.domain.errors import PatchdeskError
    from app.secrets import SecretStore, known_backends

    known = known_backends()
    if not known:
        report.warn("keyring", "no keyring backends are registered (keyring's metadata is missing)")
    else:
        report.line("keyring", f"backends in this build: {', '.join(known)}")
    try:
        store = SecretStore()
        ok, sentence = store.status()
        name = store.backend_name()
    except PatchdeskError as exc:
        report.warn("keyring", str(exc))
        return None
    if ok:
        report.line("keyring", f"in use: {name}")
    else:
        report.warn("keyring", f"{name}: {sentence}")
    return store


def _check_qt_plugins(report: _Report) -> None:
    from PySide6.QtCore import QLibraryInfo, QPluginLoader
    from PySide6.QtGui import QGuiApplication

    base = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath))
    native = {"win32": "qwindows", "darwin": "qcocoa"}.get(sys.platform, "qxcb")
    need = {
        "platforms": ("qoffscreen", native),
        "imageformats": ("qsvg",),
        "iconengines": ("qsvgicon",),
    }
    for folder, names in need.items():
        present = {p.name for p in (base / folder).glob("*") if p.is_file()}
        for name in names:
            if not any(name in f for f in present):
                raise SelfTestFailure(f"Qt plugin {folder}/{name} is missing from {base / folder}")
    report.line("qt", f"platform {QGuiApplication.platformName()}; plugins under {base}")
    xcb = next((p for p in (base / "platforms").glob("*xcb*") if p.is_file()), None)
    if xcb is not None:
        loader = QPluginLoader(str(xcb))
        if loader.load():
            loader.unload()
        else:
            # Qt's X11 plugin needs system libraries (libxcb-cursor0 and friends) a headless box may lack.
            report.warn("qt", f"the X11 platform plugin cannot load here: {loader.errorString()}")


def _check_icons(report: _Report) -> None:
    from PySide6.QtCore import QSize
    from PySide6.QtGui import QIcon, QImageReader

    from ui.resources import resources_dir, stylesheet, user_guide_path

    icons = sorted((resources_dir() / "icons").glob("*.svg"))
    if not icons:
        raise SelfTestFailure(f"no icons found in {resources_dir() / 'icons'}")
    for path in icons:
        reader = QImageReader(str(path))
        reader.setScaledSize(QSize(32, 32))
        image = reader.read()
        if image.isNull():
            raise SelfTestFailure(f"icon {path.name} does not load: {reader.errorString()}")
        if QIcon(str(path)).pixmap(QSize(32, 32)).isNull():
            raise SelfTestFailure(f"icon {path.name} does not render through QIcon")
    if not stylesheet().strip():
        raise SelfTestFailure(f"the stylesheet is missing or empty ({resources_dir() / 'patchdesk.qss'})")
    guide = user_guide_path()
    if not guide.is_file() or "<h1" not in guide.read_text(encoding="utf-8", errors="replace"):
        raise SelfTestFailure(f"the user guide (F1) is missing or empty ({guide})")
    report.line("icons", f"{len(icons)} SVG icons load; stylesheet and user guide ok")


def _check_powershell(report: _Report) -> None:
    """Every PowerShell script a Windows host is sent is package data: a bundle without them would
    only fail at its first Windows scan."""
    from app.platforms.windows import scripts
    from app.transports import powershell

    names = scripts.script_files()
    if not names:
        raise SelfTestFailure("no PowerShell scripts found under app/platforms/windows/ps")
    for name in names:
        if not scripts.script_body(name).strip():
            raise SelfTestFailure(f"the PowerShell script {name}.ps1 is empty")
    for name in ("prologue", "bootstrap", "put", "get"):
        if not powershell.script(name).strip():
            raise SelfTestFailure(f"the WinRM transport's script {name}.ps1 is missing or empty")
    report.line("powershell", f"{len(names) + 4} scripts load")


def _run_window(report: _Report, tmp: Path, secrets: Any) -> None:
    """Build the main window as ``run_gui`` does, render it offscreen to an image, then close it."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.jobs.worker import WorkerJobRunner
    from db import jobs as db_jobs
    from db.database import default_db_path, open_database
    from ui.app import _application
    from ui.main_window import MainWindow

    app = _application()
    errors: list[str] = []
    previous_hook = sys.excepthook

    def hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        # An exception in a slot would otherwise only be printed; here it fails the self-test.
        errors.append("".join(traceback.format_exception(exc_type, exc, tb)).strip())
        app.exit(1)

    sys.excepthook = hook
    db = open_database(default_db_path())
    db_jobs.mark_interrupted(db)
    runner = WorkerJobRunner(default_db_path(), keyring=secrets is not None)
    window = None
    shot = tmp / "main-window.png"
    first_window: list[float] = []

    def render() -> None:
        assert window is not None
        pixmap = window.grab()
        if pixmap.isNull() or pixmap.width() < 200 or pixmap.height() < 100:
            errors.append(f"the main window rendered as an empty image ({pixmap.width()}x{pixmap.height()})")
        elif not pixmap.save(str(shot), "PNG"):
            errors.append(f"could not save the rendered window to {shot}")
        first_window.append(report.since_start())
        QTimer.singleShot(SETTLE_MS, finish)

    def finish() -> None:
        # A dialog the window opened on its own at start-up (a first-run flow, a notice) would keep
        # its own event loop running: close it first, then the window, then leave the loop.
        for widget in QApplication.topLevelWidgets():
            if widget is not window and widget.isVisible():
                report.line("window", f"closed {type(widget).__name__} shown at start-up")
                widget.close()
        assert window is not None
        window.close()
        QTimer.singleShot(50, app.quit)

    def watchdog() -> None:
        errors.append(f"the window did not render within {WATCHDOG_MS / 1000:.0f} s")
        app.exit(1)

    try:
        import shiboken6

        window = MainWindow(db, runner, secrets)
        window.show()
        QTimer.singleShot(0, render)
        QTimer.singleShot(WATCHDOG_MS, watchdog)
        code = app.exec()
        size = f"{window.width()}x{window.height()}"
        shiboken6.delete(window)
        window = None
        worker = _check_job_worker(runner)
    finally:
        sys.excepthook = previous_hook
        runner.close()
        db.conn.close()
    if errors:
        raise SelfTestFailure(errors[0])
    if code != 0:
        raise SelfTestFailure(f"the event loop ended with status {code}")
    report.line("window", f"{size} rendered offscreen to {shot.name}")
    report.line("cold start", f"{first_window[0]:.2f} s from process start to the rendered main window")
    report.line("job worker", worker)


def _check_job_worker(runner: Any) -> str:
    """The console runs its jobs in a worker process (app/jobs/worker.py): start it and have it
    answer -- in a packaged build, proof that the bundle can start itself as that worker."""
    import time

    from app.jobs.worker import WorkerError

    t = time.monotonic()
    try:
        pid = runner.ping()
    except WorkerError as exc:
        raise SelfTestFailure(f"job worker: {exc}") from exc
    return f"started and answered in {time.monotonic() - t:.2f} s (pid {pid})"


def _arm_hard_watchdog(seconds: float = 2 * WATCHDOG_MS / 1000) -> None:
    """End the process if the self-test hangs where Qt's own timers cannot help (a nested loop)."""
    import threading

    def expire() -> None:
        print(f"FAILED: the self-test hung for {seconds:.0f} s", flush=True)
        os._exit(1)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()


def run_self_test() -> int:
    """Run every check; 0 when all passed (warnings allowed), 1 with ``FAILED: reason`` otherwise.

    ``PATCHDESK_SELFTEST_KEEP=1`` keeps the temporary data dir (database, log, window image).
    """
    report = _Report()
    tmp = Path(tempfile.mkdtemp(prefix="patchdesk-selftest-"))
    _arm_hard_watchdog()
    frozen = "frozen (PyInstaller)" if getattr(sys, "frozen", False) else "from source"
    try:
        _prepare_environment(tmp)
        from app import __version__
        from app.logsetup import setup_logging

        print(f"patchdesk {__version__} self-test, {frozen}, Python {sys.version.split()[0]}", flush=True)
        report.line("data dir", str(tmp))
        setup_logging()
        _check_database(report)
        secrets = _check_keyring(report)
        from ui.app import _application

        _application()  # the QApplication with its stylesheet and icon, exactly as the GUI starts it
        _check_qt_plugins(report)
        _check_icons(report)
        _check_powershell(report)
        _run_window(report, tmp, secrets)
        _check_modules(report)
    except SelfTestFailure as exc:
        print(f"FAILED: {exc}", flush=True)
        return 1
    except Exception as exc:
        print("FAILED: unexpected error:", flush=True)
        traceback.print_exception(exc, file=sys.stdout)
        return 1
    finally:
        logging.shutdown()  # close the log file before its folder goes
        if os.environ.get("PATCHDESK_SELFTEST_KEEP") == "1":
            print(f"  kept {tmp}", flush=True)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    status = f"with {report.warnings} warning(s)" if report.warnings else "no warnings"
    print(f"self-test passed ({status}) in {report.since_start():.2f} s", flush=True)
    return 0
