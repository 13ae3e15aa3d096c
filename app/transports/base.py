"""The transport contract every way of reaching a host implements.

A transport runs commands on one host. It connects lazily on the first call, every blocking call has a
timeout, and it is used by one thread only (one transport per host per job). Commands given as a
sequence of arguments are quoted here, so untrusted text (package names from a host) can be passed as
data; a plain string is a trusted shell snippet written by Patchdesk itself.
"""

from __future__ import annotations

import abc
import shlex
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from app.domain.errors import CancelledError, DeadlineExceededError

#: Called with (stream, chunk) as output arrives; stream is "stdout" or "stderr".
OutputCallback = Callable[[str, bytes], None]

Command = str | Sequence[str]

DEFAULT_COMMAND_TIMEOUT = 120.0


def to_shell(command: Command) -> str:
    """Render a command for ``sh -c``: a sequence is quoted word by word, a string is kept as is."""
    if isinstance(command, str):
        return command
    return shlex.join(list(command))


def decode(data: bytes) -> str:
    """Decode host output that may not be valid UTF-8 without losing the line structure."""
    return data.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class CommandResult:
    exit_status: int
    stdout: bytes
    stderr: bytes

    @property
    def ok(self) -> bool:
        return self.exit_status == 0

    @property
    def out(self) -> str:
        return decode(self.stdout)

    @property
    def err(self) -> str:
        return decode(self.stderr)


class Deadline:
    """An overall time budget for one host in one job, plus the job's cancel flag.

    Transports clamp every per-call timeout to what remains, so a host can never overrun its deadline
    by more than one poll interval.
    """

    def __init__(self, seconds: float | None, cancel: threading.Event | None = None) -> None:
        self.expires = None if seconds is None else time.monotonic() + seconds
        self.cancel = cancel or threading.Event()

    def remaining(self) -> float | None:
        if self.expires is None:
            return None
        return self.expires - time.monotonic()

    def clamp(self, timeout: float) -> float:
        """The timeout to use for one call: the smaller of ``timeout`` and what is left."""
        self.check()
        left = self.remaining()
        return timeout if left is None else max(0.01, min(timeout, left))

    def check(self) -> None:
        if self.cancel.is_set():
            raise CancelledError("Cancelled by the user.")
        left = self.remaining()
        if left is not None and left <= 0:
            raise DeadlineExceededError("The host did not finish within its deadline.")


class Transport(abc.ABC):
    """Runs commands on one host. Not thread-safe: one transport per host per job."""

    #: "ssh", "winrm" or "local"
    kind: str = ""

    def __init__(self, deadline: Deadline | None = None) -> None:
        self.deadline = deadline or Deadline(None)

    @abc.abstractmethod
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
        """Run ``command`` and wait for it (at most ``timeout`` seconds, clamped to the deadline).

        ``sudo`` runs it as root (non-interactively; a stored sudo password is fed on stdin, never on
        the command line). ``env`` values are quoted into the command. Raises CommandTimeoutError,
        DeadlineExceededError, CancelledError, UnreachableError, SudoError.
        """

    @abc.abstractmethod
    def put(self, data: bytes, remote_path: str, *, mode: int = 0o644) -> None:
        """Write ``data`` to ``remote_path`` on the host."""

    @abc.abstractmethod
    def get(self, remote_path: str) -> bytes:
        """Read a file from the host."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the connection; safe to call twice."""

    def discard(self) -> None:
        """Close the connection for good, never keeping it for another job (the host is rebooting, a
        job gave up on it). Transports that keep nothing just close."""
        self.close()

    @property
    def is_root(self) -> bool:
        """Whether commands already run as root (then ``sudo=True`` needs no sudo)."""
        return False

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
