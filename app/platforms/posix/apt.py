"""The apt adapter: Debian, Ubuntu and their derivatives.

Pending updates come from a *simulated* ``apt-get dist-upgrade``: it runs as an ordinary user, takes no
lock (``Debug::NoLocking``), and unlike ``apt list --upgradable`` (whose CLI apt itself calls unstable)
or ``apt-get -s upgrade`` (which holds back every update that needs a new package, i.e. every kernel)
it shows exactly what a real upgrade would do. The scan can travel with the facts in one session
(:func:`scan_script`), and skip the simulation when nothing apt reads has changed (the fingerprint).

Patching installs non-interactively, keeping the administrator's configuration files, with a
pre-install hook that makes apt report its own transaction before dpkg changes anything. This module
builds the commands and runs them; what they print is read by apt_parse.py.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from app.domain.models import (
    IndexState,
    InstallPlan,
    OsFacts,
    PackageChange,
    PendingUpdate,
    ScanBasis,
)
from app.platforms.base import (
    Adapter,
    LogFn,
    ScriptScan,
    Snapshot,
    emit,
    new_nonce,
)
from app.platforms.posix.apt_install import (
    BUNDLE_LISTS,
    BUNDLE_SOURCES,
    CONFIGURE_PENDING,
    DPKG_INTERRUPTED,
    INSTALL_ENV,
    TransactionWatcher,
    install_command,
    madison_command,
    plan_command,
    redate_lists,
    rollback_command,
    source_options,
)
from app.platforms.posix.apt_parse import (
    LISTS_DIR,
    MANAGER,
    SCAN_SECTIONS,
    UNREADABLE_INDEX_NOTE,
    UPDATE_STAMP,
    Pinned,
    SimulationParse,
    _warning_lines,
    check_names,
    describe_failure,
    mark_held,
    parse_dpkg_query,
    parse_holds,
    parse_index,
    parse_madison,
    parse_plan,
    parse_policy,
    parse_reboot,
    parse_scan_script,
    parse_simulation,
    pinned_updates,
    valid_fingerprint,
)
from app.platforms.posix.facts import marker
from app.transports.base import CommandResult, OutputCallback, Transport

#: ``APT::Ignore-Hold``: held packages are simulated like the others (apt-get would keep them back
#: without a word), so the scan can list them, marked held (``apt-mark showhold``, HOLDS_COMMAND).
SCAN_COMMAND = (
    "LC_ALL=C apt-get -s -q -o Debug::NoLocking=true -o APT::Ignore-Hold=true "
    "-o APT::Get::Show-User-Simulation-Note=false dist-upgrade"
)
HOLDS_COMMAND = "LC_ALL=C apt-mark showhold"
#: The packages the administrator's apt preferences name, then apt's policy for them (parse_policy):
#: a pin that keeps a package below the newest version hides that update from the simulation. Only
#: where preferences exist; globs and regular expressions are skipped, and the names are the host's
#: own data for its own apt-cache (no globbing, after ``--``), never part of a command we build.
PINS_COMMAND = (
    "pd_pins=$(sed -n 's/^[[:space:]]*Package:[[:space:]]*//p' /etc/apt/preferences "
    "/etc/apt/preferences.d/* 2>/dev/null | tr ' \\t' '\\n\\n' | grep -v '[*?/]' | sort -u | head -n 500); "
    'if [ -n "$pd_pins" ]; then set -f; LC_ALL=C apt-cache policy -- $pd_pins 2>/dev/null; set +f; fi'
)
#: After a successful update apt touches its periodic stamp (see apt_parse.UPDATE_STAMP): the index's
#: age is then the time of the last refresh, not the server's Last-Modified of the lists.
REFRESH_COMMAND = (
    "LC_ALL=C apt-get update -q -o "
    "'APT::Update::Post-Invoke-Success::=touch /var/lib/apt/periodic/update-success-stamp "
    "2>/dev/null || true'"
)


#: The host's clock, then ``<mtime> <path>`` of every list file and the update stamp, then the files
#: ``apt-get update`` would fetch for every configured source (no network, no lock; parse_index).
def index_command(sources: Sequence[str] = ()) -> str:
    """See INDEX_COMMAND; with bundle ``sources``, their lists and sources instead of the host's."""
    lists = BUNDLE_LISTS if sources else LISTS_DIR
    return (
        "printf 'now %s\n' \"$(date +%s)\"; "
        f"stat -c '%Y %n' -- {lists}/*_InRelease {lists}/*_Release {lists}/*_Packages* "
        # the host's own update stamp says nothing of a bundle's age (redate_lists)
        f"{'' if sources else UPDATE_STAMP} 2>/dev/null; "
        f"LC_ALL=C {_apt('apt-get', sources)} -q -o Debug::NoLocking=true --print-uris update 2>/dev/null "
        "| grep '_InRelease ' ; true"
    )


