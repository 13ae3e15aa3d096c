"""Establishing an SSH connection: where to connect (``~/.ssh/config``), the TCP socket or the tunnel
through a jump host, the paramiko handshake up to the host-key decision, then the login
(app.transports.ssh_auth). app.transports.ssh keeps the connection and runs commands on it.

Decisions worth knowing:

- **Host keys are checked before any credential leaves the workstation.** We drive
  ``paramiko.Transport`` ourselves (not ``SSHClient``) so the order is explicit: key exchange, the
  host-key decision (app.transports.ssh_hostkeys), and only then ``login``, which the caller calls.
- **Jump hosts** (ProxyJump) are reached through the previous hop's tunnel and resolved through the
  same ``~/.ssh/config``; they are checked against ``known_hosts``, never the inventory.
"""

from __future__ import annotations

import errno
import getpass
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.domain.errors import PatchdeskError, TransportError, UnreachableError
from app.domain.inventory import validate_address
from app.domain.models import Host, HostKey
from app.transports import sshconfig
from app.transports.base import Deadline
from app.transports.pool import ACTIVE_WAKE, Pooled, set_wake
from app.transports.ssh_auth import Credentials, Endpoint, KeyFiles, authenticate, key_files
from app.transports.ssh_hostkeys import HostKeyPolicy, NewKeyCallback
from app.transports.sshlib import paramiko

#: Longest pause between two looks at a handshake or a running command (keeps cancel and timeouts
#: prompt).
POLL_INTERVAL = 0.05
#: After the banner, how long key exchange may take before we call the host unresponsive.
KEX_TIMEOUT = 30.0

#: Turns an exception from a dropped connection into the transport's error (``doing`` names the step).
Lost = Callable[[BaseException, str], PatchdeskError]


def label(name: str, hostname: str, port: int) -> str:
    """How messages name a server: "web1 (127.0.9.5:22)", or "127.0.9.5:22" when the name adds nothing."""
    where = f"{hostname}:{port}"
    return where if name in (hostname, where) else f"{name} ({where})"


