"""The apt adapter: Debian, Ubuntu and their derivatives.

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
import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from app.domain.errors import AdapterError, UnsupportedHostError
from app.domain.models import InstallPlan, OsFacts, PackageChange, PendingUpdate, ScanBasis, UpdateKind
from app.platforms.base import (
    MAX_QUOTE,
    Adapter,
    LogFn,
    ScriptScan,
    Snapshot,
    Warnings,
    clean_value,
    emit,
    failure_summary,
    new_nonce,
    quote_line,
)
from app.platforms.posix.facts import marker, split_sections
from app.transports.base import CommandResult, OutputCallback, Transport

MANAGER = "apt"

SCAN_COMMAND = (
    "LC_ALL=C apt-get -s -q -o Debug::NoLocking=true "
    "-o APT::Get::Show-User-Simulation-Note=false dist-upgrade"
)
REFRESH_COMMAND = "LC_ALL=C apt-get update -q"

#: dpkg-query output format for snapshots: name, version, and the three-letter status abbreviation.
#: ``binary:Package`` keeps ":arch" on foreign-architecture packages, so names match the Inst lines.
DPKG_QUERY_FORMAT = "${binary:Package}\\t${Version}\\t${db:Status-Abbrev}\\n"

REBOOT_FLAG = "/var/run/reboot-required"
REBOOT_PKGS = "/var/run/reboot-required.pkgs"

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
    return SimulationParse(pending=tuple(pending), removals=tuple(removals), warnings=warnings.result())


def parse_removals(text: str) -> list[str]:
    """Packages a simulated upgrade would remove, so the UI can warn before patching."""
    return list(parse_simulation(text).removals)


def scan_command() -> str:
    """The simulated upgrade: no root, no lock, stable English output."""
    return SCAN_COMMAND


def refresh_command() -> str:
    """Update the package indexes; needs root."""
    return REFRESH_COMMAND


def reboot_command(nonce: str) -> str:
    """One round trip for the reboot flag and the packages that asked for the reboot."""
    # marker() only accepts a checked nonce through facts_command; check here too before splicing.
    if not nonce.isalnum() or not nonce.isascii():
        raise ValueError("nonce must be ASCII letters or digits")
    return (
        f"printf '\\n%s\\n' '{marker(nonce, 'flag')}'; test -e {REBOOT_FLAG} && echo yes; "
        # cat only when there is something to show: most scans find no file, and each program started
        # costs the host ~1 ms, a fifth of an unchanged-host scan beyond its login (facts.first_line)
        f"printf '\\n%s\\n' '{marker(nonce, 'pkgs')}'; "
        f"if [ -e {REBOOT_PKGS} ]; then cat {REBOOT_PKGS} 2>/dev/null; fi; "
        f"printf '\\n%s\\n' '{marker(nonce, 'end')}'; exit 0"
    )


SCAN_SECTIONS = ("fp", "same", "sim", "simrc", "simerr")

#: What a simulated upgrade's answer depends on: dpkg's database and its journal, apt's extended
#: states, the index files, and everything under /etc/apt (sources, preferences/pins, apt.conf.d,
#: keyrings). apt itself validates its pkgcache.bin by the sizes and times of the same files; adding the
#: inode and the change time (which no tool can set back) catches a file replaced in the same second.
FINGERPRINT_PATHS = (
    "/var/lib/dpkg/status",
    "/var/lib/dpkg/arch",
    "/var/lib/dpkg/updates",
    "/var/lib/dpkg/updates/*",
    "/var/lib/apt/extended_states",
    "/var/lib/apt/lists",
    "/var/lib/apt/lists/*",
    "/etc/apt",
    "/etc/apt/*",
    "/etc/apt/*/*",
)
FINGERPRINT_COMMAND = f"stat -c '%n|%s|%i|%y|%z' -- {' '.join(FINGERPRINT_PATHS)} 2>/dev/null | sha256sum"
#: sha256sum's answer for stdin. Anything else from a host is not a fingerprint (a host without
#: sha256sum prints none, keeps no basis, and is simply simulated every time).
_FINGERPRINT_RE = re.compile(r"[0-9a-f]{64}  -")


def valid_fingerprint(text: str | None) -> str | None:
    """``text`` when it looks like our fingerprint (so it is inert in a shell command), else None."""
    return text if text is not None and _FINGERPRINT_RE.fullmatch(text) else None


def scan_script(nonce: str, known: str | None = None) -> str:
    """Fingerprint, simulation (stdout, exit status, stderr in their own sections) and the reboot check.

    Runs in a subshell so the reboot snippet's ``exit`` ends only this part; does nothing (prints no
    ``sim`` section) on a host without apt-get. With ``known`` (a fingerprint from an earlier scan of
    this host) the simulation is skipped when the host's fingerprint still equals it, and a ``same``
    section says so.
    """
    if not nonce.isalnum() or not nonce.isascii():
        raise ValueError("nonce must be ASCII letters or digits")
    if known is not None and valid_fingerprint(known) is None:
        raise ValueError("not a fingerprint")
    m = {s: marker(nonce, s) for s in SCAN_SECTIONS}
    simulate = (
        "pd_err=$(mktemp 2>/dev/null) || pd_err=/dev/null; "
        f"printf '\n%s\n' '{m['sim']}'; {scan_command()} 2>\"$pd_err\"; pd_rc=$?; "
        f"printf '\n%s\n%s\n' '{m['simrc']}' \"$pd_rc\"; "
        f"printf '\n%s\n' '{m['simerr']}'; "
        '[ "$pd_err" = /dev/null ] || { cat "$pd_err"; rm -f "$pd_err"; }; '
    )
    if known is not None:
        simulate = (
            f"if [ \"$pd_fp\" = {shlex.quote(known)} ]; then printf '\n%s\n' '{m['same']}'; "
            f"else {simulate}fi; "
        )
    return (
        "( if command -v apt-get >/dev/null 2>&1; then "
        f"pd_fp=$({FINGERPRINT_COMMAND}); "
        f"printf '\n%s\n%s\n' '{m['fp']}' \"$pd_fp\"; "
        f"{simulate}"
        f"fi; {reboot_command(nonce)} )"
    )


@dataclass(frozen=True)
class ScanSections:
    """The scan script's answer: the simulation (None when the host skipped it), the host's fingerprint
    (None when it printed none we accept), whether it matched the one sent, and the reboot state."""

    sim: CommandResult | None
    fingerprint: str | None
    same: bool
    reboot: tuple[bool, tuple[str, ...]]


def parse_scan_script(text: str, nonce: str) -> ScanSections | None:
    """The scan script's sections; None when apt did not run (no simulation and no ``same``)."""
    sections = split_sections(text, nonce, SCAN_SECTIONS)
    fp_lines = [line.strip() for line in sections.get("fp", []) if line.strip()]
    fingerprint = valid_fingerprint(fp_lines[0]) if fp_lines else None
    reboot = parse_reboot(text, nonce)
    if "same" in sections and fingerprint is not None:
        return ScanSections(None, fingerprint, True, reboot)
    if "sim" not in sections or "simrc" not in sections:
        return None
    rc_lines = [line.strip() for line in sections["simrc"] if line.strip()]
    rc = int(rc_lines[0]) if rc_lines and rc_lines[0].isdigit() else -1
    sim = "\n".join(sections["sim"]).encode()
    err = "\n".join(sections.get("simerr", [])).encode()
    return ScanSections(CommandResult(rc, sim, err), fingerprint, False, reboot)


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


