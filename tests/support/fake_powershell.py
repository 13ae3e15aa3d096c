"""powershell.exe played on Linux, for the local Windows transport (app/transports/local_windows.py).

Two fakes behind the transport's process boundary (its ProcessRunner), both with real pipes:

- :class:`SubprocessRunner` starts this file as a real process (``python fake_powershell.py <argv>``),
  so pipes, exit codes, timeouts and killing a process tree are real. The fake checks the argument
  list as powershell.exe would get it, decodes ``-EncodedCommand`` (base64 of UTF-16LE), follows the
  stdin bootstrap, prints one JSON line saying what it received, then obeys ``# fake:<verb> <arg>``
  comment lines of the script (exit code, CLIXML on stderr, sleeping, a child process, lots of output).
- :class:`FakeWindowsRunner` runs in the test's process and hands each decoded script to a handler
  (tests/support/wsman_server.py's FakeWindows), as the loopback WS-Management server does, so the
  Windows adapters run end to end over the local transport.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[2]
#: What the fake runners say powershell.exe's path is.
EXE = "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"
SWITCHES = ["-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-EncodedCommand"]


def decode_call(argv: Sequence[str], stdin: bytes) -> tuple[str, str, bytes, bool]:
    """(raw script, script without the prologue, $PatchdeskStdin, via stdin) of one powershell.exe start.

    Raises ValueError for anything powershell.exe would not run the way the transport means it.
    """
    from app.transports.powershell import bootstrap, prologue

    if len(argv) != len(SWITCHES) + 2 or list(argv[1:-1]) != SWITCHES:
        raise ValueError(f"unexpected arguments: {list(argv)!r}")
    raw = base64.b64decode(argv[-1], validate=True).decode("utf-16-le")
    data, via_stdin = b"", False
    if raw == prologue() + bootstrap():
        lines = stdin.split(b"\r\n")
        raw = base64.b64decode(lines[0], validate=True).decode("utf-8")
        data = base64.b64decode(lines[1], validate=True) if len(lines) > 1 and lines[1] else b""
        via_stdin = True
    script = raw[len(prologue()) :] if raw.startswith(prologue()) else raw
    return raw, script, data, via_stdin


def clixml(message: str) -> bytes:
    """stderr as powershell.exe writes an error when its stderr is redirected."""
    text = message.replace("&", "&amp;").replace("<", "&lt;") + "_x000D__x000A_"
    return (
        b"#< CLIXML\r\n"
        b'<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
        + f'<S S="Error">{text}</S>'.encode()
        + b"</Objs>"
    )


# -- the fake process ----------------------------------------------------------------------------------


def _directives(script: str) -> list[tuple[str, str]]:
    found = []
    for line in script.splitlines():
        line = line.strip()
        if line.startswith("# fake:"):
            verb, _, arg = line[len("# fake:") :].partition(" ")
            found.append((verb, arg))
    return found


def _obey(verb: str, arg: str, out: IO[bytes], err: IO[bytes]) -> int | None:
    """One directive; an exit code ends the fake."""
    if verb == "exit":
        return int(arg)
    if verb == "stdout":
        out.write(arg.encode("utf-8") + b"\r\n")
    elif verb == "stderr":
        err.write(clixml(arg))
    elif verb == "bytes":
        for _ in range(int(arg) // 65536):
            out.write(b"x" * 65536)
    elif verb == "sleep":
        out.flush()
        time.sleep(float(arg))
    elif verb in ("child", "orphan"):
        # a child in our group (killed with the tree), or one that keeps our stdout and outlives us
        child = subprocess.Popen(["sleep", arg], stdout=out if verb == "orphan" else subprocess.DEVNULL)
        out.write(f"child-pid={child.pid}\r\n".encode())
    out.flush()
    err.flush()
    return None


def main(argv: list[str]) -> int:
    out, err = sys.stdout.buffer, sys.stderr.buffer
    stdin = sys.stdin.buffer.read()
    try:
        raw, script, data, via_stdin = decode_call(argv, stdin)
    except ValueError as exc:
        err.write(f"fake powershell.exe: {exc}\r\n".encode())
        return 64
    record = {
        "argv": argv,
        "raw": raw,
        "script": script,
        "stdin": base64.b64encode(data).decode(),
        "via_stdin": via_stdin,
    }
    out.write(json.dumps(record).encode() + b"\r\n")
    out.flush()
    for verb, arg in _directives(script):
        code = _obey(verb, arg, out, err)
        if code is not None:
            return code
    return 0


# -- runners ---------------------------------------------------------------------------------------------


class SubprocessRunner:
    """Starts this file as powershell.exe, in its own process group (its "tree")."""

    def __init__(self, *, elevated: bool = True) -> None:
        self.elevated = elevated
        self.started: list[list[str]] = []
        self.stopped: list[int] = []

    def executable(self) -> str:
        return EXE

    def start(self, argv: Sequence[str]) -> subprocess.Popen[bytes]:
        assert not isinstance(argv, str), "an argument list, never a command string"
        self.started.append(list(argv))
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        return subprocess.Popen(
            [sys.executable, __file__, *argv],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            env=env,
            cwd=ROOT,
        )

    def stop(self, proc: Any) -> None:
        self.stopped.append(proc.pid)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(5)

    def is_elevated(self) -> bool:
        return self.elevated


class _FakeProcess:
    """powershell.exe in a thread: real pipes, the script handed to a FakeWindows-style handler."""

    def __init__(self, argv: Sequence[str], handler: Callable[[Any], Any], calls: list[Any]) -> None:
        from tests.support.wsman_server import ScriptCall

        self._call_type = ScriptCall
        self.pid = 4242
        self.returncode: int | None = None
        self._killed = threading.Event()
        self._done = threading.Event()
        self._lock = threading.Lock()
        in_r, in_w = os.pipe()
        out_r, self._out_w = os.pipe()
        err_r, self._err_w = os.pipe()
        self.stdin: IO[bytes] | None = os.fdopen(in_w, "wb")
        self.stdout: IO[bytes] | None = os.fdopen(out_r, "rb")
        self.stderr: IO[bytes] | None = os.fdopen(err_r, "rb")
        self._thread = threading.Thread(
            target=self._play, args=(list(argv), in_r, handler, calls), daemon=True
        )
        self._thread.start()

    def _play(self, argv: list[str], in_r: int, handler: Callable[[Any], Any], calls: list[Any]) -> None:
        with os.fdopen(in_r, "rb") as f:
            stdin = f.read()
        try:
            raw, script, data, via_stdin = decode_call(argv, stdin)
        except ValueError as exc:
            self._write(self._err_w, str(exc).encode())
            self._end(64)
            return
        call = self._call_type(" ".join(argv), raw, script, data, via_stdin)
        calls.append(call)
        reply = handler(call)
        if reply.delay and self._killed.wait(reply.delay):
            return
        out = reply.stdout
        size = max(1, -(-len(out) // max(1, reply.pieces)))
        for i in range(0, len(out), size):
            self._write(self._out_w, out[i : i + size])
        self._write(self._err_w, reply.stderr)
        if reply.hang:
            self._killed.wait()
            return
        self._end(reply.exit_code)

    def _write(self, fd: int, data: bytes) -> None:
        with self._lock:
            if not self._killed.is_set() and data:
                os.write(fd, data)

    def _end(self, code: int) -> None:
        with self._lock:
            if self.returncode is None:
                self.returncode = code
                os.close(self._out_w)
                os.close(self._err_w)
        self._done.set()

    def kill(self) -> None:
        self._killed.set()
        self._end(1)  # TerminateProcess as taskkill /F does it: exit code 1

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if not self._done.wait(timeout):
            raise subprocess.TimeoutExpired("powershell.exe", timeout or 0)
        assert self.returncode is not None
        return self.returncode


class FakeWindowsRunner:
    """powershell.exe answering like FakeWindows; ``calls`` holds every script as ScriptCalls."""

    def __init__(self, handler: Callable[[Any], Any], *, elevated: bool = True) -> None:
        self.handler = handler
        self.elevated = elevated
        self.calls: list[Any] = []
        self.argvs: list[list[str]] = []
        self.stopped = 0

    def executable(self) -> str:
        return EXE

    def start(self, argv: Sequence[str]) -> _FakeProcess:
        assert not isinstance(argv, str), "an argument list, never a command string"
        self.argvs.append(list(argv))
        return _FakeProcess(argv, self.handler, self.calls)

    def stop(self, proc: Any) -> None:
        self.stopped += 1
        proc.kill()

    def is_elevated(self) -> bool:
        return self.elevated


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main(sys.argv[1:]))
