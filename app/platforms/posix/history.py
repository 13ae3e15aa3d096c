"""The package history of a POSIX host, read in the scan's own session: dpkg.log (apt), the dnf history
database, zypper's history file.

One trusted snippet (:func:`history_command`) prints each history the host keeps after a marker with
this call's nonce, together with the host's clock, so the log's local times can be put in UTC. Only
install/upgrade/remove lines are sent (grep on the host), and at most :data:`MAX_LINES` of them per
file. Parsing is pure and bounded: the text is untrusted, a line that does not parse is skipped, and a
history that is absent or unreadable is UNKNOWN, never empty.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone

from app.domain.outside_changes import MAX_ENTRIES, HistoryEntry, HistoryRead, HistoryStatus
from app.platforms.base import clean_value
from app.platforms.posix.facts import marker, split_sections

#: Lines of one history file sent at most (the newest ones).
MAX_LINES = MAX_ENTRIES

#: How far the host's clock may be off the console's before its times are corrected.
MAX_SKEW = timedelta(minutes=2)

SECTIONS: tuple[str, ...] = ("hclock", "dpkg1", "dpkg0", "dpkgmore", "zypp", "zyppmore", "dnf", "hend")

_DPKG_ACTIONS = "install|upgrade|remove|purge"
_DPKG_RE = re.compile(
    r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (install|upgrade|remove|purge) (\S{1,300}) (\S{1,300}) (\S{1,300})"
)
_STAMP_RE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
_OFFSET_RE = re.compile(r"([+-])(\d\d)(\d\d)")
_COUNT_RE = re.compile(r"\d{1,12}")
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9+._~:@-]{0,200}")
_VERSION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9+._~:-]{0,200}")

#: dnf's TransactionItemAction (libdnf/transaction/Types.hpp)
_DNF_INSTALL, _DNF_DOWNGRADE, _DNF_DOWNGRADED, _DNF_OBSOLETED = 1, 2, 3, 5
_DNF_UPGRADE, _DNF_UPGRADED, _DNF_REMOVE = 6, 7, 8

# Reads the dnf history database read-only with the host's own Python (dnf 4 is written in it); the
# program text is ours and contains no single quote, so it travels in one single-quoted argument.
_DNF_PY = (
    "import sqlite3,sys\n"
    "c=sqlite3.connect(sys.argv[1],uri=True)\n"
    'print(c.execute("select count(*) from trans_item").fetchone()[0])\n'
    'q="select t.id,t.dt_begin,ti.action,r.name,r.epoch,r.version,r.release,r.arch from trans_item ti '
    "join trans t on t.id=ti.trans_id join rpm r on r.item_id=ti.item_id where ti.state=1 "
    'order by ti.id desc limit 2000"\n'  # MAX_LINES
    "for r in c.execute(q):print(chr(9).join(map(str,r)))\n"
)


def _check_nonce(nonce: str) -> None:
    if not (nonce.isascii() and nonce.isalnum() and 8 <= len(nonce) <= 64):
        raise ValueError("nonce must be 8-64 ASCII letters or digits")


def _tail_program(select: str, first: str) -> str:
    """An awk program (no single quote in it) that prints the count of the lines ``select`` picks, the
    time stamp the file begins with (its ``first`` line), then the newest :data:`MAX_LINES` lines picked:
    one program per file instead of grep, head, cut and tail, since every program a scan starts is
    part of what it costs the host."""
    return (
        f"{first} {{ f = substr($0, 1, 19) }} {select} {{ n++; b[n % m] = $0 }} "
        "END { print n + 0; print f; for (i = (n > m ? n - m + 1 : 1); i <= n; i++) print b[i % m] }"
    )


#: dpkg.log: "DATE TIME ACTION PACKAGE VERSION VERSION", the actions that change a package
_DPKG_AWK = _tail_program(f"$3 ~ /^({_DPKG_ACTIONS})$/", "NR == 1")
#: zypper's history: every line that is not a comment
_ZYPP_AWK = _tail_program("!/^#/", 'f == "" && !/^#/')


def _dpkg_file(section: str, path: str, m: dict[str, str]) -> str:
    return (
        f"if [ -r {path} ]; then printf '\\n%s\\n' '{m[section]}'; "
        f"awk -v m={MAX_LINES} '{_DPKG_AWK}' {path}; fi; "
    )


def history_command(nonce: str) -> str:
    """The trusted snippet that prints the host's clock and every package history it keeps.

    Each history section holds the count of its change lines (to tell a cut read from a whole one),
    the time its first one starts with, then the newest lines. Runs in a subshell with its errors
    discarded, so it cannot change how the scan that follows it runs. zypper's history is root's to
    read: ``sudo -n`` is tried when the login user cannot.
    """
    _check_nonce(nonce)
    m = {s: marker(nonce, s) for s in SECTIONS}
    zypp = "/var/log/zypp/history"
    zypp_read = f"awk -v m={MAX_LINES} '{_ZYPP_AWK}' {zypp}"
    dnf_db = "file:/var/lib/dnf/history.sqlite?mode=ro"
    return (
        "( LC_ALL=C; export LC_ALL; "
        f"printf '\\n%s\\n' '{m['hclock']}'; date '+%s %z'; "
        + _dpkg_file("dpkg1", "/var/log/dpkg.log.1", m)
        + _dpkg_file("dpkg0", "/var/log/dpkg.log", m)
        + f"for f in /var/log/dpkg.log.*.gz; do [ -e \"$f\" ] && printf '\\n%s\\n' '{m['dpkgmore']}'; "
        "break; done; "
        f"if [ -e {zypp} ]; then printf '\\n%s\\n' '{m['zypp']}'; "
        f"if [ -r {zypp} ]; then {zypp_read}; else sudo -n {zypp_read}; fi; "
        f"for f in {zypp}-*; do [ -e \"$f\" ] && printf '\\n%s\\n' '{m['zyppmore']}'; break; done; fi; "
        "if [ -r /var/lib/dnf/history.sqlite ]; then "
        "for p in python3 /usr/libexec/platform-python; do command -v $p >/dev/null 2>&1 || continue; "
        f"printf '\\n%s\\n' '{m['dnf']}'; $p -c '{_DNF_PY}' '{dnf_db}'; break; done; fi; "
        f"printf '\\n%s\\n' '{m['hend']}' ) 2>/dev/null; "
    )


# -- parsing ------------------------------------------------------------------------------------------


def _clock(lines: Sequence[str], now: datetime) -> tuple[timezone, timedelta] | None:
    """The host's UTC offset and how far its clock is behind the console's (0 when within MAX_SKEW)."""
    words = " ".join(lines).split()
    if len(words) < 2:
        return None
    epoch, offset = words[0], words[1]
    om = _OFFSET_RE.fullmatch(offset)
    if not _COUNT_RE.fullmatch(epoch) or om is None:
        return None
    minutes = int(om.group(2)) * 60 + int(om.group(3))
    if minutes > 18 * 60:
        return None
    tz = timezone(timedelta(minutes=minutes if om.group(1) == "+" else -minutes))
    try:
        host_now = datetime.fromtimestamp(int(epoch), UTC)
    except (OverflowError, OSError, ValueError):
        return None
    skew = now - host_now
    return tz, (skew if abs(skew) > MAX_SKEW else timedelta(0))


def _stamp(text: str, tz: timezone, skew: timedelta) -> datetime | None:
    if not _STAMP_RE.fullmatch(text):
        return None
    try:
        local = datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=tz)
    except ValueError:
        return None
    return local.astimezone(UTC) + skew


def _version(raw: str) -> str | None:
    if raw in ("<none>", "", "(none)"):
        return None
    return clean_value(raw) if _VERSION_RE.fullmatch(raw) else None


def parse_dpkg_lines(lines: Sequence[str], tz: timezone, skew: timedelta) -> list[HistoryEntry]:
    """dpkg.log action lines -> entries (``status``/``configure`` lines and anything odd skipped)."""
    out: list[HistoryEntry] = []
    for line in lines[-MAX_LINES:]:
        m = _DPKG_RE.fullmatch(line.strip())
        if m is None:
            continue
        when = _stamp(m.group(1), tz, skew)
        name, _, arch = m.group(3).partition(":")
        if when is None or not _NAME_RE.fullmatch(name):
            continue
        before, after = _version(m.group(4)), _version(m.group(5))
        if before is None and after is None:
            continue
        action = m.group(2)
        if action == "purge":
            if before is None:
                continue
            action = "remove"
        out.append(HistoryEntry("apt", action, clean_value(name), when, before, after, clean_value(arch)))
    return out


def _count_and_start(
    lines: Sequence[str], tz: timezone, skew: timedelta
) -> tuple[int | None, datetime | None, list[str]]:
    """The count line, the file's first time stamp and the entry lines of a file's section."""
    count = int(lines[0]) if lines and _COUNT_RE.fullmatch(lines[0].strip()) else None
    start = _stamp(lines[1].strip(), tz, skew) if len(lines) > 1 else None
    return count, start, [line for line in lines[2:] if line.strip()]


def _apt_read(sections: dict[str, list[str]], tz: timezone, skew: timedelta) -> HistoryRead:
    if "dpkg0" not in sections:
        return HistoryRead.unknown("apt", "/var/log/dpkg.log is missing or could not be read")
    count0, start0, lines0 = _count_and_start(sections["dpkg0"], tz, skew)
    if count0 is None:
        return HistoryRead.unknown("apt", "/var/log/dpkg.log could not be read")
    entries = parse_dpkg_lines(lines0, tz, skew)
    covered: datetime | None = None
    if count0 > len(lines0):  # cut: the history reaches back to the oldest line sent
        covered = min((e.when for e in entries), default=start0)
    elif "dpkg1" in sections:
        count1, start1, lines1 = _count_and_start(sections["dpkg1"], tz, skew)
        older = parse_dpkg_lines(lines1, tz, skew)
        entries = older + entries
        if count1 is None or count1 > len(lines1) or "dpkgmore" in sections:
            covered = min((e.when for e in older), default=start1 or start0)
    elif "dpkgmore" in sections:
        covered = start0
    return _bounded("apt", entries, covered)


def _bounded(manager: str, entries: list[HistoryEntry], covered: datetime | None) -> HistoryRead:
    if len(entries) > MAX_ENTRIES:
        entries = entries[-MAX_ENTRIES:]
        covered = entries[0].when
    return HistoryRead(manager, HistoryStatus.OK, tuple(entries), covered)


def parse_zypp_lines(lines: Sequence[str], tz: timezone, skew: timedelta) -> list[HistoryEntry]:
    """zypper history lines (``date|install|name|edition|arch|…``, ``date|remove |name|edition|arch|…``).

    zypper logs an upgrade as the install of the new edition only; the version before is the one an
    earlier line of the same read installed, when there is one (otherwise it is not known).
    """
    out: list[HistoryEntry] = []
    last: dict[str, str] = {}
    for line in lines[-MAX_LINES:]:
        fields = line.split("|")
        if len(fields) < 5:
            continue
        action = fields[1].strip()
        name, version, arch = fields[2].strip(), fields[3].strip(), fields[4].strip()
        when = _stamp(fields[0].strip(), tz, skew)
        if action not in ("install", "remove") or when is None or not _NAME_RE.fullmatch(name):
            continue
        ver = _version(version)
        if ver is None:
            continue
        if action == "install":
            before = last.get(name)
            kind = "install" if before is None else ("upgrade" if before != ver else "reinstall")
            out.append(HistoryEntry("zypper", kind, clean_value(name), when, before, ver, clean_value(arch)))
            last[name] = ver
        else:
            out.append(
                HistoryEntry("zypper", "remove", clean_value(name), when, ver, None, clean_value(arch))
            )
            last.pop(name, None)
    return out


def _zypper_read(sections: dict[str, list[str]], tz: timezone, skew: timedelta) -> HistoryRead:
    if "zypp" not in sections:
        return HistoryRead.unknown("zypper", "/var/log/zypp/history is missing")
    count, start, lines = _count_and_start(sections["zypp"], tz, skew)
    if count is None:
        return HistoryRead.unknown(
            "zypper", "/var/log/zypp/history could not be read (it is root's; sudo -n was refused)"
        )
    entries = parse_zypp_lines(lines, tz, skew)
    covered = None
    if count > len(lines):
        covered = min((e.when for e in entries), default=start)
    elif "zyppmore" in sections:
        covered = start
    return _bounded("zypper", entries, covered)


def _evr(epoch: str, version: str, release: str) -> str | None:
    text = f"{version}-{release}" if epoch in ("0", "", "None") else f"{epoch}:{version}-{release}"
    return _version(text)


def parse_dnf_rows(lines: Sequence[str]) -> list[HistoryEntry]:
    """Rows of the dnf history query (newest first) -> entries, oldest first; an upgrade's two items
    (the version replaced and the version installed) become one entry."""
    rows: list[tuple[int, datetime, int, str, str | None, str]] = []
    for line in lines[:MAX_LINES]:
        f = line.split("\t")
        if len(f) != 8 or not all(_COUNT_RE.fullmatch(x) for x in (f[0], f[1], f[2])):
            continue
        name, evr = f[3], _evr(f[4], f[5], f[6])
        if not _NAME_RE.fullmatch(name) or evr is None:
            continue
        try:
            when = datetime.fromtimestamp(int(f[1]), UTC)
        except (OverflowError, OSError, ValueError):
            continue
        rows.append((int(f[0]), when, int(f[2]), clean_value(name), evr, clean_value(f[7])))
    replaced = {
        (t, n, a): v for t, _, act, n, v, a in rows if act in (_DNF_UPGRADED, _DNF_DOWNGRADED, _DNF_OBSOLETED)
    }
    out: list[HistoryEntry] = []
    for tid, when, act, name, ver, arch in reversed(rows):
        if act == _DNF_INSTALL:
            out.append(HistoryEntry("dnf", "install", name, when, None, ver, arch))
        elif act in (_DNF_UPGRADE, _DNF_DOWNGRADE):
            kind = "upgrade" if act == _DNF_UPGRADE else "downgrade"
            out.append(HistoryEntry("dnf", kind, name, when, replaced.get((tid, name, arch)), ver, arch))
        elif act == _DNF_REMOVE:
            out.append(HistoryEntry("dnf", "remove", name, when, ver, None, arch))
    return out


def _dnf_read(sections: dict[str, list[str]]) -> HistoryRead:
    lines = sections.get("dnf")
    if not lines or not _COUNT_RE.fullmatch(lines[0].strip()):
        return HistoryRead.unknown(
            "dnf", "the dnf history database (/var/lib/dnf/history.sqlite) could not be read"
        )
    rows = [line for line in lines[1:] if line.strip()]
    entries = parse_dnf_rows(rows)
    covered = min((e.when for e in entries), default=None) if int(lines[0]) > len(rows) else None
    return _bounded("dnf", entries, covered)


def parse_history(text: str, nonce: str, manager: str, now: datetime) -> HistoryRead:
    """The history of ``manager`` (the adapter the scan used) from :func:`history_command`'s output."""
    sections = split_sections(text, nonce, SECTIONS)
    if "hclock" not in sections:
        return HistoryRead.unknown(manager, "the host did not run the package-history commands")
    clock = _clock(sections["hclock"], now)
    if clock is None:
        return HistoryRead.unknown(
            manager, "the host's clock could not be read, so its history's times cannot be placed"
        )
    tz, skew = clock
    if manager == "apt":
        return _apt_read(sections, tz, skew)
    if manager == "zypper":
        return _zypper_read(sections, tz, skew)
    if manager in ("dnf", "yum"):
        return _dnf_read(sections)
    return HistoryRead.unknown(manager, f"Patchdesk cannot read the package history of {manager}")
