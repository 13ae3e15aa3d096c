"""The GUI's composition root: build the application, open the database, create the services.

Called by ``ui/main.py`` when no CLI command is given. Nothing else in ui/ wires services together.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys

import shiboken6
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from app.domain.errors import PatchdeskError

logger = logging.getLogger(__name__)

#: How much less important than the GUI's main thread the job worker threads are (Linux nice steps).
#: The lowest priority keeps the window responsive on a core it shares with the SSH threads, and costs
#: the scans nothing: they wait on the hosts, not on the CPU. It ranks the threads only within their
#: scheduling group (the desktop session's autogroup or the app's cgroup), not against the whole machine.
JOB_THREAD_NICE = 19


def _application() -> QApplication:
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    from ui import theme
    from ui.qtcompat import guard_emit_refcount
    from ui.resources import app_icon

    guard_emit_refcount()

    app.setApplicationName("Patchdesk")
    app.setOrganizationName("Patchdesk")
    app.setApplicationDisplayName("Patchdesk")
    app.setWindowIcon(app_icon())
    # the stored look from the start, so dialogs shown before the main window (first run, a database
    # error) are in it too
    theme.apply_theme(theme.stored_choice(), app)
    return app


#: How long a job thread may keep the GIL once the window's main thread asks for it (Python's default
#: is 5 ms). During a scan the main thread queues for the GIL behind many SSH threads; shorter turns
#: keep its waits, and so the window's stalls, short, and the scan takes no longer.
GUI_SWITCH_INTERVAL = 0.001

#: Exempt what start-up built (the window, the hosts, their Qt wrappers) from the cyclic garbage
#: collector's full passes, which would otherwise walk all of it on the main thread now and then, in
#: the middle of a keystroke or a scan; it lives as long as the window anyway (the gc.freeze() the
#: Python docs suggest for long-lived objects).
FREEZE_STARTUP_OBJECTS = True

#: Modules the window's first job and policy views need that start-up does not: imported on a
#: background thread once the window is up, so the first click does not pay for them on the main
#: thread. The package-manager adapters are the job worker's own (app/jobs/worker.py WORKER_WARM_UP).
WARM_UP_MODULES = (
    "db.rollouts",
    "db.maintenance_windows",
    "db.schedule",
    "db.advisories",
    "app.domain.rollout",
    "app.domain.maintenance_windows",
)
WARM_UP_DELAY_MS = 1500
#: When the job worker process starts (app/jobs/worker.py): after start-up, before a first click is
#: likely; a job started earlier starts it at once (and waits for it off the main thread).
WORKER_START_DELAY_MS = 1000
#: The longest a job start waits for the (running) worker's answer on the window's main thread. A
#: healthy worker answers in milliseconds; creating the job may wait for the database (busy timeout
#: 5 s). Past this the start is an error, and a job the worker creates after all is cancelled.
GUI_START_TIMEOUT = 15.0


def _warm_up() -> None:
    """Import WARM_UP_MODULES on a low-priority daemon thread (Python's import locks make this safe
    alongside the main thread's own imports)."""
    import importlib
    import threading

    from app.jobs.engine import lower_thread_priority

    def run() -> None:
        lower_thread_priority(JOB_THREAD_NICE)
        for name in WARM_UP_MODULES:
            try:
                importlib.import_module(name)
            except Exception:  # the job that needs it will report the real error
                logger.debug("warm-up import of %s failed", name, exc_info=True)

    threading.Thread(target=run, name="warm-up", daemon=True).start()


def _secret_store():  # type: ignore[no-untyped-def]
    """The keyring front end, or None when it cannot even be created (reported in the status bar)."""
    try:
        from app.secrets import SecretStore

        return SecretStore()
    except PatchdeskError as exc:
        logger.warning("keyring unavailable: %s", exc)
        return None


def run_gui(args: argparse.Namespace) -> int:
    """Run the GUI until its window closes; 1 when the database cannot be opened."""
    from app.jobs.worker import WorkerJobRunner
    from app.logsetup import setup_logging
    from db import jobs as db_jobs
    from db.database import default_db_path, open_database
    from ui.dialogs.crash_dialog import CrashHook
    from ui.main_window import MainWindow
    from ui.messages import show_error

    app = _application()
    logfile = setup_logging(verbose=bool(getattr(args, "verbose", False)))
    hook = CrashHook(str(logfile) if logfile else None)
    hook.install()
    db = None
    runner = None
    window = None
    try:
        try:
            db = open_database(args.db)
            marked = db_jobs.mark_interrupted(db)
            if marked:
                logger.warning("marked %d host step(s) of unfinished jobs as interrupted", marked)
        except PatchdeskError as exc:
            logger.error("cannot open the database: %s", exc)
            show_error(None, str(exc), "Patchdesk cannot start")
            return 1
        secrets = _secret_store()
        sys.setswitchinterval(GUI_SWITCH_INTERVAL)
        # Jobs run in a worker process (their threads would queue for this process's GIL with the
        # window's main thread); its job threads yield the CPU too (see lower_thread_priority).
        runner = WorkerJobRunner(
            args.db or default_db_path(), keyring=secrets is not None, worker_nice=JOB_THREAD_NICE
        )
        runner.start_timeout = GUI_START_TIMEOUT
        window = MainWindow(db, runner, secrets)
        window.show()
        if FREEZE_STARTUP_OBJECTS:
            gc.freeze()
        gc.enable()  # paused for start-up by ui/main.py pause_gc_for_start_up
        QTimer.singleShot(WARM_UP_DELAY_MS, _warm_up)
        # the worker's own start-up (an interpreter and the job modules) once the window is idle
        QTimer.singleShot(WORKER_START_DELAY_MS, runner.prestart)
        if getattr(args, "first_run", True):
            from ui.dialogs.first_run import maybe_open_first_run

            # Empty inventory, not finished or dismissed before, no self-test/scripted start.
            QTimer.singleShot(0, lambda: maybe_open_first_run(window))
        if os.environ.get("PATCHDESK_GUI_SELFTEST") == "1":
            # Smoke test of a packaged or installed build: start fully, then quit on our own.
            QTimer.singleShot(1000, window.close)
            QTimer.singleShot(1100, app.quit)
        return int(app.exec())
    finally:
        gc.enable()  # also when start-up ended early (a database that cannot be opened)
        if window is not None:
            # Destroy the window (and its timers, bridge and pending pool relays) now, while the
            # database it reads is still open; nothing of it may outlive run_gui.
            shiboken6.delete(window)
        if runner is not None:
            runner.close()
        if db is not None:
            db.conn.close()
        hook.uninstall()