def _apt(program: str, sources: Sequence[str]) -> str:
    """``apt-get``/``apt-cache`` with the options that name the host's applied bundles as its sources."""
    return shlex.join([program, *source_options(sources)])


INDEX_COMMAND = index_command()

#: dpkg-query output format for snapshots: name, version, and the three-letter status abbreviation.
#: ``binary:Package`` keeps ":arch" on foreign-architecture packages, so names match the Inst lines.
DPKG_QUERY_FORMAT = "${binary:Package}\\t${Version}\\t${db:Status-Abbrev}\\n"

REBOOT_FLAG = "/var/run/reboot-required"
REBOOT_PKGS = "/var/run/reboot-required.pkgs"


def scan_command(sources: Sequence[str] = ()) -> str:
    """The simulated upgrade: no root, no lock, stable English output; ``sources``: the ids of the
    bundles applied on the host, which are then its package sources (apt_install.source_options)."""
    return SCAN_COMMAND.replace("apt-get ", _apt("apt-get", sources) + " ", 1) if sources else SCAN_COMMAND


def refresh_command(sources: Sequence[str] = ()) -> str:
    """Update the package indexes; needs root. With bundle ``sources``: read the bundles again (a
    file: source, no network), then date their lists by the bundles' build time, not by now."""
    if not sources:
        return REFRESH_COMMAND
    return f"LC_ALL=C {_apt('apt-get', sources)} update -q; pd_rc=$?; {redate_lists(sources)}; exit $pd_rc"


def reboot_command(nonce: str) -> str:
    """One round trip for the reboot flag and the packages that asked for the reboot."""
    # marker() only accepts a checked nonce through facts_command; check here too before splicing.
    if not nonce.isalnum() or not nonce.isascii():
        raise ValueError("nonce must be ASCII letters or digits")
    return (
        f"printf '\\n%s\\n' '{marker(nonce, 'flag')}'; test -e {REBOOT_FLAG} && echo yes; "
        # cat only when there is something to show: most scans find no file, and every program a scan
        # starts is work for each host at each scan (see facts.first_line)
        f"printf '\\n%s\\n' '{marker(nonce, 'pkgs')}'; "
        f"if [ -e {REBOOT_PKGS} ]; then cat {REBOOT_PKGS} 2>/dev/null; fi; "
        f"printf '\\n%s\\n' '{marker(nonce, 'end')}'; exit 0"
    )


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


def fingerprint_command(sources: Sequence[str] = ()) -> str:
    """FINGERPRINT_COMMAND; with bundle ``sources`` their sources list and lists count too, and so does
    which bundles they are (a bundle applied or removed changes what the simulation sees)."""
    if not sources:
        return FINGERPRINT_COMMAND
    paths = " ".join((*FINGERPRINT_PATHS, BUNDLE_SOURCES, BUNDLE_LISTS, f"{BUNDLE_LISTS}/*"))
    ids = shlex.quote(" ".join(sources))
    return f"{{ echo {ids}; stat -c '%n|%s|%i|%y|%z' -- {paths} 2>/dev/null; }} | sha256sum"


