"""The package-manager adapter contract.

One adapter per package manager. Command building and output parsing are pure functions in the
adapter's module, tested against recorded real output under ``tests/data/<adapter>/``; the adapter
class only runs them over a transport. Everything that comes back from a host is untrusted text.

The small helpers every adapter needs (logging through the job's callback, naming the host in a
sentence, capping warnings, quoting a line of host output) live here once.
"""

from __future__ import annotations

import abc
import logging
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.domain.errors import AdapterError, UnsupportedHostError
from app.domain.models import IndexState, InstallPlan, OsFacts, PackageChange, PendingUpdate, ScanBasis
from app.transports.base import CommandResult, OutputCallback, Transport

logger = logging.getLogger(__name__)

#: Log callback handed to adapters: (level, text). Levels are app.domain.models.LogLevel values.
LogFn = Callable[[str, str], None]

#: Longest value kept from the host for one field: a hostile host must not fill the database.
MAX_VALUE_LEN = 256
#: at most this many parse warnings are kept per command; the rest are only counted
MAX_WARNINGS = 50
#: a quoted line of host output is cut to this many characters
MAX_QUOTE = 160
#: error lines of a failed command quoted in the sentence that reports it
MAX_ERROR_LINES = 3

_CONTROL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def new_nonce() -> str:
    """A fresh random nonce for one call's section markers; 128 bits so a host cannot guess it."""
    return secrets.token_hex(16)


def clean_value(value: str) -> str:
    """Make a host-supplied value safe to store and show: no control characters, bounded length."""
    return _CONTROL_RE.sub("", value).strip()[:MAX_VALUE_LEN]


def quote_line(line: str) -> str:
    """A line of host output made safe to show in a warning: no control characters, bounded length."""
    shown = clean_value(line.replace("\t", " "))
    return shown if len(line) <= MAX_QUOTE else shown[:MAX_QUOTE] + "…"


