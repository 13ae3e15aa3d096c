"""The job machinery in a worker process of its own, for the GUI.

Twenty job threads and one paramiko reader thread per connection, in the window's own process,
would queue for the same GIL as the window's main thread and make it wait for its turn during a
scan, whatever the threads' nice value. Here the same :class:`~app.jobs.runner.JobRunner` runs in a
child process (``multiprocessing``, spawn), and the GUI keeps one thread that receives the events.

:class:`WorkerJobRunner` has the runner's interface (``start_*``, ``add_listener``, ``flush``,
``close``); each ``start_*`` is a request answered once the child has created the job, and returns a
:class:`WorkerJobHandle` whose ``done``/``outcomes`` follow the child's job. The ``db`` argument of
``start_*`` is not used: the child reads the same database file with its own connection.

Events reach the listeners in the order the child emitted them (one pipe, one sender thread), a
job's "done" after its last event and after the child's recorder has persisted them (the handle's
``flushed`` says whether it did in time). A scan's pending list is not sent with its ``ScanRecorded``
event (the recorder in the child has persisted it; listeners are told which host was recorded).
If the child dies, its unfinished jobs are marked interrupted in the database, each open handle
gets a ``JobStateChanged(INTERRUPTED)`` event and is settled, and the next ``start_*`` starts a new
child.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import multiprocessing
import os
import queue
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from app.domain.errors import PatchdeskError
from app.domain.events import Event, JobStateChanged, ScanRecorded
from app.domain.models import Host, JobState
from app.domain.outside_changes import HistoryRecorded
from app.jobs.engine import DEFAULT_CONCURRENCY, DEFAULT_HOST_DEADLINE, JobHandle
from app.transports.pool import DEFAULT_IDLE

logger = logging.getLogger(__name__)

#: How long a request (start a job, flush) waits for the child's answer.
REQUEST_TIMEOUT = 120.0
#: How long the child may take to come up (a cold start of the interpreter and the job modules).
START_TIMEOUT = 60.0
#: How long close() waits for the child to finish its own close (connections, recorder).
CLOSE_TIMEOUT = 15.0
#: Events sent in one message at most (they are batched while the pipe is busy).
EVENT_BATCH = 500
#: How long a finished job's "done" waits for the recorder to have persisted the job's events.
DONE_FLUSH_TIMEOUT = 15.0


class WorkerError(PatchdeskError):
    """The job worker process could not be started or stopped answering."""


class WorkerJobHandle(JobHandle):
    """A job running in the worker process: cancel() asks the worker; done/outcomes follow it."""

    def __init__(self, job_id: int, hosts: Sequence[Host], runner: WorkerJobRunner) -> None:
        super().__init__(job_id, hosts)
        self._runner = runner
        #: set with ``done``: the worker's recorder had persisted the job's events when it ended
        #: (False: not in time, or the worker died; then ask with flush())
        self.flushed = False

    def cancel(self) -> None:
        super().cancel()
        self._runner._send_quietly(("cancel", self.job_id))


class WorkerJobRunner:
    def __init__(
        self,
        db_path: Path | str,
        *,
        keyring: bool = True,
        concurrency: int = DEFAULT_CONCURRENCY,
        host_deadline: float = DEFAULT_HOST_DEADLINE,
        ssh_config: Path | None = None,
        connect_timeout: float = 10.0,
        worker_nice: int = 0,
        keep_connections: float = DEFAULT_IDLE,
    ) -> None:
        """``keyring``: the worker reads credentials from the OS keyring (False: no secret store).
        The other arguments are :class:`~app.jobs.runner.JobRunner`'s, applied in the worker."""
        self.db_path = db_path
        self._config: dict[str, Any] = {
            "db_path": str(db_path),
            "keyring": keyring,
            "log_dir": os.environ.get("PATCHDESK_LOG_DIR"),
            # JobRunner's own keyword arguments, passed on as they are
            "runner": {
                "concurrency": concurrency,
                "host_deadline": host_deadline,
                "ssh_config": ssh_config,
                "connect_timeout": connect_timeout,
                "worker_nice": worker_nice,
                "keep_connections": keep_connections,
            },
        }
        self._listeners: list[Callable[[Event], None]] = []
        self._lock = threading.Lock()  # the child, its pipe and the pending requests
        self._send_lock = threading.Lock()
        self._child: _Child | None = None
        self._ids = itertools.count(1)
        # request id -> (answered, answer box, the hosts of a job being started, which child)
        self._pending: dict[int, tuple[threading.Event, list[Any], list[Host] | None, _Child]] = {}
        self._handles: dict[int, tuple[WorkerJobHandle, _Child]] = {}
        #: start requests given up on (no answer in time): a job the worker creates after all is
        #: cancelled at once -- the caller was told it did not start
        self._abandoned: set[int] = set()
        self._reply_lock = threading.Lock()  # a reply and a request giving up on it, one at a time
        #: how long a job start waits for the worker's answer
        self.start_timeout = REQUEST_TIMEOUT
        self._closed = False

    @property
    def _proc(self) -> Any:  # the current worker process (tests)
        return self._child.proc if self._child is not None else None

    @property
    def _conn(self) -> Any:
        child = self._child
        return child.conn if child is not None and not child.lost else None

    # -- the child ------------------------------------------------------------------------------

    def prestart(self) -> None:
        """Start the worker now (in the background of an idle window) rather than at the first job."""
        with self._lock:
            self._ensure_child()

    def ready(self) -> bool:
        """True when a job can start without waiting for the worker: it is up and has said so.
        (The window starts jobs on the spot then, and off its main thread otherwise.)"""
        child = self._child
        return (
            child is not None
            and child.ready.is_set()
            and child.error is None
            and not child.lost
            and child.proc.is_alive()
        )

    def _ensure_child(self) -> None:
        if self._closed:
            raise WorkerError("The job runner is closed.")
        current = self._child
        if current is not None and not current.lost and current.proc.is_alive():
            return
        ctx = multiprocessing.get_context("spawn")
        parent, child_end = ctx.Pipe(duplex=True)
        proc = ctx.Process(
            target=_child_main, args=(child_end, self._config), name="patchdesk-jobs", daemon=True
        )
        proc.start()
        child_end.close()
        child = _Child(proc, parent)
        self._child = child
        child.reader = threading.Thread(
            target=self._read, args=(child,), name="patchdesk-jobs-reader", daemon=True
        )
        child.reader.start()

    def _current(self) -> _Child:
        """The worker, started if needed and ready to answer."""
        with self._lock:
            self._ensure_child()
            child = self._child
        assert child is not None
        if not child.ready.wait(START_TIMEOUT):
            raise WorkerError(f"The job worker did not start within {START_TIMEOUT:.0f} s.")
        if child.error is not None:
            raise WorkerError(f"The job worker could not start: {child.error}")
        return child

    def _read(self, child: _Child) -> None:
        conn = child.conn
        """The reader thread: events to the listeners, answers to the requests, done to handles."""
        try:
            while True:
                try:
                    msg = conn.recv()
                except (EOFError, OSError):
                    break
                kind = msg[0]
                if kind == "events":
                    self._deliver(msg[1])
                elif kind == "reply":
                    with self._reply_lock:
                        slot = self._pending.pop(msg[1], None)
                        late = slot is None and msg[1] in self._abandoned
                        self._abandoned.discard(msg[1])
                    if late and msg[2][0] == "ok":
                        job_id = msg[2][1]
                        logger.warning("job %s started after its start was given up on: cancelled", job_id)
                        self._send_quietly(("cancel", job_id))
                    if slot is not None:
                        done, box, hosts, _child = slot
                        status, value = msg[2]
                        if status == "ok" and hosts is not None:
                            # the handle exists before the reader can see this job's "done"
                            handle = WorkerJobHandle(value, hosts, self)
                            self._handles[value] = (handle, child)
                            value = handle
                        box.append((status, value))
                        done.set()
                elif kind == "ready":
                    child.ready.set()
                elif kind == "start-failed":
                    child.error = msg[1]
                    child.ready.set()
        finally:
            self._lost(child)

    def _deliver(self, items: list[tuple[str, Any]]) -> None:
        for what, payload in items:
            if what == "event":
                for listener in list(self._listeners):
                    try:
                        listener(payload)
                    except Exception:  # a listener's bug must not stop the others or the reader
                        logger.exception("job event listener failed")
            elif what == "done":
                job_id, outcomes, flushed = payload
                entry = self._handles.pop(job_id, None)
                if entry is not None:
                    entry[0].outcomes.update(outcomes)
                    entry[0].flushed = bool(flushed)
                    entry[0].done.set()

    def _lost(self, child: _Child) -> None:
        """The pipe closed: after close(), or because the worker died. Settle what it had open."""
        with self._lock:
            child.lost = True
            pending = {k: v for k, v in self._pending.items() if v[3] is child}
            for k in pending:
                self._pending.pop(k, None)
            handles = {k: v[0] for k, v in self._handles.items() if v[1] is child}
            for k in handles:
                self._handles.pop(k, None)
            closing = self._closed
        proc = child.proc
        for done, box, _hosts, _child in pending.values():
            box.append(("error", WorkerError("The job worker stopped.")))
            done.set()
        if not child.ready.is_set():  # a start that was waiting fails at once
            child.error = child.error or WorkerError("The job worker stopped while starting.")
            child.ready.set()
        if not handles:
            return
        proc.join(5)
        if not closing:
            logger.error(
                "the job worker stopped (exit code %s) with %d job(s) open", proc.exitcode, len(handles)
            )
        self._mark_interrupted()
        for job_id, handle in handles.items():
            self._deliver([("event", JobStateChanged(job_id, state=JobState.INTERRUPTED))])
            handle.done.set()

    def _mark_interrupted(self) -> None:
        try:
            from db import jobs as db_jobs
            from db.database import open_database

            db = open_database(self.db_path, migrate=False)
            try:
                db_jobs.mark_interrupted(db)  # only jobs whose process (the worker) is gone
            finally:
                db.conn.close()
        except Exception:
            logger.exception("could not mark the stopped worker's jobs as interrupted")

    # -- requests ---------------------------------------------------------------------------------

    def _send(self, msg: tuple[Any, ...], child: _Child | None = None) -> None:
        child = child or self._child
        if child is None or child.lost:
            raise WorkerError("The job worker is not running.")
        with self._send_lock:
            child.conn.send(msg)

    def _send_quietly(self, msg: tuple[Any, ...]) -> None:
        try:
            self._send(msg)
        except (WorkerError, OSError, ValueError) as exc:
            logger.warning("could not reach the job worker: %s", exc)

    def _request(
        self, op: str, *args: Any, hosts: list[Host] | None = None, timeout: float = REQUEST_TIMEOUT
    ) -> Any:
        child = self._current()
        req = next(self._ids)
        done = threading.Event()
        box: list[Any] = []
        self._pending[req] = (done, box, hosts, child)
        try:
            self._send((op, req, *args), child)
        except (OSError, ValueError) as exc:
            self._pending.pop(req, None)
            raise WorkerError(f"The job worker is not reachable: {exc}") from exc
        if not done.wait(timeout):
            with self._reply_lock:
                given_up = self._pending.pop(req, None) is not None
                if given_up and op == "start":
                    self._abandoned.add(req)
            if given_up:
                raise WorkerError(f"The job worker did not answer within {timeout:.0f} s.")
            done.wait(REQUEST_TIMEOUT)  # answered in the same instant: the reader is filling the box
        status, value = box[0]
        if status == "error":
            raise value
        return value

    def _start(self, method: str, hosts: Sequence[Host], **kwargs: Any) -> WorkerJobHandle:
        listed = list(hosts)
        handle = self._request("start", method, listed, kwargs, hosts=listed, timeout=self.start_timeout)
        assert isinstance(handle, WorkerJobHandle)
        return handle

    # -- JobRunner's interface -------------------------------------------------------------------------

    def add_listener(self, listener: Callable[[Event], None]) -> None:
        self._listeners.append(listener)

    def start_plan(self, db: Any, hosts: Sequence[Host], selections: Any, **kw: Any) -> WorkerJobHandle:
        return self._start("start_plan", hosts, selections=selections, **kw)

    def start_patch(self, db: Any, hosts: Sequence[Host], selections: Any, **kw: Any) -> WorkerJobHandle:
        return self._start("start_patch", hosts, selections=selections, **kw)

    def start_verify(self, db: Any, hosts: Sequence[Host], **kw: Any) -> WorkerJobHandle:
        return self._start("start_verify", hosts, **kw)

    def start_rollback(self, db: Any, hosts: Sequence[Host], **kw: Any) -> WorkerJobHandle:
        return self._start("start_rollback", hosts, **kw)

    def start_scan(self, db: Any, hosts: Sequence[Host], **kw: Any) -> WorkerJobHandle:
        return self._start("start_scan", hosts, **kw)

    def ping(self, timeout: float = START_TIMEOUT) -> int:
        """Start the worker if needed and have it answer; returns its process id."""
        return int(self._request("ping", timeout=timeout))

    def clear_connections(self) -> None:
        """Close the worker's kept SSH connections (the next job logs in afresh)."""
        if self._conn is not None:
            self._request("clear-connections")

    def flush(self, timeout: float = 10.0) -> bool:
        """Everything the worker's recorder holds is in the database (True), or ``timeout`` passed."""
        if self._conn is None:
            return True
        try:
            return bool(self._request("flush", timeout, timeout=timeout + 5))
        except WorkerError as exc:
            logger.warning("flush: %s", exc)
            return False

    def close(self) -> None:
        with self._lock:
            self._closed = True
            child = self._child
        if child is None:
            return
        if not child.lost:
            try:
                self._send(("close", 0), child)
            except (WorkerError, OSError, ValueError):
                pass  # already gone: the join below returns at once
        child.proc.join(CLOSE_TIMEOUT)
        if child.proc.is_alive():
            logger.warning("the job worker did not stop within %.0f s; terminating it", CLOSE_TIMEOUT)
            child.proc.terminate()
            child.proc.join(5)
        if child.reader is not None:
            child.reader.join(5)
        child.conn.close()