def installed_versions_command(names: Iterable[str]) -> list[str]:
    """dpkg-query for the given packages, as an argv list so the transport quotes every name.

    ``--`` ends the options, so a name starting with "-" is a name, not an option.
    """
    return ["dpkg-query", "-W", "-f", DPKG_QUERY_FORMAT, "--", *names]


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
        return AdapterError(
            f"apt on {host} needs root to {what}, and the command did not run as root ({summary}). "
            "Check that the login user may use sudo."
        )
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


class AptAdapter(Adapter):
    """Runs the apt commands above over a transport and maps their failures to known errors."""

    name = MANAGER
    reports_transaction = True

    def __init__(self, host: str | None = None) -> None:
        #: how error sentences name the host; falls back to "the host"
        self.host = host

    def probe(self, transport: Transport, facts: OsFacts) -> bool:
        """True on the Debian family when apt-get exists (checked on the host, without sudo)."""
        if not is_debian_family(facts):
            return False
        result = transport.run("command -v apt-get >/dev/null 2>&1", timeout=30)
        return result.exit_status == 0

    def scan_command(self) -> str:
        return scan_command()

    def refresh_command(self) -> str:
        return refresh_command()

    def simulate(
        self, transport: Transport, *, refresh: bool = False, log: LogFn | None = None
    ) -> SimulationParse:
        """Like :meth:`scan` but returns removals and warnings too."""
        host = self.host_name(transport)
        if refresh:
            result = transport.run(refresh_command(), sudo=True, timeout=600)
            if not result.ok:
                raise describe_failure(result, host, what="refresh the package lists")
            for warning in _warning_lines(result.err):
                emit(log, "warning", f"apt update: {warning}")
        result = transport.run(scan_command(), timeout=300)
        if not result.ok:
            raise describe_failure(result, host, what="check for updates")
        return self._parse_simulation(result, log)

    def scan_script(self, nonce: str, known: str | None = None) -> str | None:
        return scan_script(nonce, valid_fingerprint(known))

    def parse_scan_script(
        self,
        text: str,
        nonce: str,
        *,
        log: LogFn | None = None,
        previous: Callable[[], ScanBasis | None] | None = None,
    ) -> ScriptScan | None:
        found = parse_scan_script(text, nonce)
        if found is None:
            return None
        reboot, pkgs = found.reboot
        if found.same:
            basis = previous() if previous is not None else None
            if basis is None or basis.manager != MANAGER or basis.fingerprint != found.fingerprint:
                return None  # nothing stored to reuse after all: the caller scans in full
            result, reused = CommandResult(0, basis.out, basis.err), True
        else:
            assert found.sim is not None
            result, reused = found.sim, False
            if result.ok and found.fingerprint is not None:
                basis = ScanBasis(MANAGER, found.fingerprint, result.stdout, result.stderr)
            else:
                basis = None
        if not result.ok:
            raise describe_failure(result, self.host or "the host", what="check for updates")
        parsed = self._parse_simulation(result, log)
        return ScriptScan(list(parsed.pending), reboot, pkgs, basis=basis, reused=reused)

    @staticmethod
    def _parse_simulation(result: CommandResult, log: LogFn | None) -> SimulationParse:
        parsed = parse_simulation(result.out)
        for warning in _warning_lines(result.err):
            emit(log, "warning", f"apt: {warning}")
        for warning in parsed.warnings:
            emit(log, "warning", warning)
        if parsed.removals:
            emit(log, "warning", f"Upgrading would remove: {', '.join(parsed.removals)}")
        return parsed

    def scan(
        self, transport: Transport, *, refresh: bool = False, log: LogFn | None = None
    ) -> list[PendingUpdate]:
        """Pending updates from the simulated upgrade; ``refresh`` runs ``apt-get update`` first (sudo)."""
        return list(self.simulate(transport, refresh=refresh, log=log).pending)

    def reboot_required(self, transport: Transport) -> tuple[bool, tuple[str, ...]]:
        nonce = new_nonce()
        result = transport.run(reboot_command(nonce), timeout=30)
        return parse_reboot(result.out, nonce)

    # -- patching -------------------------------------------------------------------------------------

    def plan(
        self, transport: Transport, names: Sequence[str] | None, *, log: LogFn | None = None
    ) -> InstallPlan:
        result = transport.run(plan_command(names), timeout=300)
        if not result.ok:
            raise describe_failure(result, self.host_name(transport), what="plan the upgrade")
        plan = parse_plan(result.out)
        for warning in plan.warnings:
            emit(log, "warning", warning)
        return plan

    def snapshot(self, transport: Transport, names: Sequence[str]) -> Snapshot:
        found = self.installed_versions(transport, check_names(names))
        return {n: found.get(n) for n in names}

    def snapshot_and_reboot(
        self, transport: Transport, names: Sequence[str]
    ) -> tuple[Snapshot, tuple[bool, tuple[str, ...]]]:
        """dpkg-query and the reboot check in one command (after an install, before verification)."""
        checked = check_names(names)
        nonce = new_nonce()
        query = shlex.join(installed_versions_command(checked)) if checked else ":"
        rc_marker = marker(nonce, "queryrc")
        script = f"{query}; printf '\\n%s\\n%s\\n' '{rc_marker}' \"$?\"; {reboot_command(nonce)}"
        result = transport.run(script, timeout=60)
        head, sep, tail = result.out.partition(rc_marker)
        rc_text = tail.strip().splitlines()[0] if sep and tail.strip() else ""
        rc = int(rc_text) if rc_text.isdigit() else -1
        found = self._dpkg_versions(transport, CommandResult(rc, head.encode(), result.stderr))
        return {n: found.get(n) for n in names}, parse_reboot(result.out, nonce)

    def install(
        self,
        transport: Transport,
        names: Sequence[str] | None,
        *,
        log: LogFn | None = None,
        on_output: OutputCallback | None = None,
        timeout: float = 3600,
        lock_wait: float = 120,
    ) -> str | None:
        self._install(transport, install_command(names, lock_wait), timeout + lock_wait, on_output, log)
        return None

    def install_reporting(
        self,
        transport: Transport,
        names: Sequence[str],
        *,
        on_transaction: Callable[[InstallPlan], None],
        log: LogFn | None = None,
        on_output: OutputCallback | None = None,
        timeout: float = 3600,
        lock_wait: float = 120,
    ) -> str | None:
        """One ``apt-get install`` whose pre-install hook reports the transaction (see
        :func:`transaction_hook_options`): no simulation and no dpkg-query before it."""
        tag = marker(new_nonce(), "txn")
        watcher = _TransactionWatcher(tag, on_transaction, on_output)
        try:
            command = install_command(names, lock_wait, tag)
            self._install(transport, command, timeout + lock_wait, watcher, log)
        finally:
            watcher.finish()
        return None

    def _install(
        self,
        transport: Transport,
        command: list[str],
        timeout: float,
        on_output: OutputCallback | None,
        log: LogFn | None,
    ) -> None:
        result = self._run_changing(transport, command, timeout, on_output, log)
        if not result.ok:
            raise describe_failure(result, self.host_name(transport), what="install the updates")

    def _run_changing(
        self,
        transport: Transport,
        command: list[str],
        timeout: float,
        on_output: OutputCallback | None,
        log: LogFn | None,
    ) -> CommandResult:
        """Run an apt command that changes the host; finish an interrupted dpkg run first if needed.

        A dpkg run cut short (a dropped connection, a killed console) leaves packages half-configured
        and apt refuses everything until ``dpkg --configure -a`` has run; doing that for the
        administrator is what they would do by hand, and it only completes work already started.
        """
        result = transport.run(command, sudo=True, env=_INSTALL_ENV, timeout=timeout, on_output=on_output)
        if not result.ok and _DPKG_INTERRUPTED in (result.err + result.out):
            emit(
                log, "warning", "An earlier dpkg run was interrupted; completing it with dpkg --configure -a"
            )
            fix = transport.run(
                CONFIGURE_PENDING, sudo=True, env=_INSTALL_ENV, timeout=timeout, on_output=on_output
            )
            if not fix.ok:
                raise describe_failure(fix, self.host_name(transport), what="finish the interrupted dpkg run")
            result = transport.run(command, sudo=True, env=_INSTALL_ENV, timeout=timeout, on_output=on_output)
        return result

    def available_versions(self, transport: Transport, names: Sequence[str]) -> Mapping[str, frozenset[str]]:
        if not names:
            return {}
        result = transport.run(madison_command(names), timeout=120)
        if not result.ok:
            raise describe_failure(result, self.host_name(transport), what="list the available versions")
        found = parse_madison(result.out)
        return {n: found.get(n, frozenset()) for n in names}

    def rollback(
        self,
        transport: Transport,
        changes: Sequence[PackageChange],
        *,
        transaction_id: str | None = None,
        log: LogFn | None = None,
        on_output: OutputCallback | None = None,
        timeout: float = 3600,
        lock_wait: float = 120,
    ) -> None:
        if not changes:
            return
        result = self._run_changing(
            transport, rollback_command(changes, lock_wait), timeout + lock_wait, on_output, log
        )
        if not result.ok:
            raise describe_failure(result, self.host_name(transport), what="roll back")

    def installed_versions(self, transport: Transport, names: Sequence[str]) -> dict[str, str]:
        """Installed versions of ``names`` (missing packages are simply absent from the result)."""
        if not names:
            return {}
        return self._dpkg_versions(transport, transport.run(installed_versions_command(names), timeout=60))

    def _dpkg_versions(self, transport: Transport, result: CommandResult) -> dict[str, str]:
        """``{name: version}`` from a dpkg-query run, or the error sentence when it failed."""
        # dpkg-query exits 1 when some name is unknown; what it found is still on stdout.
        if result.exit_status not in (0, 1):
            raise describe_failure(result, self.host_name(transport), what="read the installed versions")
        return parse_dpkg_query(result.out)


