"""The job engine and recorder on a real SQLite file, with task functions that need no host."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest

from app.domain.errors import UnreachableError
from app.domain.events import Event, HostStateChanged
from app.domain.models import Host, JobKind, JobState, LogLevel, StepState
from app.jobs.engine import JobEngine, StartBy, TaskContext
from app.jobs.recorder import Recorder
from db import hosts as db_hosts
from db import jobs as db_jobs
from db.database import open_database


class NoConnector:
    def connect(self, *a: object) -> None:
        raise AssertionError("these tasks never connect")


def _setup(db_path: Path, n: int) -> tuple[object, list[Host], Recorder]:
    db = open_database(db_path)
    hosts = [db_hosts.add_host(db, Host(name=f"h{i}", address=f"h{i}.engine.invalid")) for i in range(n)]
    return db, hosts, Recorder(db_path).start()


def test_bounded_concurrency_and_outcomes(db_path: Path) -> None:
    db, hosts, rec = _setup(db_path, 12)
    live, peak, lock = [0], [0], threading.Lock()

    def task(ctx: TaskContext) -> str:
        with lock:
            live[0] += 1
            peak[0] = max(peak[0], live[0])
        time.sleep(0.05)
        with lock:
            live[0] -= 1
        if ctx.host.name == "h3":
            raise UnreachableError("h3 refused the connection.")
        if ctx.host.name == "h4":
            raise RuntimeError("boom")
        ctx.log(LogLevel.INFO, f"hello from {ctx.host.name}")
        return ctx.host.name

    engine = JobEngine(rec, NoConnector(), concurrency=3)
    job = db_jobs.create_job(db, JobKind.SCAN, hosts)  # type: ignore[arg-type]
    handle = engine.run(job, JobKind.SCAN, hosts, task)
    rec.flush()
    assert peak[0] == 3
    states = {o.host.name: o.state for o in handle.outcomes.values()}
    assert states["h3"] == StepState.UNREACHABLE and states["h4"] == StepState.FAILED
    assert sum(s == StepState.SUCCEEDED for s in states.values()) == 10
    assert "Internal error" in (handle.outcomes[hosts[4].id].error or "")  # type: ignore[index]
    persisted = {s.host_name: s.state for s in db_jobs.job_hosts(db, job)}  # type: ignore[arg-type]
    assert persisted == states
    assert db_jobs.get_job(db, job).state == JobState.FINISHED  # type: ignore[arg-type,union-attr]
    logs = [ln.text for _, ln in db_jobs.log_lines(db, job, hosts[0].id)]  # type: ignore[arg-type]
    assert "hello from h0" in logs
    rec.close()


def test_same_host_never_runs_twice_at_once(db_path: Path) -> None:
    db, hosts, rec = _setup(db_path, 1)
    running, overlap = [0], [False]

    def task(ctx: TaskContext) -> None:
        running[0] += 1
        overlap[0] |= running[0] > 1
        time.sleep(0.1)
        running[0] -= 1

    engine = JobEngine(rec, NoConnector())
    handles = [
        engine.start(db_jobs.create_job(db, JobKind.SCAN, hosts), JobKind.SCAN, hosts, task)  # type: ignore[arg-type]
        for _ in range(3)
    ]
    for h in handles:
        assert h.wait(10)
    assert not overlap[0]
    rec.close()


def test_stuck_host_is_abandoned_at_its_deadline(db_path: Path) -> None:
    db, hosts, rec = _setup(db_path, 3)
    release = threading.Event()

    def task(ctx: TaskContext) -> None:
        if ctx.host.name == "h0":
            release.wait(30)  # ignores its deadline, like a library call without a timeout

    engine = JobEngine(rec, NoConnector(), host_deadline=0.5)
    t0 = time.monotonic()
    handle = engine.run(db_jobs.create_job(db, JobKind.SCAN, hosts), JobKind.SCAN, hosts, task)  # type: ignore[arg-type]
    elapsed = time.monotonic() - t0
    release.set()
    assert elapsed < 5
    assert handle.outcomes[hosts[0].id].state == StepState.FAILED  # type: ignore[index]
    assert "deadline" in (handle.outcomes[hosts[0].id].error or "")  # type: ignore[index]
    assert handle.outcomes[hosts[1].id].state == StepState.SUCCEEDED  # type: ignore[index]
    rec.close()


def test_cancel_stops_queued_and_running_hosts(db_path: Path) -> None:
    db, hosts, rec = _setup(db_path, 6)

    def task(ctx: TaskContext) -> None:
        for _ in range(100):
            ctx.deadline.check()  # raises CancelledError once cancelled
            time.sleep(0.02)

    engine = JobEngine(rec, NoConnector(), concurrency=2)
    job = db_jobs.create_job(db, JobKind.SCAN, hosts)  # type: ignore[arg-type]
    handle = engine.start(job, JobKind.SCAN, hosts, task)
    time.sleep(0.2)
    handle.cancel()
    assert handle.wait(5)
    assert {o.state for o in handle.outcomes.values()} == {StepState.CANCELLED}
    rec.flush()
    assert db_jobs.get_job(db, job).state == JobState.CANCELLED  # type: ignore[arg-type,union-attr]
    rec.close()


def test_log_line_reaches_database_within_a_second(db_path: Path) -> None:
    db, hosts, rec = _setup(db_path, 1)
    logged = threading.Event()
    finish = threading.Event()

    def task(ctx: TaskContext) -> None:
        ctx.log(LogLevel.INFO, "first line")
        logged.set()
        finish.wait(10)

    engine = JobEngine(rec, NoConnector())
    job = db_jobs.create_job(db, JobKind.SCAN, hosts)  # type: ignore[arg-type]
    handle = engine.start(job, JobKind.SCAN, hosts, task)
    assert logged.wait(5)
    t0 = time.monotonic()
    reader = open_database(db_path)  # another connection, as the GUI would have
    while not db_jobs.log_lines(reader, job):
        assert time.monotonic() - t0 < 1.0, "log line not persisted within a second"
        time.sleep(0.02)
    finish.set()
    handle.wait(5)
    rec.close()


def test_listeners_receive_every_state_change(db_path: Path) -> None:
    db, hosts, rec = _setup(db_path, 4)
    seen: list[Event] = []
    engine = JobEngine(rec, NoConnector())
    engine.add_listener(seen.append)
    engine.run(db_jobs.create_job(db, JobKind.SCAN, hosts), JobKind.SCAN, hosts, lambda ctx: None)  # type: ignore[arg-type]
    finals = [e for e in seen if isinstance(e, HostStateChanged) and e.state == StepState.SUCCEEDED]
    assert len(finals) == 4
    rec.close()


@pytest.mark.parametrize("n_lines", [5000])
def test_recorder_batches_a_chatty_host(db_path: Path, n_lines: int) -> None:
    db, hosts, rec = _setup(db_path, 1)

    def task(ctx: TaskContext) -> None:
        for i in range(n_lines):
            ctx.log(LogLevel.DEBUG, f"line {i} " + "x" * 20000 * (i == 0))

    engine = JobEngine(rec, NoConnector())
    job = db_jobs.create_job(db, JobKind.SCAN, hosts)  # type: ignore[arg-type]
    engine.run(job, JobKind.SCAN, hosts, task)
    rec.flush()
    lines = db_jobs.log_lines(db, job)  # type: ignore[arg-type]
    assert len(lines) == n_lines
    assert "characters cut" in lines[0][1].text and len(lines[0][1].text) < 9000
    rec.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")
def test_job_threads_run_at_the_nice_value_asked_and_the_caller_keeps_its_own(db_path: Path) -> None:
    db, hosts, rec = _setup(db_path, 2)
    seen: dict[str, tuple[int, int]] = {}

    def task(ctx: TaskContext) -> None:
        # and the threads a task starts (paramiko's reader threads) inherit it
        inner: list[int] = []
        t = threading.Thread(
            target=lambda: inner.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        )
        t.start()
        t.join()
        seen[ctx.host.name] = (os.getpriority(os.PRIO_PROCESS, threading.get_native_id()), inner[0])

    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    engine = JobEngine(rec, NoConnector(), worker_nice=19)
    engine.run(db_jobs.create_job(db, JobKind.SCAN, hosts), JobKind.SCAN, hosts, task)  # type: ignore[arg-type]
    assert seen == {"h0": (19, 19), "h1": (19, 19)}
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == mine
    rec.close()


def test_runner_closes_while_another_thread_still_imports_the_ssh_transport(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job worker can be closed right after it started, while its warm-up thread is still
    importing app.transports.ssh: the half-initialized module in sys.modules has no
    join_closed_connections yet, and no connection can have been made through it."""
    import types

    from app.jobs.runner import JobRunner

    open_database(db_path).conn.close()
    monkeypatch.setitem(sys.modules, "app.transports.ssh", types.ModuleType("app.transports.ssh"))
    runner = JobRunner(db_path)
    runner.close()  # no AttributeError


