"""UI test setup.

The offscreen platform is chosen at import time in tests/conftest.py (pytest-qt's session-scoped
``qapp`` exists before any autouse fixture runs). UI tests use the session's one host pool from
tests/conftest.py; the ``hosts`` fixture resets the hosts before each test. A second run in the same
machine picks its own subnet with PATCHDESK_TEST_SUBNET.
"""

from __future__ import annotations

import os

import pytest

# The main window's scheduler (run_due every minute) would scan the test hosts behind a test's back;
# tests that want it pass ``scheduler=True`` or call ``run_due_now`` themselves.
os.environ.setdefault("PATCHDESK_SCHEDULER", "off")


@pytest.fixture
def window(qtbot, db, db_path):  # type: ignore[no-untyped-def]
    """The main window over the job runner the console uses (jobs in a worker process,
    app/jobs/worker.py) on the test's database."""
    from app.jobs.worker import WorkerJobRunner
    from ui.main_window import MainWindow

    runner = WorkerJobRunner(db_path, keyring=False, connect_timeout=10)
    # up before the window shows, as a few seconds into a real session: jobs start on the spot
    # (tests/ui/test_scan_hosts.py covers a start while the worker is still coming up)
    runner.ping()
    w = MainWindow(db, runner)
    qtbot.addWidget(w)
    w.show()
    yield w
    for h in w.jobs.values():
        h.cancel()
        h.wait(20)
    w.close()  # before the db fixture closes the connection
    runner.close()


@pytest.fixture(autouse=True)
def user_settings(tmp_path_factory):  # type: ignore[no-untyped-def]
    """Each test its own user settings (QSettings: the View → Theme choice), never the real user's."""
    from PySide6.QtCore import QSettings

    QSettings.setPath(
        QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path_factory.mktemp("settings"))
    )
