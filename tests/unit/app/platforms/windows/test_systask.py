"""The one-shot SYSTEM task's scripts and the parsing of its status."""

from __future__ import annotations

import json

import pytest

from app.domain.errors import (
    AdapterError,
    CancelledError,
    CommandTimeoutError,
    DeadlineExceededError,
    TransportError,
    UnreachableError,
)
from app.platforms.windows import systask
from app.platforms.windows.scripts import render, script_ops
from app.platforms.windows.systask import parse_poll, start_script, wrap_payload
from app.transports.base import CommandResult


def test_task_scripts() -> None:
    run_ps = wrap_payload(render("wua-scan", "@{ x = 1 }"))
    assert script_ops(run_ps) == ["task", "wua-scan"]
    start = start_script("0123abcd", render("wua-scan", "@{}"))
    assert "NT AUTHORITY\\SYSTEM" in start and "-AtStartup" in start and "SetAccessRuleProtection" in start
    state = parse_poll(
        json.dumps({"status": json.dumps({"state": "running", "phase": "x"}), "task": "Running", "boot": "b"})
    )
    assert (
        state is not None and state.status == {"state": "running", "phase": "x"} and state.task == "Running"
    )
    assert parse_poll('{"status": "{broken", "task": 5}') == parse_poll(
        '{"status": null, "task": "Unknown", "boot": ""}'
    )
    assert parse_poll("[]") is None and parse_poll("") is None


# -- run_system_task, against a scripted transport and a fake clock ---------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


class _Cancel:
    def __init__(self, clock: _Clock, cancel_after: int | None) -> None:
        self.clock, self.cancel_after, self.waits = clock, cancel_after, 0

    def wait(self, seconds: float) -> bool:
        self.waits += 1
        self.clock.now += seconds
        return self.cancel_after is not None and self.waits > self.cancel_after


class _Deadline:
    def __init__(self, clock: _Clock, *, left: float | None = None, cancel_after: int | None = None) -> None:
        self.clock, self.expires = clock, None if left is None else clock.now + left
        self.cancel = _Cancel(clock, cancel_after)

    def remaining(self) -> float | None:
        return None if self.expires is None else self.expires - self.clock.now

    def check(self) -> None:
        left = self.remaining()
        if left is not None and left <= 0:
            raise DeadlineExceededError("The host did not finish within its deadline.")


def _poll(status: dict | None, task: str = "Running", boot: str = "b0") -> CommandResult:
    out = {"status": None if status is None else json.dumps(status), "task": task, "boot": boot}
    return CommandResult(0, json.dumps(out).encode(), b"")


_STARTED = CommandResult(0, json.dumps({"started": True, "boot": "b0"}).encode(), b"")


class _Transport:
    def __init__(self, deadline: _Deadline, answers: list, disarm: object = None) -> None:  # type: ignore[type-arg]
        self.deadline, self.answers, self.commands = deadline, list(answers), []  # type: ignore[var-annotated]
        self.disarm = disarm or CommandResult(0, b'{"task":"Disabled"}', b"")

    def run(self, command: str, *, timeout: float) -> CommandResult:
        if "task-disarm" in command:
            # the job's deadline is spent or cancelled by now; the disarm call gets its own
            self.commands.append(
                ("disarm", timeout, self.deadline.remaining(), self.deadline.cancel.is_set())
            )
            if isinstance(self.disarm, Exception):
                raise self.disarm
            return self.disarm  # type: ignore[return-value]
        self.commands.append(("cleanup" if "task-cleanup" in command else "run", timeout))
        if "task-cleanup" in command:
            return CommandResult(0, b"", b"")
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    c = _Clock()
    monkeypatch.setattr(systask.time, "monotonic", c.monotonic)
    return c


def _run(transport: _Transport, timeout: float = 100.0):  # type: ignore[no-untyped-def]
    lines: list[tuple[str, str]] = []
    progress: list[tuple[str, float]] = []
    try:
        outcome = systask.run_system_task(
            transport,  # type: ignore[arg-type]
            "payload",
            what="the search",
            host="h1",
            timeout=timeout,
            poll_interval=5.0,
            log=lambda level, text: lines.append((level, text)),
            on_progress=lambda phase, p: progress.append((phase, p)),
            task_id="abc",
        )
    except Exception as exc:
        return exc, lines, progress
    return outcome, lines, progress


