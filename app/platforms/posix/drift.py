"""The drift check on a POSIX host: one shell script, and the pure parser of its answer.

The script is built only from constants and the items' stored targets, each shell-quoted after the
strict check of app/domain/baseline.py; nothing the host ever said goes into it. It runs unprivileged
(in the scan's own session, after the facts), hashes file content on the host (``sha256sum``) so only
the digest travels, and prints each item's answer after a marker line that carries a random nonce, so
a file or a package name cannot forge another item's answer. An item whose answer does not end with
its ``end=1`` line was cut short and is unknown.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence

from app.domain.baseline import BaselineItem, CheckKind, Observation
from app.platforms.base import clean_value
from app.platforms.posix.facts import _check_nonce, print_file

#: Lines of the host's answer read at most (a few per item, plus the package lines and socket tables).
MAX_LINES = 200_000
#: Longest line kept (longer ones are cut; the value is bounded again by clean_value).
MAX_LINE = 4096
#: Lines copied from each socket table (/proc/net/tcp…): a host with more listeners is cut, and the
#: port checks become unknown rather than "closed".
MAX_SOCKET_LINES = 20_000

_SOCKET_TABLES = ("tcp", "tcp6", "udp", "udp6")
#: rpm's answer in dpkg-query's shape: a status that reads as installed, the name, epoch:version-release
RPM_FORMAT = "'ii \\t%{NAME}\\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\n'"


def marker(nonce: str, section: str) -> str:
    return f"@@PATCHDESK:{nonce}:{section}@@"


def _mark(section: str) -> str:
    return f"pd_m {section}; "


def check_script(items: Sequence[BaselineItem], nonce: str) -> str:
    """The one script that checks every item; it runs in a subshell and always exits 0."""
    _check_nonce(nonce)
    parts = [
        '( LC_ALL=C; export LC_ALL; PATH="$PATH:/usr/sbin:/sbin"; export PATH; ',
        f"pd_m() {{ printf '\\n%s\\n' \"@@PATCHDESK:{nonce}:$1@@\"; }}; ",
    ]
    packages = [i for i in items if i.kind == CheckKind.PACKAGE]
    for item in items:
        kind = CheckKind(item.kind)
        if kind == CheckKind.FILE:
            parts.append(_file(item))
        elif kind == CheckKind.SERVICE:
            parts.append(_service(item))
        elif kind == CheckKind.SYSCTL:
            parts.append(_sysctl(item))
        elif kind in (CheckKind.USER, CheckKind.GROUP):
            parts.append(_account(item, "passwd" if kind == CheckKind.USER else "group"))
    if packages:
        parts.append(_packages(sorted({i.target for i in packages})))
    if any(i.kind == CheckKind.PORT for i in items):
        parts.append(_sockets())
    parts.append("pd_m done; exit 0 ) 2>/dev/null")
    return "".join(parts)


def _file(item: BaselineItem) -> str:
    q = shlex.quote(item.target)
    options = item.expected.get("options") or {}
    opts = "".join(
        f"awk -v k={shlex.quote(key)} "
        '\'tolower($1)==tolower(k){$1="";sub(/^[ \\t]+/,"");print "opt." k "=" $0;exit}\' "$pd_p"; '
        for key in options
    )
    readable = f'if [ -f "$pd_p" ] && [ -r "$pd_p" ]; then echo readable=1; {opts}fi; ' if options else ""
    return (
        _mark(f"item-{item.id}") + f'pd_p={q}; if [ -L "$pd_p" ] || [ -e "$pd_p" ]; then echo exists=1; '
        "stat -c 'meta=%U:%G:%a:%s:%F' -- \"$pd_p\"; "
        'if [ -f "$pd_p" ] && [ -r "$pd_p" ]; then pd_h=$(sha256sum < "$pd_p") && '
        'echo "sha256=${pd_h%% *}"; fi; '
        f"{readable}else echo exists=0; fi; echo end=1; "
    )


def _service(item: BaselineItem) -> str:
    q = shlex.quote(item.target)
    return (
        _mark(f"item-{item.id}") + "if [ -d /run/systemd/system ]; then "
        f'echo "enabled=$(systemctl is-enabled -- {q})"; echo "active=$(systemctl is-active -- {q})"; '
        "echo end=1; fi; "
    )


def sysctl_path(key: str) -> str:
    return "/proc/sys/" + key.replace(".", "/")


def _sysctl(item: BaselineItem) -> str:
    q = shlex.quote(sysctl_path(item.target))
    return (
        _mark(f"item-{item.id}")
        # dash's read reports failure on some /proc files although it read the value: test the value
        + f"if [ -e {q} ]; then pd_v=; IFS= read -r pd_v < {q}; "
        + '[ -n "$pd_v" ] && printf \'value=%s\\n\' "$pd_v"; '
        "else echo exists=0; fi; echo end=1; "
    )


def _account(item: BaselineItem, database: str) -> str:
    q = shlex.quote(item.target)
    return (
        _mark(f"item-{item.id}") + f"if command -v getent >/dev/null; then getent {database} {q} >/dev/null; "
        'echo "rc=$?"; echo end=1; fi; '
    )


def _packages(names: Iterable[str]) -> str:
    """Installed versions from dpkg and from rpm, each in its own section where the tool exists: a host
    can carry both, and which one is the system's is decided from os-release by the caller
    (:func:`package_format`), not here."""
    args = " ".join(shlex.quote(n) for n in names)
    return (
        "if command -v dpkg-query >/dev/null; then "
        + _mark("packages-deb")
        + f"dpkg-query -W -f='${{db:Status-Abbrev}}\\t${{Package}}\\t${{Version}}\\n' -- {args}; "
        'echo "rc=$?"; echo end=1; fi; '
        "if command -v rpm >/dev/null; then "
        + _mark("packages-rpm")
        + f"rpm -q --qf {RPM_FORMAT} -- {args}; echo rc=0; echo end=1; fi; "
    )


def package_format(manager: str | None) -> str | None:
    """The package database a host's package manager keeps: deb (apt), rpm (dnf, yum, zypper), or
    None when not known (then package checks are unknown)."""
    return {"apt": "deb", "dnf": "rpm", "yum": "rpm", "zypper": "rpm"}.get(manager or "")


def _sockets() -> str:
    out = []
    for table in _SOCKET_TABLES:
        path = f"/proc/net/{table}"
        out.append(
            _mark(f"net-{table}")
            + f"if [ -r {path} ]; then {print_file(path, MAX_SOCKET_LINES)}; echo end=1; fi; "
        )
    return "".join(out)


def split_answer(text: str, nonce: str) -> dict[str, list[str]]:
    """``{section: lines}`` of the script's answer; only lines equal to a marker with this nonce open
    a section, a section seen twice keeps its first answer, and at most MAX_LINES lines are read."""
    prefix, suffix = f"@@PATCHDESK:{nonce}:", "@@"
    out: dict[str, list[str]] = {}
    current: list[str] | None = None
    for n, raw in enumerate(text.splitlines()):
        if n >= MAX_LINES:
            break
        line = raw.rstrip("\r")[:MAX_LINE]
        if line.startswith(prefix) and line.endswith(suffix) and len(line) < len(prefix) + 40:
            name = line[len(prefix) : -len(suffix)]
            current = None if name in out else out.setdefault(name, [])
            continue
        if current is not None:
            current.append(line)
    return out


def _fields(lines: Sequence[str]) -> Observation:
    fields: dict[str, str] = {}
    complete = False
    for line in lines:
        key, sep, value = line.partition("=")
        if not sep or len(key) > 80:
            continue
        if key == "end" and value == "1":
            complete = True
            break
        fields.setdefault(key, clean_value(value))
    return Observation(fields, complete)


def _package_observations(lines: Sequence[str] | None, names: set[str]) -> dict[str, Observation]:
    obs = _fields(lines or [])
    if lines is None or not obs.complete or obs.fields.get("rc") not in ("0", "1"):
        return {}
    installed: dict[str, str] = {}
    for line in lines:
        parts = line.split("\t")
        if len(parts) != 3:
            continue
        status, name, version = parts
        if name in names and len(status) >= 2 and status[1] == "i" and version:
            installed.setdefault(name, clean_value(version))
    return {n: Observation({"installed": installed.get(n, "")}, True) for n in names}


def listening_ports(sections: dict[str, list[str]]) -> dict[str, set[int]] | None:
    """``{"tcp": ports, "udp": ports}`` listening (TCP state 0A) or bound (UDP state 07); None when a
    table that should be there did not end (cut or unreadable): then port checks are unknown."""
    found: dict[str, set[int]] = {"tcp": set(), "udp": set()}
    for table in _SOCKET_TABLES:
        lines = sections.get(f"net-{table}")
        if table in ("tcp", "udp") and (lines is None or "end=1" not in lines):
            return None
        proto = table.rstrip("6")
        state = "0A" if proto == "tcp" else "07"
        for line in lines or ():
            cols = line.split()
            if len(cols) < 4 or cols[3] != state or ":" not in cols[1]:
                continue
            try:
                found[proto].add(int(cols[1].rsplit(":", 1)[1], 16))
            except ValueError:
                continue
    return found


def parse_answer(
    text: str, nonce: str, items: Sequence[BaselineItem], fmt: str | None
) -> dict[int, Observation]:
    """Each item's observation; a missing one had no answer (unknown). ``fmt`` is the host's package
    database (:func:`package_format`); without it package items stay unknown."""
    sections = split_answer(text, nonce)
    out: dict[int, Observation] = {}
    names = {i.target for i in items if i.kind == CheckKind.PACKAGE}
    packages = _package_observations(sections.get(f"packages-{fmt}"), names) if names and fmt else {}
    ports = listening_ports(sections) if any(i.kind == CheckKind.PORT for i in items) else None
    for item in items:
        if item.kind == CheckKind.PACKAGE:
            if item.target in packages:
                out[item.id] = packages[item.target]
        elif item.kind == CheckKind.PORT:
            if ports is not None:
                proto, port = item.target.split("/")
                out[item.id] = Observation({"listening": "1" if int(port) in ports[proto] else "0"}, True)
        elif f"item-{item.id}" in sections:
            out[item.id] = _fields(sections[f"item-{item.id}"])
    return out