def test_window_end_starts_no_host_after_the_cutoff_and_defers_the_rest(db_path: Path) -> None:
    """Issue #20 item 4: one worker, three hosts, a cut-off 0.3 s in: the first host starts and is
    never stopped by it; the ones whose turn comes later are skipped as deferred, with the reason in
    the outcome, the job's row and the host's log."""
    db, hosts, rec = _setup(db_path, 3)
    started: list[str] = []

    def task(ctx: TaskContext) -> str:
        started.append(ctx.host.name)
        time.sleep(0.6)
        return ctx.host.name

    reason = "not started: window 'w' ends at 03:00; deferred to the next window at 2026-06-13T02:00"
    engine = JobEngine(rec, NoConnector(), concurrency=1)
    job = db_jobs.create_job(db, JobKind.PATCH, hosts)  # type: ignore[arg-type]
    cutoff = time.monotonic() + 0.3
    handle = engine.run(
        job,
        JobKind.PATCH,
        hosts,
        task,
        start_by={h.id: StartBy(cutoff, reason) for h in hosts},  # type: ignore[misc]
    )
    rec.flush()
    assert started == ["h0"]
    by_name = {o.host.name: o for o in handle.outcomes.values()}
    assert by_name["h0"].state == StepState.SUCCEEDED
    for name in ("h1", "h2"):
        assert by_name[name].state == StepState.SKIPPED
        assert by_name[name].details == {"deferred": reason}
    rows = {s.host_name: s for s in db_jobs.job_hosts(db, job)}  # type: ignore[arg-type]
    assert rows["h1"].state == StepState.SKIPPED and rows["h1"].error == reason
    logs = [ln.text for _, ln in db_jobs.log_lines(db, job, hosts[2].id)]  # type: ignore[arg-type]
    assert reason in logs


