"""How the POSIX transports (SSH and local) wrap a command and read what comes back.

Both run every command as ``sh -c <script>`` -- over SSH the login shell of the remote user parses
our command line, and it may not be a POSIX shell, so we hand it one quoted word list and let ``sh``
do the real work. On top of that this module adds:

- ``env K=V`` in front, with the values quoted, instead of relying on the server's AcceptEnv;
- the sudo wrapper and its *handshake*: before the real command starts, the wrapper prints a
  one-time ready marker on stderr. Until that marker arrives everything on stderr is sudo talking
  (its password prompt, "Sorry, try again", "a password is required"), so we can tell sudo's refusal
  from the command's own failure, and the stored sudo password is written only after sudo has
  actually shown our prompt -- never to a command that did not ask for it (a NOPASSWD rule, a cached
  timestamp), and never on the command line;
- a capped output buffer, so a host that prints gigabytes cannot exhaust the console's memory.
"""

from __future__ import annotations

import enum
import re
import secrets as _random
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field

from app.domain.errors import SudoError

#: Keep at most this much of each stream of one command; the rest is counted and dropped.
MAX_OUTPUT = 16 * 1024 * 1024

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def short_command(script: str, limit: int = 60) -> str:
    """A one-line excerpt of a command for messages ("`apt-get update` did not finish ...")."""
    one_line = " ".join(script.split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


def env_prefix(env: Mapping[str, str] | None) -> list[str]:
    """``env K=V ...`` words; names are checked because a bad name is a programming error, not data."""
    if not env:
        return []
    words = ["env"]
    for key, value in env.items():
        if not _ENV_NAME.match(key):
            raise ValueError(f"not a valid environment variable name: {key!r}")
        words.append(f"{key}={value}")
    return words


class GateAction(enum.Enum):
    """What the caller must do after the gate has read a chunk of stderr."""

    NONE = "none"
    SEND_PASSWORD = "send-password"  # noqa: S105 - an action name, not a password
    WRONG_PASSWORD = "wrong-password"  # noqa: S105
    PASSED = "passed"


@dataclass
class CommandGate:
    """Follows stderr until the wrapper announces the real command (see the module docstring).

    The announcement carries the PID of the shell that becomes the command, so a command that times
    out can be killed with its process group even where the transport cannot signal it directly.
    """

    ready: bytes
    prompt: bytes | None  # sudo's password prompt, when a password is stored
    buffer: bytearray = field(default_factory=bytearray)
    prompts_seen: int = 0
    passed: bool = False
    pid: int | None = None

    def feed(self, chunk: bytes) -> tuple[GateAction, bytes]:
        """Take a stderr chunk; returns what to do and, once passed, the command's own stderr bytes."""
        self.buffer += chunk
        idx = self.buffer.find(self.ready + b" ")
        if idx >= 0:
            eol = self.buffer.find(b"\n", idx)
            if eol < 0:
                return GateAction.NONE, b""  # the rest of the announcement is still on its way
            pid_text = self.buffer[idx + len(self.ready) + 1 : eol]
            self.pid = int(pid_text) if pid_text.isdigit() else None
            self.passed = True
            rest = bytes(self.buffer[eol + 1 :])
            # what came before the marker is sudo's business (a lecture, a prompt): kept for errors only
            del self.buffer[idx:]
            return GateAction.PASSED, rest
        if self.prompt is None:
            return GateAction.NONE, b""
        prompts = self.buffer.count(self.prompt)
        if prompts > self.prompts_seen:
            self.prompts_seen = prompts
            return (GateAction.SEND_PASSWORD if prompts == 1 else GateAction.WRONG_PASSWORD), b""
        return GateAction.NONE, b""

    def sudo_text(self) -> str:
        """What sudo said before giving up, without our markers (for the error sentence)."""
        data = bytes(self.buffer)
        if self.prompt:
            data = data.replace(self.prompt, b"")
        text = data.decode("utf-8", errors="replace")
        return " ".join(line.strip() for line in text.splitlines() if line.strip())


@dataclass(frozen=True)
class Wrapped:
    """A command ready to run: its argv, whether sudo is involved, and the gate that reads its stderr."""

    argv: list[str]
    gate: CommandGate
    sudo: bool

    @property
    def command_line(self) -> str:
        return shlex.join(self.argv)


#: Announces "<marker> <pid>" on stderr, then becomes the real command (so the PID stays valid).
_ANNOUNCE = 'printf "%s %s\\n" "$0" "$$" >&2; exec "$@"'


def wrap(
    script: str,
    *,
    sudo: bool,
    is_root: bool,
    sudo_password: str | None,
    env: Mapping[str, str] | None,
) -> Wrapped:
    """Build the argv that runs ``script`` under ``sh -c``, as root through sudo if asked.

    The sudo password is *not* part of the result: the caller writes it to stdin when the gate says
    so. ``-k`` makes sudo ignore a cached timestamp, so when a password is stored sudo always asks
    for it (or, with NOPASSWD, never) -- it can't end up as input to the command.
    """
    nonce = _random.token_hex(8)
    ready = f"__patchdesk_ready_{nonce}__"
    argv = ["sh", "-c", _ANNOUNCE, ready, *env_prefix(env), "sh", "-c", script]
    if not sudo or is_root:
        return Wrapped(argv, CommandGate(ready.encode(), None), sudo=False)
    if sudo_password is not None:
        prompt = f"[patchdesk-sudo-{nonce}]"
        return Wrapped(
            ["sudo", "-k", "-S", "-p", prompt, "--", *argv],
            CommandGate(ready.encode(), prompt.encode()),
            sudo=True,
        )
    return Wrapped(["sudo", "-n", "--", *argv], CommandGate(ready.encode(), None), sudo=True)


def kill_group_script(pid: int) -> str:
    """Shell that SIGTERMs the process group of ``pid`` (read from /proc: ``ps`` may be missing)."""
    return (
        f"read -r _ _ _ _ pg _ < /proc/{pid}/stat 2>/dev/null || exit 0; "
        'if [ "$pg" -gt 1 ]; then kill -s TERM -- "-$pg" 2>/dev/null; fi; '
        f"kill -s TERM {pid} 2>/dev/null; exit 0"
    )


def sudo_failure(gate: CommandGate, exit_status: int, *, host: str, user: str) -> SudoError:
    """The sentence for a sudo that exited before the command started."""
    said = gate.sudo_text()
    low = said.lower()
    if gate.prompts_seen > 1 or "incorrect password" in low or "try again" in low:
        return SudoError(
            f"sudo on {host} refused the stored sudo password for {user}; "
            "update the sudo password in the host's settings."
        )
    if "password is required" in low or "terminal is required" in low or gate.prompts_seen == 1:
        return SudoError(
            f"sudo on {host} requires a password for {user}; store the sudo password in the host's "
            "settings or allow NOPASSWD for Patchdesk's commands."
        )
    if "not in the sudoers" in low or "not allowed" in low or "may not run sudo" in low:
        return SudoError(
            f"{user} may not run commands as root with sudo on {host}; add a sudoers rule for {user} "
            "or log in as root."
        )
    if exit_status == 127 or "not found" in low:
        return SudoError(f"sudo is not installed on {host}; install it or log in as root.")
    detail = f": {said}" if said else f" (exit status {exit_status})"
    return SudoError(f"sudo on {host} failed before running the command{detail}")


class CappedBuffer:
    """Collects one output stream, keeping at most ``limit`` bytes and counting what it dropped."""

    def __init__(self, limit: int = MAX_OUTPUT) -> None:
        self.limit = limit
        self.data = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        room = self.limit - len(self.data)
        if room >= len(chunk):
            self.data += chunk
            return
        if room > 0:
            self.data += chunk[:room]
        self.dropped += len(chunk) - max(room, 0)

    def value(self) -> bytes:
        if not self.dropped:
            return bytes(self.data)
        return bytes(self.data) + f"\n[Patchdesk: {self.dropped} more bytes of output dropped]\n".encode()