def test_system_task_survives_lost_contact_and_a_restart(clock: _Clock) -> None:
    answers = [
        _STARTED,
        UnreachableError("gone"),
        CommandTimeoutError("slow"),
        TransportError("shell quota exceeded"),
        CommandResult(1, b"", b"access denied"),
        _poll({"state": "running", "phase": "Searching", "progress": 150}),
        _poll({"state": "running", "phase": "Searching", "progress": 40}, boot="b1"),
        _poll({"state": "done", "result": {"n": 2}, "error": None, "runs": 2}, boot="b1"),
    ]
    t = _Transport(_Deadline(clock), answers)
    outcome, lines, progress = _run(t)
    assert outcome == systask.TaskOutcome("done", {"n": 2}, "", "", 2, True) and outcome.ok
    assert lines == [
        ("info", "Started the search as SYSTEM task \\Patchdesk\\Patchdesk-abc on h1."),
        ("warning", "Lost contact with h1 while the search runs (gone); still waiting."),
        ("warning", "h1: shell quota exceeded; retrying."),
        ("info", "h1 answers again after 15 s."),
        ("warning", "Unreadable task status from h1: access denied"),
        ("info", "the search: Searching"),
        ("warning", "h1 restarted while the search was running; waiting for the task to resume."),
    ]
    assert progress == [("Searching", 1.0), ("Searching", 0.4)]
    assert t.commands[1] == ("run", 60.0) and t.commands[0] == ("run", 120)
    assert t.commands[-1] == ("cleanup", 60)


def test_system_task_start_failure(clock: _Clock) -> None:
    t = _Transport(_Deadline(clock), [CommandResult(1, b"{}", b"  no rights \n")])
    exc, _, _ = _run(t)
    assert isinstance(exc, AdapterError)
    assert str(exc) == "Could not start the search as a scheduled task on h1: no rights"
    t = _Transport(_Deadline(clock), [CommandResult(0, b'{"started": false}', b"")])
    exc, _, _ = _run(t)
    assert str(exc) == 'Could not start the search as a scheduled task on h1: {"started": false}'
    t = _Transport(_Deadline(clock), [CommandResult(3, b"", b"")])
    assert str(_run(t)[0]) == "Could not start the search as a scheduled task on h1: exit status 3"


def test_system_task_failed_outcome(clock: _Clock) -> None:
    done = _poll({"state": "failed", "error": "x" * 3000, "hresult": "0x80240022", "runs": "two"})
    outcome, _, _ = _run(_Transport(_Deadline(clock), [_STARTED, done]))
    assert outcome == systask.TaskOutcome("failed", None, "x" * 2000, "0x80240022", 1, False)
    assert not outcome.ok


LEFT = "a run in progress there is left to finish, but the task will not start again"


def test_left_behind_task_is_disabled_when_the_console_gives_up(clock: _Clock) -> None:
    """Cancel, job deadline and timeout each disable the task (it would re-run the payload at a later
    boot), with a call of its own: the job's deadline is spent or cancelled by then."""
    running = [_poll({"state": "running"})] * 50
    t = _Transport(_Deadline(clock, cancel_after=1), [_STARTED, *running])
    exc, _, _ = _run(t)
    assert isinstance(exc, CancelledError) and str(exc) == (
        f"Cancelled while the search was running on h1; {LEFT} (\\Patchdesk\\Patchdesk-abc is disabled)."
    )
    assert t.commands[-1] == ("disarm", 30.0, 30.0, False)
    t = _Transport(_Deadline(clock, left=12), [_STARTED, *running])
    exc, _, _ = _run(t)
    assert isinstance(exc, DeadlineExceededError) and str(exc) == (
        f"h1 ran out of its job deadline while the search was running; {LEFT} "
        "(\\Patchdesk\\Patchdesk-abc is disabled)."
    )
    assert isinstance(exc.__cause__, DeadlineExceededError)
    assert t.commands[-1] == ("disarm", 30.0, 30.0, False)
    assert t.deadline.remaining() <= 0  # the job's own deadline is back in place
    t = _Transport(_Deadline(clock), [_STARTED, *running])
    exc, _, _ = _run(t, timeout=12)
    assert isinstance(exc, CommandTimeoutError) and str(exc) == (
        f"The search on h1 did not finish within 12 s; {LEFT} (\\Patchdesk\\Patchdesk-abc is disabled)."
    )
    assert [c[0] for c in t.commands].count("disarm") == 1


class _CancelledInCheck(_Deadline):
    """The cancel flag is set just after the wait returned: Deadline.check raises CancelledError."""

    def check(self) -> None:
        raise CancelledError("Cancelled by the user.")


def test_left_behind_task_is_disabled_when_cancelled_between_wait_and_check(clock: _Clock) -> None:
    t = _Transport(_CancelledInCheck(clock), [_STARTED, _poll({"state": "running"})])
    exc, _, _ = _run(t)
    assert isinstance(exc, CancelledError) and str(exc) == (
        f"Cancelled while the search was running on h1; {LEFT} (\\Patchdesk\\Patchdesk-abc is disabled)."
    )
    assert [c[0] for c in t.commands] == ["run", "disarm"]


