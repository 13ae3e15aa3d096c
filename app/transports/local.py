"""The workstation itself as a host, through subprocess.

So that a newcomer sees real data on the first run, the console can scan and patch the machine it runs
on with the same contract as a remote host: ``sh -c`` (POSIX workstations; a Windows workstation runs
the Windows scripts through powershell.exe, see app.transports.local_windows), output streamed as it
arrives, ``sudo -n`` unless already root (or a stored sudo password fed on stdin through the same
handshake as over SSH, see app.transports.shell), and a hard stop at timeout, deadline or cancel.

Every command gets its own session and process group (``start_new_session``), so stopping it kills
the whole group -- a package manager's children included -- and never the console itself.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from app.domain.errors import (
    CancelledError,
    CommandTimeoutError,
    DeadlineExceededError,
    TransportError,
)
from app.transports.base import (
    DEFAULT_COMMAND_TIMEOUT,
    Command,
    CommandResult,
    Deadline,
    OutputCallback,
    Transport,
    to_shell,
)
from app.transports.shell import (
    MAX_OUTPUT,
    CappedBuffer,
    GateAction,
    Wrapped,
    short_command,
    sudo_failure,
    wrap,
)

logger = logging.getLogger(__name__)

POLL_INTERVAL = 0.05
#: After SIGTERM, how long the group gets before SIGKILL.
TERM_GRACE = 2.0

#: (stream, bytes) from a reader thread; bytes None when that stream reached its end
Chunk = tuple[str, bytes | None]


class LocalTransport(Transport):
    """Runs commands on this workstation. Not thread-safe: one per job, like every transport."""

    kind = "local"
    max_output = MAX_OUTPUT

    def __init__(self, *, deadline: Deadline | None = None, sudo_password: str | None = None) -> None:
        super().__init__(deadline)
        self._sudo_password = sudo_password
        self.name = "this workstation"

    @property
    def is_root(self) -> bool:
        return hasattr(os, "geteuid") and os.geteuid() == 0

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
        if os.name != "posix":
            raise TransportError("The local transport needs a POSIX shell; this workstation has none.")
        script = to_shell(command)
        short = short_command(script)
        budget = self.deadline.clamp(timeout)
        end = time.monotonic() + budget
        wrapped = wrap(script, sudo=sudo, is_root=self.is_root, sudo_password=self._sudo_password, env=env)
        logger.debug("local: running %s%s", short, " (sudo)" if wrapped.sudo else "")
        try:
            proc = subprocess.Popen(
                wrapped.argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            raise TransportError(f"Could not start `{short}` on {self.name}: {exc.strerror or exc}") from exc
        try:
            return self._pump(proc, wrapped, stdin, on_output, end, budget, short)
        finally:
            # the reader and writer threads close the pipes themselves once the group is gone
            if proc.poll() is None:
                self._kill_group(proc)

    def _pump(
        self,
        proc: subprocess.Popen[bytes],
        wrapped: Wrapped,
        stdin: bytes | None,
        on_output: OutputCallback | None,
        end: float,
        budget: float,
        short: str,
    ) -> CommandResult:
        """Read both streams (through reader threads: pipes can't be polled portably) until exit."""
        chunks: queue.Queue[Chunk] = queue.Queue()
        assert proc.stdout is not None and proc.stderr is not None and proc.stdin is not None
        readers = [
            threading.Thread(target=read_pipe, args=(proc.stdout, "stdout", chunks), daemon=True),
            threading.Thread(target=read_pipe, args=(proc.stderr, "stderr", chunks), daemon=True),
        ]
        for r in readers:
            r.start()
        writes: queue.Queue[bytes | None] = queue.Queue()
        writer = threading.Thread(target=write_pipe, args=(proc.stdin, writes), daemon=True)
        writer.start()

        out, err = CappedBuffer(self.max_output), CappedBuffer(self.max_output)

        def start_stdin() -> None:
            if stdin:
                writes.put(stdin)
            writes.put(None)  # EOF: a command waiting for input must not hang

        def emit(stream: str, buf: CappedBuffer, chunk: bytes) -> None:
            buf.add(chunk)
            if on_output is not None and chunk:
                on_output(stream, chunk)

        try:
            return self._loop(proc, wrapped, chunks, writes, start_stdin, emit, out, err, end, budget, short)
        finally:
            writes.put(None)  # lets the writer thread finish whatever happened

    def _loop(
        self,
        proc: subprocess.Popen[bytes],
        wrapped: Wrapped,
        chunks: queue.Queue[Chunk],
        writes: queue.Queue[bytes | None],
        start_stdin: Callable[[], None],
        emit: Callable[[str, CappedBuffer, bytes], None],
        out: CappedBuffer,
        err: CappedBuffer,
        end: float,
        budget: float,
        short: str,
    ) -> CommandResult:
        gate = wrapped.gate
        stdin_started = not wrapped.sudo
        if stdin_started:
            start_stdin()
        open_streams = 2
        while open_streams or proc.poll() is None:
            try:
                stream, chunk = chunks.get(timeout=POLL_INTERVAL)
            except queue.Empty:
                self._check_time(proc, end, budget, short)
                continue
            if chunk is None:
                open_streams -= 1
                continue
            if stream == "stdout":
                emit("stdout", out, chunk)
            elif gate.passed:
                emit("stderr", err, chunk)
            else:
                action, rest = gate.feed(chunk)
                if action is GateAction.SEND_PASSWORD:
                    assert self._sudo_password is not None
                    writes.put((self._sudo_password + "\n").encode())
                elif action is GateAction.WRONG_PASSWORD:
                    self._kill_group(proc)
                    raise sudo_failure(gate, -1, host=self.name, user=_user())
                elif action is GateAction.PASSED:
                    emit("stderr", err, rest)
                    if not stdin_started:
                        stdin_started = True
                        start_stdin()
            self._check_time(proc, end, budget, short)
        status = proc.wait()
        if not gate.passed:
            if wrapped.sudo:
                raise sudo_failure(gate, status, host=self.name, user=_user())
            err.add(bytes(gate.buffer))
        # a shell killed by a signal reports -N from subprocess; the SSH side would say 128+N
        return CommandResult(status if status >= 0 else 128 - status, out.value(), err.value())

    def _check_time(self, proc: subprocess.Popen[bytes], end: float, budget: float, short: str) -> None:
        if self.deadline.cancel.is_set():
            self._kill_group(proc)
            raise CancelledError(f"Cancelled by the user while `{short}` was running on {self.name}.")
        left = self.deadline.remaining()
        if left is not None and left <= 0:
            self._kill_group(proc)
            raise DeadlineExceededError(
                f"The job deadline ran out while `{short}` was running on {self.name}."
            )
        if time.monotonic() >= end:
            self._kill_group(proc)
            raise CommandTimeoutError(f"`{short}` did not finish within {budget:g} s on {self.name}.")

    @staticmethod
    def _kill_group(proc: subprocess.Popen[bytes]) -> None:
        """SIGTERM the command's process group, SIGKILL it if it lingers."""
        for sig, grace in ((signal.SIGTERM, TERM_GRACE), (signal.SIGKILL, TERM_GRACE)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            except PermissionError:  # a group member runs as root through sudo: sudo relays to it
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(sig)
            try:
                proc.wait(grace)
                # the leader is gone, but grandchildren in its group may not be
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                break
            except subprocess.TimeoutExpired:
                continue

    def put(self, data: bytes, remote_path: str, *, mode: int = 0o644) -> None:
        """Write a file atomically (temporary name in the same directory, then rename)."""
        path = Path(remote_path)
        tmp = path.with_name(f".{path.name}.patchdesk-tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise TransportError(
                f"Could not write {remote_path} on {self.name}: {exc.strerror or exc}"
            ) from exc

    def get(self, remote_path: str) -> bytes:
        try:
            return Path(remote_path).read_bytes()
        except OSError as exc:
            raise TransportError(
                f"Could not read {remote_path} on {self.name}: {exc.strerror or exc}"
            ) from exc

    def close(self) -> None:
        """Nothing to release: every command is its own process."""


def _user() -> str:
    try:
        import getpass

        return getpass.getuser()
    except (OSError, KeyError):
        return str(os.getuid()) if hasattr(os, "getuid") else "?"


def read_pipe(pipe: IO[bytes], stream: str, chunks: queue.Queue[Chunk]) -> None:
    """Reader thread: every chunk of ``pipe`` into ``chunks``, then ``(stream, None)`` at its end."""
    fd = pipe.fileno()
    try:
        while True:
            data = os.read(fd, 65536)
            if not data:
                break
            chunks.put((stream, data))
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            pipe.close()
        chunks.put((stream, None))


def write_pipe(pipe: IO[bytes], writes: queue.Queue[bytes | None]) -> None:
    """Writer thread: what arrives in ``writes`` goes to ``pipe``; None closes it (EOF)."""
    try:
        while True:
            data = writes.get()
            if data is None:
                break
            pipe.write(data)
            pipe.flush()
    except (BrokenPipeError, OSError, ValueError):
        pass  # the command exited without reading all of its input: not our error
    finally:
        with contextlib.suppress(OSError, ValueError):
            pipe.close()