# -- patching: plan, install, versions, rollback ------------------------------------------------------

#: Non-interactive and keep the administrator's configuration files: a changed conffile must never stop
#: an unattended run at dpkg's prompt, and local edits win over the package's new defaults.
_INSTALL_OPTIONS = (
    "-y",
    "-q",
    "-o",
    "Dpkg::Options::=--force-confdef",
    "-o",
    "Dpkg::Options::=--force-confold",
    "-o",
    "APT::Get::Show-Versions=true",
)
_DPKG_INTERRUPTED = "dpkg was interrupted"
CONFIGURE_PENDING = ["dpkg", "--force-confdef", "--force-confold", "--configure", "-a"]
_INSTALL_ENV = {"LC_ALL": "C", "DEBIAN_FRONTEND": "noninteractive", "APT_LISTCHANGES_FRONTEND": "none"}


def check_names(names: Iterable[str]) -> list[str]:
    """Package names that are safe to hand to apt (argv elements, never spliced); others raise."""
    out = []
    for n in names:
        if not _NAME_RE.fullmatch(n):
            raise AdapterError(f"{n!r} is not a valid Debian package name; nothing was changed.")
        out.append(n)
    return out


def plan_command(names: Sequence[str] | None) -> list[str]:
    """Simulate upgrading ``names`` (None: every upgradable package, new dependencies allowed)."""
    base = [
        "apt-get",
        "-s",
        "-q",
        "-o",
        "Debug::NoLocking=true",
        "-o",
        "APT::Get::Show-User-Simulation-Note=false",
    ]
    if names is None:
        return [*base, "upgrade", "--with-new-pkgs"]
    return [*base, "install", "--only-upgrade", "--", *check_names(names)]


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


