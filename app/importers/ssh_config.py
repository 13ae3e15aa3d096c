"""Hosts from an OpenSSH client config: each concrete ``Host`` alias becomes a host.

Wildcard patterns (``*``, ``?``, ``!``) are settings for other hosts, not hosts, and are skipped.
The alias stays the address, so the SSH transport resolves it through the same config at connect
time (ProxyJump and all); HostName, Port, User and IdentityFile are copied for display.
"""

from __future__ import annotations

import re
import shlex

from app.domain.errors import ConfigError
from app.domain.models import Host
from app.importers.base import (
    MAX_HOSTS_PER_FILE,
    ImportProblem,
    ImportResult,
    long_line_problem,
    port_of,
    quote,
)

_OPTIONS = ("port", "user", "identityfile")  # the only options kept (a block may hold millions of lines)
_BLOCK_START = re.compile(r"(host|match)\b", re.I)
# ssh_config(5): a keyword, then whitespace or one "=" with optional whitespace around it, then arguments.
_KEYWORD = re.compile(r"([^\s=]+)(?:[ \t]*=[ \t]*|[ \t]+)(.*)$")


def parse_ssh_config(text: str, *, max_hosts: int = MAX_HOSTS_PER_FILE) -> ImportResult:
    result = ImportResult("ssh-config", max_hosts=max_hosts)
    blocks: list[tuple[int, list[str], dict[str, str]]] = []
    stored = 0  # concrete aliases in blocks; past max_hosts they are counted, not kept
    current: dict[str, str] | None = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        too_long = long_line_problem(line)
        if too_long is not None:
            result.problems.append(ImportProblem(lineno, too_long))
            if _BLOCK_START.match(line):
                current = None  # the options below belong to the hosts of the skipped line
            continue
        m = _KEYWORD.match(line)
        key, rest = (m.group(1).lower(), m.group(2).strip()) if m else (line.lower(), "")
        try:
            words = shlex.split(rest)
        except ValueError as exc:
            result.problems.append(ImportProblem(lineno, f"cannot parse {quote(line)}: {exc}"))
            continue
        if key == "host":
            # Wildcard patterns (*, ?, !) are settings for other hosts, not hosts.
            aliases = [w for w in words if not any(c in w for c in "*?!")]
            room = max(0, max_hosts - stored)
            if len(aliases) > room:
                result.count_over(aliases[room], lineno, len(aliases) - room)
                aliases = aliases[:room]
            stored += len(aliases)
            current = {} if aliases else None
            if current is not None:
                blocks.append((lineno, aliases, current))
        elif key == "match":
            current = None  # conditional blocks apply to other hosts
        elif current is not None and words and key in _OPTIONS:
            current.setdefault(key, words[0])
    for lineno, aliases, opts in blocks:
        for alias in aliases:
            try:
                host = Host(
                    name=alias,
                    address=alias,
                    port=port_of(opts.get("port", "")),
                    user=opts.get("user"),
                    key_file=opts.get("identityfile"),
                )
            except ConfigError as exc:
                result.problems.append(ImportProblem(lineno, str(exc)))
                continue
            result.add(host, lineno)
    return result.finish()