@dataclass(frozen=True)
class Dialer:
    """One inventory host's way in, after ``~/.ssh/config``: the target endpoint, the jump hops before
    it, and the timeouts, host-key policy and credentials for each of them (no network until ``dial``)."""

    target: Endpoint
    jumps: tuple[str, ...]
    config_path: Path | None
    connect_timeout: float
    banner_timeout: float
    auth_timeout: float
    look_for_keys: bool
    hostkeys: HostKeyPolicy
    credentials: Credentials = field(repr=False)  # holds the login password: never in a repr

    @classmethod
    def for_host(
        cls,
        host: Host,
        *,
        trusted_keys: Sequence[HostKey],
        on_new_key: NewKeyCallback | None,
        accept_new: bool,
        known_hosts: Path | None,
        password: str | None,
        key_passphrase: str | None,
        allow_agent: bool,
        ssh_config: Path | None,
        connect_timeout: float,
        banner_timeout: float,
        auth_timeout: float,
        look_for_keys: bool,
        loaded_keys: KeyFiles | None = None,
    ) -> Dialer:
        """Resolve ``host`` through the SSH config (``ssh_config``, default ``~/.ssh/config``); the
        inventory's port, user and key file win over the config's, as on OpenSSH's command line.
        ``known_hosts`` (default ``~/.ssh/known_hosts``) is only used for ProxyJump hosts."""
        hostkeys = HostKeyPolicy(
            host_name=host.name,
            trusted=tuple(trusted_keys),
            accept_new=accept_new,
            on_new_key=on_new_key,
            known_hosts=known_hosts or Path("~/.ssh/known_hosts").expanduser(),
        )
        credentials = Credentials(
            password=password,
            key_passphrase=key_passphrase,
            allow_agent=allow_agent,
            configured_key=host.key_file,
            loaded_keys=loaded_keys,
        )
        config_path = ssh_config if ssh_config is not None else sshconfig.default_config_path()
        # hosts stored before the address rule existed are checked again: the address reaches the
        # SSH config's %h expansion
        validate_address(host.address, host.name)
        cfg = sshconfig.lookup(host.address, config_path)
        port = host.port or cfg.port or 22
        user = host.user or cfg.user or getpass.getuser()
        keys = [host.key_file] if host.key_file else []
        keys += cfg.identity_files
        target = Endpoint(
            label=label(host.name, cfg.hostname, port),
            hostname=cfg.hostname,
            port=port,
            user=user,
            key_files=key_files(keys, look_for_keys=look_for_keys),
        )
        return cls(
            target=target,
            jumps=cfg.proxy_jump,
            config_path=config_path,
            connect_timeout=cfg.connect_timeout if cfg.connect_timeout is not None else connect_timeout,
            banner_timeout=banner_timeout,
            auth_timeout=auth_timeout,
            look_for_keys=look_for_keys,
            hostkeys=hostkeys,
            credentials=credentials,
        )

    def jump_endpoint(self, hop: str) -> Endpoint:
        """One ProxyJump hop (``[user@]host[:port]``), resolved through the same SSH config."""
        spec = sshconfig.parse_jump(hop)
        validate_address(spec.host, f"the jump host {hop!r}")
        cfg = sshconfig.lookup(spec.host, self.config_path)
        port = spec.port or cfg.port or 22
        user = spec.user or cfg.user or getpass.getuser()
        return Endpoint(
            label=f"jump host {label(spec.host, cfg.hostname, port)}",
            hostname=cfg.hostname,
            port=port,
            user=user,
            key_files=key_files(cfg.identity_files, look_for_keys=self.look_for_keys),
        )

    def dial(
        self,
        ep: Endpoint,
        *,
        via: paramiko.Transport | None,
        jump: bool,
        deadline: Deadline,
        lost: Lost,
    ) -> paramiko.Transport:
        """Connect to ``ep`` (directly, or tunnelled through the jump host ``via``) and complete the
        handshake and host-key check; the caller logs in on the returned transport."""
        sock = self._open_socket(ep, via=via, deadline=deadline, lost=lost)
        try:
            return self._handshake(sock, ep, jump=jump, deadline=deadline)
        except BaseException:
            sock.close()
            raise

    def login(
        self,
        t: paramiko.Transport,
        ep: Endpoint,
        *,
        deadline: Deadline,
        lost: Lost,
        use_password: bool = True,
    ) -> None:
        """Log in on a transport ``dial`` returned (app.transports.ssh_auth)."""
        authenticate(t, ep, self.credentials, check=deadline.check, lost=lost, use_password=use_password)

    def _open_socket(
        self, ep: Endpoint, *, via: paramiko.Transport | None, deadline: Deadline, lost: Lost
    ) -> Any:
        timeout = deadline.clamp(self.connect_timeout)
        where = f"{ep.hostname}:{ep.port}"
        if via is not None:
            try:
                return via.open_channel(
                    "direct-tcpip", (ep.hostname, ep.port), ("127.0.0.1", 0), timeout=timeout
                )
            except paramiko.ChannelException as exc:
                raise UnreachableError(
                    f"The jump host could not reach {where} for {ep.label}: {exc.text or exc}."
                ) from exc
            except Exception as exc:
                raise lost(exc, f"opening a tunnel to {where}") from exc
        # An ASCII name or address goes to the resolver as bytes: given a str, socket first runs it
        # through the pure-Python "idna" codec, whose import (with unicodedata and stringprep) every
        # one-shot scan paid, and which raises UnicodeError rather than the resolver's gaierror for a
        # malformed name. A name with other characters still takes the IDNA route.
        host: Any = ep.hostname.encode("ascii") if ep.hostname.isascii() else ep.hostname
        try:
            sock = socket.create_connection((host, ep.port), timeout=timeout)
            # SSH sends many small packets (channel open, exec, window adjust); with Nagle on, each
            # round trip can stall on the peer's delayed ACK. OpenSSH sets TCP_NODELAY too.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        except socket.gaierror as exc:
            raise UnreachableError(
                f"Cannot reach {ep.label}: the name {ep.hostname} does not resolve ({exc.strerror}). "
                "Check the address or DNS."
            ) from exc
        except TimeoutError as exc:
            raise UnreachableError(
                f"Cannot reach {ep.label}: no answer within {timeout:g} s. "
                f"Is the host up, and is a firewall dropping port {ep.port}?"
            ) from exc
        except ConnectionRefusedError as exc:
            raise UnreachableError(
                f"Cannot reach {ep.label}: connection refused. Is the SSH server running and listening on "
                f"port {ep.port}?"
            ) from exc
        except OSError as exc:
            cause = {
                errno.EHOSTUNREACH: "no route to host",
                errno.ENETUNREACH: "network unreachable",
            }.get(exc.errno or 0, exc.strerror or str(exc))
            raise UnreachableError(f"Cannot reach {ep.label}: {cause}.") from exc

    def _handshake(self, sock: Any, ep: Endpoint, *, jump: bool, deadline: Deadline) -> paramiko.Transport:
        """Banner and key exchange, then the host-key decision -- all before any authentication."""
        t = paramiko.Transport(sock)
        t.banner_timeout = self.banner_timeout
        t.auth_timeout = self.auth_timeout
        if not jump and self.hostkeys.trusted:
            opts = t.get_security_options()
            opts.key_types = self.hostkeys.key_types(list(opts.key_types))
        done = threading.Event()
        limit = time.monotonic() + self.banner_timeout + KEX_TIMEOUT
        try:
            t.start_client(event=done)
            while not done.wait(POLL_INTERVAL):
                if not t.is_active():
                    break
                deadline.check()
                if time.monotonic() > limit:
                    raise UnreachableError(
                        f"{ep.label} did not complete the SSH handshake within {KEX_TIMEOUT:g} s."
                    )
            if not t.is_active() or not done.is_set():
                raise self._handshake_error(t.get_exception(), ep)
            key = t.get_remote_server_key()
            self.hostkeys.check(
                key.get_name(),
                key.get_base64(),
                label=ep.label,
                hostname=ep.hostname,
                port=ep.port,
                jump=jump,
            )
            set_wake(t, ACTIVE_WAKE)
        except BaseException:
            Pooled(t).close()  # shuts the socket down: the reader thread ends now
            raise
        return t

    def _handshake_error(self, exc: Exception | None, ep: Endpoint) -> PatchdeskError:
        text = str(exc) if exc is not None else ""
        if "reset by peer" in text.lower():
            return UnreachableError(
                f"{ep.label} reset the connection during the SSH handshake "
                "(too many connections, or blocked by the server's access rules)."
            )
        if "banner" in text.lower():
            return UnreachableError(
                f"{ep.label} accepted the connection but sent no SSH banner within "
                f"{self.banner_timeout:g} s: the SSH server is hung or overloaded, or this port is not SSH."
            )
        if "indecipherable" in text.lower() or "invalid ssh banner" in text.lower():
            return UnreachableError(f"{ep.label} does not speak SSH on port {ep.port}.")
        if isinstance(exc, EOFError | ConnectionResetError) or not text:
            return UnreachableError(
                f"{ep.label} closed the connection during the SSH handshake "
                "(too many connections, or blocked by the server's access rules)."
            )
        if "incompatible" in text.lower() or "no acceptable" in text.lower():
            return TransportError(f"{ep.label} and Patchdesk share no SSH algorithms: {text}")
        return UnreachableError(f"The SSH handshake with {ep.label} failed: {text}")
