"""SSH transport over paramiko: how Patchdesk reaches Linux hosts without an agent.

Decisions worth knowing:

- **Host keys are checked before any credential leaves the workstation.** Reaching a server, up to
  the host-key decision, is app.transports.ssh_connect; only then do we log in
  (app.transports.ssh_auth).
- **Jump hosts** (ProxyJump) are logged in to the same way, through the previous hop's tunnel, with
  keys and the agent only: the stored password belongs to the target.
- **Commands run as ``sh -c <script>``** in one channel each (see app.transports.shell for the sudo
  handshake and the env prefix). We poll the channel ourselves, at most 50 ms apart, so timeouts,
  the job deadline and cancel all take effect promptly; on any of those we close the channel and
  SIGTERM the command's process group from a second short command (see ``_abort``).
- **One transport per host per job, used by one thread.** A paramiko connection could multiplex
  channels from several threads, but our own state (the lazily opened SFTP client, reconnects) is
  not locked; the job engine's per-host serial queue guarantees single use.
"""

from __future__ import annotations

import errno
import logging
import select
import shlex
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from app.domain.errors import (
    CancelledError,
    CommandTimeoutError,
    DeadlineExceededError,
    PatchdeskError,
    TransportError,
    UnreachableError,
)
from app.domain.models import Host, HostKey
from app.transports.base import (
    DEFAULT_COMMAND_TIMEOUT,
    Command,
    CommandResult,
    Deadline,
    OutputCallback,
    Transport,
    to_shell,
)
from app.transports.pool import ConnectionPool, Pooled
from app.transports.shell import (
    MAX_OUTPUT,
    CappedBuffer,
    GateAction,
    Wrapped,
    kill_group_script,
    short_command,
    sudo_failure,
    wrap,
)
from app.transports.ssh_auth import KeyFiles
from app.transports.ssh_connect import POLL_INTERVAL, Dialer
from app.transports.ssh_hostkeys import NewKeyCallback
from app.transports.sshlib import paramiko

logger = logging.getLogger(__name__)

#: How long the clean-up kill of an abandoned command may take.
KILL_TIMEOUT = 3.0


def join_closed_connections(timeout: float = 2.0) -> int:
    """Wait (``timeout`` seconds in all) for the reader threads of closed SSH connections to end;
    the number still running after that.

    paramiko's ``Transport.close()`` does not wait for its thread (``Pooled.close`` shuts the socket
    down first, so the thread sees end-of-file and ends at once). A process that exits right after
    closing connections (the console closing its pool, the CLI after a job) would otherwise finalize
    the interpreter while those daemon threads still run Python. Live connections are left alone.
    """
    deadline = time.monotonic() + timeout
    me = threading.current_thread()
    left = 0
    for t in threading.enumerate():
        if not isinstance(t, paramiko.Transport) or t is me or t.active:
            continue
        t.join(max(0.0, deadline - time.monotonic()))
        left += t.is_alive()
    return left


def _wait_readable(fd: int, timeout: float) -> None:
    """Wait until ``fd`` is readable or ``timeout`` seconds pass. select() refuses a descriptor numbered
    1024 or more (FD_SETSIZE), which a console holding a thousand kept connections has; poll() has no
    such limit. (Windows has no poll(), and its select() takes any socket handle.)"""
    if hasattr(select, "poll"):
        p = select.poll()
        p.register(fd, select.POLLIN)
        p.poll(timeout * 1000)
    else:
        select.select([fd], [], [], timeout)


