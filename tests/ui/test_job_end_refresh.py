"""A job's end over many hosts (#25: the GUI while a 1,000-host scan runs): the rows are read off the
main thread and applied a chunk at a time, a late read never overwrites a newer row, and the
dashboard recomputes at once -- with one more pass when a refresh was already under way, so it never
keeps figures read before the job's results (pytest-qt, offscreen; no test hosts)."""

from __future__ import annotations

from typing import Any

import pytest

from app.domain.compliance import Tile
from app.domain.events import JobStateChanged
from app.domain.models import Host, HostStatus, JobKind, JobState
from app.jobs.engine import JobHandle
from db import hosts as db_hosts
from db import jobs as db_jobs
from tests.support.fleet import populate
from ui import jobs_controller
from ui.main_window import MainWindow

HOSTS = 200


@pytest.fixture
def w(qtbot, db):  # type: ignore[no-untyped-def]
    populate(db, hosts=HOSTS, days=3)
    win = MainWindow(db, runner=None, secrets=None)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.dashboard.data is not None and not win.dashboard.busy, timeout=10000)
    yield win
    win.close()


def _end_job(w: MainWindow, db: Any, hosts: list[Any]) -> JobHandle:
    """A scan job over ``hosts`` that has just ended, announced as the engine announces it."""
    job_id = db_jobs.create_job(db, JobKind.SCAN, hosts)
    db_jobs.set_job_state(db, job_id, JobState.FINISHED)
    handle = JobHandle(job_id, hosts)
    handle.done.set()
    w.job_control.jobs[job_id] = handle
    w.job_control.on_events([JobStateChanged(job_id, state=JobState.FINISHED)])
    return handle


def test_a_job_end_over_many_hosts_updates_every_row_a_chunk_at_a_time(qtbot, w, db) -> None:  # type: ignore[no-untyped-def]
    hosts = db_hosts.list_hosts(db)
    assert len(hosts) > jobs_controller.ROWS_ON_MAIN  # the pool-thread path
    for h in hosts:  # what the job recorded: every host unreachable
        db_hosts.set_status(db, h.id, HostStatus.UNREACHABLE, "no route")
    sizes: list[int] = []
    update = w.inventory.update_hosts

    def counted(rows: list[Any], last_jobs: Any = None) -> None:
        sizes.append(len(rows))
        update(rows, last_jobs)

    w.inventory.update_hosts = counted  # type: ignore[method-assign]
    _end_job(w, db, hosts)
    model = w.inventory.model
    qtbot.waitUntil(
        lambda: all(h.last_status == HostStatus.UNREACHABLE for h in model.hosts()), timeout=10000
    )
    assert sum(sizes) == HOSTS and max(sizes) <= jobs_controller.ROW_CHUNK  # no one long pass
    # the figures follow without the debounce, and count what the job recorded
    qtbot.waitUntil(
        lambda: w.dashboard.data is not None and w.dashboard.data.summary[Tile.UNREACHABLE] == HOSTS,
        timeout=10000,
    )
    assert w.dashboard.tiles[Tile.UP_TO_DATE].number.text() == "0"


def test_a_late_row_read_does_not_overwrite_a_newer_one(w, db) -> None:  # type: ignore[no-untyped-def]
    h = db_hosts.list_hosts(db)[0]
    old_rows, old_jobs = jobs_controller._read_rows(db, {h.id})  # read first (number 1) ...
    db_hosts.set_status(db, h.id, HostStatus.UNREACHABLE, "no route")
    control = w.job_control
    control._refresh_rows({h.id})  # ... a newer read (number 2) applied first
    assert w.inventory.model.host_by_id(h.id).last_status == HostStatus.UNREACHABLE
    control._apply_rows(control._row_seq - 1, {h.id}, old_rows, old_jobs)  # the older read lands late
    assert w.inventory.model.host_by_id(h.id).last_status == HostStatus.UNREACHABLE


def test_a_refresh_asked_for_while_one_runs_follows_it_at_once(qtbot, w, db) -> None:  # type: ignore[no-untyped-def]
    dash = w.dashboard
    shown: list[int] = []
    dash.refreshed.connect(lambda: shown.append(dash.data.summary[Tile.UNREACHABLE]))
    before = dash.data.summary[Tile.UNREACHABLE]
    dash.refresh_at_once()  # a refresh under way ...
    assert dash.busy
    h = next(h for h in db_hosts.list_hosts(db) if h.last_status != HostStatus.UNREACHABLE)
    db_hosts.set_status(db, h.id, HostStatus.UNREACHABLE, "no route")  # ... a job's result lands ...
    dash.refresh_at_once()  # ... and its end asks again: one more pass, not the 150 ms debounce
    assert not dash._debounce.isActive()
    qtbot.waitUntil(lambda: len(shown) >= 2 and not dash.busy, timeout=10000)
    assert shown[-1] == before + 1  # the last figures include the result
    assert dash.tiles[Tile.UNREACHABLE].number.text() == str(before + 1)


def test_a_job_of_many_hosts_starts_off_the_main_thread(qtbot, window, db) -> None:  # type: ignore[no-untyped-def]
    """The click does not wait for the worker to take a big job's hosts and create its step rows
    (1.4 s at 1,000 hosts on a loaded machine): the job begins when the worker answers, and nothing
    else starts meanwhile."""
    w = window
    n = jobs_controller.START_ON_MAIN + 1
    # nothing listens on port 9 here: every host is refused at once (and shown unreachable, not green)
    hosts = [
        db_hosts.add_host(db, Host(name=f"far{i:03d}", address="127.0.0.1", port=9, user="admin"))
        for i in range(n)
    ]
    w.reload_hosts()
    assert w.job_control.start_scan(hosts) is None
    assert w.starting == "Scan" and f"starting the job for {n} hosts" in w.statusBar().currentMessage()
    assert not w.scan_all_action.isEnabled()
    assert w.job_control.start_scan(hosts[:1]) is None and w.active_job is None  # refused meanwhile
    qtbot.waitUntil(lambda: w.active_job is not None, timeout=30000)
    assert w.starting is None and len(w.active_job.hosts) == n
    qtbot.waitUntil(lambda: not w.job_panel.is_running(), timeout=120000)
    qtbot.waitUntil(
        lambda: all(h.last_status == HostStatus.UNREACHABLE for h in w.inventory.model.hosts()), timeout=30000
    )