def test_a_known_failure_keeps_the_result_it_carries(db_path: Path) -> None:
    """A patch rolled back on red fails its step, but its report (what changed, the rollback) is the
    job's to show: the error's ``result`` becomes the outcome's."""
    from app.domain.errors import PatchdeskError

    class Carrying(PatchdeskError):
        def __init__(self) -> None:
            super().__init__("red, rolled back automatically")
            self.result = {"restored": 1}

    db, hosts, rec = _setup(db_path, 1)

    def task(ctx: TaskContext) -> None:
        raise Carrying()

    engine = JobEngine(rec, NoConnector(), concurrency=1)
    job = db_jobs.create_job(db, JobKind.PATCH, hosts)  # type: ignore[arg-type]
    handle = engine.run(job, JobKind.PATCH, hosts, task)
    outcome = handle.outcomes[hosts[0].id]  # type: ignore[index]
    assert outcome.state == StepState.FAILED and outcome.result == {"restored": 1}
    assert outcome.error == "red, rolled back automatically"
    rec.close()


def test_watching_a_large_job_does_not_revisit_every_host_each_tick(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 1,000 hosts the coordinator's 0.1 s watch over every host's future (done() on each, then
    wait() installing a waiter on each) made Patchdesk's CPU per host grow with the job's size
    (bench/RESULTS.md, "Does the cost grow linearly?"). Its watch must cost what is running, not what
    the job holds."""
    import concurrent.futures._base as futures_base

    n = 1500
    db, hosts, rec = _setup(db_path, n)
    touched = [0]
    done, install = futures_base.Future.done, futures_base._create_and_install_waiters

    def counting_done(self: object) -> bool:
        touched[0] += 1
        return done(self)  # type: ignore[arg-type]

    def counting_install(fs: object, return_when: str) -> object:
        touched[0] += len(fs)  # type: ignore[arg-type]
        return install(fs, return_when)

    monkeypatch.setattr(futures_base.Future, "done", counting_done)
    monkeypatch.setattr(futures_base, "_create_and_install_waiters", counting_install)

    def task(ctx: TaskContext) -> None:
        time.sleep(0.001)  # 1,500 hosts at two at a time: the job spans several of the watch's ticks

    engine = JobEngine(rec, NoConnector(), concurrency=2)
    job = db_jobs.create_job(db, JobKind.SCAN, hosts)  # type: ignore[arg-type]
    t0 = time.monotonic()
    handle = engine.run(job, JobKind.SCAN, hosts, task)
    ticks = (time.monotonic() - t0) / 0.1
    rec.close()
    assert len(handle.outcomes) == n and all(o.state == StepState.SUCCEEDED for o in handle.outcomes.values())
    assert ticks > 3  # else the test shows nothing
    assert touched[0] < n, f"{touched[0]} looks at futures in {ticks:.0f} ticks for {n} hosts"
