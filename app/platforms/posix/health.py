"""Host health for verification: services, the error journal, load and memory, boot time.

One trusted snippet prints every section after a nonce marker (as the facts snippet does); parsing is
pure. Hosts without systemd (containers, the test hosts, BSDs) report "not available" plainly instead
of failing the check.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence

from app.domain.verdicts import Health
from app.platforms.base import clean_value, new_nonce
from app.platforms.family import MAX_JOURNAL_LINES
from app.platforms.posix.facts import marker, split_sections
from app.transports.base import Transport

SECTIONS = ("now", "uptime", "loadavg", "meminfo", "nproc", "system", "failed", "services", "journal")
_SERVICE_RE = re.compile(r"[A-Za-z0-9@._:-]+")
_CLOCK_RE = re.compile(r"(\d+)(?:\.(\d+|%?N))?")  # seconds.nanoseconds, or a %N left unexpanded


def check_services(names: Sequence[str]) -> list[str]:
    bad = [n for n in names if not _SERVICE_RE.fullmatch(n)]
    if bad:
        raise ValueError(f"invalid service name(s): {', '.join(map(repr, bad))}")
    return list(names)


def health_command(nonce: str, services: Sequence[str] = (), journal_since: float | None = None) -> str:
    """The snippet; ``journal_since`` (epoch seconds on the host's clock) limits the journal read."""
    m = {s: shlex.quote(marker(nonce, s)) for s in SECTIONS}
    svc = " ".join(shlex.quote(s) for s in check_services(services))
    # To the microsecond: an error logged earlier in the same second as the start is not new. A
    # journalctl that cannot parse a fraction gets whole seconds (read -n 0 first, as a probe).
    exact = f"@{journal_since:.6f}" if journal_since is not None else "-1h"
    whole = f"@{int(journal_since)}" if journal_since is not None else "-1h"
    return "\n".join(
        [
            'export LC_ALL=C PATH="$PATH:/usr/sbin:/sbin"',
            # %N is GNU's; BusyBox may print it as it stands (parse_health keeps the whole seconds)
            f"echo; echo {m['now']}; date +%s.%N",
            f"echo; echo {m['uptime']}; cat /proc/uptime 2>/dev/null",
            f"echo; echo {m['loadavg']}; cat /proc/loadavg 2>/dev/null",
            f"echo; echo {m['meminfo']}; grep -E '^(MemTotal|MemAvailable):' /proc/meminfo 2>/dev/null",
            f"echo; echo {m['nproc']}; nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null",
            f"echo; echo {m['system']}",
            "if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then"
            " systemctl is-system-running 2>/dev/null || true; else echo n/a; fi",
            f"echo; echo {m['failed']}",
            "if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then"
            " systemctl list-units --state=failed --no-legend --plain 2>/dev/null | awk '{print $1}'; fi",
            f"echo; echo {m['services']}",
            f"for s in {svc}; do"
            " if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then"
            ' printf \'%s\\t%s\\n\' "$s" "$(systemctl is-active "$s" 2>/dev/null)";'
            " elif command -v service >/dev/null 2>&1; then"
            ' if service "$s" status >/dev/null 2>&1; then printf \'%s\\tactive\\n\' "$s";'
            " else printf '%s\\tinactive\\n' \"$s\"; fi;"
            " else printf '%s\\tunknown\\n' \"$s\"; fi; done"
            if svc
            else ":",
            f"echo; echo {m['journal']}",
            # A user outside adm/systemd-journal opens no system journal file: journalctl then exits 1
            # (-q: silently), or 0 with the user's own lines only if it has a journal of its own. Both
            # are "not available", never "no errors": the system journal must open first. -n bounds.
            "since=; if command -v journalctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then"
            f" if journalctl --system -q -n 0 --since {shlex.quote(exact)} >/dev/null 2>&1;"
            f" then since={shlex.quote(exact)};"
            f" elif journalctl --system -q -n 0 >/dev/null 2>&1; then since={shlex.quote(whole)}; fi; fi;"
            ' if [ -n "$since" ]; then'
            ' journalctl -p err -q --no-pager -o short-iso --since "$since"'
            f" -n {MAX_JOURNAL_LINES} 2>/dev/null || echo n/a; else echo n/a; fi",
        ]
    )


def host_clock(text: str) -> float | None:
    """``date +%s.%N``'s answer as epoch seconds; whole seconds where %N was not expanded."""
    m = _CLOCK_RE.fullmatch(text)
    if m is None:
        return None
    return float(f"{m[1]}.{m[2]}") if m[2] and m[2].isdigit() else float(m[1])


def parse_health(text: str, nonce: str) -> Health:
    sec = split_sections(text, nonce, SECTIONS)

    def first(name: str) -> str:
        for line in sec.get(name, []):
            if line.strip():
                return line.strip()
        return ""

    def num(value: str) -> float | None:
        try:
            return float(value)
        except ValueError:
            return None

    now = host_clock(first("now"))
    up = num(first("uptime").split(" ")[0]) if first("uptime") else None
    boot = now - up if now is not None and up is not None else None
    load = num(first("loadavg").split(" ")[0]) if first("loadavg") else None
    mem: dict[str, int] = {}
    for line in sec.get("meminfo", []):
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            mem[key.strip()] = int(parts[0])
    cpus_text = first("nproc")
    system = clean_value(first("system")) or None
    if system == "n/a":
        system = None
    failed = tuple(clean_value(x) for x in sec.get("failed", []) if x.strip())
    services: dict[str, str] = {}
    for line in sec.get("services", []):
        name, tab, state = line.partition("\t")
        if tab and _SERVICE_RE.fullmatch(name):
            services[name] = clean_value(state) or "unknown"
    journal_lines = [clean_value(x) for x in sec.get("journal", []) if x.strip()]
    journal: tuple[str, ...] | None = tuple(journal_lines)
    if "n/a" in journal_lines or "journal" not in sec:  # a read that failed, even part-way
        journal = None
    return Health(
        now=now,
        boot_time=boot,
        load1=load,
        mem_available_kb=mem.get("MemAvailable"),
        mem_total_kb=mem.get("MemTotal"),
        cpus=int(cpus_text) if cpus_text.isdigit() else None,
        system_state=system,
        failed_units=failed if system is not None else (),
        services=services,
        journal_errors=journal,
    )


def probe_health(
    transport: Transport,
    services: Sequence[str] = (),
    journal_since: float | None = None,
    timeout: float = 60,
) -> Health:
    nonce = new_nonce()
    result = transport.run(health_command(nonce, services, journal_since), timeout=timeout)
    return parse_health(result.out, nonce)
