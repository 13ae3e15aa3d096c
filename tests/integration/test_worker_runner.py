"""The GUI's job runner in a worker process (app/jobs/worker.py), against real sshd on real test hosts:
the same jobs, events and outcomes as the in-process runner, and a worker that dies loses nothing
silently."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest

from app.domain.errors import ConfigError
from app.domain.events import Event, HostStateChanged, JobStateChanged, ScanRecorded
from app.domain.models import Host, JobState, StepState
from app.jobs.worker import WorkerJobRunner
from db import hosts as db_hosts
from db import jobs as db_jobs
from db.database import open_database

pytestmark = pytest.mark.hosts


@pytest.fixture
def fleet(hosts, host_pool, db_path: Path):  # type: ignore[no-untyped-def]
    db = open_database(db_path)
    models = [
        db_hosts.add_host(
            db, Host(name=h.name, address=h.address, user="admin", key_file=str(host_pool.client_key))
        )
        for h in hosts[:3]
    ]
    yield db, models, db_path
    db.conn.close()


class Events:
    def __init__(self) -> None:
        self.items: list[Event] = []
        self.threads: set[str] = set()
        self.lock = threading.Lock()

    def __call__(self, ev: Event) -> None:
        with self.lock:
            self.items.append(ev)
            self.threads.add(threading.current_thread().name)


def test_scan_in_the_worker_reports_events_and_outcomes(fleet) -> None:  # type: ignore[no-untyped-def]
    db, models, db_path = fleet
    runner = WorkerJobRunner(db_path, keyring=False, connect_timeout=10)
    events = Events()
    runner.add_listener(events)
    try:
        handle = runner.start_scan(db, models, accept_new_keys=True)
        assert handle.wait(120)
        assert runner.flush()
        assert {h.id for h in handle.hosts} == {m.id for m in models}
        assert set(handle.outcomes) == {m.id for m in models}
        for out in handle.outcomes.values():
            assert out.state == StepState.SUCCEEDED, out.error
        # the events came from the worker, in order, through one reader thread of this process
        assert events.threads == {"patchdesk-jobs-reader"}
        mine = [e for e in events.items if e.job_id == handle.job_id]
        states = [e.state for e in mine if isinstance(e, JobStateChanged)]
        assert states[0] == JobState.RUNNING and states[-1] == JobState.FINISHED
        recorded = {e.host_id for e in mine if isinstance(e, ScanRecorded)}
        assert recorded == {m.id for m in models}
        slim = [not e.result.pending and e.result.basis is None for e in mine if isinstance(e, ScanRecorded)]
        assert all(slim)  # the pending lists stayed in the worker
        finished = {e.host_id for e in mine if isinstance(e, HostStateChanged) and e.state.finished}
        assert finished == {m.id for m in models}
        # the worker's recorder wrote the job and the scan results to the same database
        job = db_jobs.get_job(db, handle.job_id)
        assert str(job.state) == "finished"
        for m in models:
            assert db_hosts.get_host(db, m.id).last_scan_at is not None
        # a second job runs in the same worker
        again = runner.start_scan(db, models[:1])
        assert again.wait(120) and again.outcomes[models[0].id].state == StepState.SUCCEEDED
        assert again.job_id != handle.job_id
    finally:
        runner.close()
    assert runner._proc is not None and not runner._proc.is_alive()


def test_done_comes_after_the_job_is_persisted(fleet) -> None:  # type: ignore[no-untyped-def]
    """The console shows a job's figures as soon as its handle is done, without a flush round trip
    to the worker (#25: at 1,000 hosts on a loaded machine every round trip to it counts)."""
    db, models, db_path = fleet
    runner = WorkerJobRunner(db_path, keyring=False, connect_timeout=10)
    try:
        handle = runner.start_scan(db, models, accept_new_keys=True)
        assert handle.wait(120) and handle.flushed
        # no flush() asked: the worker's recorder had written everything before it said done
        assert str(db_jobs.get_job(db, handle.job_id).state) == "finished"
        for m in models:
            assert {jh.state for jh in db_jobs.job_hosts(db, handle.job_id)} == {StepState.SUCCEEDED}
            assert db_hosts.get_host(db, m.id).last_scan_at is not None
    finally:
        runner.close()


def test_known_errors_come_back_as_themselves(fleet) -> None:  # type: ignore[no-untyped-def]
    db, models, db_path = fleet
    runner = WorkerJobRunner(db_path, keyring=False)
    try:
        with pytest.raises(ConfigError):
            runner.start_rollback(db, models[:1])  # nothing to roll back: the runner's own error
    finally:
        runner.close()


def test_cancel_reaches_the_worker(fleet) -> None:  # type: ignore[no-untyped-def]
    db, models, db_path = fleet
    runner = WorkerJobRunner(db_path, keyring=False, concurrency=1)
    try:
        handle = runner.start_scan(db, models, accept_new_keys=True, full=True)
        handle.cancel()
        assert handle.wait(120)
        states = {o.state for o in handle.outcomes.values()}
        assert StepState.CANCELLED in states
    finally:
        runner.close()


def test_a_dead_worker_settles_its_jobs_and_the_next_job_starts_a_new_one(fleet) -> None:  # type: ignore[no-untyped-def]
    db, models, db_path = fleet
    runner = WorkerJobRunner(db_path, keyring=False, concurrency=1)
    events = Events()
    runner.add_listener(events)
    try:
        handle = runner.start_scan(db, models, accept_new_keys=True, full=True)
        first_pid = runner._proc.pid
        os.kill(first_pid, signal.SIGKILL)
        assert handle.wait(30)
        ended = [e for e in events.items if isinstance(e, JobStateChanged) and e.job_id == handle.job_id]
        assert ended[-1].state == JobState.INTERRUPTED
        assert str(db_jobs.get_job(db, handle.job_id).state) == "interrupted"
        again = runner.start_scan(db, models[:1], accept_new_keys=True)  # the keys died with it
        assert runner._proc.pid != first_pid
        assert again.wait(120) and again.outcomes[models[0].id].state == StepState.SUCCEEDED
    finally:
        runner.close()


def test_close_without_a_job_and_a_closed_runner_refuses(db_path: Path) -> None:
    open_database(db_path).conn.close()
    runner = WorkerJobRunner(db_path, keyring=False)
    runner.prestart()
    runner.close()
    assert not runner._proc.is_alive()
    from app.jobs.worker import WorkerError

    with pytest.raises(WorkerError):
        runner.start_scan(None, [])
    assert runner.flush() is True


@pytest.mark.filterwarnings(
    r"ignore:Exception ignored in. <socket\.socket .*/keyring/run/bus>"
    ":pytest.PytestUnraisableExceptionWarning"
)
def test_the_worker_reads_passwords_from_the_real_keyring(  # type: ignore[no-untyped-def]
    hosts, db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.integration.test_credentials import LOGIN_PASSWORD, _run
    from tests.support import keyring_service

    with keyring_service.running(tmp_path / "keyring") as service:
        env = {**service.env(), "PYTHON_KEYRING_BACKEND": "keyring.backends.SecretService.Keyring"}
        r = _run(
            db_path,
            env,
            *("hosts", "add", "pw", "--address", hosts[0].address, "--user", "pwuser", "--password-stdin"),
            stdin=LOGIN_PASSWORD + "\n",
        )
        assert r.returncode == 0, r.stderr
        for k, v in env.items():  # the worker is started with this process's environment
            monkeypatch.setenv(k, v)
        monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
        db = open_database(db_path)
        runner = WorkerJobRunner(db_path, keyring=True, connect_timeout=10)
        try:
            host = db_hosts.find_host(db, "pw")
            assert host is not None and host.credential_ref and host.key_file is None
            handle = runner.start_scan(db, [host], accept_new_keys=True)
            assert handle.wait(120)
            out = handle.outcomes[host.id]
            assert out.state == StepState.SUCCEEDED, out.error  # pwuser has no key: the password worked
        finally:
            runner.close()
            db.conn.close()


def test_a_start_given_up_on_is_cancelled_when_the_worker_answers_late(fleet) -> None:  # type: ignore[no-untyped-def]
    """The caller was told the job did not start (no answer in time): when the worker's answer comes
    after all, the job it created is cancelled at once rather than run behind the caller's back."""
    import time

    from app.jobs.worker import WorkerError

    db, models, db_path = fleet
    runner = WorkerJobRunner(db_path, keyring=False, concurrency=1)
    events = Events()
    runner.add_listener(events)
    try:
        runner.ping()
        runner.start_timeout = 0  # the answer can only come late
        with pytest.raises(WorkerError, match="did not answer"):
            runner.start_scan(db, models, accept_new_keys=True, full=True)

        def ended() -> list[JobStateChanged]:
            with events.lock:
                return [
                    e
                    for e in events.items
                    if isinstance(e, JobStateChanged) and e.state not in (JobState.QUEUED, JobState.RUNNING)
                ]

        deadline = time.monotonic() + 60
        while not ended() and time.monotonic() < deadline:
            time.sleep(0.05)
        (last,) = ended()
        assert last.state == JobState.CANCELLED
        assert runner.flush()
        job = db_jobs.get_job(db, last.job_id)
        assert job is not None and str(job.state) == "cancelled"
        # and the runner carries on: the next start is answered and runs
        runner.start_timeout = 60
        again = runner.start_scan(db, models[:1], accept_new_keys=True)
        assert again.wait(120) and again.outcomes[models[0].id].state == StepState.SUCCEEDED
    finally:
        runner.close()
