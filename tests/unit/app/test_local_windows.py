"""app/transports/local_windows.py: a Windows workstation patching itself through a local powershell.exe.

Windows cannot run here, so powershell.exe is faked at the transport's process boundary
(tests/support/fake_powershell.py): as a real child process that checks and decodes its argument
list, for pipes, exit codes, timeouts and killing; and in-process, answering like FakeWindows, so the
Windows adapters run end to end over the local transport with the same scripts as over WinRM.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from app.domain.errors import (
    AdapterError,
    CancelledError,
    CommandTimeoutError,
    DeadlineExceededError,
    TransportError,
)
from app.domain.models import Host, PackageChange, TransportKind
from app.jobs.engine import TaskContext
from app.jobs.tasks import scan_host
from app.platforms.family import family_of
from app.platforms.posix.family import POSIX
from app.platforms.registry import detect
from app.platforms.windows.facts import facts_script, gather_windows_facts
from app.platforms.windows.family import WINDOWS
from app.platforms.windows.wua import WindowsUpdateAdapter
from app.transports import local_windows
from app.transports.base import Deadline
from app.transports.factory import TransportFactory
from app.transports.local import LocalTransport
from app.transports.local_windows import (
    MAX_LOCAL_COMMAND_LINE,
    LocalWindowsTransport,
    NotElevatedError,
    WindowsRunner,
)
from app.transports.powershell import POWERSHELL_ARGS, bootstrap, encode_command, prologue
from tests.support.fake_powershell import EXE, FakeWindowsRunner, SubprocessRunner, clixml
from tests.support.powershell import grammar_problems
from tests.support.wsman_server import FakeWindows, Reply

pytestmark = pytest.mark.skipif(os.name != "posix", reason="fakes powershell.exe with POSIX processes")


def record(out: bytes) -> dict[str, Any]:
    """The fake's first line: what powershell.exe received."""
    value = json.loads(out.split(b"\r\n", 1)[0])
    assert isinstance(value, dict)
    return value


def child_pid(chunks: list[bytes]) -> int:
    m = re.search(rb"child-pid=(\d+)", b"".join(chunks))
    assert m, chunks
    return int(m.group(1))


def pid_gone(pid: int, within: float = 3.0) -> bool:
    end = time.monotonic() + within
    while time.monotonic() < end:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except (OSError, IndexError):
            return True
        time.sleep(0.05)
    return False


# -- the process boundary, with a real process ---------------------------------------------------------


def test_argv_is_powershell_by_path_with_the_winrm_switches_and_a_utf16le_script() -> None:
    runner = SubprocessRunner()
    t = LocalWindowsTransport(runner=runner)
    res = t.run("Get-Date\r\n# fake:stdout olé", timeout=30)
    assert res.ok, res.err
    [argv] = runner.started
    script = prologue() + "Get-Date\r\n# fake:stdout olé"
    # the absolute path, the same switches as over WinRM, one argument for the whole script
    assert argv == [EXE, *POWERSHELL_ARGS, encode_command(script)]
    assert base64.b64decode(argv[-1]).decode("utf-16-le") == script
    got = record(res.stdout)
    assert got["raw"] == script and got["script"] == "Get-Date\r\n# fake:stdout olé"
    assert not got["via_stdin"]
    assert res.stdout.endswith("olé\r\n".encode())


def test_host_data_stays_data_in_one_encoded_argument() -> None:
    runner = SubprocessRunner()
    hostile = "a'; Remove-Item -Recurse C:\\ #\u2019 & calc.exe \" | x"
    res = LocalWindowsTransport(runner=runner).run(["choco", "upgrade", hostile], timeout=30)
    assert res.ok, res.err
    [argv] = runner.started
    assert len(argv) == 1 + len(POWERSHELL_ARGS) + 1  # nothing spliced into the argument list
    assert hostile not in " ".join(argv)
    sent = record(res.stdout)["script"]
    assert sent == "& 'choco' 'upgrade' 'a''; Remove-Item -Recurse C:\\ #\u2019\u2019 & calc.exe \" | x'"
    assert grammar_problems(prologue() + sent) == []


def test_env_goes_into_the_script_quoted() -> None:
    res = LocalWindowsTransport(runner=SubprocessRunner()).run("$env:A", env={"A": "x'$(y)"}, timeout=30)
    assert record(res.stdout)["script"] == "${env:A} = 'x''$(y)'\r\n$env:A"


