"""Operating-system facts gathered from a host in one round trip.

One trusted shell snippet prints /etc/os-release, the kernel release, the uptime, the host name and the
package-manager binaries it can find, each section introduced by a marker line that carries a random
nonce chosen for this call. The host's answer is untrusted text: a hostile os-release (or a login script
that prints to stdout) cannot forge a section boundary because it cannot know the nonce.

Command building and parsing are pure; only :func:`gather_facts` talks to a transport.
"""

from __future__ import annotations

import logging
import re

from app.domain.errors import UnsupportedHostError
from app.domain.models import OsFacts
from app.platforms.base import clean_value, new_nonce
from app.platforms.posix.hardware import HARDWARE_SECTIONS, hardware_snippet, parse_hardware
from app.transports.base import CommandResult, Transport

logger = logging.getLogger(__name__)

#: Package-manager binaries we look for, in the order the snippet checks them.
KNOWN_BINARIES: tuple[str, ...] = ("apt-get", "dpkg", "dnf", "yum", "zypper", "rpm", "fwupdmgr")

#: Sections of the snippet's output, in order.
SECTIONS: tuple[str, ...] = (
    "os-release",
    "kernel",
    "uptime",
    "hostname",
    "binaries",
    *HARDWARE_SECTIONS,
    "end",
)


_NONCE_RE = re.compile(r"[A-Za-z0-9]{8,64}")
_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Inside double quotes, os-release(5) (like the shell) lets a backslash escape only these.
_DQUOTE_ESCAPABLE = frozenset('"\\`$')


def marker(nonce: str, section: str) -> str:
    """The line that starts ``section`` in the snippet's output."""
    return f"@@PATCHDESK:{nonce}:{section}@@"


def _check_nonce(nonce: str) -> None:
    # The nonce is spliced into a shell snippet, so it must be inert there: letters and digits only.
    if not _NONCE_RE.fullmatch(nonce):
        raise ValueError("nonce must be 8-64 ASCII letters or digits")


#: Most lines :func:`print_file` copies out of one small file (os-release holds a dozen); a huge one
#: is cut here rather than streamed to the console.
MAX_FILE_LINES = 200


def first_line(path: str) -> str:
    """Shell: print the first line of the file at ``path`` (a trusted constant) with the shell's own
    ``read``, starting no program; fails (non-zero, nothing printed) when the file cannot be read.

    Scans run on every host every time, and starting a program is a large share of what an
    unchanged host's scan costs it beyond the login.
    """
    return f"{{ IFS= read -r pd_l < {path} && printf '%s\\n' \"$pd_l\"; }} 2>/dev/null"


def print_file(path: str, max_lines: int = MAX_FILE_LINES) -> str:
    """Shell: print the file at ``path`` (a trusted constant) like ``cat`` would, but with the shell's own
    ``read`` (no program started) and at most ``max_lines`` lines; a last line without a newline is
    printed too, and a missing file prints nothing."""
    return (
        '{ pd_n=0; while IFS= read -r pd_l || [ -n "$pd_l" ]; do printf \'%s\\n\' "$pd_l"; '
        f'pd_n=$((pd_n + 1)); [ "$pd_n" -lt {int(max_lines)} ] || break; done < {path}; }} 2>/dev/null'
    )