#: The pre-install hook that makes apt report its own transaction (apt.conf(5), "Pre-Install-Pkgs",
#: protocol version 3): apt runs it after taking its lock and fetching, before dpkg changes anything,
#: and writes on its standard input "VERSION 3", its configuration (key=value, %-encoded, so never a
#: blank line), a blank line, then one line per package action::
#:
#:     <name> <old-ver> <old-arch> <old-multiarch> <direction> <new-ver> <new-arch> <new-multiarch> <action>
#:
#: with "-" for no version (a new package, a removal); action is the .deb being unpacked,
#: "**CONFIGURE**" or "**REMOVE**". awk is in Debian's required set (mawk); the hook's first word keys
#: its options, so the absolute path keeps ours apart from any other awk hook. It prints apt's native
#: architecture (to qualify names as dpkg-query does) and every action line behind the marker, then
#: an end line.
_HOOK_AWK = "/usr/bin/awk"
_HOOK_PROGRAM = 'p{print m, $0} !p && /^APT::Architecture=/{print m, $0} !p && /^$/{p=1} END{print m, "end"}'


def transaction_hook_options(tag: str) -> list[str]:
    """apt-get options that print the transaction behind ``tag`` (a :func:`marker`) before dpkg runs."""
    if not re.fullmatch(r"[@A-Za-z0-9:]+", tag):
        raise ValueError(f"unsafe marker {tag!r}")
    hook = f"{_HOOK_AWK} -v m={tag} {shlex.quote(_HOOK_PROGRAM)}"
    return [
        "-o",
        f"DPkg::Tools::Options::{_HOOK_AWK}::Version=3",
        "-o",
        f"DPkg::Pre-Install-Pkgs::={hook}",
    ]


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