class _Child:
    """One worker process, its end of the pipe and its reader thread."""

    def __init__(self, proc: Any, conn: Any) -> None:
        self.proc = proc
        self.conn = conn
        self.ready = threading.Event()  # it said "ready" (or failed to start, or died first)
        self.error: BaseException | None = None
        self.reader: threading.Thread | None = None
        self.lost = False  # its pipe has closed


# -- the worker process --------------------------------------------------------------------------


def _slim(ev: Event) -> Event:
    """What the console needs of an event: a scan's full update list stays in the worker (the
    recorder has written it), so a big scan does not cost the window's process an unpickling."""
    if isinstance(ev, ScanRecorded) and (ev.result.pending or ev.result.basis is not None):
        return dataclasses.replace(ev, result=dataclasses.replace(ev.result, pending=(), basis=None))
    if isinstance(ev, HistoryRecorded) and (ev.read.entries or ev.read.inventory):
        # up to thousands of history lines per host and scan: the recorder here has stored them
        return dataclasses.replace(ev, read=dataclasses.replace(ev.read, entries=(), inventory=None))
    return ev


#: What a first job needs beyond the runner, imported by the worker as soon as it is up, so the
#: console's first Scan click does not wait for these imports (its request is answered once the job
#: exists).
WORKER_WARM_UP = (
    "app.jobs.tasks",
    "app.platforms.posix.apt",
    "app.platforms.posix.dnf",
    "app.platforms.posix.zypper",
    "app.transports.ssh",
    "db.rules",
    "db.advisories",
    "db.scan_basis",
)