def facts_command(nonce: str) -> str:
    """The trusted snippet that prints every fact section, each after a nonce-bearing marker.

    Every marker is printed after a newline of its own, so a file without a trailing newline cannot glue
    its last line onto the marker. The kernel release, uptime and host name come from /proc with the
    shell's ``read`` (``uname -r``, ``hostname`` or ``uname -n`` only where /proc cannot be read), and
    os-release is copied the same way: no program is started for them (see :func:`first_line`). The
    hardware inventory follows (app/platforms/posix/hardware.py: DMI, CPU and memory the same way,
    disks by ``lsblk``).
    /usr/sbin and /sbin are appended to PATH because non-root SSH sessions on Debian lack them.
    """
    _check_nonce(nonce)
    m = {s: marker(nonce, s) for s in SECTIONS}
    binaries = " ".join(KNOWN_BINARIES)
    return (
        'LC_ALL=C; export LC_ALL; PATH="$PATH:/usr/sbin:/sbin"; export PATH; '
        f"printf '\\n%s\\n' '{m['os-release']}'; "
        f"if [ -r /etc/os-release ]; then {print_file('/etc/os-release')}; "
        f"elif [ -r /usr/lib/os-release ]; then {print_file('/usr/lib/os-release')}; fi; "
        f"printf '\\n%s\\n' '{m['kernel']}'; {first_line('/proc/sys/kernel/osrelease')} || uname -r; "
        f"printf '\\n%s\\n' '{m['uptime']}'; {first_line('/proc/uptime')}; "
        f"printf '\\n%s\\n' '{m['hostname']}'; "
        f"{first_line('/proc/sys/kernel/hostname')} || hostname 2>/dev/null || uname -n; "
        f"printf '\\n%s\\n' '{m['binaries']}'; "
        f'for b in {binaries}; do command -v "$b" >/dev/null 2>&1 && echo "$b"; done; '
        f"{hardware_snippet(m)}"
        f"printf '\\n%s\\n' '{m['end']}'; exit 0"
    )


#: A ready-made snippet for callers that only want to look at it (logs, docs); real calls use
#: :func:`facts_command` with a fresh nonce each time.
FACTS_COMMAND = facts_command("0" * 32)


def split_sections(text: str, nonce: str, sections: tuple[str, ...]) -> dict[str, list[str]]:
    """Split marker-delimited output into ``{section: lines}``.

    Only a line that equals a marker with *this* nonce and a known section name opens a section; text
    before the first marker (a login banner) is dropped, and a line that looks like a marker with another
    nonce is plain content. A section that appears twice keeps its first occurrence, so content cannot
    re-open an earlier section either (it cannot produce our nonce in the first place).
    """
    wanted = {marker(nonce, s): s for s in sections}
    out: dict[str, list[str]] = {}
    current: list[str] | None = None
    for raw in text.splitlines():
        line = raw.rstrip("\r")
        name = wanted.get(line)
        if name is not None:
            if name in out:
                current = None  # duplicate marker: ignore what follows until a new section
            else:
                current = out.setdefault(name, [])
            continue
        if current is not None:
            current.append(line)
    return out


def _unquote(raw: str) -> str | None:
    """Decode one os-release value with shell-like quoting; None when it is malformed.

    Implements os-release(5): a value is unquoted, or in single quotes (literal), or in double quotes
    (where a backslash escapes ``" \\ ` $``); parts may be concatenated as in the shell. Unquoted text
    may use a backslash to escape any character. An unterminated quote, or unquoted whitespace followed
    by more text (which the shell would run as a command), makes the line malformed.
    """
    out: list[str] = []
    i, n = 0, len(raw)
    while i < n:
        c = raw[i]
        if c == "'":
            end = raw.find("'", i + 1)
            if end < 0:
                return None
            out.append(raw[i + 1 : end])
            i = end + 1
        elif c == '"':
            i += 1
            while True:
                if i >= n:
                    return None
                c = raw[i]
                if c == '"':
                    i += 1
                    break
                if c == "\\" and i + 1 < n and raw[i + 1] in _DQUOTE_ESCAPABLE:
                    out.append(raw[i + 1])
                    i += 2
                    continue
                out.append(c)
                i += 1
        elif c == "\\":
            if i + 1 < n:
                out.append(raw[i + 1])
            i += 2
        elif c in " \t":
            if raw[i:].strip(" \t"):
                return None
            break
        else:
            out.append(c)
            i += 1
    return "".join(out)