def test_script_beyond_the_command_line_limit_goes_through_the_stdin_bootstrap() -> None:
    runner = SubprocessRunner()
    t = LocalWindowsTransport(runner=runner)
    long_script = "# patchdesk:long\r\n" + "\r\n".join(f"$v{i} = {i}" for i in range(4000))
    assert len(encode_command(prologue() + long_script)) > MAX_LOCAL_COMMAND_LINE
    res = t.run(long_script, timeout=30)
    assert res.ok, res.err
    argv = runner.started[0]
    assert argv == [EXE, *POWERSHELL_ARGS, encode_command(prologue() + bootstrap())]
    assert len(" ".join(argv)) <= MAX_LOCAL_COMMAND_LINE
    got = record(res.stdout)
    assert got["via_stdin"] and got["raw"] == prologue() + long_script
    assert grammar_problems(prologue() + bootstrap()) == []


def test_stdin_bytes_reach_the_script_through_the_bootstrap() -> None:
    res = LocalWindowsTransport(runner=SubprocessRunner()).run("$x", stdin=b"\x00\xff\r\nend", timeout=30)
    got = record(res.stdout)
    assert got["via_stdin"] and base64.b64decode(got["stdin"]) == b"\x00\xff\r\nend"


def test_the_command_line_counts_the_full_path_of_powershell() -> None:
    runner = FakeWindowsRunner(lambda call: Reply())
    t = LocalWindowsTransport(runner=runner)
    t.max_command_line = 1200
    direct = stdin = longest = 0
    for n in range(0, 600, 3):
        t.run("#" + "x" * n, timeout=30)
        line = " ".join(runner.argvs[-1])
        if runner.argvs[-1][-1] == encode_command(prologue() + bootstrap()):
            stdin += 1
        else:
            direct += 1
            longest = max(longest, len(line))
    assert direct and stdin
    # right up to the limit with the full path counted, never beyond it
    assert t.max_command_line - 20 < longest <= t.max_command_line


def test_exit_code_and_clixml_stderr_become_text() -> None:
    seen: list[tuple[str, bytes]] = []
    script = "# fake:stdout one\r\n# fake:stderr Access is denied.\r\n# fake:exit 5"
    res = LocalWindowsTransport(runner=SubprocessRunner()).run(
        script, timeout=30, on_output=lambda s, c: seen.append((s, c))
    )
    assert res.exit_status == 5 and not res.ok
    assert res.err == "Access is denied.\n"
    assert res.stdout.endswith(b"one\r\n")
    assert seen[-1] == ("stderr", b"Access is denied.\n")  # once, at the end, as text
    assert {s for s, _ in seen[:-1]} == {"stdout"}


def test_huge_output_is_capped_but_streamed_whole() -> None:
    t = LocalWindowsTransport(runner=SubprocessRunner())
    t.max_output = 1024 * 1024
    total = 0

    def count(stream: str, chunk: bytes) -> None:
        nonlocal total
        total += len(chunk)

    res = t.run("# fake:bytes 4194304", timeout=60, on_output=count)
    assert total > 4 * 1024 * 1024
    assert b"more bytes of output dropped" in res.stdout and len(res.stdout) < t.max_output + 200


def test_timeout_kills_the_tree() -> None:
    runner = SubprocessRunner()
    t = LocalWindowsTransport(runner=runner)
    seen: list[bytes] = []
    start = time.monotonic()
    with pytest.raises(CommandTimeoutError, match=r"did not finish within 1 s on this workstation"):
        t.run("# fake:child 60\r\n# fake:sleep 60", timeout=1, on_output=lambda s, c: seen.append(c))
    assert time.monotonic() - start < 3
    assert len(runner.stopped) == 1
    child = child_pid(seen)
    assert pid_gone(child), "the child of powershell.exe survived the timeout"


def test_deadline_and_cancel_stop_the_command() -> None:
    t = LocalWindowsTransport(deadline=Deadline(0.5), runner=SubprocessRunner())
    with pytest.raises(DeadlineExceededError):
        t.run("# fake:sleep 30", timeout=30)

    cancel = threading.Event()
    runner = SubprocessRunner()
    t = LocalWindowsTransport(deadline=Deadline(None, cancel), runner=runner)
    threading.Timer(0.5, cancel.set).start()
    start = time.monotonic()
    with pytest.raises(CancelledError):
        t.run("# fake:sleep 30", timeout=30)
    assert time.monotonic() - start < 3 and len(runner.stopped) == 1
    with pytest.raises(CancelledError):
        t.run("Get-Date")  # a cancelled job starts nothing new
    assert len(runner.started) == 1


