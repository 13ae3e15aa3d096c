"""The job panel folds the job's events into its host steps, its log and its title."""

from __future__ import annotations

import threading
from types import SimpleNamespace

from app.domain.events import HostLog, HostProgress, HostStateChanged, JobStateChanged, VerificationRecorded
from app.domain.models import Host, JobState, LogLevel, StepState
from ui.views import job_panel
from ui.views.job_panel import JobPanel


def _steps(panel: JobPanel) -> list[tuple[str, str, float, str, str | None, tuple[str, ...]]]:
    return [
        (s.host.name, str(s.state), s.progress, s.message, s.verdict, s.reasons)
        for s in panel.steps_model._steps
    ]


def test_events_update_steps_log_and_title(qtbot, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(job_panel, "MAX_LOG_LINES", 3)
    panel = JobPanel()
    qtbot.addWidget(panel)
    panel.on_events([JobStateChanged(1, JobState.RUNNING)])  # no job shown yet: ignored
    assert panel.job_state is None and panel.title.text() == "No job running"

    handle = SimpleNamespace(job_id=5, cancel_event=threading.Event())
    hosts = [Host(name="web01", address="a", id=1), Host(name="db01", address="b", id=2)]
    panel.start_job(handle, hosts, what="Patch")  # type: ignore[arg-type]
    panel.on_events(
        [
            JobStateChanged(5, JobState.RUNNING),
            JobStateChanged(4, JobState.FINISHED),  # another job's
            HostStateChanged(4, 1, StepState.FAILED, "not ours"),
            HostLog(5, 1, LogLevel.INFO, "one", ts=0.0),
            HostLog(5, None, LogLevel.WARNING, "two\x07", ts=0.0),
            HostStateChanged(5, 1, StepState.RUNNING),
            HostProgress(5, 1, 0.5, "Unpacking"),
            HostProgress(5, 99, 0.5, "no such host"),
            HostStateChanged(5, 99, StepState.FAILED),
            VerificationRecorded(5, 99, 5, "red", ("x",)),
        ]
    )
    assert panel.job_state == JobState.RUNNING and panel.cancel_button.isEnabled()
    assert _steps(panel) == [
        ("web01", "running", 0.5, "Unpacking", None, ()),
        ("db01", "queued", 0.0, "", None, ()),
    ]
    assert [ln.split(None, 2)[1:] for ln in panel.log_text().splitlines()] == [
        ["web01", "one"],
        ["job", "two?"],
    ]
    assert panel.title.text() == "Job #5: patch of 2 host(s) — running · 0 ok"

    panel.show_host_log(2)
    panel.on_events(
        [
            HostLog(5, 1, LogLevel.INFO, "three", ts=0.0),
            HostLog(5, 2, LogLevel.ERROR, "four", ts=0.0),
            HostStateChanged(5, 1, StepState.SUCCEEDED),
            HostStateChanged(5, 2, StepState.FAILED, "dpkg failed"),
            VerificationRecorded(5, 1, 5, "amber", ["reboot pending"]),  # type: ignore[arg-type]
        ]
    )
    assert _steps(panel) == [
        ("web01", "succeeded", 1.0, "done", "amber", ("reboot pending",)),
        ("db01", "failed", 0.0, "dpkg failed", None, ()),
    ]
    assert [ln[3] for ln in panel._lines] == ["two\x07", "three", "four"]  # the newest MAX_LOG_LINES
    assert [ln.split(None, 2)[1:] for ln in panel.log_text().splitlines()] == [["db01", "four"]]
    assert panel.progress.value() == 2
    assert panel.title.text() == "Job #5: patch of 2 host(s) — running · 1 ok, 1 failed"

    panel.on_events([HostStateChanged(5, 2, StepState.CANCELLED), JobStateChanged(5, JobState.FINISHED)])
    assert _steps(panel)[1][1:4] == ("cancelled", 0.0, "cancelled")
    assert not panel.cancel_button.isEnabled()
    assert panel.title.text() == "Job #5: patch of 2 host(s) — finished · 1 ok"


def test_a_red_verification_is_not_hidden_behind_succeeded(qtbot) -> None:  # type: ignore[no-untyped-def]
    """A verify whose step ran to the end but whose host did not pass: the State column says so in red,
    the detail gives the first reason, the title does not count it as ok; a step that could not verify
    (unreachable) says that and has no verdict at all."""
    from ui.verdicts import VERDICT_COLOURS

    panel = JobPanel()
    qtbot.addWidget(panel)
    handle = SimpleNamespace(job_id=7, cancel_event=threading.Event())
    hosts = [
        Host(name="web01", address="a", id=1),
        Host(name="db01", address="b", id=2),
        Host(name="app01", address="c", id=3),
    ]
    panel.start_job(handle, hosts, what="Verify")  # type: ignore[arg-type]
    panel.on_events(
        [
            JobStateChanged(7, JobState.RUNNING),
            VerificationRecorded(7, 1, None, "red", ("service nginx is failed",)),
            HostStateChanged(7, 1, StepState.SUCCEEDED),
            HostStateChanged(7, 2, StepState.SUCCEEDED),  # the verdict may come after the step's end
            VerificationRecorded(7, 2, None, "green", ("all fine",)),
            HostStateChanged(7, 3, StepState.UNREACHABLE, "connection refused"),
            JobStateChanged(7, JobState.FINISHED),
        ]
    )
    m = panel.steps_model
    rows = [
        tuple(
            m.data(m.index(r, c)) for c in (job_panel.COL_STATE, job_panel.COL_VERIFY, job_panel.COL_DETAIL)
        )
        for r in range(3)
    ]
    assert rows == [
        ("succeeded, verification red", "✖ red", "verification red: service nginx is failed"),
        ("succeeded", "✔ green", "done"),
        ("unreachable", "", "connection refused"),
    ]
    fg = m.data(m.index(0, job_panel.COL_STATE), job_panel.Qt.ItemDataRole.ForegroundRole)
    assert fg.color() == VERDICT_COLOURS["red"][0]
    assert panel.title.text() == "Job #7: verify of 3 host(s) — finished · 1 ok, 1 verification red, 1 failed"
