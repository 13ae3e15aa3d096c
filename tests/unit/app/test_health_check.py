"""The custom health check as it really runs (the local transport: sh -c on this machine): stored text
run as given, exit 0 healthy, output bounded in the log, a check that cannot finish never healthy; and
``check_host_health``, the soak monitor's entry point (issue #20 item 2)."""

from __future__ import annotations

from pathlib import Path

from app.domain.events import Event, HostLog
from app.domain.models import Host, TransportKind
from app.domain.verdicts import CheckState, Verdict
from app.jobs.engine import TaskContext
from app.jobs.health_check import MAX_CHECK_OUTPUT, check_host_health, run_custom_check
from app.transports.base import Deadline, Transport
from app.transports.local import LocalTransport


class _Local:
    def connect(self, *a: object) -> Transport:
        return LocalTransport()


def _ctx(command: str | None, events: list[Event]) -> TaskContext:
    host = Host(
        "local", "localhost", id=1, transport=TransportKind.LOCAL, use_sudo=False, check_command=command
    )
    return TaskContext(1, host, Deadline(60), events.append, _Local())


def _log(events: list[Event]) -> list[str]:
    return [e.text for e in events if isinstance(e, HostLog)]


def test_no_check_runs_nothing() -> None:
    events: list[Event] = []
    assert run_custom_check(_ctx(None, events), LocalTransport()) is None
    assert events == []


def test_exit_zero_is_healthy_anything_else_red_with_its_output() -> None:
    events: list[Event] = []
    ok = run_custom_check(_ctx("echo fine", events), LocalTransport())
    assert ok is not None and ok.state == CheckState.PASSED and ok.exit_status == 0
    bad = run_custom_check(_ctx("echo 'service db is down' >&2; exit 7", events), LocalTransport())
    assert bad is not None and bad.state == CheckState.FAILED and bad.exit_status == 7
    assert "service db is down" in bad.output
    assert "[check] service db is down" in _log(events)
    assert "The custom health check failed with exit status 7." in _log(events)


def test_the_command_runs_exactly_as_stored(tmp_path: Path) -> None:
    """Quotes, $ and pipes are the administrator's shell text, handed to the host's shell unchanged."""
    out = tmp_path / "seen"
    cmd = f"printf '%s|' \"a b\" '$HOME' | tee {out} | grep -q 'a b|'"
    check = run_custom_check(_ctx(cmd, []), LocalTransport())
    assert check is not None and check.passed and check.command == cmd
    assert out.read_text() == "a b|$HOME|"


def test_output_is_bounded() -> None:
    events: list[Event] = []
    check = run_custom_check(
        _ctx("yes 'a long line of output' | head -c 200000; exit 1", events), LocalTransport()
    )
    assert check is not None and check.state == CheckState.FAILED
    assert len(check.output) < MAX_CHECK_OUTPUT + 100 and "bytes cut" in check.output
    assert len(_log(events)) < 30


def test_a_check_that_does_not_finish_is_not_healthy() -> None:
    check = run_custom_check(_ctx("sleep 5", []), LocalTransport(), timeout=0.5)
    assert check is not None and check.state == CheckState.NOT_RUN and check.detail


def test_check_host_health_judges_health_and_the_custom_check() -> None:
    report = check_host_health(_ctx("exit 4", []))
    assert report.verification.verdict == Verdict.RED
    assert any("custom health check failed (exit status 4)" in r for r in report.verification.reasons)
    assert report.health is not None and report.check is not None
    healthy = check_host_health(_ctx("true", []))
    assert "custom health check passed" in healthy.verification.reasons
