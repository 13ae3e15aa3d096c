"""Run a PowerShell payload as SYSTEM through a one-shot scheduled task, and poll for its result.

Why: the Windows Update Agent refuses to download or install (and on recent Windows even to search)
for a remote logon, wusa.exe refuses remote sessions, and winget does not run under a plain WinRM
logon. A scheduled task running as SYSTEM has none of these limits.

How:

1. One short WinRM call writes the payload (wrapped in ``ps/task-wrapper.ps1``) to
   ``C:\\ProgramData\\Patchdesk\\tasks\\<id>\\run.ps1``, registers ``\\Patchdesk\\Patchdesk-<id>`` to run
   it as SYSTEM, starts it and returns the host's boot time. Users may create folders in ProgramData,
   so every level of that path that already exists must be owned by SYSTEM or Administrators and be
   no junction or symbolic link, or the start is refused; the tree then gets SYSTEM and
   Administrators only, recursively (``ps/task-start.ps1``). The task's action is a small encoded
   bootstrap (``ps/task-bootstrap.ps1``) that runs run.ps1's text as a script block, so Group
   Policy's AllSigned execution policy cannot refuse it as it would refuse ``-File run.ps1``.
2. The wrapper writes ``status.json`` next to the script (a temporary file, then ``File.Replace``,
   retried while a reader holds the file) as it goes: ``{"state": "running"|"done"|"failed", "phase",
   "progress", "runs", "result", "error", "hresult"}``; the poll reads it sharing read, write and
   delete, so it never makes a write fail.
3. The console polls with short WinRM calls. A dropped connection or a restarted host is not an error:
   the poll is repeated until the timeout. The task also has an at-startup trigger (delayed, with a
   network), so a payload killed by a restart runs again when the host is back; payloads are written
   to be re-run, and the wrapper exits at once if ``status.json`` already says done. The wrapper
   refuses to start once its absolute expiry (the task's limit after run.ps1 was written) has passed.
4. When the status is final, the task and its folder are deleted. When the console gives up instead
   (timeout, cancel, job deadline), the task is disabled: a run in progress finishes, but it never
   starts again at a later boot.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.domain.errors import (
    AdapterError,
    CancelledError,
    CommandTimeoutError,
    DeadlineExceededError,
    TransportError,
    UnreachableError,
)
from app.platforms.base import LogFn, emit
from app.platforms.windows.scripts import PAYLOAD_PLACEHOLDER, render, script_body
from app.transports.base import Deadline, Transport

logger = logging.getLogger(__name__)

#: The task's own time limit on the host, beyond which Task Scheduler stops it.
DEFAULT_TASK_LIMIT = 4 * 3600
#: How long a task may sit in "Ready" without a final status before we call it dead (it runs again
#: at startup, so after a restart we give it longer).
DEAD_TASK_GRACE = 60.0
DEAD_TASK_GRACE_AFTER_RESTART = 300.0
#: Timeout of one poll command.
POLL_COMMAND_TIMEOUT = 60.0
#: Longest status file we accept.
MAX_STATUS = 8 * 1024 * 1024
#: Timeout of the call that disables a task the console gave up on (run outside the job's deadline).
DISARM_TIMEOUT = 30.0
#: Execution policies under which an unsigned script file does not run (said when a task dies).
BLOCKING_POLICIES = frozenset({"AllSigned", "Restricted"})

TASK_PATH = "\\Patchdesk\\"
#: The wrapper's lifetime in seconds, filled in by wrap_payload (a trusted integer, never host text).
LIMIT_PLACEHOLDER = "${@LIMIT@}"


def wrap_payload(payload: str, *, limit: int = DEFAULT_TASK_LIMIT) -> str:
    """The run.ps1 the task executes: the wrapper around a rendered payload, expiring ``limit``
    seconds after run.ps1 was written."""
    body = script_body("task-wrapper").replace(LIMIT_PLACEHOLDER, str(int(limit)))
    return body.replace(PAYLOAD_PLACEHOLDER, payload)


def bootstrap_command(task_id: str) -> str:
    """The task action's ``-EncodedCommand``: base64 of the UTF-16LE bootstrap that runs run.ps1.

    About 1,400 characters, far below the 32,767 of a Windows command line."""
    script = render("task-bootstrap", script_body("task-bootstrap"), {"id": task_id})
    return base64.b64encode(script.encode("utf-16-le")).decode("ascii")


def start_script(task_id: str, payload: str, *, limit: int = DEFAULT_TASK_LIMIT) -> str:
    script = base64.b64encode(wrap_payload(payload, limit=limit).encode("utf-8")).decode("ascii")
    params = {"id": task_id, "script": script, "limit": int(limit), "bootstrap": bootstrap_command(task_id)}
    return render("task-start", script_body("task-start"), params)


def poll_script(task_id: str) -> str:
    return render("task-poll", script_body("task-poll"), {"id": task_id})


def cleanup_script(task_id: str) -> str:
    return render("task-cleanup", script_body("task-cleanup"), {"id": task_id})


def disarm_script(task_id: str) -> str:
    return render("task-disarm", script_body("task-disarm"), {"id": task_id})


@dataclass(frozen=True)
class PollState:
    """One look at a task: its status file (None before the first write), task state, boot time and
    Task Scheduler's last run result (None when unknown)."""

    status: dict[str, Any] | None
    task: str
    boot: str
    last_result: int | None = None