def test_left_behind_task_that_could_not_be_disabled_says_when_it_expires(clock: _Clock) -> None:
    running = [_poll({"state": "running"})] * 50
    t = _Transport(_Deadline(clock), [_STARTED, *running], disarm=UnreachableError("host is down"))
    exc, lines, _ = _run(t, timeout=12)
    assert isinstance(exc, CommandTimeoutError) and str(exc) == (
        "The search on h1 did not finish within 12 s; it may still be running there "
        "(\\Patchdesk\\Patchdesk-abc), and could not be disabled: it will not start again once 660 s have "
        "passed since it was started."
    )
    assert lines[-1] == ("warning", "Could not disable \\Patchdesk\\Patchdesk-abc on h1: host is down")
    t = _Transport(_Deadline(clock), [_STARTED, *running], disarm=CommandResult(1, b"", b"access denied"))
    exc, lines, _ = _run(t, timeout=12)
    assert "could not be disabled" in str(exc)
    assert lines[-1] == ("warning", "Could not disable \\Patchdesk\\Patchdesk-abc on h1: access denied")


def test_system_task_that_dies_without_a_result(clock: _Clock) -> None:
    t = _Transport(_Deadline(clock), [_STARTED, _poll(None, task="Missing")])
    exc, _, _ = _run(t)
    assert isinstance(exc, AdapterError) and str(exc) == (
        "The search on h1 stopped without a result (task state Missing); see the Task Scheduler "
        "history for \\Patchdesk\\Patchdesk-abc."
    )
    assert t.commands[-1] == ("cleanup", 60)
    ready = [_poll({"state": "running"}, task="Ready")] * 20
    t = _Transport(_Deadline(clock), [_STARTED, _poll({"state": "running"}), *ready])
    exc, _, _ = _run(t, timeout=1000)
    assert "stopped without a result (task state Ready)" in str(exc)
    # the grace starts at the first idle poll (after 10 s) and ends after DEAD_TASK_GRACE more
    assert len([c for c in t.commands if c[0] == "run"]) == 2 + 1 + 13
    # after a restart the task gets DEAD_TASK_GRACE_AFTER_RESTART to come back
    ready = [_poll({"state": "running"}, task="Ready", boot="b1")] * 80
    t = _Transport(_Deadline(clock), [_STARTED, _poll({"state": "running"}), *ready])
    exc, _, _ = _run(t, timeout=1000)
    assert "stopped without a result (task state Ready)" in str(exc)
    assert len([c for c in t.commands if c[0] == "run"]) == 2 + 1 + 61


def test_allsigned_group_policy_that_stops_a_task_is_said_plainly(clock: _Clock) -> None:
    """A task that never wrote a status on a host whose Group Policy sets AllSigned: the message names
    the policy (and Task Scheduler's last result) instead of only "stopped without a result"."""
    started = CommandResult(
        0, json.dumps({"started": True, "boot": "b0", "policy": "AllSigned"}).encode(), b""
    )
    dead = CommandResult(
        0, json.dumps({"status": None, "task": "Ready", "boot": "b0", "last": 1}).encode(), b""
    )
    t = _Transport(_Deadline(clock), [started, *[dead] * 20])
    exc, _, _ = _run(t, timeout=1000)
    assert isinstance(exc, AdapterError) and str(exc) == (
        "The search on h1 stopped without a result (task state Ready, last result 0x00000001); it never "
        "wrote a status, and PowerShell's execution policy on h1 is AllSigned (set by Group Policy), "
        "which refuses unsigned scripts; see the Task Scheduler history for \\Patchdesk\\Patchdesk-abc."
    )
    # once the payload wrote a status, the policy did not stop it: no word about it
    t = _Transport(_Deadline(clock), [started, _poll({"state": "running"}), *[dead] * 20])
    exc, _, _ = _run(t, timeout=1000)
    assert "execution policy" not in str(exc) and "last result 0x00000001" in str(exc)


def test_poll_reads_task_schedulers_last_result() -> None:
    state = parse_poll(json.dumps({"status": None, "task": "Ready", "boot": "b", "last": 2147942402}))
    assert state is not None and state.last_result == 2147942402
    assert parse_poll('{"task": "Ready", "last": true}') == parse_poll('{"task": "Ready", "last": "x"}')


def test_start_refusal_is_the_scripts_own_sentence(clock: _Clock) -> None:
    refused = json.dumps({"started": False, "error": "C:\\ProgramData\\Patchdesk is a junction."}).encode()
    t = _Transport(_Deadline(clock), [CommandResult(1, refused, b"#< CLIXML noise")])
    exc, _, _ = _run(t)
    assert str(exc) == (
        "Could not start the search as a scheduled task on h1: C:\\ProgramData\\Patchdesk is a junction."
    )