def test_a_grandchild_holding_the_pipes_does_not_keep_the_command_running() -> None:
    # choco or an installer may leave a process behind that inherited stdout: powershell.exe's exit
    # ends the command, as over WinRM
    seen: list[bytes] = []
    start = time.monotonic()
    res = LocalWindowsTransport(runner=SubprocessRunner()).run(
        "# fake:orphan 20\r\n# fake:exit 0", timeout=30, on_output=lambda s, c: seen.append(c)
    )
    assert res.ok and time.monotonic() - start < local_windows.EXIT_GRACE + 3
    orphan = child_pid(seen)
    os.kill(orphan, signal.SIGKILL)


def test_not_elevated_is_refused_before_anything_starts_with_the_fix_named() -> None:
    runner = SubprocessRunner(elevated=False)
    t = LocalWindowsTransport(runner=runner)
    assert not t.is_root
    with pytest.raises(NotElevatedError, match="Run as administrator") as err:
        t.run("Get-Date")
    assert "not running as administrator" in str(err.value)
    assert runner.started == []
    with pytest.raises(NotElevatedError):
        t.put(b"x", "C:\\ProgramData\\x.txt")


def test_powershell_that_cannot_start_is_a_sentence() -> None:
    class Missing(SubprocessRunner):
        def start(self, argv: Any) -> Any:
            raise FileNotFoundError(2, "The system cannot find the file specified")

    with pytest.raises(
        TransportError, match=r"Could not start PowerShell \(C:\\Windows.*cannot find the file"
    ):
        LocalWindowsTransport(runner=Missing()).run("Get-Date")


# -- the real runner's calls, without Windows -----------------------------------------------------------


def test_windows_runner_finds_powershell_in_the_system_directory() -> None:
    r = WindowsRunner("D:\\Win")
    assert r.executable() == "D:\\Win\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"
    assert not r.is_elevated()  # not Windows: never claimed


def test_windows_runner_starts_without_a_shell_and_kills_the_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    popen: list[tuple[Any, dict[str, Any]]] = []
    runs: list[tuple[Any, dict[str, Any]]] = []

    class Proc:
        pid = 4711
        alive = True

        def poll(self) -> int | None:
            return None if self.alive else 1

        def wait(self, timeout: float | None = None) -> int:
            return 1

    monkeypatch.setattr(subprocess, "Popen", lambda argv, **kw: popen.append((argv, kw)) or Proc())

    def fake_run(argv: Any, **kw: Any) -> None:
        runs.append((argv, kw))
        proc.alive = False

    monkeypatch.setattr(subprocess, "run", fake_run)
    r = WindowsRunner("C:\\Windows")
    proc: Any = r.start([r.executable(), "-NoProfile"])
    [(argv, kw)] = popen
    assert argv == ["C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe", "-NoProfile"]
    assert "shell" not in kw and kw["creationflags"] & local_windows.CREATE_NO_WINDOW
    r.stop(proc)
    [(argv, kw)] = runs
    assert argv == ["C:\\Windows\\System32\\taskkill.exe", "/T", "/F", "/PID", "4711"]
    assert kw["timeout"] == local_windows.KILL_GRACE


# -- family, factory and the Windows adapters end to end -------------------------------------------------


@pytest.fixture
def on_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local_windows, "workstation_is_windows", lambda: True)


@pytest.fixture
def fake() -> Iterator[FakeWindows]:
    f = FakeWindows()
    f.task_step = 0.05
    yield f


def local_host() -> Host:
    return Host(id=1, name="desk01", address="localhost", transport=TransportKind.LOCAL)


def test_local_host_family_and_transport_follow_the_workstation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    factory = TransportFactory()
    assert family_of(local_host()) is POSIX
    assert isinstance(factory.connect(local_host(), Deadline(None), lambda e: None, 1), LocalTransport)
    monkeypatch.setattr(local_windows, "workstation_is_windows", lambda: True)
    assert family_of(local_host()) is WINDOWS
    t = factory.connect(local_host(), Deadline(None), lambda e: None, 1)
    assert isinstance(t, LocalWindowsTransport) and t.kind == "local"