class Warnings:
    """Collects warnings up to a cap, then only counts them (a hostile host cannot flood the log)."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.dropped = 0

    def add(self, text: str) -> None:
        if len(self.items) < MAX_WARNINGS:
            self.items.append(text)
        else:
            self.dropped += 1

    def result(self) -> tuple[str, ...]:
        if self.dropped:
            return (*self.items, f"… and {self.dropped} more unparseable line(s)")
        return tuple(self.items)


def emit(log: LogFn | None, level: str, text: str) -> None:
    """Hand one line to the job's log callback. The module log gets it at debug level only: the
    callback carries it to the user, and the module log must not double every line."""
    logger.debug("%s: %s", level, text)
    if log is not None:
        log(level, text)


def needs_root(tool: str, host: str, what: str, summary: str) -> AdapterError:
    """The sentence for a package manager that refused to work without root."""
    return AdapterError(
        f"{tool} on {host} needs root to {what}, and the command did not run as root ({summary}). "
        "Check that the login user may use sudo."
    )


def failure_summary(result: CommandResult, error_lines: Callable[[str], list[str]]) -> str:
    """The first few error lines of a failed command (as ``error_lines`` picks them from stderr, then
    stdout), or failing that the first lines of stderr."""
    lines = error_lines(result.err) or error_lines(result.out)
    if not lines:
        lines = [clean_value(line) for line in result.err.splitlines() if line.strip()]
    text = "; ".join(line.rstrip(".") for line in lines[:MAX_ERROR_LINES])
    return text or f"exit status {result.exit_status}, no error text"


#: Versions installed on a host, by package name; None: not installed.
Snapshot = Mapping[str, str | None]


@dataclass(frozen=True)
class ScriptScan:
    """What :meth:`Adapter.parse_scan_script` found.

    ``basis`` is the raw output and host fingerprint for the next scan to reuse (None when the adapter
    cannot fingerprint the host); ``reused`` is True when the host reported no change since the basis
    it was sent, so ``pending`` comes from that stored output.
    """

    pending: list[PendingUpdate]
    reboot: bool
    reboot_packages: tuple[str, ...]
    basis: ScanBasis | None = None
    reused: bool = False
    #: what the scan script said of the package index (None: it said nothing; ask :meth:`index_state`)
    index: IndexState | None = None


class Adapter(abc.ABC):
    """Scans, patches and rolls back one kind of package manager on a host.

    Scanning is required of every adapter. The patching half has defaults that refuse plainly, so an
    adapter can ship scan-only first. The job tasks (app/jobs/) drive the patching half in this order:
    ``plan`` → ``snapshot`` of every package the plan touches → ``install`` → ``snapshot`` again; the
    change record is the difference of the two snapshots (what really changed, not what was planned).
    Rollback checks ``available_versions`` for every from-version *before* changing anything, then
    calls ``rollback``.

    An adapter whose package manager reports its own transaction before changing anything (every
    package with its version before and after; apt's pre-install hook) sets ``reports_transaction``
    and implements ``install_reporting``: the patch then skips the separate plan and first snapshot,
    and the "before" side is what the package manager itself read under its lock.
    """

    #: short name stored with each pending update, e.g. "apt"
    name: str = ""
    #: how error sentences name the host (None: as the transport names it)
    host: str | None = None
    #: True when :meth:`install_reporting` is implemented
    reports_transaction: bool = False
    #: False where every scan reads fresh data (Windows Update searches online): no indexes to refresh
    refreshes_indexes: bool = True
    #: install packages the host holds back when they are named (patch --include-held); set per job
    allow_held: bool = False
    #: the ids of the offline bundles applied on the host (db/bundles.py): the package manager is
    #: given them as its sources on its command line; set per job, empty for most hosts
    extra_sources: tuple[str, ...] = ()
    #: how old an index may be, and whether a scan may refresh it (policy.index_max_age_hours,
    #: --no-refresh); set per job for adapters that refresh inside their own scan (winget)
    index_max_age: timedelta = timedelta(hours=24)
    auto_refresh: bool = True
    #: sentences the last scan of this adapter left for the result: output it could not fully read
    #: (they make the scan incomplete)
    last_scan_notes: tuple[str, ...] = ()

    def host_name(self, transport: Transport) -> str:
        """The host as sentences name it: the name given, else the transport's host, else "the host"."""
        if self.host:
            return self.host
        named = getattr(transport, "host", None)
        named = getattr(named, "name", named)
        return named if isinstance(named, str) and named else "the host"

    def index_state(self, transport: Transport, *, refreshed: bool = False) -> IndexState:
        """What this adapter can truthfully say of the package metadata its scan just read.

        The default: right after a refresh that succeeded (``refreshed``) the metadata is current now;
        otherwise its age is not known, and the scan cannot be complete. Adapters that can read the
        index's age on the host override this.
        """
        if refreshed and self.refreshes_indexes:
            return IndexState(datetime.now(UTC), measured=True)
        return IndexState.unknown(self.name or "this package manager")

    def held(self, transport: Transport) -> frozenset[str]:
        """Packages the host holds back from upgrades (none where the package manager has no holds)."""
        return frozenset()

    def scan_phase(self) -> str:
        """The progress phase shown while this adapter scans."""
        return f"scanning {self.name}"

    def install_results(self) -> list[tuple[str, str]]:
        """(level, line) per package of the last install, for the job log, where the package manager
        reports a result of its own per package (Windows Update's result code and HRESULT)."""
        return []

    @abc.abstractmethod
    def probe(self, transport: Transport, facts: OsFacts) -> bool:
        """Whether this package manager is the host's system package manager."""

    @abc.abstractmethod
    def scan(
        self, transport: Transport, *, refresh: bool = False, log: LogFn | None = None
    ) -> list[PendingUpdate]:
        """Pending updates. ``refresh`` first updates the package indexes (needs root/sudo)."""

    @abc.abstractmethod
    def reboot_required(self, transport: Transport) -> tuple[bool, tuple[str, ...]]:
        """Whether the host waits for a reboot, and the packages that asked for it."""

    # -- one-round-trip scan (optional) --------------------------------------------------------------

    def scan_script(self, nonce: str, known: str | None = None) -> str | None:
        """A trusted snippet printing the scan and reboot sections after ``nonce`` markers, or None.

        Lets a scan send facts, pending updates and the reboot check in one command: every extra
        command is another session on the host (sshd fork, login shell), which dominates a fan-out.
        The snippet must do nothing on a host without this package manager. ``known`` is the
        fingerprint of a stored :class:`ScanBasis`: an adapter that fingerprints hosts skips its
        simulation when the host's fingerprint still equals it.
        """
        return None

    def parse_scan_script(
        self,
        text: str,
        nonce: str,
        *,
        log: LogFn | None = None,
        previous: Callable[[], ScanBasis | None] | None = None,
    ) -> ScriptScan | None:
        """Pending updates and reboot state from :meth:`scan_script` output; None when it is absent.

        ``previous`` loads the stored basis whose fingerprint was sent, when the host says nothing
        changed; None (also when it returns None) means the scan must be run in full.
        """
        return None

    # -- patching --------------------------------------------------------------------------------------

    def _unsupported(self, what: str) -> UnsupportedHostError:
        return UnsupportedHostError(
            f"Patchdesk cannot {what} with {self.name or 'this package manager'} yet."
        )

    def plan(
        self, transport: Transport, names: Sequence[str] | None, *, log: LogFn | None = None
    ) -> InstallPlan:
        """Simulate installing ``names`` (None: every pending update) and list every package it changes."""
        raise self._unsupported("plan installs")

    def snapshot(self, transport: Transport, names: Sequence[str]) -> Snapshot:
        """Installed versions of ``names`` right now (None for those not installed)."""
        raise self._unsupported("snapshot installed versions")

    def snapshot_and_reboot(
        self, transport: Transport, names: Sequence[str]
    ) -> tuple[Snapshot, tuple[bool, tuple[str, ...]]]:
        """The snapshot after a change and the reboot check. Adapters that can answer both in one
        command override this: every command is another session on the host."""
        return self.snapshot(transport, names), self.reboot_required(transport)

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
        """Install ``names`` (None: all pending) non-interactively, keeping existing configuration.

        Waits up to ``lock_wait`` seconds for a package-manager lock held by someone else, then fails
        with a sentence. Returns the package manager's transaction id where it has one (dnf history).
        """
        raise self._unsupported("install updates")

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
        """Like :meth:`install`, and call ``on_transaction`` with every package the package manager is
        about to change (``from_version`` as it read it), after it took its lock and before it changes
        anything. Not called when the package manager stopped before that point (nothing changed) or
        had nothing to do."""
        raise self._unsupported("report its transaction")

    def available_versions(self, transport: Transport, names: Sequence[str]) -> Mapping[str, frozenset[str]]:
        """Every version of each package that the host's repositories can still install."""
        raise self._unsupported("list available versions")

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
        """Put every package of ``changes`` back to its from-version (remove those it installed)."""
        raise self._unsupported("roll back")
