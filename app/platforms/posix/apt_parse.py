"""Reading what apt and dpkg print, for the apt adapter (apt.py): the simulated upgrade, dpkg's installed
versions, the plan, the transaction the pre-install hook reports, available versions and failures.

Pending updates come from a *simulated* ``apt-get dist-upgrade``: it runs as an ordinary user, takes no
lock (``Debug::NoLocking``), and unlike ``apt list --upgradable`` (whose CLI apt itself calls unstable)
or ``apt-get -s upgrade`` (which holds back every update that needs a new package, i.e. every kernel)
it shows exactly what a real upgrade would do.

The ``Inst`` line format comes from apt's own source (apt-pkg/algorithms.cc, pkgSimulate::Describe, and
apt-pkg/pkgcache.cc, VerIterator::RelStr)::

    Inst <FullName(pretty)> [<installed>] (<candidate> <RelStr>)[ [<x> on <y>]...][ [<broken> ...]]

* ``FullName(pretty)`` is the package name, with ``:<arch>`` only for a foreign architecture.
* ``[<installed>]`` is absent for a package the upgrade newly installs.
* ``RelStr`` is a ", "-joined list of ``Label:Version/Archive`` for each package file holding the
  candidate (``Label:Archive`` when the release has no Version; the site or "localhost" without a
  Release file), then `` [<arch>]``. Labels may contain spaces ("Debian Backports").
* After the closing parenthesis apt may append ``[pkg:arch on dep:arch]`` (a conflict or pre-depends
  still open at this point of the run) and a ShortBreaks list ``[pkg:arch ]`` or ``[]``; both describe
  ordering, not the update, and are ignored.
* ``Remv``/``Purg`` lines are ``Remv <name> [<installed>]`` (plus ShortBreaks); ``Conf`` repeats the
  candidate without the installed version.

Everything parsed here is untrusted text from the host. Names and versions that do not look like
Debian package names and versions are not turned into updates (apt cannot print them: dpkg refuses
such packages) but reported as warnings, so nothing is silently lost.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from app.domain import debversion
from app.domain.bundle import HOST_ROOT
from app.domain.errors import AdapterError, UnsupportedHostError
from app.domain.models import IndexState, InstallPlan, PackageChange, PendingUpdate, UpdateKind
from app.platforms.base import (
    MAX_QUOTE,
    Warnings,
    clean_value,
    failure_summary,
    needs_root,
    quote_line,
)
from app.platforms.posix.facts import split_sections
from app.transports.base import CommandResult

MANAGER = "apt"

#: Labels whose every package is a security update, whatever the archive is called. Ubuntu's ESM labels
#: (UbuntuESM, UbuntuESMApps) are deliberately not here: they also carry the non-security
#: ``*-infra-updates`` / ``*-apps-updates`` pockets, so for them the archive suffix decides.
SECURITY_LABELS = frozenset({"Debian-Security"})

#: At most this many warnings are kept; a hostile host could otherwise send one per line forever.
#: A warning quotes at most this much of the offending line.
#: How many apt error lines go into a user-facing sentence.

# Debian policy §5.6.1/§5.6.12, slightly widened (uppercase, "_") because dpkg itself accepts more than
# policy allows. None of these characters means anything to a shell when quoted, and none is a space.
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9+._-]*(?::[a-z0-9][a-z0-9-]*)?")
_VERSION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+~:_-]*")
_ARCH_RE = re.compile(r"[a-z0-9][a-z0-9-]*")
_SUMMARY_RE = re.compile(
    r"^(\d+) upgraded, (\d+) newly installed, (.*?)(\d+) to remove and (\d+) not upgraded\.$"
)
_SUMMARY_EXTRA_RE = re.compile(r"(\d+) (?:reinstalled|downgraded)")
_LOCK_MARKERS = (
    "Could not get lock",
    "Unable to acquire the dpkg frontend lock",
    "Unable to lock the administration directory",
    "is another process using it?",
)
_PERMISSION_MARKERS = ("Permission denied", "are you root?")
_SPACE_MARKERS = ("No space left on device", "You don't have enough free space")
_NOT_FOUND_MARKERS = ("not found", "No such file or directory")


@dataclass(frozen=True)
class SimulationParse:
    """What one simulated upgrade says.

    ``pending``: the updates (one per ``Inst`` line); ``removals``: packages the upgrade would remove
    (``Remv``/``Purg``), so the UI can warn before anyone patches; ``warnings``: lines that looked like
    apt's but could not be understood, and count mismatches against apt's summary line.
    """

    pending: tuple[PendingUpdate, ...] = ()
    removals: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    #: apt's summary line ("N upgraded, N newly installed, ...") was there: apt always prints it, so an
    #: answer without it was not understood (never "nothing pending")
    summary: bool = False


def split_origins(relstr: str) -> tuple[str, ...]:
    """The ``Label:Version/Archive`` entries of an apt RelStr (without the ``[arch]`` suffix)."""
    return tuple(part.strip() for part in relstr.split(", ") if part.strip())


def is_security_origin(origin: str) -> bool:
    """Whether one ``Label:Version/Archive`` entry is a security pocket.

    Security pockets are archives ending in ``-security`` (Debian ``stable-security`` and
    ``bookworm-security``, Ubuntu ``jammy-security`` and the Ubuntu Pro pockets ``jammy-infra-security``
    and ``jammy-apps-security``), and anything labelled Debian-Security, whose archive a local mirror
    may name as it likes.
    """
    label, sep, rest = origin.partition(":")
    if not sep:
        label, rest = "", origin
    archive = rest.rsplit("/", 1)[-1].strip()
    return archive.lower().endswith("-security") or label.strip() in SECURITY_LABELS


def parse_inst_line(line: str) -> PendingUpdate | None:
    """Parse one ``Inst`` line into a PendingUpdate; None when it is not one apt could have printed.

    Done with plain string operations, not one big regex: every step is linear in the line length, so a
    megabyte-long hostile line costs a megabyte of scanning and no backtracking.
    """
    if not line.startswith("Inst "):
        return None
    name, sep, rest = line[5:].partition(" ")
    if not sep or not _NAME_RE.fullmatch(name):
        return None
    installed: str | None = None
    if rest.startswith("["):
        end = rest.find("]")
        if end < 0:
            return None
        installed = rest[1:end]
        if not _VERSION_RE.fullmatch(installed) or rest[end + 1 : end + 2] != " ":
            return None
        rest = rest[end + 2 :]
    if not rest.startswith("("):
        return None
    close = rest.find("])")
    if close < 0:
        return None
    inner = rest[1 : close + 1]  # "<version> <relstr> [<arch>]"
    available, sep, relarch = inner.partition(" ")
    if not sep or not _VERSION_RE.fullmatch(available):
        return None
    bracket = relarch.rfind("[")
    if bracket < 0:
        return None
    arch = relarch[bracket + 1 : -1]
    if not _ARCH_RE.fullmatch(arch):
        return None
    origins = split_origins(clean_value(relarch[:bracket]))
    security = any(is_security_origin(o) for o in origins)
    return PendingUpdate(
        manager=MANAGER,
        name=name,
        available=available,
        installed=installed,
        arch=arch,
        source=", ".join(origins),
        security=security,
        kind=UpdateKind.SECURITY if security else UpdateKind.BUGFIX,
    )


def parse_removal_line(line: str) -> str | None:
    """The package name of a ``Remv``/``Purg`` line, or None."""
    if not (line.startswith("Remv ") or line.startswith("Purg ")):
        return None
    name = line[5:].split(" ", 1)[0]
    return name if _NAME_RE.fullmatch(name) else None


def _expected_count(line: str) -> int | None:
    match = _SUMMARY_RE.match(line)
    if match is None:
        return None
    extra = sum(int(n) for n in _SUMMARY_EXTRA_RE.findall(match.group(3)))
    return int(match.group(1)) + int(match.group(2)) + extra


def parse_simulation(text: str) -> SimulationParse:
    """Parse the output of a simulated ``apt-get dist-upgrade`` (decoded with errors="replace").

    Returns a :class:`SimulationParse`: the pending updates (classification left at its default; policy
    sets it later), the removals, and warnings. Never raises: unparseable ``Inst``/``Remv`` lines become
    warnings, other lines (progress, package lists, ``Conf``) are ignored. When apt's summary line
    announces a different number of installs than the ``Inst`` lines we understood, that is a warning
    too: a dropped ``Inst`` line may be a security update nobody is told about.
    """
    pending: list[PendingUpdate] = []
    removals: list[str] = []
    warnings = Warnings()
    seen_inst = 0
    expected: int | None = None
    for raw in text.splitlines():
        line = raw.rstrip("\r")
        if line.startswith("Inst"):
            seen_inst += 1
            update = parse_inst_line(line)
            if update is None:
                warnings.add(f"Could not understand apt line: {quote_line(line)}")
            else:
                pending.append(update)
        elif line.startswith(("Remv", "Purg")):
            name = parse_removal_line(line)
            if name is None:
                warnings.add(f"Could not understand apt line: {quote_line(line)}")
            elif name not in removals:
                removals.append(name)
        elif expected is None and line[:1].isdigit():
            expected = _expected_count(line)
    if expected is not None and expected != seen_inst:
        warnings.add(f"apt announced {expected} package(s) to install but printed {seen_inst} Inst line(s).")
    return SimulationParse(
        pending=tuple(pending),
        removals=tuple(removals),
        warnings=warnings.result(),
        summary=expected is not None,
    )


def parse_removals(text: str) -> list[str]:
    """Packages a simulated upgrade would remove, so the UI can warn before patching."""
    return list(parse_simulation(text).removals)


SCAN_SECTIONS = ("idx", "held", "pins", "fp", "same", "sim", "simrc", "simerr")

HELD_REASON = (
    "held on the host (apt-mark hold): apt keeps it at its installed version, and Patchdesk installs it "
    "only with patch --include-held"
)


def parse_holds(lines: Iterable[str]) -> frozenset[str]:
    """Package names from ``apt-mark showhold`` (one per line); anything else is skipped."""
    return frozenset(name for line in lines if _NAME_RE.fullmatch(name := line.strip()))


def mark_held(pending: Iterable[PendingUpdate], holds: frozenset[str]) -> tuple[PendingUpdate, ...]:
    """``pending`` with every update of a held package marked ``held`` (names with ":arch" match too)."""
    return tuple(
        replace(u, held=True, held_reason=HELD_REASON)
        if u.name in holds or u.name.split(":")[0] in holds
        else u
        for u in pending
    )


PIN_REASON = (
    "pinned on the host (/etc/apt/preferences): apt's candidate is older than the newest version, and "
    "Patchdesk installs the newest only with patch --include-held"
)
_POLICY_VERSION_RE = re.compile(r"^ (?:\*\*\*| {3}) (\S+) (-?\d+)$")
_POLICY_SOURCE_RE = re.compile(r"^ {8}-?\d+ (\S+ \S+)")


@dataclass(frozen=True)
class Pinned:
    """A package an apt pin keeps below the newest version its sources offer."""

    name: str
    installed: str
    newest: str
    source: str


def parse_policy(lines: Iterable[str]) -> dict[str, Pinned]:
    """``apt-cache policy NAME…``: the installed packages whose candidate is their installed version
    (or none) while a source offers a newer one, that is, kept back by a pin."""
    found: dict[str, Pinned] = {}
    name = installed = candidate = newest = source = None
    last_version: str | None = None
    for count, raw in enumerate([*lines, "end-of-answer:"]):
        if count > _MAX_INDEX_LINES * 10:
            break
        line = raw.rstrip("\r")
        if line.endswith(":") and not line.startswith(" "):
            if name and installed and newest and candidate in (installed, None) and newest != installed:
                found[name] = Pinned(name, installed, newest, source or "")
            head = line[:-1]
            name = head if _NAME_RE.fullmatch(head) else None
            installed = candidate = newest = source = last_version = None
            continue
        key, _, value = line.strip().partition(": ")
        if key in ("Installed", "Candidate"):
            ok = _VERSION_RE.fullmatch(value) is not None
            if key == "Installed":
                installed = value if ok else None
            else:
                candidate = value if ok else None
            continue
        version = _POLICY_VERSION_RE.match(line)
        if version and _VERSION_RE.fullmatch(version.group(1)):
            last_version = version.group(1)
            if installed and debversion.compare(last_version, installed) > 0:
                if newest is None or debversion.compare(last_version, newest) > 0:
                    newest, source = last_version, None
            continue
        origin = _POLICY_SOURCE_RE.match(line)
        if origin and last_version == newest and source is None:
            source = clean_value(origin.group(1))
    return found


def pinned_updates(pins: Mapping[str, Pinned], known: Iterable[PendingUpdate]) -> list[PendingUpdate]:
    """Pending updates, held, for the pinned packages the simulation did not list."""
    listed = {u.name.split(":")[0] for u in known}
    return [
        PendingUpdate(
            manager=MANAGER,
            name=p.name,
            available=p.newest,
            installed=p.installed,
            source=p.source,
            held=True,
            held_reason=PIN_REASON,
        )
        for p in pins.values()
        if p.name not in listed
    ]


#: The stamp a successful ``apt-get update`` touches (apt's own APT::Periodic stamp; our refresh sets it
#: through APT::Update::Post-Invoke-Success, as Ubuntu's update-notifier does): apt gives each list
#: file the *server's* Last-Modified time, so a refresh that found nothing new leaves them old.
UPDATE_STAMP = "/var/lib/apt/periodic/update-success-stamp"
LISTS_DIR = "/var/lib/apt/lists"
#: the lists of the bundles applied on a host (apt_install.source_options)
BUNDLE_LISTS_DIR = f"{HOST_ROOT}/lists"
#: at most this many index lines are read; a host has a few dozen list files
_MAX_INDEX_LINES = 5000

EMPTY_INDEX_NOTE = (
    "The package index on this host is empty (no package lists under /var/lib/apt/lists), so apt "
    "knows of no updates at all; `patchdesk scan --refresh` (or apt-get update on the host) fills it."
)
UNREADABLE_INDEX_NOTE = (
    "Patchdesk could not read the age of apt's package index on this host, so this scan cannot vouch "
    "that it saw every update."
)


def parse_index(lines: Iterable[str], now: datetime) -> IndexState:
    """apt's index state from the ``idx`` section: ``now <epoch>`` (the host's clock), then
    ``<epoch> <path>`` per list file and the update stamp (``stat -c '%Y %n'``), then the Release files
    every configured source should have (``apt-get --print-uris update``: ``'URI' NAME SIZE``).

    ``updated`` is the newest of the stamp and the Release files, as an age on the host's clock taken
    from ``now`` (the console's clock), so a host whose clock is off does not move it. Without a
    ``now`` line the section is not ours, and an answer longer than any host's is cut short: both
    unmeasured, with a note. Without any Packages list the index is empty (measured, ``updated``
    None, a note). A configured source without lists is named in a note that keeps the scan incomplete:
    a refresh that works for the other sources dates the index anew, and that source's updates would
    otherwise pass unseen.
    """
    host_now: int | None = None
    newest: int | None = None
    packages = False
    present: set[str] = set()
    wanted: dict[str, str] = {}  # Release file name -> the source, as apt names it
    for count, raw in enumerate(lines):
        if count >= _MAX_INDEX_LINES:
            return IndexState(notes=(UNREADABLE_INDEX_NOTE,))  # cut short: neither empty nor dated
        if raw.startswith("'"):
            _source_target(raw, wanted)
            continue
        word, _, rest = raw.strip().partition(" ")
        if not word.isdigit() and word != "now":
            continue
        if word == "now":
            host_now = int(rest) if rest.strip().isdigit() else host_now
            continue
        path = rest.strip()
        present.add(path.rpartition("/")[2])
        if "_Packages" in path and path.startswith((LISTS_DIR + "/", BUNDLE_LISTS_DIR + "/")):
            packages = True
        elif path == UPDATE_STAMP or path.endswith(("_InRelease", "_Release")):
            newest = max(newest or 0, int(word))
    if host_now is None:
        return IndexState(notes=(UNREADABLE_INDEX_NOTE,))
    if not packages:
        return IndexState(measured=True, notes=(EMPTY_INDEX_NOTE,))
    missing = [
        source
        for name, source in wanted.items()
        if name not in present and name.removesuffix("InRelease") + "Release" not in present
    ]
    if newest is None:
        return IndexState(notes=(UNREADABLE_INDEX_NOTE,))
    age = timedelta(seconds=max(0, host_now - newest))
    # dated by the sources that have lists, and never complete while one has none
    return IndexState(now - age, measured=True, notes=(_missing_note(missing),) if missing else ())


def _source_target(line: str, wanted: dict[str, str]) -> None:
    """One ``'URI' NAME SIZE`` line of ``--print-uris update``: keep the InRelease file of a source."""
    uri, sep, rest = line[1:].partition("' ")
    name = rest.split(" ", 1)[0]
    if sep and name.endswith("_InRelease") and "/" not in name and len(wanted) < _MAX_INDEX_LINES:
        wanted[name] = clean_value(uri.removesuffix("/InRelease"))


def _missing_note(sources: list[str]) -> str:
    shown = ", ".join(sources[:3]) + (f" and {len(sources) - 3} more" if len(sources) > 3 else "")
    return (
        f"apt has no package lists for the configured source(s) {shown}, so their updates are not "
        "known; `patchdesk scan --refresh` (or apt-get update on the host) fetches them, and says why "
        "when the source cannot be reached."
    )


#: sha256sum's answer for stdin. Anything else from a host is not a fingerprint (a host without
#: sha256sum prints none, keeps no basis, and is simply simulated every time).
_FINGERPRINT_RE = re.compile(r"[0-9a-f]{64}  -")


def valid_fingerprint(text: str | None) -> str | None:
    """``text`` when it looks like our fingerprint (so it is inert in a shell command), else None."""
    return text if text is not None and _FINGERPRINT_RE.fullmatch(text) else None


@dataclass(frozen=True)
class ScanSections:
    """The scan script's answer: the simulation (None when the host skipped it), the host's fingerprint
    (None when it printed none we accept), whether it matched the one sent, and the reboot state."""

    sim: CommandResult | None
    fingerprint: str | None
    same: bool
    reboot: tuple[bool, tuple[str, ...]]
    index: IndexState | None = None
    holds: frozenset[str] = frozenset()
    pins: Mapping[str, Pinned] = field(default_factory=dict)


def parse_scan_script(text: str, nonce: str, now: datetime | None = None) -> ScanSections | None:
    """The scan script's sections; None when apt did not run (no simulation and no ``same``)."""
    sections = split_sections(text, nonce, SCAN_SECTIONS)
    index = parse_index(sections.get("idx", []), now or datetime.now(UTC))
    holds = parse_holds(sections.get("held", []))
    pins = parse_policy(sections.get("pins", []))
    fp_lines = [line.strip() for line in sections.get("fp", []) if line.strip()]
    fingerprint = valid_fingerprint(fp_lines[0]) if fp_lines else None
    reboot = parse_reboot(text, nonce)
    if "same" in sections and fingerprint is not None:
        return ScanSections(None, fingerprint, True, reboot, index, holds, pins)
    if "sim" not in sections or "simrc" not in sections:
        return None
    rc_lines = [line.strip() for line in sections["simrc"] if line.strip()]
    rc = int(rc_lines[0]) if rc_lines and rc_lines[0].isdigit() else -1
    sim = "\n".join(sections["sim"]).encode()
    err = "\n".join(sections.get("simerr", [])).encode()
    return ScanSections(CommandResult(rc, sim, err), fingerprint, False, reboot, index, holds, pins)


def parse_reboot(text: str, nonce: str) -> tuple[bool, tuple[str, ...]]:
    """Whether the host waits for a reboot, and the valid, de-duplicated package names that asked."""
    sections = split_sections(text, nonce, ("flag", "pkgs", "end"))
    required = any(line.strip() == "yes" for line in sections.get("flag", []))
    pkgs: list[str] = []
    for line in sections.get("pkgs", []):
        name = line.strip()
        if name and _NAME_RE.fullmatch(name) and name not in pkgs:
            pkgs.append(name)
    return required, tuple(pkgs)


def parse_dpkg_query(text: str) -> dict[str, str]:
    """``{name: version}`` of packages dpkg has on disk, from ``installed_versions_command`` output.

    The status abbreviation's second letter is the package state; "n" (not installed) and "c" (only
    config files left) have no installed version and are skipped. Lines that do not look like dpkg's are
    skipped too.
    """
    result: dict[str, str] = {}
    for raw in text.splitlines():
        parts = raw.rstrip("\r").split("\t")
        if len(parts) != 3:
            continue
        name, version, status = parts
        if not _NAME_RE.fullmatch(name) or not _VERSION_RE.fullmatch(version):
            continue
        if len(status) < 2 or status[1] in "nc":
            continue
        result[name] = version
    return result


def _error_lines(text: str) -> list[str]:
    lines = [clean_value(line[2:].strip()) for line in text.splitlines() if line.startswith("E:")]
    return [line for line in lines if line]


def describe_failure(result: CommandResult, host: str, *, what: str) -> AdapterError:
    """Turn a failed apt command into a known error with a sentence the administrator can act on.

    ``what`` names the step ("check for updates", "refresh the package lists") for the sentence.
    """
    both = result.err + "\n" + result.out
    summary = failure_summary(result, _error_lines)
    if result.exit_status == 127 or (
        result.exit_status != 0
        and any(m in result.err for m in _NOT_FOUND_MARKERS)
        and "apt-get" in result.err
        and not _error_lines(result.err)
    ):
        return UnsupportedHostError(f"apt-get was not found on {host}, so Patchdesk cannot {what} there.")
    if any(m in both for m in _LOCK_MARKERS):
        return AdapterError(
            f"The package database on {host} is locked by another process ({summary}). "
            "Wait for the other package operation (often unattended-upgrades) to finish and try again."
        )
    if any(m in both for m in _SPACE_MARKERS):
        where = _first_line_with(both, _SPACE_MARKERS)
        return AdapterError(
            f"The disk on {host} is full, so apt could not {what} ({where}). "
            "Free some space there and try again; dpkg undid the package it was unpacking."
        )
    if any(m in both for m in _PERMISSION_MARKERS):
        return needs_root("apt", host, what, summary)
    return AdapterError(f"apt could not {what} on {host}: {summary}.")


def _first_line_with(text: str, needles: tuple[str, ...]) -> str:
    """The part of the first line that mentions a needle, cut around it so the needle stays visible."""
    for line in text.splitlines():
        for n in needles:
            at = line.find(n)
            if at >= 0:
                start = max(0, at + len(n) + 40 - MAX_QUOTE)
                return ("…" if start else "") + clean_value(line[start : at + len(n) + 40])
    return ""


def _warning_lines(text: str) -> list[str]:
    return [clean_value(line[2:].strip()) for line in text.splitlines() if line.startswith("W:")]


def check_names(names: Iterable[str]) -> list[str]:
    """Package names that are safe to hand to apt (argv elements, never spliced); others raise."""
    out = []
    for n in names:
        if not _NAME_RE.fullmatch(n):
            raise AdapterError(f"{n!r} is not a valid Debian package name; nothing was changed.")
        out.append(n)
    return out


def _expects_reboot(changes: Iterable[PackageChange]) -> bool:
    return any(c.name.startswith(("linux-image", "pd-reboot")) for c in changes)


def parse_plan(text: str) -> InstallPlan:
    """The changes of a simulated transaction: upgrades, new packages and removals."""
    parsed = parse_simulation(text)
    changes = [PackageChange(MANAGER, u.name, u.installed, u.available, u.arch) for u in parsed.pending] + [
        PackageChange(MANAGER, name, None, None) for name in parsed.removals
    ]
    # A removal's from-version is not in the Remv line; it is filled in by the snapshot before install.
    return InstallPlan(
        changes=tuple(changes),
        reboot_expected=_expects_reboot(changes),
        warnings=parsed.warnings,
    )


def parse_transaction(lines: Iterable[str]) -> InstallPlan:
    """The transaction from the hook's lines (marker already stripped): every package whose version it
    changes, ``from_version`` as apt read it from dpkg, named like ``dpkg-query``'s ``binary:Package``
    (with ``:arch`` for Multi-Arch: same and foreign-architecture packages).

    Untrusted text: lines that are not a well-formed action, or name a package or version that apt
    could not print, are skipped."""
    native = ""
    before: dict[str, str | None] = {}
    after: dict[str, str | None] = {}
    arches: dict[str, str] = {}
    for line in lines:
        if line.startswith("APT::Architecture="):
            value = line.partition("=")[2].strip()
            native = value if _ARCH_RE.fullmatch(value) else ""
            continue
        fields = line.split(None, 8)
        if len(fields) != 9 or fields[4] not in ("<", ">", "="):
            continue
        name, old, old_arch, old_ma, _, new, new_arch, new_ma, _action = fields
        if not _NAME_RE.fullmatch(name) or ":" in name:
            continue
        if any(v != "-" and not _VERSION_RE.fullmatch(v) for v in (old, new)):
            continue
        arch, ma = (new_arch, new_ma) if new != "-" else (old_arch, old_ma)
        if arch != "-" and not _ARCH_RE.fullmatch(arch):
            continue
        foreign = bool(native) and arch not in ("-", "all", native)
        key = f"{name}:{arch}" if ma == "same" or foreign else name
        if key not in before:  # the unpack line comes before the configure line; both say the same
            before[key] = None if old == "-" else old
        after[key] = None if new == "-" else new
        arches[key] = "" if arch == "-" else arch
    changes = tuple(
        PackageChange(MANAGER, key, before[key], after[key], arches[key])
        for key in before
        if before[key] != after[key]
    )
    return InstallPlan(
        changes=changes,
        reboot_expected=_expects_reboot(changes),
    )


def parse_madison(text: str) -> dict[str, frozenset[str]]:
    """``{name: versions}`` from ``apt-cache madison`` lines: ``name | version | source``."""
    found: dict[str, set[str]] = {}
    for raw in text.splitlines():
        parts = [p.strip() for p in raw.split("|")]
        if len(parts) < 3:
            continue
        name, version = parts[0], parts[1]
        if _NAME_RE.fullmatch(name) and _VERSION_RE.fullmatch(version):
            found.setdefault(name, set()).add(version)
    return {k: frozenset(v) for k, v in found.items()}


__all__ = [
    "SimulationParse",
    "describe_failure",
    "is_security_origin",
    "parse_dpkg_query",
    "parse_inst_line",
    "parse_reboot",
    "parse_removals",
    "parse_simulation",
]