def test_put_and_get_use_the_winrm_scripts(fake: FakeWindows) -> None:
    runner = FakeWindowsRunner(fake)
    t = LocalWindowsTransport(runner=runner)
    t.put(b"a\x00b" * 10, "C:\\ProgramData\\Patchdesk\\x it's.bin")
    assert fake.files["C:\\ProgramData\\Patchdesk\\x it's.bin"] == b"a\x00b" * 10
    assert t.get("C:\\ProgramData\\Patchdesk\\x it's.bin") == b"a\x00b" * 10
    with pytest.raises(TransportError, match="does not exist on this workstation"):
        t.get("C:\\missing.txt")
    assert [c.via_stdin for c in runner.calls] == [True, False, False]
    for call in runner.calls:
        assert grammar_problems(call.raw_script) == [], call.script


def test_windows_update_scan_install_verify_rollback_through_the_system_task(fake: FakeWindows) -> None:
    runner = FakeWindowsRunner(fake)
    t = LocalWindowsTransport(runner=runner)
    facts, managers = gather_windows_facts(t)
    adapter = detect(facts, managers, host="desk01")
    assert isinstance(adapter, WindowsUpdateAdapter)
    wua = WindowsUpdateAdapter("desk01", poll_interval=0.05)
    pending = {u.name for u in wua.scan(t)}
    assert {"KB5034129", "KB5033914"} <= pending
    assert fake.tasks == {}  # the SYSTEM task was cleaned up after its result was read
    before = wua.snapshot(t, ["KB5034129"])
    wua.install(t, ["KB5034129"])
    after = wua.snapshot(t, ["KB5034129"])
    assert (before, after) == ({"KB5034129": None}, {"KB5034129": "installed"})
    # verify: health and the reboot flags, then roll back by the change record
    health = WINDOWS.health(t, ["wuauserv"])
    assert health.boot_time is not None
    needed, reasons = wua.reboot_required(t)
    assert needed and reasons  # the cumulative update waits for its restart
    wua.rollback(t, [PackageChange("wua", "KB5034129", None, "installed", kb="KB5034129")])
    assert fake.uninstalls == ["KB5034129"] and wua.snapshot(t, ["KB5034129"]) == before
    ops = [c.script.split("\n", 1)[0].strip() for c in runner.calls]
    assert "# patchdesk:task-start" in ops and "# patchdesk:task-poll" in ops
    assert "# patchdesk:windows-health" in ops
    for call in runner.calls:  # every script went out with the prologue and parses
        assert call.raw_script.startswith(prologue())
        assert grammar_problems(call.raw_script) == [], call.script[:200]


def test_a_script_that_never_ends_is_stopped_at_its_timeout(fake: FakeWindows) -> None:
    fake.on(lambda c: "patchdesk:windows-facts" in c.script, Reply(stdout=b"{", hang=True))
    runner = FakeWindowsRunner(fake)
    with pytest.raises(CommandTimeoutError, match="did not finish within"):
        LocalWindowsTransport(runner=runner).run(facts_script(), timeout=0.5)
    assert runner.stopped == 1


def test_a_failing_script_is_reported_not_hidden(fake: FakeWindows) -> None:
    fake.on(
        lambda c: "patchdesk:windows-facts" in c.script,
        Reply(stderr=clixml("Get-CimInstance : Access denied"), exit_code=1),
    )
    with pytest.raises(
        AdapterError, match="Could not read the Windows version: Get-CimInstance : Access denied"
    ):
        gather_windows_facts(LocalWindowsTransport(runner=FakeWindowsRunner(fake)))


def test_scan_job_of_this_windows_workstation(
    on_windows: None, fake: FakeWindows, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = FakeWindowsRunner(fake)
    monkeypatch.setattr(local_windows, "WindowsRunner", lambda: runner)
    events: list[Any] = []
    ctx = TaskContext(1, local_host(), Deadline(120), events.append, TransportFactory())
    result = scan_host(ctx)
    assert result.facts.id == "windows" and result.managers[0] == "wua"
    assert {u.name for u in result.pending} >= {"KB5034129", "KB5033914"}
    assert any("task-start" in c.script.split("\n", 1)[0] for c in runner.calls)


def test_scan_job_on_an_unelevated_console_fails_with_the_fix(
    on_windows: None, fake: FakeWindows, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = FakeWindowsRunner(fake, elevated=False)
    monkeypatch.setattr(local_windows, "WindowsRunner", lambda: runner)
    ctx = TaskContext(1, local_host(), Deadline(60), lambda e: None, TransportFactory())
    with pytest.raises(NotElevatedError, match="Run as administrator"):
        scan_host(ctx)
    assert runner.calls == []
