"""The job engine: runs one task function per host with bounded concurrency.

* Different hosts run in parallel (a thread pool of ``concurrency`` workers per job); steps on the
  same host never overlap, even across jobs (a lock per host).
* Every host has an overall deadline. Transports clamp their own timeouts to it; if a task is still
  stuck past the deadline anyway (a library call that ignores its timeout), the coordinator gives
  up on it: the host is reported failed and its transport is closed to unblock the thread, whose late
  result is then ignored. One hung host never holds up the job.
* A host may carry a start-by time (:class:`StartBy`, the window-end cut-off): a host whose turn comes
  after it is not started at all but settled ``skipped`` with the reason, so a maintenance window's
  end is a hard edge however long the queue ahead of it took.
* Tasks know nothing of Qt or SQL. They get a :class:`TaskContext` and report events; the engine
  forwards every event to the recorder (persistence) and to listeners (the GUI bridge).
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from app.domain.errors import (
    CancelledError,
    DeadlineExceededError,
    HostKeyChangedError,
    HostKeyError,
    PatchdeskError,
)
from app.domain.events import (
    Event,
    HostLog,
    HostProgress,
    HostStateChanged,
    JobStateChanged,
)
from app.domain.models import Host, JobKind, JobState, LogLevel, StepState
from app.jobs.recorder import Recorder
from app.transports.base import Deadline, Transport

logger = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 20
DEFAULT_HOST_DEADLINE = 600.0
#: How long a host may take to come back after a reboot before we say so.
REBOOT_TIMEOUT = 600.0
#: How long a patch or rollback waits for a busy package manager.
LOCK_WAIT = 120.0
#: How long past its deadline a stuck task gets before the coordinator abandons it.
DEADLINE_GRACE = 2.0


class Connector(Protocol):
    """Builds a transport for a host (app/transports/factory.py)."""

    def connect(
        self, host: Host, deadline: Deadline, report: Callable[[Event], None], job_id: int
    ) -> Transport: ...


@dataclass
class HostOutcome:
    host: Host
    state: StepState
    error: str | None = None
    result: Any = None
    details: dict[str, Any] = field(default_factory=dict)


class TaskContext:
    """What a task function gets: its host, a transport on demand, a deadline and a report channel."""

    def __init__(
        self,
        job_id: int,
        host: Host,
        deadline: Deadline,
        emit: Callable[[Event], None],
        connector: Connector,
        extra_sources: tuple[str, ...] = (),
    ) -> None:
        self.job_id = job_id
        self.host = host
        #: the offline bundles applied on the host, given to its package manager as sources
        self.extra_sources = extra_sources
        self.deadline = deadline
        self._emit = emit
        self._connector = connector
        self._transport: Transport | None = None
        self._lock = threading.Lock()

    @property
    def cancelled(self) -> bool:
        return self.deadline.cancel.is_set()

    def transport(self) -> Transport:
        """The host's transport, created on first use (connection itself is lazy too)."""
        with self._lock:
            if self._transport is None:
                self._transport = self._connector.connect(self.host, self.deadline, self._emit, self.job_id)
            return self._transport

    def report(self, event: Event) -> None:
        self._emit(event)

    def log(self, level: LogLevel | str, text: str) -> None:
        self._emit(HostLog(self.job_id, host_id=self.host.id, level=LogLevel(level), text=text))

    def progress(self, fraction: float, message: str = "") -> None:
        assert self.host.id is not None
        self._emit(HostProgress(self.job_id, host_id=self.host.id, fraction=fraction, message=message))

    def close(self, *, discard: bool = False) -> None:
        """Done with the transport. A healthy SSH connection may be kept for the next job on this host
        (app/transports/pool.py); ``discard`` closes it for good."""
        with self._lock:
            t, self._transport = self._transport, None
        if t is not None:
            try:
                t.discard() if discard else t.close()
            except Exception:  # closing must never mask the task's own outcome
                logger.debug("error closing transport of %s", self.host.name, exc_info=True)


TaskFn = Callable[[TaskContext], Any]


@dataclass(frozen=True)
class StartBy:
    """The latest moment (``time.monotonic()``) a host may start in a job, and the sentence that says
    why it was not: the scheduler's window-end cut-off. A host past it is skipped and reported as
    deferred (``HostOutcome.details["deferred"]``); one already running is never stopped by it.
    ``time.monotonic()`` is system-wide on Linux, Windows and macOS, so it means the same in the GUI's
    worker process (app/jobs/worker.py)."""

    at: float
    reason: str