def _json_object(text: str) -> dict[str, Any] | None:
    text = text.strip().lstrip("\ufeff")
    if not text or len(text) > MAX_STATUS:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def parse_poll(text: str) -> PollState | None:
    """Parse the poll script's output; None when it is not what the script prints."""
    outer = _json_object(text)
    if outer is None:
        return None
    raw = outer.get("status")
    status = _json_object(raw) if isinstance(raw, str) else None
    task = outer.get("task")
    boot = outer.get("boot")
    last = outer.get("last")
    return PollState(
        status,
        task if isinstance(task, str) else "Unknown",
        boot if isinstance(boot, str) else "",
        last if isinstance(last, int) and not isinstance(last, bool) else None,
    )


@dataclass(frozen=True)
class TaskOutcome:
    """The final status of a task: ``state`` is "done" or "failed"."""

    state: str
    result: Any
    error: str
    hresult: str
    runs: int
    restarted: bool  # the host restarted while the task ran

    @property
    def ok(self) -> bool:
        return self.state == "done"


def new_task_id() -> str:
    return secrets.token_hex(8)


ProgressCallback = Callable[[str, float], None]


def run_system_task(
    transport: Transport,
    payload: str,
    *,
    what: str,
    host: str,
    timeout: float,
    poll_interval: float = 5.0,
    log: LogFn | None = None,
    on_progress: ProgressCallback | None = None,
    task_id: str | None = None,
) -> TaskOutcome:
    """Run ``payload`` (a rendered script) as SYSTEM and return its final status.

    ``what`` names the work for sentences ("the Windows Update search"). Connection losses while
    polling are logged and retried until ``timeout``; the job deadline and cancel flag of the
    transport stop the wait; then the task is disabled (a run in progress finishes on the host, but
    the task never starts again at a later boot), and we say so.
    """
    watch = _TaskWatch(transport, task_id or new_task_id(), what, host, timeout, log, on_progress)
    watch.start(payload)
    while True:
        watch.sleep(poll_interval)
        state = watch.poll()
        if state is None:
            continue
        watch.note_restart(state)
        watch.seen_status = watch.seen_status or state.status is not None
        status = state.status or {}
        if status.get("state") in ("done", "failed"):
            return watch.finish(status)
        watch.report_progress(status)
        watch.check_alive(state)