class _TransactionWatcher:
    """Sits between a streamed apt run and its output callback: takes the hook's lines out of stdout
    and calls ``on_transaction`` as soon as the hook's end line arrives (dpkg starts after it)."""

    def __init__(
        self,
        tag: str,
        on_transaction: Callable[[InstallPlan], None],
        on_output: OutputCallback | None,
    ) -> None:
        self.prefix = tag + " "
        self.on_transaction = on_transaction
        self.on_output = on_output
        self.lines: list[str] = []
        self.reported = False
        self._partial = b""

    def __call__(self, stream: str, chunk: bytes) -> None:
        if stream != "stdout":
            if self.on_output is not None:
                self.on_output(stream, chunk)
            return
        data = self._partial + chunk
        *whole, self._partial = data.split(b"\n")
        passed = []
        for raw in whole:
            text = raw.decode("utf-8", errors="replace").rstrip("\r")
            if text.startswith(self.prefix):
                self._hook_line(text[len(self.prefix) :])
            else:
                passed.append(raw + b"\n")
        if passed and self.on_output is not None:
            self.on_output("stdout", b"".join(passed))

    def _hook_line(self, text: str) -> None:
        if text == "end":
            self.report()
        elif not self.reported:
            self.lines.append(text)

    def report(self) -> None:
        """Once: the first transaction apt reported (a retry after ``dpkg --configure -a`` only runs
        when the first attempt stopped before its transaction)."""
        if self.reported or not self.lines:
            return
        self.reported = True
        self.on_transaction(parse_transaction(self.lines))

    def finish(self) -> None:
        if self._partial:
            rest, self._partial = self._partial, b""
            self("stdout", rest + b"\n")
        self.report()  # lines without their end line: apt stopped inside the hook; report what it said