class JobHandle:
    """A running job: wait for it, cancel it, read its outcomes."""

    def __init__(self, job_id: int, hosts: Sequence[Host]) -> None:
        self.job_id = job_id
        self.hosts = list(hosts)
        self.cancel_event = threading.Event()
        self.done = threading.Event()
        self.outcomes: dict[int, HostOutcome] = {}
        self.start_by: dict[int, StartBy] = {}
        self._lock = threading.Lock()

    def cancel(self) -> None:
        self.cancel_event.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)

    def _settle(self, outcome: HostOutcome) -> bool:
        """Record a host's final outcome once; later attempts (a stuck thread waking up) are dropped."""
        assert outcome.host.id is not None
        with self._lock:
            if outcome.host.id in self.outcomes:
                return False
            self.outcomes[outcome.host.id] = outcome
            return True


def lower_thread_priority(nice: int) -> None:
    """Make the calling thread ``nice`` steps less important to the OS scheduler (Linux only:
    there a thread has its own nice value; elsewhere, or when ``nice`` is 0, nothing happens).

    The GUI asks for this for its job workers, so that twenty threads busy with SSH on a small
    workstation do not keep the window's main thread waiting for a core. Raising one's own nice
    value never needs privileges.
    """
    if nice <= 0 or not sys.platform.startswith("linux"):
        return
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    except OSError as exc:  # a sandbox may forbid it; the job runs all the same
        logger.debug("could not lower the priority of a job thread: %s", exc)


