"""The SYSTEM task against the loopback WS-Management server, with FakeWindows playing the host's side
of the defects of issue #18 (numbered as there), each named in its test.

What only Windows can run (ACLs, File.Replace, Task Scheduler) is asserted on the exact PowerShell
sent; FakeWindows decides the outcome from that PowerShell the way Windows would."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.domain.models import Host, TransportKind
from app.platforms.windows import systask, winget
from app.transports.winrm import WinRMTransport
from tests.support.wsman_server import FakeWindows, WSManServer, start_fake_windows

PASSWORD = "Task-Pa55-word"


@pytest.fixture
def win(tmp_path: Path) -> Iterator[tuple[WSManServer, FakeWindows]]:
    server, fake = start_fake_windows(tls_dir=tmp_path / "pki", password=PASSWORD)
    fake.task_step = 0.3
    fake.reboot_seconds = 0.2
    yield server, fake
    server.stop()


def connect(server: WSManServer) -> WinRMTransport:
    h = Host(
        name="win1",
        address="127.0.0.1",
        port=server.port,
        transport=TransportKind.WINRM,
        user="Administrator",
    )
    return WinRMTransport(
        h, password=PASSWORD, auth="basic", ca_trust_path=str(server.ca_path), connect_timeout=2
    )


def run(server: WSManServer, *, timeout: float = 20.0) -> systask.TaskOutcome:
    with connect(server) as t:
        return systask.run_system_task(
            t, winget.scan_script(), what="the winget scan", host="win1", timeout=timeout, poll_interval=0.1
        )


# -- 8. the wrapper reports its own HRESULT, not the COM error's ------------------------------------------


def test_wrapper_reports_the_innermost_exceptions_hresult(win: tuple[WSManServer, FakeWindows]) -> None:
    server, fake = win
    fake.payload_throws = 0x8024402C  # WU_E_PT_WINHTTP_NAME_NOT_RESOLVED, wrapped by PowerShell
    outcome = run(server)
    assert outcome.state == "failed" and outcome.hresult == "0x8024402C"