def parse_os_release(lines: list[str] | str) -> dict[str, str]:
    """Parse os-release(5) text into ``{KEY: value}``; comments, blanks and malformed lines are skipped."""
    if isinstance(lines, str):
        lines = lines.splitlines()
    result: dict[str, str] = {}
    for raw in lines:
        line = raw.strip().rstrip("\r")
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not _KEY_RE.fullmatch(key):
            continue
        decoded = _unquote(value)
        if decoded is None:
            continue
        result[key] = clean_value(decoded)
    return result


def _parse_uptime(lines: list[str]) -> float | None:
    for line in lines:
        first = line.split(maxsplit=1)[:1]
        if not first:
            continue
        try:
            value = float(first[0])
        except ValueError:
            return None
        # float() accepts "nan" and "inf"; neither is an uptime.
        return value if value >= 0 and value != float("inf") else None
    return None


def _first_line(lines: list[str]) -> str:
    for line in lines:
        if line.strip():
            return clean_value(line)
    return ""


def parse_facts(text: str, nonce: str) -> tuple[OsFacts, frozenset[str]]:
    """Turn the snippet's output into OsFacts and the set of package-manager binaries found.

    Never raises on odd content: missing sections give empty fields, and only names from
    :data:`KNOWN_BINARIES` count as binaries (the host cannot invent new ones).
    """
    sections = split_sections(text, nonce, SECTIONS)
    osr = parse_os_release(sections.get("os-release", []))
    facts = OsFacts(
        id=osr.get("ID", "").lower(),
        id_like=tuple(word.lower() for word in osr.get("ID_LIKE", "").split()),
        name=osr.get("NAME", ""),
        version=osr.get("VERSION_ID", "") or osr.get("VERSION", ""),
        version_codename=osr.get("VERSION_CODENAME", ""),
        pretty_name=osr.get("PRETTY_NAME", ""),
        kernel=_first_line(sections.get("kernel", [])),
        uptime_seconds=_parse_uptime(sections.get("uptime", [])),
        hostname=_first_line(sections.get("hostname", [])),
        hardware=parse_hardware(sections),
    )
    found = {line.strip() for line in sections.get("binaries", [])}
    binaries = frozenset(b for b in KNOWN_BINARIES if b in found)
    return facts, binaries


def gather_facts(transport: Transport, timeout: float = 30) -> tuple[OsFacts, frozenset[str]]:
    """Run the facts snippet on a host (no sudo) and parse the answer (see :func:`gather_facts_with`)."""
    facts, binaries, _ = gather_facts_with(transport, "", timeout)
    return facts, binaries


def facts_with_command(nonce: str, extra: str = "") -> str:
    """The facts snippet, then ``extra`` in the same session (what :func:`gather_facts_with` runs).

    The snippet ends with ``exit``, so it runs in a subshell when something follows it."""
    command = facts_command(nonce)
    return f"( {command} ); {extra}" if extra else command


def gather_facts_with(
    transport: Transport, extra: str, timeout: float = 30
) -> tuple[OsFacts, frozenset[str], CommandResult]:
    """Run the facts snippet on a host (no sudo) and parse the answer.

    ``extra`` is a trusted snippet run in the same command after the facts (an adapter's scan), so one
    session does both; its output is in the returned result for the caller to parse.
    Raises UnsupportedHostError when the answer has no markers at all: the host did not run our POSIX
    shell snippet (a Windows host behind SSH, a restricted shell).
    """
    nonce = new_nonce()
    result = transport.run(facts_with_command(nonce, extra), timeout=timeout)
    text = result.out
    if marker(nonce, "os-release") not in text:
        detail = result.err.strip().splitlines()[:1]
        raise UnsupportedHostError(
            "The host did not answer the fact-gathering commands like a POSIX system "
            f"(exit status {result.exit_status}{': ' + clean_value(detail[0]) if detail else ''})."
        )
    if marker(nonce, "end") not in text:
        logger.warning("facts output ended early (exit status %s)", result.exit_status)
    facts, binaries = parse_facts(text, nonce)
    return facts, binaries, result