class _TaskWatch:
    """One task being waited for: who to tell, when to give up, and what the polls have seen so far."""

    def __init__(
        self,
        transport: Transport,
        task_id: str,
        what: str,
        host: str,
        timeout: float,
        log: LogFn | None,
        on_progress: ProgressCallback | None,
    ) -> None:
        self.transport, self.task_id, self.what, self.host = transport, task_id, what, host
        self.deadline = transport.deadline
        self.timeout, self.log, self.on_progress = timeout, log, on_progress
        self.end = time.monotonic() + timeout
        self.boot0 = ""
        self.policy = ""
        self.limit = int(max(timeout, 60) + 600)
        self.seen_status = False
        self.restarted = False
        self.lost_since: float | None = None
        self.idle_since: float | None = None
        self.last_phase = ""

    @property
    def task_name(self) -> str:
        return f"{TASK_PATH}Patchdesk-{self.task_id}"

    @property
    def what_at_start(self) -> str:
        """``what`` capitalised, to begin a sentence."""
        return f"{self.what[:1].upper()}{self.what[1:]}"

    def say(self, level: str, text: str) -> None:
        emit(self.log, level, text)

    def start(self, payload: str) -> None:
        res = self.transport.run(start_script(self.task_id, payload, limit=self.limit), timeout=120)
        started = _json_object(res.out)
        if not res.ok or started is None or started.get("started") is not True:
            # the script's own sentence (a refused folder) first, then whatever else it printed
            refused = started.get("error") if started is not None else None
            detail = (
                (refused.strip()[:400] if isinstance(refused, str) else "")
                or res.err.strip()[:400]
                or res.out.strip()[:200]
                or f"exit status {res.exit_status}"
            )
            raise AdapterError(f"Could not start {self.what} as a scheduled task on {self.host}: {detail}")
        self.boot0 = str(started.get("boot") or "")
        self.policy = str(started.get("policy") or "")[:40]
        self.say("info", f"Started {self.what} as SYSTEM task {self.task_name} on {self.host}.")

    def sleep(self, poll_interval: float) -> None:
        """Wait until the next poll; raises when the job is cancelled or out of time."""
        deadline = self.deadline
        wait = min(poll_interval, max(0.0, self.end - time.monotonic()))
        left = deadline.remaining()
        if left is not None:
            wait = min(wait, max(0.0, left))
        cancelled = deadline.cancel.wait(wait)
        try:
            if not cancelled:
                deadline.check()
        except CancelledError:  # cancelled just after the wait
            cancelled = True
        except DeadlineExceededError as exc:
            raise DeadlineExceededError(
                self.give_up(f"{self.host} ran out of its job deadline while {self.what} was running")
            ) from exc
        if cancelled:
            raise CancelledError(self.give_up(f"Cancelled while {self.what} was running on {self.host}"))
        if time.monotonic() >= self.end:
            raise CommandTimeoutError(
                self.give_up(f"{self.what_at_start} on {self.host} did not finish within {self.timeout:g} s")
            )

    def give_up(self, lead: str) -> str:
        """Disable the task the console stops waiting for, and the sentence saying what was left behind.

        A run in progress is left to finish (stopping an install halfway is worse), but the task must
        never start again at a later boot, outside any window. The call runs outside the job's
        deadline, which has run out or been cancelled; when it fails, the wrapper's expiry still holds.
        """
        saved = self.transport.deadline
        self.transport.deadline = Deadline(DISARM_TIMEOUT)
        try:
            res = self.transport.run(disarm_script(self.task_id), timeout=DISARM_TIMEOUT)
            answer = _json_object(res.out) if res.ok else None
            why = (
                ""
                if answer is not None
                else (res.err.strip() or res.out.strip() or f"exit status {res.exit_status}")
            )
        except TransportError as exc:
            why = str(exc)
        finally:
            self.transport.deadline = saved
        if not why:
            return (
                f"{lead}; a run in progress there is left to finish, but the task will not start again "
                f"({self.task_name} is disabled)."
            )
        self.say("warning", f"Could not disable {self.task_name} on {self.host}: {why[:200]}")
        return (
            f"{lead}; it may still be running there ({self.task_name}), and could not be disabled: it will "
            f"not start again once {self.limit} s have passed since it was started."
        )

    def poll(self) -> PollState | None:
        """One look at the task; None when the host did not answer or answered nonsense."""
        try:
            poll = self.transport.run(
                poll_script(self.task_id),
                timeout=min(POLL_COMMAND_TIMEOUT, max(1.0, self.end - time.monotonic())),
            )
        except (UnreachableError, CommandTimeoutError) as exc:
            if self.lost_since is None:
                self.lost_since = time.monotonic()
                self.say(
                    "warning", f"Lost contact with {self.host} while {self.what} runs ({exc}); still waiting."
                )
            return None
        except TransportError as exc:
            # e.g. WinRM answering "shell quota exceeded" or a fault while the host boots: keep trying.
            self.say("warning", f"{self.host}: {exc}; retrying.")
            return None
        if self.lost_since is not None:
            self.say("info", f"{self.host} answers again after {time.monotonic() - self.lost_since:.0f} s.")
            self.lost_since = None
        state = parse_poll(poll.out) if poll.ok else None
        if state is None:
            detail = poll.err.strip()[:200] or poll.out.strip()[:200]
            self.say("warning", f"Unreadable task status from {self.host}: {detail}")
        return state

    def note_restart(self, state: PollState) -> None:
        if self.boot0 and state.boot and state.boot != self.boot0 and not self.restarted:
            self.restarted = True
            self.say(
                "warning",
                f"{self.host} restarted while {self.what} was running; waiting for the task to resume.",
            )

    def finish(self, status: dict[str, Any]) -> TaskOutcome:
        _cleanup(self.transport, self.task_id, self.host)
        runs = status.get("runs")
        return TaskOutcome(
            state=str(status.get("state")),
            result=status.get("result"),
            error=str(status.get("error") or "")[:2000],
            hresult=str(status.get("hresult") or ""),
            runs=runs if isinstance(runs, int) else 1,
            restarted=self.restarted,
        )

    def report_progress(self, status: dict[str, Any]) -> None:
        phase = status.get("phase")
        progress = status.get("progress")
        if isinstance(phase, str) and phase != self.last_phase:
            self.last_phase = phase
            self.say("info", f"{self.what}: {phase[:80]}")
        if self.on_progress is not None and isinstance(progress, int | float):
            self.on_progress(self.last_phase, max(0.0, min(100.0, float(progress))) / 100.0)

    def check_alive(self, state: PollState) -> None:
        """Raises when the task has sat idle without a final status for longer than its grace."""
        if state.task in ("Running", "Queued"):
            self.idle_since = None
            return
        if self.idle_since is None:
            self.idle_since = time.monotonic()
        grace = DEAD_TASK_GRACE_AFTER_RESTART if self.restarted else DEAD_TASK_GRACE
        if state.task == "Missing" or time.monotonic() - self.idle_since > grace:
            _cleanup(self.transport, self.task_id, self.host)
            raise AdapterError(
                f"{self.what_at_start} on {self.host} stopped without a result (task state "
                f"{state.task[:40]}{self.last_result_words(state)}); {self.policy_words()}see the Task "
                f"Scheduler history for {self.task_name}."
            )

    @staticmethod
    def last_result_words(state: PollState) -> str:
        if state.last_result is None:
            return ""
        return f", last result 0x{state.last_result & 0xFFFFFFFF:08X}"

    def policy_words(self) -> str:
        """When the payload never wrote a status and the host's execution policy refuses unsigned
        scripts, say so plainly: that policy (from Group Policy, which -ExecutionPolicy Bypass cannot
        override) is the likeliest reason."""
        if self.seen_status or self.policy not in BLOCKING_POLICIES:
            return ""
        return (
            f"it never wrote a status, and PowerShell's execution policy on {self.host} is {self.policy} "
            "(set by Group Policy), which refuses unsigned scripts; "
        )


def _cleanup(transport: Transport, task_id: str, host: str) -> None:
    try:
        transport.run(cleanup_script(task_id), timeout=60)
    except TransportError as exc:
        logger.warning("%s: could not delete task Patchdesk-%s: %s", host, task_id, exc)