def _warm_up() -> None:
    import importlib

    for name in WORKER_WARM_UP:
        try:
            importlib.import_module(name)
        except Exception:  # the job that needs it reports the real error
            logger.debug("worker warm-up import of %s failed", name, exc_info=True)


def _child_main(conn: Any, config: dict[str, Any]) -> None:
    """Entry of the worker process: one JobRunner, requests from the pipe, events back into it."""
    if config.get("log_dir"):
        os.environ["PATCHDESK_LOG_DIR"] = config["log_dir"]
    _lower_priority(config["runner"]["worker_nice"])
    send_lock = threading.Lock()

    def send(msg: tuple[Any, ...]) -> None:
        with send_lock:
            conn.send(msg)

    try:
        runner, db = _open_runner(config)
    except BaseException as exc:  # reported to the console, which says so
        send(("start-failed", WorkerError(f"{type(exc).__name__}: {exc}")))
        return
    _ChildWorker(conn, send, runner, db).serve()


def _lower_priority(nice: int) -> None:
    """All of the worker yields the CPU to the window (its own start-up, the recorder, the pipe), not
    only the job threads, so its interpreter start and imports do not stall an idle window."""
    if nice > 0 and hasattr(os, "nice"):
        try:
            os.nice(nice)
        except OSError:
            pass


