"""What ``~/.ssh/config`` says about a host, in the few fields Patchdesk honours.

Administrators already describe their hosts there (aliases, odd ports, per-host keys, bastions), and a
console that ignored it would make them type it all again. We read it with paramiko's parser and keep
only HostName, Port, User, IdentityFile, ProxyJump and ConnectTimeout; everything else is OpenSSH's
business.

Nothing in the file is ever executed: paramiko evaluates ``Match exec`` by running the command (with
``%h`` from the stored address), so such blocks are rewritten to never match, and the command keywords
(ProxyCommand, LocalCommand, KnownHostsCommand) are dropped, each with a warning naming its line.
"""

from __future__ import annotations

import io
import logging
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from app.domain.errors import ConfigError

if TYPE_CHECKING:
    from app.transports.sshlib import paramiko

logger = logging.getLogger(__name__)

DEFAULT_CONFIG = Path("~/.ssh/config")
MAX_CONFIG_BYTES = 1024 * 1024  # far beyond any hand-written config; bounds memory and parse time

# paramiko's own split of a line into keyword and value
_SETTING = re.compile(r"^\s*(\w+)(?:\s*=\s*|\s+)(.+)$")
_EXEC_CRITERION = re.compile(r"(?:^|\s)!?exec(?:\s*=|\s|$)", re.IGNORECASE)
_COMMAND_KEYWORDS = frozenset({"proxycommand", "localcommand", "knownhostscommand", "permitlocalcommand"})
# A block header that matches no host: a Host line whose only pattern is negated.
_NEVER = "Host !*"
_warned: set[tuple[str, int, str]] = set()
#: Each config file as parsed, with the version of the file it was parsed from (device, inode, size,
#: time): read for every connection, a config of 60 hosts cost 2-4 ms of parsing per host.
_parsed: dict[str, tuple[tuple[int, int, int, int], paramiko.SSHConfig]] = {}
_parsed_lock = threading.Lock()


@dataclass(frozen=True)
class SshHostConfig:
    """The config's answer for one alias; None fields mean "the config says nothing"."""

    hostname: str
    port: int | None = None
    user: str | None = None
    identity_files: tuple[str, ...] = ()
    proxy_jump: tuple[str, ...] = ()  # hops in order, each "[user@]host[:port]"
    connect_timeout: float | None = None


@dataclass(frozen=True)
class JumpSpec:
    host: str
    user: str | None
    port: int | None


def default_config_path() -> Path | None:
    path = DEFAULT_CONFIG.expanduser()
    return path if path.is_file() else None


def lookup(alias: str, config_path: Path | None) -> SshHostConfig:
    """Resolve ``alias`` through the config file (none: the alias is the host name)."""
    if config_path is None:
        return SshHostConfig(hostname=alias)
    # lazily: the CLI should not pay for paramiko when it does not connect
    from app.transports.sshlib import paramiko

    try:
        entry = _parse(config_path).lookup(alias)
    except (OSError, ValueError, paramiko.ssh_exception.ConfigParseError) as exc:
        raise ConfigError(f"Could not read the SSH config {config_path}: {exc}") from exc
    except Exception as exc:  # e.g. "Match exec" needs the invoke package; still a config problem
        raise ConfigError(f"Could not evaluate the SSH config {config_path} for {alias}: {exc}") from exc
    try:
        port = int(entry["port"]) if "port" in entry else None
        timeout = float(entry["connecttimeout"]) if "connecttimeout" in entry else None
    except ValueError as exc:
        raise ConfigError(f"The SSH config {config_path} has a bad value for {alias}: {exc}") from exc
    jump = entry.get("proxyjump", "")
    hops = () if jump in ("", "none") else tuple(h.strip() for h in jump.split(",") if h.strip())
    files = tuple(os.path.expanduser(f) for f in entry.get("identityfile", []))
    return SshHostConfig(
        hostname=entry.get("hostname", alias),
        port=port,
        user=entry.get("user"),
        identity_files=files,
        proxy_jump=hops,
        connect_timeout=timeout,
    )


def _parse(path: Path) -> paramiko.SSHConfig:
    """The file's parsed config, parsed again only when the file changed (lookups only read it)."""
    from app.transports.sshlib import paramiko

    st = path.stat()
    version = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    with _parsed_lock:
        known = _parsed.get(str(path))
    if known is not None and known[0] == version:
        return known[1]
    config = paramiko.SSHConfig.from_text(_without_commands(path))
    with _parsed_lock:
        _parsed[str(path)] = (version, config)
    return config


def _without_commands(path: Path) -> str:
    """The config's text with every way it could run a command taken out, each with a warning."""
    with path.open("rb") as f:
        data = f.read(MAX_CONFIG_BYTES + 1)
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"The SSH config {path} is too large (over {MAX_CONFIG_BYTES // 1024} KiB); not read."
        )
    out = io.StringIO()
    for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
        m = _SETTING.match(line)
        key = m.group(1).lower() if m else ""
        if key == "match" and m is not None and _EXEC_CRITERION.search(m.group(2)):
            _warn(path, number, "Match exec is not evaluated, so that block never applies")
            line = _NEVER
        elif key in _COMMAND_KEYWORDS and m is not None:
            _warn(path, number, f"{m.group(1)} is ignored")
            continue
        out.write(line + "\n")
    return out.getvalue()


def _warn(path: Path, line: int, what: str) -> None:
    """Once per file, line and text: the config is read for every connection."""
    key = (str(path), line, what)
    if key not in _warned:
        _warned.add(key)
        logger.warning("%s line %d: %s; Patchdesk never runs commands from an SSH config.", path, line, what)


def parse_jump(spec: str) -> JumpSpec:
    """Split a ProxyJump hop "[user@]host[:port]" (also "ssh://user@host:port", IPv6 in brackets)."""
    text = spec.removeprefix("ssh://")
    user: str | None = None
    if "@" in text:
        user, text = text.rsplit("@", 1)
    port: int | None = None
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest.startswith(":"):
            port = _port(rest[1:], spec)
    elif text.count(":") == 1:
        host, port_text = text.split(":")
        port = _port(port_text, spec)
    else:
        host = text
    if not host:
        raise ConfigError(f"Cannot understand the ProxyJump hop {spec!r} in the SSH config.")
    return JumpSpec(host=host, user=user or None, port=port)


def _port(text: str, spec: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"Cannot understand the port in the ProxyJump hop {spec!r}.") from None
