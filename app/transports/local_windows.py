"""This Windows workstation as a host: the Windows adapters' scripts through a local powershell.exe.

A Windows workstation patches itself with the same scripts and the same contract as a Windows host
over WinRM (app.transports.winrm): every script gets the same prologue (UTF-8 output, no progress
records) and runs as ``powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass
-EncodedCommand <base64 of UTF-16LE>``; a script too long for the command line, or one with stdin data,
goes through stdin to the same bootstrap (app.transports.powershell builds both); stderr's CLIXML
becomes text; files are written and read by the same ``put`` and ``get`` scripts. Decisions worth
knowing:

- **Elevation is required, never assumed.** Over WinRM an administrator's logon runs with a full
  token and the Windows adapters rely on it: scans and installs run as a SYSTEM scheduled task, which
  only an elevated process may register. A console started without "Run as administrator" holds a
  filtered token, so every command is refused before it starts, with a sentence naming the fix,
  rather than run unelevated into access-denied errors or a half-seen scan.
- **No shell and no search path.** powershell.exe is started by its absolute path in the system
  directory (never a ``powershell.exe`` that happens to sit in the current directory or on PATH) with
  an argument list; data from anywhere else only travels inside the encoded script or on stdin.
- **The process boundary is injectable** (:class:`ProcessRunner`): the tests fake powershell.exe
  there on Linux, behind real pipes; :class:`WindowsRunner` is the real one.
- **Stopping means the whole tree.** At timeout, deadline or cancel the process tree is killed
  (``taskkill /T /F``, then TerminateProcess), so a package manager's children go too. A SYSTEM task
  already registered is not a child: it is the adapter's to clean up, exactly as over WinRM.
"""

from __future__ import annotations

import contextlib
import logging
import ntpath
import os
import queue
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import IO, Protocol

from app.domain.errors import (
    CancelledError,
    CommandTimeoutError,
    DeadlineExceededError,
    SudoError,
    TransportError,
)
from app.transports.base import (
    DEFAULT_COMMAND_TIMEOUT,
    Command,
    CommandResult,
    Deadline,
    OutputCallback,
)
from app.transports.local import Chunk, read_pipe, write_pipe
from app.transports.powershell import (
    POWERSHELL,
    build_invocation,
    clixml_to_text,
    env_lines,
    prologue,
    to_powershell,
)
from app.transports.ps_files import PowerShellFiles
from app.transports.shell import MAX_OUTPUT, CappedBuffer, short_command

logger = logging.getLogger(__name__)

#: Longest command line handed to CreateProcess, whose limit is 32767 characters; we stay below.
MAX_LOCAL_COMMAND_LINE = 32000
POLL_INTERVAL = 0.05
#: How long a stopped tree gets to go away, and how long taskkill itself may take.
KILL_GRACE = 5.0
#: After powershell.exe exited, how long its output pipes may stay open (held by a grandchild that
#: inherited them) before we stop reading: its exit is the end of the command, as over WinRM.
EXIT_GRACE = 2.0
#: Bytes per round trip when reading a file, as over WinRM.

# subprocess only defines these on Windows; the values are Win32's own.
CREATE_NEW_PROCESS_GROUP = 0x00000200
CREATE_NO_WINDOW = 0x08000000

NOT_ELEVATED = (
    "Patchdesk is not running as administrator, so it cannot look after this workstation: Windows "
    "Update scans and installs run as a SYSTEM scheduled task, which only an elevated program may "
    "create. Close Patchdesk and start it again with right-click → Run as administrator (or from an "
    "administrator PowerShell)."
)


class NotElevatedError(SudoError):
    """The console runs with a filtered (non-administrator) token on this Windows workstation."""


def workstation_is_windows() -> bool:
    """Whether the console runs on Windows: then the "local" host is a Windows host.

    The one place that asks; transport factory and host family both call it (tests replace it).
    """
    return sys.platform == "win32"