class JobEngine:
    def __init__(
        self,
        recorder: Recorder,
        connector: Connector,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        host_deadline: float = DEFAULT_HOST_DEADLINE,
        worker_nice: int = 0,
    ) -> None:
        self.recorder = recorder
        self.connector = connector
        #: host id -> the ids of the bundles applied on it (db/bundles.py: sources_for)
        self.sources: Mapping[int, tuple[str, ...]] = {}
        self.concurrency = concurrency
        self.host_deadline = host_deadline
        self.worker_nice = worker_nice
        self._listeners: list[Callable[[Event], None]] = []
        self._host_locks: dict[int, threading.Lock] = {}
        self._host_locks_guard = threading.Lock()
        self._handles: dict[int, JobHandle] = {}

    def add_listener(self, listener: Callable[[Event], None]) -> None:
        """``listener`` is called from worker threads; it must be thread-safe and quick."""
        self._listeners.append(listener)

    def emit(self, event: Event) -> None:
        self.recorder.record(event)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                logger.exception("job event listener failed")

    def running(self) -> list[JobHandle]:
        return [h for h in self._handles.values() if not h.done.is_set()]

    def start(
        self,
        job_id: int,
        kind: JobKind,
        hosts: Sequence[Host],
        task: TaskFn,
        *,
        concurrency: int | None = None,
        host_deadline: float | None = None,
        start_by: Mapping[int, StartBy] | None = None,
    ) -> JobHandle:
        """Start ``task`` on every host in a background coordinator thread and return at once.

        ``start_by``: per host id, the cut-off after which that host is not started (deferred)."""
        handle = JobHandle(job_id, hosts)
        handle.start_by = dict(start_by or {})
        self._handles[job_id] = handle
        self.recorder.register_job(job_id, kind)
        workers = max(1, min(concurrency or self.concurrency, len(hosts) or 1))
        deadline_s = host_deadline if host_deadline is not None else self.host_deadline
        thread = threading.Thread(
            target=self._coordinate,
            args=(handle, task, workers, deadline_s),
            name=f"patchdesk-job-{job_id}",
            daemon=True,
        )
        thread.start()
        return handle

    def run(self, job_id: int, kind: JobKind, hosts: Sequence[Host], task: TaskFn, **kw: Any) -> JobHandle:
        """Start and wait (for the CLI)."""
        handle = self.start(job_id, kind, hosts, task, **kw)
        handle.wait()
        return handle

    # -- internals -------------------------------------------------------------------------------

    def _host_lock(self, host_id: int) -> threading.Lock:
        with self._host_locks_guard:
            return self._host_locks.setdefault(host_id, threading.Lock())

    def _coordinate(self, handle: JobHandle, task: TaskFn, workers: int, deadline_s: float) -> None:
        job_id = handle.job_id
        self.emit(JobStateChanged(job_id, state=JobState.RUNNING))
        # Only the hosts at work: the watch below looks at these every 0.1 s, and a finished host
        # leaves, so the watch costs what runs (C hosts), not what the job holds (1,000).
        contexts: dict[int, TaskContext] = {}
        started: dict[int, float] = {}
        guard = threading.Lock()
        remaining = [len(handle.hosts)]
        all_ran = threading.Event()
        if not handle.hosts:
            all_ran.set()

        def work(host: Host) -> None:
            try:
                work_on(host)
            finally:
                with guard:
                    contexts.pop(host.id, None)  # type: ignore[arg-type]
                    remaining[0] -= 1
                    if remaining[0] == 0:
                        all_ran.set()

        def work_on(host: Host) -> None:
            assert host.id is not None
            lock = self._host_lock(host.id)
            while not lock.acquire(timeout=0.2):
                if handle.cancel_event.is_set():
                    self._finish(
                        handle, HostOutcome(host, StepState.CANCELLED, "Cancelled before it started.")
                    )
                    return
            try:
                if handle.cancel_event.is_set():
                    self._finish(
                        handle, HostOutcome(host, StepState.CANCELLED, "Cancelled before it started.")
                    )
                    return
                if self._past_start_by(handle, host):
                    return
                deadline = Deadline(deadline_s, handle.cancel_event)
                ctx = TaskContext(
                    job_id, host, deadline, self.emit, self.connector, self.sources.get(host.id, ())
                )
                with guard:
                    contexts[host.id] = ctx
                    started[host.id] = time.monotonic()
                self.emit(HostStateChanged(job_id, host_id=host.id, state=StepState.RUNNING))
                outcome = self._run_task(task, ctx)
                ctx.close()
                self._finish(handle, outcome)
            finally:
                lock.release()

        # Not a `with` block: its exit would wait for threads stuck past their deadline.
        pool = ThreadPoolExecutor(
            max_workers=workers,
            thread_name_prefix=f"job{job_id}",
            initializer=lower_thread_priority,
            initargs=(self.worker_nice,),
        )
        try:
            for host in handle.hosts:
                assert host.id is not None
                pool.submit(work, host)
            # Watch for hosts stuck past their deadline while the pool works: returns as soon as
            # every host has run, else every 0.1 s to look for overdue hosts.
            while not all_ran.wait(0.1):
                now = time.monotonic()
                with guard:
                    overdue = [
                        (hid, ctx)
                        for hid, ctx in contexts.items()
                        if now - started[hid] > deadline_s + DEADLINE_GRACE and hid not in handle.outcomes
                    ]
                for _, ctx in overdue:
                    msg = (
                        f"{ctx.host.name} did not finish within its deadline of {deadline_s:.0f} s; "
                        "gave up on it."
                    )
                    ctx.log(LogLevel.ERROR, msg)
                    self._finish(handle, HostOutcome(ctx.host, StepState.FAILED, msg))
                    threading.Thread(target=functools.partial(ctx.close, discard=True), daemon=True).start()
                if len(handle.outcomes) == len(handle.hosts):
                    break  # every host settled; abandoned threads finish (or not) on their own
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        state = JobState.CANCELLED if handle.cancel_event.is_set() else JobState.FINISHED
        self.emit(JobStateChanged(job_id, state=state))
        handle.done.set()

    def _past_start_by(self, handle: JobHandle, host: Host) -> bool:
        """Settle ``host`` as deferred when its turn came after its cut-off (True: do not start it)."""
        assert host.id is not None
        limit = handle.start_by.get(host.id)
        if limit is None or time.monotonic() <= limit.at:
            return False
        self.emit(HostLog(handle.job_id, host_id=host.id, level=LogLevel.WARNING, text=limit.reason))
        self._finish(
            handle, HostOutcome(host, StepState.SKIPPED, limit.reason, details={"deferred": limit.reason})
        )
        return True

    def _run_task(self, task: TaskFn, ctx: TaskContext) -> HostOutcome:
        host = ctx.host
        try:
            result = task(ctx)
        except CancelledError as exc:
            return HostOutcome(host, StepState.CANCELLED, str(exc))
        except HostKeyError as exc:
            details: dict[str, Any] = {
                "kind": "host-key-changed" if isinstance(exc, HostKeyChangedError) else "host-key-unknown",
                "keytype": exc.keytype,
                "key_b64": exc.key_b64,
                "fingerprint": exc.fingerprint,
            }
            if isinstance(exc, HostKeyChangedError):
                details["old_fingerprint"] = exc.old_fingerprint
            ctx.log(LogLevel.ERROR, str(exc))
            return HostOutcome(host, StepState.FAILED, str(exc), details=details)
        except DeadlineExceededError as exc:
            msg = f"{host.name}: {exc}"
            ctx.log(LogLevel.ERROR, msg)
            return HostOutcome(host, StepState.FAILED, msg)
        except PatchdeskError as exc:
            ctx.log(LogLevel.ERROR, str(exc))
            # a known failure may carry what the task did before it (a patch rolled back on red)
            return HostOutcome(host, StepState(exc.host_state), str(exc), getattr(exc, "result", None))
        except Exception as exc:
            # A bug, not a known condition: keep the traceback in the log file and the job log.
            logger.exception("task failed on %s", host.name)
            ctx.log(LogLevel.ERROR, "Internal error (please report):\n" + traceback.format_exc())
            return HostOutcome(host, StepState.FAILED, f"Internal error: {type(exc).__name__}: {exc}")
        return HostOutcome(host, StepState.SUCCEEDED, None, result)

    def _finish(self, handle: JobHandle, outcome: HostOutcome) -> None:
        if handle._settle(outcome):
            assert outcome.host.id is not None
            self.emit(
                HostStateChanged(
                    handle.job_id,
                    host_id=outcome.host.id,
                    state=outcome.state,
                    error=outcome.error,
                    details=outcome.details,
                )
            )