def _open_runner(config: dict[str, Any]) -> tuple[Any, Any]:
    from app.jobs.runner import JobRunner
    from app.logsetup import setup_logging
    from db.database import open_database

    setup_logging(stderr=False, file_name="patchdesk-jobs.log")
    secrets = None
    if config["keyring"]:
        try:
            from app.secrets import SecretStore

            secrets = SecretStore()
        except PatchdeskError as exc:
            logger.warning("keyring unavailable in the job worker: %s", exc)
    runner = JobRunner(config["db_path"], secrets=secrets, **config["runner"])
    db = open_database(config["db_path"], migrate=False)
    return runner, db


class _ChildWorker:
    """The worker process's side of the pipe: requests into the runner, its events back in batches."""

    def __init__(self, conn: Any, send: Callable[[tuple[Any, ...]], None], runner: Any, db: Any) -> None:
        self.conn = conn
        self.send = send
        self.runner = runner
        self.db = db
        self.outbox: queue.SimpleQueue[tuple[str, Any] | None] = queue.SimpleQueue()
        self.handles: dict[int, Any] = {}
        runner.add_listener(lambda ev: self.outbox.put(("event", _slim(ev))))
        self.sender_thread = threading.Thread(target=self._sender, name="patchdesk-jobs-sender", daemon=True)

    def serve(self) -> None:
        self.sender_thread.start()
        self.send(("ready",))
        threading.Thread(target=_warm_up, name="patchdesk-jobs-warm-up", daemon=True).start()
        try:
            while True:
                try:
                    msg = self.conn.recv()
                except (EOFError, OSError):
                    break  # the console is gone: finish what runs (the recorder persists it), then exit
                op = msg[0]
                if op == "close":
                    break
                if op == "cancel":
                    h = self.handles.get(msg[1])
                    if h is not None:
                        h.cancel()
                    continue
                self._request(op, msg)
        finally:
            self._shutdown()

    def _request(self, op: str, msg: tuple[Any, ...]) -> None:
        req = msg[1]
        try:
            if op == "start":
                self._start(req, method=msg[2], hosts=msg[3], kwargs=msg[4])
            elif op == "flush":
                self.send(("reply", req, ("ok", self.runner.flush(msg[2]))))
            elif op == "ping":
                self.send(("reply", req, ("ok", os.getpid())))
            elif op == "clear-connections":
                self.runner.clear_connections()
                self.send(("reply", req, ("ok", None)))
            else:
                self.send(("reply", req, ("error", WorkerError(f"Unknown request {op!r}."))))
        except Exception as exc:  # a known error (ConfigError, …) goes back to the caller as it is
            try:
                self.send(("reply", req, ("error", exc)))
            except Exception:  # not picklable: say what it was
                self.send(("reply", req, ("error", WorkerError(f"{type(exc).__name__}: {exc}"))))

    def _start(self, req: Any, *, method: str, hosts: Any, kwargs: dict[str, Any]) -> None:
        handle = getattr(self.runner, method)(self.db, hosts, **kwargs)
        self.handles[handle.job_id] = handle
        # the reply goes out before the watcher can report the job done
        self.send(("reply", req, ("ok", handle.job_id)))
        threading.Thread(
            target=self._watch, args=(handle,), name=f"job-{handle.job_id}-watch", daemon=True
        ).start()

    def _watch(self, handle: Any) -> None:
        handle.wait()
        self.handles.pop(handle.job_id, None)
        # The job's events persisted first: the console, told so with "done", shows its figures at
        # once instead of asking for a flush (a round trip to this process, which runs at nice 19
        # and waits for a core on a loaded machine).
        flushed = self.runner.flush(DONE_FLUSH_TIMEOUT)
        self.outbox.put(("done", (handle.job_id, dict(handle.outcomes), flushed)))

    def _sender(self) -> None:
        while True:
            item = self.outbox.get()
            if item is None:
                return
            batch = [item]
            while len(batch) < EVENT_BATCH:
                try:
                    nxt = self.outbox.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self.send(("events", batch))
                    return
                batch.append(nxt)
            try:
                self.send(("events", batch))
            except (OSError, ValueError):
                return

    def _shutdown(self) -> None:
        for h in list(self.handles.values()):
            h.cancel()
        for h in list(self.handles.values()):
            h.wait(30)
        self.runner.close()
        self.db.conn.close()
        self.outbox.put(None)
        self.sender_thread.join(10)
        self.conn.close()