def scan_script(nonce: str, known: str | None = None, sources: Sequence[str] = ()) -> str:
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
        f"printf '\n%s\n' '{m['sim']}'; {scan_command(sources)} 2>\"$pd_err\"; pd_rc=$?; "
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
        f"printf '\n%s\n' '{m['idx']}'; {index_command(sources)}; "
        f"printf '\n%s\n' '{m['held']}'; {HOLDS_COMMAND} 2>/dev/null; "
        f"printf '\n%s\n' '{m['pins']}'; {PINS_COMMAND}; "
        f"pd_fp=$({fingerprint_command(sources)}); "
        f"printf '\n%s\n%s\n' '{m['fp']}' \"$pd_fp\"; "
        f"{simulate}"
        f"fi; {reboot_command(nonce)} )"
    )


def installed_versions_command(names: Iterable[str]) -> list[str]:
    """dpkg-query for the given packages, as an argv list so the transport quotes every name.

    ``--`` ends the options, so a name starting with "-" is a name, not an option.
    """
    return ["dpkg-query", "-W", "-f", DPKG_QUERY_FORMAT, "--", *names]


class AptAdapter(Adapter):
    """Runs the apt commands above over a transport and maps their failures to known errors."""

    name = MANAGER
    reports_transaction = True

    def __init__(self, host: str | None = None) -> None:
        #: how error sentences name the host; falls back to "the host"
        self.host = host
        #: packages pinned below their newest version, as the last look at the holds found them
        self._pins: dict[str, Pinned] = {}

    def probe(self, transport: Transport, facts: OsFacts) -> bool:
        """True on the Debian family when apt-get exists (checked on the host, without sudo)."""
        if not is_debian_family(facts):
            return False
        result = transport.run("command -v apt-get >/dev/null 2>&1", timeout=30)
        return result.exit_status == 0

    def scan_command(self) -> str:
        return scan_command(self.extra_sources)

    def refresh_command(self) -> str:
        return refresh_command(self.extra_sources)

    def simulate(
        self, transport: Transport, *, refresh: bool = False, log: LogFn | None = None
    ) -> SimulationParse:
        """Like :meth:`scan` but returns removals and warnings too."""
        host = self.host_name(transport)
        if refresh:
            result = transport.run(refresh_command(self.extra_sources), sudo=True, timeout=600)
            if not result.ok:
                raise describe_failure(result, host, what="refresh the package lists")
            for warning in _warning_lines(result.err):
                emit(log, "warning", f"apt update: {warning}")
        result = transport.run(scan_command(self.extra_sources), timeout=300)
        if not result.ok:
            raise describe_failure(result, host, what="check for updates")
        holds, pins = self._holds_and_pins(transport)
        return self._parse_simulation(result, log, holds, pins)

    def held(self, transport: Transport) -> frozenset[str]:
        """The packages held on the host (``apt-mark showhold``) or pinned below their newest version."""
        holds, pins = self._holds_and_pins(transport)
        return holds | frozenset(pins)

    def _holds_and_pins(self, transport: Transport) -> tuple[frozenset[str], dict[str, Pinned]]:
        nonce = new_nonce()
        result = transport.run(
            f"{HOLDS_COMMAND}; rc=$?; printf '\\n%s\\n' '{marker(nonce, 'pins')}'; {PINS_COMMAND}; exit $rc",
            timeout=60,
        )
        if not result.ok:
            raise describe_failure(result, self.host_name(transport), what="list the held packages")
        holds, _, pins = result.out.partition(marker(nonce, "pins"))
        self._pins = parse_policy(pins.splitlines())
        return parse_holds(holds.splitlines()), self._pins

    def _pinned(self, transport: Transport, names: Sequence[str] | None) -> dict[str, str] | None:
        """With --include-held, the newest version of each named package a pin keeps back (asked of
        the host now, so a pin set since the scan counts too)."""
        if not self.allow_held or not names:
            return None
        _holds, pins = self._holds_and_pins(transport)
        return {n: pins[n].newest for n in names if n in pins}

    def scan_script(self, nonce: str, known: str | None = None) -> str | None:
        return scan_script(nonce, valid_fingerprint(known), self.extra_sources)

    def parse_scan_script(
        self,
        text: str,
        nonce: str,
        *,
        log: LogFn | None = None,
        previous: Callable[[], ScanBasis | None] | None = None,
    ) -> ScriptScan | None:
        found = parse_scan_script(text, nonce, datetime.now(UTC))
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
        parsed = self._parse_simulation(result, log, found.holds, found.pins)
        return ScriptScan(list(parsed.pending), reboot, pkgs, basis=basis, reused=reused, index=found.index)

    def index_state(self, transport: Transport, *, refreshed: bool = False) -> IndexState:
        """The age of the lists on the host (one short command); unmeasured when it does not answer."""
        result = transport.run(index_command(self.extra_sources), timeout=30)
        if not result.ok:
            return IndexState(notes=(UNREADABLE_INDEX_NOTE,))
        return parse_index(result.out.splitlines(), datetime.now(UTC))

    def _parse_simulation(
        self,
        result: CommandResult,
        log: LogFn | None,
        holds: frozenset[str] = frozenset(),
        pins: Mapping[str, Pinned] | None = None,
    ) -> SimulationParse:
        parsed = parse_simulation(result.out)
        notes = []
        if not parsed.summary:
            notes.append(
                "apt's answer has no summary line ('N upgraded, N newly installed, ...'), so Patchdesk "
                "cannot tell whether it is whole: updates may be missing from this list."
            )
        if parsed.warnings:
            notes.append(
                f"apt printed {len(parsed.warnings)} line(s) Patchdesk could not understand (see the job "
                "log), so an update may be missing from this list."
            )
        self.last_scan_notes = tuple(notes)
        if holds:
            parsed = replace(parsed, pending=mark_held(parsed.pending, holds))
        if pins:
            parsed = replace(parsed, pending=(*parsed.pending, *pinned_updates(pins, parsed.pending)))
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
        command = plan_command(
            names,
            allow_held=self.allow_held,
            versions=self._pinned(transport, names),
            sources=self.extra_sources,
        )
        result = transport.run(command, timeout=300)
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
        versions = self._pinned(transport, names)
        command = install_command(
            names, lock_wait, allow_held=self.allow_held, versions=versions, sources=self.extra_sources
        )
        self._install(transport, command, timeout + lock_wait, on_output, log)
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
        watcher = TransactionWatcher(tag, on_transaction, on_output)
        try:
            versions = self._pinned(transport, names)
            command = install_command(
                names,
                lock_wait,
                tag,
                allow_held=self.allow_held,
                versions=versions,
                sources=self.extra_sources,
            )
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
        result = transport.run(command, sudo=True, env=INSTALL_ENV, timeout=timeout, on_output=on_output)
        if not result.ok and DPKG_INTERRUPTED in (result.err + result.out):
            emit(
                log, "warning", "An earlier dpkg run was interrupted; completing it with dpkg --configure -a"
            )
            fix = transport.run(
                CONFIGURE_PENDING, sudo=True, env=INSTALL_ENV, timeout=timeout, on_output=on_output
            )
            if not fix.ok:
                raise describe_failure(fix, self.host_name(transport), what="finish the interrupted dpkg run")
            result = transport.run(command, sudo=True, env=INSTALL_ENV, timeout=timeout, on_output=on_output)
        return result

    def available_versions(self, transport: Transport, names: Sequence[str]) -> Mapping[str, frozenset[str]]:
        if not names:
            return {}
        result = transport.run(madison_command(names, self.extra_sources), timeout=120)
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
            transport,
            rollback_command(changes, lock_wait, self.extra_sources),
            timeout + lock_wait,
            on_output,
            log,
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


def is_debian_family(facts: OsFacts) -> bool:
    """Debian, Ubuntu, or a derivative that says so in ID_LIKE."""
    ids = {facts.id, *facts.id_like}
    return bool(ids & {"debian", "ubuntu"})


__all__ = [
    "AptAdapter",
    "installed_versions_command",
    "is_debian_family",
    "reboot_command",
    "refresh_command",
    "scan_command",
]
