"""SSH authentication: whom to log in as, with which keys, and the login itself.

Key files first, then the agent, then the stored password -- the order OpenSSH uses. The login runs
only after the host key has been accepted (app.transports.ssh_hostkeys), so no credential is offered
to a server we do not trust. Sudo's password is not a login credential: the transport sends it when
sudo asks for it (see app.transports.shell).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.domain.errors import AuthenticationError, PatchdeskError
from app.transports.sshlib import paramiko

logger = logging.getLogger(__name__)

DEFAULT_KEY_NAMES = ("id_ed25519", "id_ecdsa", "id_rsa")


@dataclass(frozen=True)
class Endpoint:
    """One SSH server to log in to: the target or a jump host."""

    label: str  # for messages: "web1 (127.0.9.5:22)" or "127.0.9.5:22"
    hostname: str
    port: int
    user: str
    key_files: tuple[str, ...]


def key_files(keys: Sequence[str], *, look_for_keys: bool) -> tuple[str, ...]:
    """The key files to try, in order and without repeats; with ``look_for_keys`` the user's default
    ``~/.ssh`` keys follow the configured ones, as with OpenSSH."""
    paths = list(keys)
    if look_for_keys:
        ssh_dir = Path("~/.ssh").expanduser()
        paths += [str(ssh_dir / n) for n in DEFAULT_KEY_NAMES if (ssh_dir / n).is_file()]
    seen: list[str] = []
    for k in paths:
        k = os.path.expanduser(k)
        if k not in seen:
            seen.append(k)
    return tuple(seen)


class KeyFiles:
    """Private keys read once per job (app.transports.factory), not once per host: a job's hosts mostly
    offer the same key file, and reading one (and decrypting it, with a passphrase) is the costliest
    step of a login on our side. A file that changed (size, time, inode) is read again; a key that could
    not be read is not kept, so each host reports why."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[tuple[object, ...], paramiko.PKey] = {}

    def load(self, path: str, passphrase: str | None) -> paramiko.PKey:
        st = os.stat(path)
        which = (path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, passphrase)
        with self._lock:
            key = self._keys.get(which)
        if key is None:
            key = paramiko.PKey.from_path(path, passphrase)
            with self._lock:
                self._keys[which] = key
        return key


@dataclass(frozen=True)
class Credentials:
    """What may be offered to log in, besides the endpoint's key files."""

    password: str | None = None
    key_passphrase: str | None = None
    allow_agent: bool = True
    #: the key file set on the inventory host: its absence is worth a note in the error
    configured_key: str | None = None
    #: the job's keys already read (None: read each key file at each login)
    loaded_keys: KeyFiles | None = field(default=None, repr=False, compare=False)


def authenticate(
    t: paramiko.Transport,
    ep: Endpoint,
    creds: Credentials,
    *,
    check: Callable[[], None],
    lost: Callable[[BaseException, str], PatchdeskError],
    use_password: bool = True,
) -> None:
    """Log in on ``t`` or raise AuthenticationError naming what was tried and why it failed.

    ``check`` runs before each try (the job's deadline and cancel); ``lost`` turns a dropped
    connection into the transport's error.
    """
    login = _Login(t, ep, check, lost)
    if login.with_key_files(creds):
        return
    if creds.allow_agent and login.accepts("publickey") and login.with_agent():
        return
    if use_password and creds.password is not None and login.accepts("password"):
        if login.attempt("the password", password=creds.password):
            return
    raise login.failure()


@dataclass
class _Login:
    """One login's progress: what was tried, notes for the error, and the methods the server allows."""

    t: paramiko.Transport
    ep: Endpoint
    check: Callable[[], None]
    lost: Callable[[BaseException, str], PatchdeskError]
    tried: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    allowed: list[str] | None = None

    def accepts(self, method: str) -> bool:
        return self.allowed is None or method in self.allowed

    def attempt(self, what: str, key: Any = None, password: str | None = None) -> bool:
        """One try; True when logged in. Partial success (more factors wanted) counts as a miss."""
        self.check()
        try:
            if key is not None:
                self.t.auth_publickey(self.ep.user, key)
            else:
                self.t.auth_password(self.ep.user, password)
        except paramiko.BadAuthenticationType as exc:
            self.allowed = list(exc.allowed_types)
            method = "key" if key is not None else "password"
            self.notes.append(f"the server does not accept {method} logins")
            return False
        except paramiko.AuthenticationException:
            pass
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise self.lost(exc, "logging in") from exc
        if self.t.is_authenticated():
            return True
        self.tried.append(what)
        return False

    def with_key_files(self, creds: Credentials) -> bool:
        for path in self.ep.key_files:
            if not self.accepts("publickey"):
                return False
            pkey = self._load_key(path, creds)
            if pkey is not None and self.attempt(f"the key {path}", key=pkey):
                return True
        return False

    def _load_key(self, path: str, creds: Credentials) -> paramiko.PKey | None:
        if not os.path.isfile(path):
            if creds.configured_key and path == os.path.expanduser(creds.configured_key):
                self.notes.append(f"the key file {path} does not exist")
            return None
        try:
            if creds.loaded_keys is not None:
                return creds.loaded_keys.load(path, creds.key_passphrase)
            return paramiko.PKey.from_path(path, creds.key_passphrase)
        except paramiko.PasswordRequiredException:
            self.notes.append(f"the key {path} needs a passphrase and none is stored")
        except (paramiko.SSHException, OSError, ValueError) as exc:
            self.notes.append(f"the key {path} could not be read ({exc})")
        return None

    def with_agent(self) -> bool:
        agent_keys: tuple[Any, ...] = ()
        agent = None
        try:
            agent = paramiko.Agent()
            agent_keys = agent.get_keys()
        except paramiko.SSHException:
            logger.debug("SSH agent not usable", exc_info=True)
        try:
            return any(self.attempt(f"agent key {n}", key=key) for n, key in enumerate(agent_keys, 1))
        finally:
            if agent is not None:
                agent.close()

    def failure(self) -> AuthenticationError:
        user, ep = self.ep.user, self.ep
        what = " and ".join(self.tried) if self.tried else "nothing"
        extra = f" ({'; '.join(self.notes)})" if self.notes else ""
        if not self.tried:
            return AuthenticationError(
                f"No credentials to log in as {user}@{ep.label}{extra}: set a key file or store a login "
                "password for this host."
            )
        return AuthenticationError(
            f"{user}@{ep.label} refused {what}{extra}: check that the key is in ~{user}/.ssh/authorized_keys "
            "on the host, the user name is right, or store the correct login password."
        )