class Process(Protocol):
    """What the transport needs of a started powershell.exe (a ``subprocess.Popen[bytes]``)."""

    @property
    def pid(self) -> int: ...
    @property
    def stdin(self) -> IO[bytes] | None: ...
    @property
    def stdout(self) -> IO[bytes] | None: ...
    @property
    def stderr(self) -> IO[bytes] | None: ...
    def poll(self) -> int | None: ...
    def wait(self, timeout: float | None = None) -> int: ...


class ProcessRunner(Protocol):
    """The process boundary: where powershell.exe is, starting it, stopping its tree, elevation."""

    def executable(self) -> str:
        """The absolute path of powershell.exe."""
        ...

    def start(self, argv: Sequence[str]) -> Process:
        """Start ``argv`` (no shell) with stdin, stdout and stderr as pipes; OSError if it can't."""
        ...

    def stop(self, proc: Process) -> None:
        """Kill ``proc`` and its children; bounded in time, best effort, never raises."""
        ...

    def is_elevated(self) -> bool:
        """Whether this process holds an administrator's full token."""
        ...


class WindowsRunner:
    """The real process boundary on Windows."""

    def __init__(self, system_root: str | None = None) -> None:
        # %SystemRoot% of the console's own environment: whoever can change it already runs as the user.
        self.system_root = system_root or os.environ.get("SystemRoot") or "C:\\Windows"

    def system_dir(self) -> str:
        """System32 -- through Sysnative for a 32-bit Python on 64-bit Windows, which would otherwise be
        redirected to SysWOW64's 32-bit PowerShell (whose registry and DISM views differ)."""
        native = ntpath.join(self.system_root, "Sysnative")
        if struct.calcsize("P") == 4 and os.path.isdir(native):
            return native
        return ntpath.join(self.system_root, "System32")

    def executable(self) -> str:
        return ntpath.join(self.system_dir(), "WindowsPowerShell", "v1.0", "powershell.exe")

    def start(self, argv: Sequence[str]) -> Process:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            # no console window flashing up over the GUI; Ctrl+C in a CLI console stays ours
            creationflags=CREATE_NO_WINDOW | CREATE_NEW_PROCESS_GROUP,
        )

    def stop(self, proc: Process) -> None:
        if proc.poll() is not None:
            return
        taskkill = ntpath.join(self.system_dir(), "taskkill.exe")
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(
                [taskkill, "/T", "/F", "/PID", str(proc.pid)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=KILL_GRACE,
                creationflags=CREATE_NO_WINDOW,
            )
        if proc.poll() is None and isinstance(proc, subprocess.Popen):
            with contextlib.suppress(OSError):
                proc.kill()  # TerminateProcess: at least powershell.exe itself goes
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(KILL_GRACE)

    def is_elevated(self) -> bool:
        if sys.platform != "win32":
            return False
        import ctypes

        try:
            return bool(ctypes.windll.shell32.IsUserAnAdmin())
        except (AttributeError, OSError):  # no answer is no proof of elevation
            return False


class LocalWindowsTransport(PowerShellFiles):
    """Runs PowerShell scripts on this Windows workstation. Not thread-safe: one per job."""

    kind = "local"
    #: Per-stream memory cap for one command's output.
    max_output = MAX_OUTPUT
    #: Longest command line before a script goes through stdin (tests lower it).
    max_command_line = MAX_LOCAL_COMMAND_LINE

    def __init__(self, *, deadline: Deadline | None = None, runner: ProcessRunner | None = None) -> None:
        super().__init__(deadline)
        self.runner: ProcessRunner = runner or WindowsRunner()
        self.name = "this workstation"
        self._elevated: bool | None = None

    @property
    def is_root(self) -> bool:
        """Whether the console runs elevated (asked once per transport)."""
        if self._elevated is None:
            self._elevated = self.runner.is_elevated()
        return self._elevated

    def run(
        self,
        command: Command,
        *,
        sudo: bool = False,
        timeout: float = DEFAULT_COMMAND_TIMEOUT,
        on_output: OutputCallback | None = None,
        stdin: bytes | None = None,
        env: dict[str, str] | None = None,
    ) -> CommandResult:
        """Run a PowerShell script, as WinRMTransport.run does (``sudo`` is moot: every command needs
        an elevated console). stdout streams to ``on_output``; stderr arrives once, as text."""
        script = to_powershell(command)
        short = short_command(script)
        budget = self.deadline.clamp(timeout)
        end = time.monotonic() + budget
        if not self.is_root:
            raise NotElevatedError(NOT_ELEVATED)
        exe = self.runner.executable()
        # build_invocation measures the line with the bare "powershell.exe"; ours starts with its path
        limit = self.max_command_line - (len(exe) - len(POWERSHELL))
        inv = build_invocation(prologue() + env_lines(env) + script, stdin, limit=limit)
        logger.debug("local: running %s%s", short, " (via stdin)" if inv.via_stdin else "")
        try:
            proc = self.runner.start([exe, *inv.arguments])
        except OSError as exc:
            raise TransportError(
                f"Could not start PowerShell ({exe}) on {self.name}: {exc.strerror or exc}"
            ) from exc
        try:
            status, out, err = self._pump(proc, inv.stdin, on_output, end, budget, short)
        finally:
            if proc.poll() is None:
                self.runner.stop(proc)
        err_text = clixml_to_text(err)
        if err_text and on_output is not None:
            on_output("stderr", err_text)
        return CommandResult(status, out, err_text)

    def _pump(
        self,
        proc: Process,
        stdin: bytes | None,
        on_output: OutputCallback | None,
        end: float,
        budget: float,
        short: str,
    ) -> tuple[int, bytes, bytes]:
        """Feed stdin and read both streams through threads until powershell.exe exits."""
        assert proc.stdout is not None and proc.stderr is not None and proc.stdin is not None
        chunks: queue.Queue[Chunk] = queue.Queue()
        for pipe, stream in ((proc.stdout, "stdout"), (proc.stderr, "stderr")):
            threading.Thread(target=read_pipe, args=(pipe, stream, chunks), daemon=True).start()
        writes: queue.Queue[bytes | None] = queue.Queue()
        if stdin:
            writes.put(stdin)
        writes.put(None)  # EOF at once: nothing waits for input that never comes
        threading.Thread(target=write_pipe, args=(proc.stdin, writes), daemon=True).start()
        out, err = CappedBuffer(self.max_output), CappedBuffer(self.max_output)
        open_streams = 2
        exited_at: float | None = None
        while open_streams:
            try:
                stream, chunk = chunks.get(timeout=POLL_INTERVAL)
            except queue.Empty:
                self._check_time(proc, end, budget, short)
                if exited_at is None and proc.poll() is not None:
                    exited_at = time.monotonic()
                if exited_at is not None and time.monotonic() - exited_at > EXIT_GRACE:
                    break  # a grandchild holds the pipes; the command itself is over
                continue
            if chunk is None:
                open_streams -= 1
            elif stream == "stdout":
                out.add(chunk)
                if on_output is not None:
                    on_output("stdout", chunk)
            else:
                err.add(chunk)
            self._check_time(proc, end, budget, short)
        return self._wait(proc, end, budget, short), out.value(), err.value()

    def _wait(self, proc: Process, end: float, budget: float, short: str) -> int:
        """The exit status, once powershell.exe has closed its pipes and exited."""
        while True:
            try:
                return proc.wait(POLL_INTERVAL)
            except subprocess.TimeoutExpired:
                self._check_time(proc, end, budget, short)

    def _check_time(self, proc: Process, end: float, budget: float, short: str) -> None:
        if self.deadline.cancel.is_set():
            self.runner.stop(proc)
            raise CancelledError(f"Cancelled by the user while `{short}` was running on {self.name}.")
        left = self.deadline.remaining()
        if left is not None and left <= 0:
            self.runner.stop(proc)
            raise DeadlineExceededError(
                f"The job deadline ran out while `{short}` was running on {self.name}."
            )
        if time.monotonic() >= end:
            self.runner.stop(proc)
            raise CommandTimeoutError(f"`{short}` did not finish within {budget:g} s on {self.name}.")

    # -- files ------------------------------------------------------------------------------------------

    @property
    def host_label(self) -> str:
        return self.name

    def close(self) -> None:
        """Nothing to release: every command is its own process."""