def install_command(
    names: Sequence[str] | None, lock_wait: float, report_tag: str | None = None
) -> list[str]:
    """Install exactly ``names`` (upgrades only, plus what they need) — never a blind dist-upgrade.
    ``report_tag``: also print the transaction behind that marker before dpkg runs."""
    base = ["apt-get", *_INSTALL_OPTIONS, "-o", f"DPkg::Lock::Timeout={max(0, int(lock_wait))}"]
    if report_tag is not None:
        base += transaction_hook_options(report_tag)
    if names is None:
        return [*base, "upgrade", "--with-new-pkgs"]
    return [*base, "install", "--only-upgrade", "--", *check_names(names)]


def rollback_command(changes: Sequence[PackageChange], lock_wait: float) -> list[str]:
    """One apt transaction that puts every package back: ``name=old`` downgrades, ``name-`` removals."""
    targets = []
    for c in changes:
        check_names([c.name])
        if c.from_version is None:
            targets.append(f"{c.name}-")  # installed by the patch: remove it
        else:
            if not _VERSION_RE.fullmatch(c.from_version):
                raise AdapterError(
                    f"{c.from_version!r} is not a valid version of {c.name}; nothing was changed."
                )
            targets.append(f"{c.name}={c.from_version}")
    return [
        "apt-get",
        *_INSTALL_OPTIONS,
        "-o",
        f"DPkg::Lock::Timeout={max(0, int(lock_wait))}",
        "--allow-downgrades",
        "install",
        "--",
        *targets,
    ]


def madison_command(names: Sequence[str]) -> list[str]:
    return ["apt-cache", "madison", "--", *check_names(names)]


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


def is_debian_family(facts: OsFacts) -> bool:
    """Debian, Ubuntu, or a derivative that says so in ID_LIKE."""
    ids = {facts.id, *facts.id_like}
    return bool(ids & {"debian", "ubuntu"})


__all__ = [
    "AptAdapter",
    "SimulationParse",
    "describe_failure",
    "installed_versions_command",
    "is_debian_family",
    "is_security_origin",
    "parse_dpkg_query",
    "parse_inst_line",
    "parse_reboot",
    "parse_removals",
    "parse_simulation",
    "reboot_command",
    "refresh_command",
    "scan_command",
]
