"""WinRM faults on every operation, through the real pywinrm client, in Patchdesk's default configuration.

A busy, booting or locked-down Windows host answers Create, Command, Send, Receive, Signal or Delete with
an operation timeout, HTTP 503, access denied, a quota fault or "envelope too large". Each must become a
known error (a TransportError the task poller can retry or show) -- never a raw pywinrm exception,
never a traceback, never a result the command did not produce.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.domain.errors import (
    AuthenticationError,
    CommandTimeoutError,
    PatchdeskError,
    TransportError,
    UnreachableError,
)
from app.transports.winrm import WinRMTransport
from tests.support.wsman_server import (
    SIGNAL_TERMINATE,
    FakeWindows,
    Reply,
    WSManServer,
    start_fake_windows,
    winrm_to,
)

PASSWORD = "S3cret-Pa55!"
SCRIPT = "Get-Busy"
#: a script that needs stdin, so Send is used
BIG = "# big\r\n" + "# padding\r\n" * 1500 + SCRIPT

#: fault -> (error class, words the sentence must contain)
EXPECTED: dict[str, tuple[type[PatchdeskError], str]] = {
    "timeout": (CommandTimeoutError, "is busy"),
    "booting": (UnreachableError, "HTTP 503"),
    "access_denied": (AuthenticationError, "denied Administrator access"),
    "quota": (TransportError, "quota is exhausted"),
    "too_large": (TransportError, "MaxEnvelopeSizekb"),
}


@pytest.fixture(params=["ntlm-http", "ntlm-https"])
def win(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[WSManServer, FakeWindows]]:
    tls = tmp_path / "pki" if request.param == "ntlm-https" else None
    server, fake = start_fake_windows(tls_dir=tls, password=PASSWORD, auth=("ntlm",), ntlm_dir=tmp_path / "n")
    fake.on(lambda call: SCRIPT in call.script, Reply(stdout=b"done\r\n"))
    yield server, fake
    server.stop()


def transport(server: WSManServer) -> WinRMTransport:
    # Patchdesk's default authentication (NTLM), over the scheme the server speaks
    return winrm_to(server, PASSWORD, auth="ntlm", scheme=server.scheme)


def run(server: WSManServer, script: str = SCRIPT) -> object:
    with transport(server) as t:
        return t.run(script, timeout=20)


@pytest.mark.parametrize("operation", ["Create", "Command", "Send"])
def test_operation_timeout_does_not_escape_run_as_a_raw_pywinrm_error(
    win: tuple[WSManServer, FakeWindows], operation: str
) -> None:
    # Issue 18 item 6: WinRMOperationTimeoutError escaped run() on a busy host when creating the shell,
    # starting the command or sending its input.
    server, _fake = win
    server.fail(operation, "timeout")
    with pytest.raises(CommandTimeoutError, match=r"win1 .* is busy: WinRM could not finish") as info:
        run(server, BIG)
    assert info.value.__cause__ is None  # a sentence, not pywinrm's exception
    if operation == "Send":  # the command was started: it is stopped
        assert any(code == SIGNAL_TERMINATE for _cid, code in server.signals)
    if operation != "Create":  # and the shell deleted
        assert server.actions[-1] == "Delete" and not server.shells
    # the host is only busy: the next command works on the same transport settings
    assert run(server).out == "done\r\n"  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", sorted(EXPECTED))
@pytest.mark.parametrize("operation", ["Create", "Command", "Send", "Receive"])
def test_fault_on_an_operation_is_a_clear_error(
    win: tuple[WSManServer, FakeWindows], operation: str, kind: str
) -> None:
    server, _fake = win
    if operation == "Receive" and kind == "timeout":
        server.fail(operation, kind, times=2)  # a poll with no output: polled again, not an error
        assert run(server, BIG).out == "done\r\n"  # type: ignore[attr-defined]
        assert server.faults_sent == [("Receive", "timeout")] * 2
        return
    server.fail(operation, kind)
    error, words = EXPECTED[kind]
    with pytest.raises(error) as info:
        run(server, BIG)
    assert type(info.value) is error
    msg = str(info.value)
    assert words in msg and "win1 (127.0.0.1:" in msg
    assert info.value.__cause__ is None  # one sentence, not a pywinrm chain
    assert PASSWORD not in msg
    assert server.faults_sent == [(operation, kind)]
    if operation in ("Command", "Send", "Receive") and kind != "booting":
        # the connection is fine: the shell is deleted (and a started command terminated)
        assert "Delete" in server.actions[server.actions.index(operation) :]
        assert not server.shells
    # no false success: the script never produced "done" for this run
    if operation in ("Create", "Command", "Send"):
        assert not server.calls


@pytest.mark.parametrize("kind", sorted(EXPECTED))
@pytest.mark.parametrize("operation", ["Signal", "Delete"])
def test_fault_while_cleaning_up_keeps_the_real_result(
    win: tuple[WSManServer, FakeWindows], operation: str, kind: str
) -> None:
    # The command had finished and its output and exit code were received: a refused clean-up only
    # leaks a shell until its idle timeout on the host, and the real result stands.
    server, _fake = win
    server.fail(operation, kind)
    res = run(server)
    assert res.out == "done\r\n" and res.exit_status == 0  # type: ignore[attr-defined]
    assert server.faults_sent == [(operation, kind)]


def test_host_booting_then_back_is_retried_by_the_next_command(win: tuple[WSManServer, FakeWindows]) -> None:
    server, _fake = win
    server.fail("Create", "booting", times=2)
    with transport(server) as t:
        for _ in range(2):
            with pytest.raises(UnreachableError, match="starting or shutting down"):
                t.run(SCRIPT)
        assert t.run(SCRIPT).out == "done\r\n"


def test_host_answering_503_to_everything_while_it_boots(win: tuple[WSManServer, FakeWindows]) -> None:
    # While Windows starts, HTTP.sys answers 503 before any authentication or encryption set-up.
    server, _fake = win
    server.boot(1.5)
    with transport(server) as t:
        with pytest.raises(UnreachableError, match="HTTP 503") as info:
            t.run(SCRIPT)
        assert info.value.__cause__ is None
        time.sleep(1.6)
        assert t.run(SCRIPT).out == "done\r\n"