class _StartFailed(Exception):
    """A command could not start on a connection taken from the pool: nothing ran, so it may be retried
    once on a fresh login. Carries the error to raise if it is not retried."""

    def __init__(self, error: PatchdeskError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass
class _Exchange:
    """One command's traffic: the captured output and what is still to be written to its stdin."""

    out: CappedBuffer
    err: CappedBuffer
    on_output: OutputCallback | None
    stdin: bytes
    pending: memoryview = field(default_factory=lambda: memoryview(b""))
    stdin_started: bool = False

    def emit(self, stream: str, buf: CappedBuffer, chunk: bytes) -> None:
        buf.add(chunk)
        if self.on_output is not None and chunk:
            self.on_output(stream, chunk)

    def start_stdin(self) -> None:
        self.stdin_started = True
        self.pending = memoryview(self.stdin)


def _output_complete(chan: paramiko.Channel) -> bool:
    """Everything the command wrote has been read and it has exited (or the channel is closed).

    OpenSSH may send exit-status before it has drained the command's pipes: the end of the output is
    the channel's EOF, not the exit status, or the last lines would be lost.
    """
    if (
        chan.eof_received
        and chan.exit_status_ready()
        and not chan.recv_ready()
        and not chan.recv_stderr_ready()
    ):
        return True
    # closed, and everything that arrived before the close is read
    return bool(chan.closed) and not (chan.recv_ready() or chan.recv_stderr_ready())


class SshTransport(Transport):
    """Runs commands on one Linux host over SSH. Not thread-safe: one per host per job.

    With a :class:`~app.transports.pool.ConnectionPool`, ``close`` hands a healthy connection back to
    the pool and the next transport for the same host, user and keys takes it instead of logging in
    again (see pool.py for what is never reused).
    """

    kind = "ssh"

    #: Per-stream memory cap for one command's output.
    max_output = MAX_OUTPUT

    def __init__(
        self,
        host: Host,
        *,
        trusted_keys: Sequence[HostKey] = (),
        on_new_key: NewKeyCallback | None = None,
        accept_new: bool = False,
        password: str | None = None,
        sudo_password: str | None = None,
        key_passphrase: str | None = None,
        connect_timeout: float = 10,
        auth_timeout: float = 15,
        banner_timeout: float = 10,
        deadline: Deadline | None = None,
        ssh_config: Path | None = None,
        known_hosts: Path | None = None,
        look_for_keys: bool = True,
        allow_agent: bool = True,
        pool: ConnectionPool | None = None,
        loaded_keys: KeyFiles | None = None,
    ) -> None:
        """Resolve where and as whom to connect (no network yet: connection is lazy).

        ``known_hosts`` (default ``~/.ssh/known_hosts``) is only used for ProxyJump hosts.
        ``look_for_keys``/``allow_agent`` mirror OpenSSH's defaults and exist so tests and
        administrators can pin authentication to the configured key or password. ``loaded_keys``:
        the job's private keys already read (app.transports.factory).
        """
        super().__init__(deadline)
        self.host = host
        self._sudo_password = sudo_password
        self._dialer = Dialer.for_host(
            host,
            trusted_keys=trusted_keys,
            on_new_key=on_new_key,
            accept_new=accept_new,
            known_hosts=known_hosts,
            password=password,
            key_passphrase=key_passphrase,
            allow_agent=allow_agent,
            ssh_config=ssh_config,
            connect_timeout=connect_timeout,
            banner_timeout=banner_timeout,
            auth_timeout=auth_timeout,
            look_for_keys=look_for_keys,
            loaded_keys=loaded_keys,
        )
        self._target = self._dialer.target
        self._client: paramiko.Transport | None = None
        self._jump_clients: list[paramiko.Transport] = []
        self._sftp: paramiko.SFTPClient | None = None
        self._sftp_unavailable = False
        self._pool = pool
        #: the pool key: the same login (endpoint, user, keys, jump hops) on the same inventory host
        self._pool_key = (host.id, self._target, self._dialer.jumps)
        self._busy = 0  # commands or file transfers in progress (close() from another thread: abandon)
        self._tainted = False  # a failure, cancel or timeout: never hand this connection on
        self._reused_unproven = False  # taken from the pool, no command has succeeded on it yet

    # -- public ---------------------------------------------------------------------------------------

    @property
    def is_root(self) -> bool:
        return self._target.user == "root"

    @property
    def user(self) -> str:
        """The login user after ~/.ssh/config resolution."""
        return self._target.user

    @property
    def endpoint(self) -> tuple[str, int]:
        """(hostname, port) after ~/.ssh/config resolution."""
        return self._target.hostname, self._target.port

    def connect(self) -> None:
        """Connect, check the host key and log in now rather than on the first command."""
        self._connection()

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
        script = to_shell(command)
        short = short_command(script)
        budget = self.deadline.clamp(timeout)
        end = time.monotonic() + budget
        wrapped = wrap(script, sudo=sudo, is_root=self.is_root, sudo_password=self._sudo_password, env=env)
        logger.debug("%s: running %s%s", self._target.label, short, " (sudo)" if wrapped.sudo else "")
        self._busy += 1
        try:
            client = self._connection()
            try:
                result = self._execute(client, wrapped, stdin, on_output, end, budget, short)
            except _StartFailed as failed:
                # A pooled connection that died while idle: nothing ran, so log in afresh and retry once.
                logger.info("%s: kept connection unusable (%s); logging in again", self._target.label, failed)
                self._discard()
                client = self._connection()
                result = self._execute(client, wrapped, stdin, on_output, end, budget, short)
            self._reused_unproven = False
            return result
        except (CommandTimeoutError, DeadlineExceededError, CancelledError):
            self._tainted = True
            logger.info("%s: `%s` stopped (timeout, deadline or cancel)", self._target.label, short)
            raise
        except BaseException:
            self._tainted = True
            raise
        finally:
            self._busy -= 1

    def _execute(
        self,
        client: paramiko.Transport,
        wrapped: Wrapped,
        stdin: bytes | None,
        on_output: OutputCallback | None,
        end: float,
        budget: float,
        short: str,
        *,
        watch_deadline: bool = True,
    ) -> CommandResult:
        """One channel, polled until the command exits, times out, or the job says stop."""
        chan = self._open_channel(
            client, wrapped, end, short, unproven=self._reused_unproven and watch_deadline
        )
        io = _Exchange(CappedBuffer(self.max_output), CappedBuffer(self.max_output), on_output, stdin or b"")
        try:
            if not wrapped.sudo:
                io.start_stdin()  # no sudo prompt to wait for
            while True:
                self._receive(client, chan, wrapped, io)
                self._send(chan, wrapped, io)
                if _output_complete(chan):
                    break
                self._check_time(client, chan, wrapped, end, budget, short, watch_deadline)
                if chan.eof_received and not (chan.recv_ready() or chan.recv_stderr_ready()):
                    # Only the exit status is missing, and it does not wake select(): wait on its event.
                    chan.status_event.wait(POLL_INTERVAL)
                else:
                    _wait_readable(chan.fileno(), POLL_INTERVAL)
        except PatchdeskError:
            raise
        except Exception as exc:
            chan.close()
            raise self._lost(exc, f"running `{short}`") from exc

        status = chan.recv_exit_status() if chan.exit_status_ready() else -1
        chan.close()
        if not client.is_active() and status == -1:
            raise UnreachableError(f"Lost the connection to {self._target.label} while running `{short}`.")
        gate = wrapped.gate
        if not gate.passed:
            if wrapped.sudo:
                raise sudo_failure(gate, status, host=self.host.name, user=self.user)
            io.err.add(bytes(gate.buffer))  # the wrapper itself failed: show whatever the shell said
        return CommandResult(status, io.out.value(), io.err.value())

    def _open_channel(
        self, client: paramiko.Transport, wrapped: Wrapped, end: float, short: str, *, unproven: bool
    ) -> paramiko.Channel:
        try:
            left = max(0.1, end - time.monotonic())
            # a kept connection that died silently must not hold the command's whole budget
            chan = client.open_session(timeout=min(left, self._dialer.connect_timeout) if unproven else left)
            chan.exec_command(wrapped.command_line)
            return chan
        except PatchdeskError:
            raise
        except Exception as exc:
            error = self._lost(exc, f"starting `{short}`")
            if unproven:
                raise _StartFailed(error) from exc
            raise error from exc

    def _receive(
        self, client: paramiko.Transport, chan: paramiko.Channel, wrapped: Wrapped, io: _Exchange
    ) -> None:
        """Read what has arrived; stderr passes through the sudo gate until sudo has let the command run."""
        while chan.recv_ready():
            io.emit("stdout", io.out, chan.recv(65536))
        gate = wrapped.gate
        while chan.recv_stderr_ready():
            chunk = chan.recv_stderr(65536)
            if gate.passed:
                io.emit("stderr", io.err, chunk)
                continue
            action, rest = gate.feed(chunk)
            if action is GateAction.SEND_PASSWORD:
                assert self._sudo_password is not None
                io.pending = memoryview((self._sudo_password + "\n").encode())
            elif action is GateAction.WRONG_PASSWORD:
                self._abort(client, chan, wrapped)
                raise sudo_failure(gate, -1, host=self.host.name, user=self.user)
            elif action is GateAction.PASSED:
                io.emit("stderr", io.err, rest)

    @staticmethod
    def _send(chan: paramiko.Channel, wrapped: Wrapped, io: _Exchange) -> None:
        """Write the sudo password or the command's stdin; once stdin is all out, the command sees EOF."""
        if io.pending:
            if chan.send_ready():
                sent = chan.send(bytes(io.pending[:32768]))
                io.pending = io.pending[sent:]
        elif wrapped.gate.passed and not io.stdin_started:
            io.start_stdin()
        elif io.stdin_started and not chan.eof_sent:
            chan.shutdown_write()

    def put(self, data: bytes, remote_path: str, *, mode: int = 0o644, timeout: float = 120) -> None:
        """Write a file (atomically: a temporary name, then rename); SFTP, or ``cat`` without it."""
        self._busy += 1
        try:
            self._put(data, remote_path, mode=mode, timeout=timeout)
        except BaseException:
            self._tainted = True
            raise
        finally:
            self._busy -= 1

    def get(self, remote_path: str, *, timeout: float = 120) -> bytes:
        """Read a file from the host (SFTP, or ``cat`` without it)."""
        self._busy += 1
        try:
            return self._get(remote_path, timeout=timeout)
        except BaseException:
            self._tainted = True
            raise
        finally:
            self._busy -= 1

    def _put(self, data: bytes, remote_path: str, *, mode: int, timeout: float) -> None:
        sftp = self._sftp_client(timeout)
        if sftp is None:
            tmp = f"{remote_path}.patchdesk-tmp"
            qt, qp = shlex.quote(tmp), shlex.quote(remote_path)
            script = f"umask 077 && cat > {qt} && chmod {mode:o} {qt} && mv -f {qt} {qp}"
            res = self.run(script, stdin=data, timeout=timeout)
            if not res.ok:
                raise TransportError(f"Could not write {remote_path} on {self.host.name}: {res.err.strip()}")
            return
        tmp = f"{remote_path}.patchdesk-tmp"
        try:
            with sftp.open(tmp, "wb") as f:
                f.set_pipelined(True)
                f.write(data)
            sftp.chmod(tmp, mode)
            sftp.posix_rename(tmp, remote_path)
        except OSError as exc:
            raise self._file_error(exc, "write", remote_path, timeout) from exc
        except paramiko.SSHException as exc:
            raise self._lost(exc, f"writing {remote_path}") from exc

    def _get(self, remote_path: str, *, timeout: float) -> bytes:
        sftp = self._sftp_client(timeout)
        if sftp is None:
            res = self.run(["cat", "--", remote_path], timeout=timeout)
            if not res.ok:
                raise TransportError(f"Could not read {remote_path} on {self.host.name}: {res.err.strip()}")
            return res.stdout
        try:
            with sftp.open(remote_path, "rb") as f:
                f.prefetch()
                return bytes(f.read())
        except OSError as exc:
            raise self._file_error(exc, "read", remote_path, timeout) from exc
        except paramiko.SSHException as exc:
            raise self._lost(exc, f"reading {remote_path}") from exc

    def close(self) -> None:
        """End this transport's use of the connection: back to the pool when it is healthy and idle,
        else closed. Called from another thread while a command runs (a job giving up on a host), it
        always closes."""
        if self._sftp is not None:
            try:
                self._sftp.close()
            except Exception:  # closing is best effort; the transport goes next anyway
                logger.debug("closing SFTP on %s failed", self._target.label, exc_info=True)
            self._sftp = None
        client, jumps = self._client, self._jump_clients
        self._client = None
        self._jump_clients = []
        if client is None:
            for t in reversed(jumps):
                Pooled(t).close()
            return
        item = Pooled(client, tuple(jumps), label=self._target.label)
        if self._pool is not None and not self._tainted and not self._busy and item.alive():
            self._pool.give(self._pool_key, item)
        else:
            item.close()

    def discard(self) -> None:
        self._discard()

    def _discard(self) -> None:
        """Close the current connection for good (it failed, or the host is going away)."""
        tainted, self._tainted = self._tainted, True
        try:
            self.close()
        finally:
            self._tainted = tainted
        self._reused_unproven = False

    # -- connecting -----------------------------------------------------------------------------------

    def _connection(self) -> paramiko.Transport:
        if self._client is not None and self._client.is_active():
            return self._client
        self._discard()
        if self._pool is not None:
            kept = self._pool.take(self._pool_key)
            if kept is not None:
                key = kept.client.get_remote_server_key()
                if self._dialer.hostkeys.trusts(key.get_name(), key.get_base64()):
                    self._client, self._jump_clients = kept.client, list(kept.jumps)
                    self._reused_unproven = True
                    self._pool.count_reuse()
                    logger.debug("%s: reusing a kept connection", self._target.label)
                    return kept.client
                kept.close()  # its host key is no longer trusted in the inventory: log in afresh
        # Each transport is kept in self as soon as it exists, so that close() from another thread
        # (a job giving up on the host) also ends a login still in progress.
        try:
            for hop in self._dialer.jumps:
                endpoint = self._dialer.jump_endpoint(hop)
                via = self._jump_clients[-1] if self._jump_clients else None
                jump = self._dialer.dial(
                    endpoint, via=via, jump=True, deadline=self.deadline, lost=self._lost
                )
                self._jump_clients.append(jump)
                # keys and agent only: the stored password belongs to the target, not to the bastion
                self._dialer.login(
                    jump, endpoint, deadline=self.deadline, lost=self._lost, use_password=False
                )
            via = self._jump_clients[-1] if self._jump_clients else None
            client = self._dialer.dial(
                self._target, via=via, jump=False, deadline=self.deadline, lost=self._lost
            )
            self._client = client
            self._dialer.login(client, self._target, deadline=self.deadline, lost=self._lost)
        except BaseException:
            self._discard()
            raise
        logger.info("%s: logged in as %s", self._target.label, self._target.user)
        return client

    # -- running --------------------------------------------------------------------------------------

    def _check_time(
        self,
        client: paramiko.Transport,
        chan: paramiko.Channel,
        wrapped: Wrapped,
        end: float,
        budget: float,
        short: str,
        watch_deadline: bool,
    ) -> None:
        if watch_deadline and self.deadline.cancel.is_set():
            self._abort(client, chan, wrapped)
            raise CancelledError(f"Cancelled by the user while `{short}` was running on {self.host.name}.")
        left = self.deadline.remaining()
        if watch_deadline and left is not None and left <= 0:
            self._abort(client, chan, wrapped)
            raise DeadlineExceededError(
                f"{self.host.name} ran out of its job deadline while `{short}` was running."
            )
        if time.monotonic() >= end:
            self._abort(client, chan, wrapped)
            raise CommandTimeoutError(f"`{short}` did not finish within {budget:g} s on {self.host.name}.")

    def _abort(self, client: paramiko.Transport, chan: paramiko.Channel, wrapped: Wrapped) -> None:
        """Stop a command we gave up on: close its channel and kill its process group on the host.

        Closing alone would leave the command running until it next writes output, and sshd refuses
        RFC 4254 "signal" requests for root logins; so, once the wrapper has told us its PID, we kill
        the group from a second short command (through sudo when the command ran through sudo).
        """
        chan.close()
        pid = wrapped.gate.pid
        if pid is None or not client.is_active():
            return
        kill = wrap(
            kill_group_script(pid),
            sudo=wrapped.sudo,
            is_root=self.is_root,
            sudo_password=self._sudo_password,
            env=None,
        )
        try:
            self._execute(
                client,
                kill,
                None,
                None,
                time.monotonic() + KILL_TIMEOUT,
                KILL_TIMEOUT,
                "kill",
                watch_deadline=False,
            )
        except PatchdeskError as exc:
            logger.warning(
                "%s: could not stop the abandoned command (pid %s): %s", self._target.label, pid, exc
            )

    def _lost(self, exc: BaseException, doing: str) -> PatchdeskError:
        if isinstance(exc, PatchdeskError):
            return exc
        if isinstance(exc, TimeoutError | socket.timeout):
            return CommandTimeoutError(f"{self._target.label} stopped answering while {doing}.")
        if isinstance(exc, paramiko.ChannelException):
            return TransportError(f"{self._target.label} refused a new session while {doing}: {exc.text}")
        logger.debug("connection to %s lost", self._target.label, exc_info=exc)
        return UnreachableError(
            f"Lost the connection to {self._target.label} while {doing}: {exc or type(exc).__name__}."
        )

    # -- files ----------------------------------------------------------------------------------------

    def _sftp_client(self, timeout: float) -> paramiko.SFTPClient | None:
        budget = self.deadline.clamp(timeout)
        if self._sftp_unavailable:
            return None
        if self._sftp is None:
            client = self._connection()
            try:
                self._sftp = paramiko.SFTPClient.from_transport(client)
            except (paramiko.SSHException, EOFError) as exc:
                if not client.is_active():
                    raise self._lost(exc, "opening SFTP") from exc
                logger.info("%s: no SFTP (%s); falling back to cat", self._target.label, exc)
                self._sftp_unavailable = True
                return None
        assert self._sftp is not None
        self._sftp.get_channel().settimeout(budget)
        return self._sftp

    def _file_error(self, exc: OSError, verb: str, path: str, timeout: float) -> PatchdeskError:
        if isinstance(exc, TimeoutError | socket.timeout):
            return CommandTimeoutError(f"Could not {verb} {path} on {self.host.name} within {timeout:g} s.")
        if isinstance(exc, FileNotFoundError) or exc.errno == errno.ENOENT:
            return TransportError(f"{path} does not exist on {self.host.name}.")
        if isinstance(exc, PermissionError) or exc.errno == errno.EACCES:
            return TransportError(f"Permission denied to {verb} {path} on {self.host.name} as {self.user}.")
        return TransportError(f"Could not {verb} {path} on {self.host.name}: {exc}")
