"""What a family of hosts supplies besides its package managers: facts, health, restart and wording.

A host belongs to one family, decided by how it is reached: over WinRM it is a Windows host, over SSH
a POSIX one, and the local machine is of the console's own family. The job tasks (app/jobs/) ask the
host's family and never look at the transport or the OS themselves. The adapters of a family are rows
of the probe table in app.platforms.registry.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence

from app.domain.models import Host, OsFacts, TransportKind
from app.domain.outside_changes import HistoryRead
from app.domain.verdicts import Health
from app.platforms.base import Adapter
from app.transports.base import Transport

#: At most this many new error lines (journal or event logs) a health check brings back: enough to
#: judge by, bounded against a host that floods its logs.
MAX_JOURNAL_LINES = 50


class Family(abc.ABC):
    """Facts, health, restart and wording of one family of hosts."""

    #: "posix" or "windows", as the probe table's rows name their family
    name: str = ""
    #: how the end of a scan says that the host waits for a reboot
    reboot_phrase: str = "a reboot is required"
    #: the progress phase shown while the reboot check runs on its own (None: not shown)
    reboot_check_phase: str | None = "reboot check"
    #: the package manager guessed for a host never scanned before
    first_guess: str = ""

    @abc.abstractmethod
    def facts(self, transport: Transport, extra: str = "") -> tuple[OsFacts, frozenset[str], str]:
        """The host's OS facts, the package managers found on it and the output of ``extra``.

        ``extra`` is a trusted snippet (an adapter's one-round-trip scan) run in the same session as the
        facts where the family can do so; where it cannot, ``extra`` must be empty.
        """

    @abc.abstractmethod
    def facts_and_health(
        self, transport: Transport, services: Sequence[str]
    ) -> tuple[OsFacts, frozenset[str], Health]:
        """The facts and the health baseline, in as few sessions as the family allows."""

    @abc.abstractmethod
    def health(
        self,
        transport: Transport,
        services: Sequence[str] = (),
        since: float | None = None,
        timeout: float = 60,
    ) -> Health:
        """Services, new errors since ``since``, load, memory and boot time."""

    @abc.abstractmethod
    def restart(self, transport: Transport, host: str) -> None:
        """Start a restart of the host; returns once the host took the order (or may have)."""

    def describe(self, facts: OsFacts) -> str:
        """The line a scan logs about the host's operating system."""
        return f"{facts.pretty_name or facts.id or 'unknown OS'}, kernel {facts.kernel or '?'}"

    def managers(self, adapter: Adapter, found: frozenset[str]) -> tuple[str, ...]:
        """The package managers a scan stores: the adapter used first (the next scan guesses it)."""
        return (adapter.name, *sorted(found - {adapter.name}))

    def guess(self, managers: Sequence[str], host: str) -> Adapter | None:
        """The adapter the host had at its last scan (``managers``, as stored), else the family's usual
        one: its scan can then travel with the facts, where the family allows that."""
        from app.platforms.registry import adapter_named

        return adapter_named(managers[0] if managers else self.first_guess, host, family=self.name)

    def extra_adapters(self, found: frozenset[str], host: str) -> list[Adapter]:
        """Adapters that run beside the system's own (Chocolatey and winget next to Windows Update)."""
        from app.platforms.registry import extra_adapters

        return extra_adapters(self.name, found, host=host)

    def history_script(self, nonce: str) -> str:
        """A trusted snippet that prints the host's package history, run in the facts' own session
        (before the scan snippet); "" where the family reads it otherwise."""
        return ""

    def read_history(self, transport: Transport, out: str, nonce: str, manager: str) -> HistoryRead:
        """The package history of ``manager`` since the host's previous scan (``out``: the facts
        session's output, where :meth:`history_script` ran); unknown where it cannot be read."""
        return HistoryRead.unknown(manager, "Patchdesk cannot read the package history of this host")

    def wording(self, reasons: Sequence[str]) -> tuple[str, ...]:
        """Verification reasons in the words an administrator of this family uses."""
        return tuple(reasons)


def family_of(host: Host) -> Family:
    """The family of ``host``, from how it is reached: over WinRM, or locally on a console that runs
    on Windows (the workstation patching itself), it is a Windows host."""
    windows = host.transport == TransportKind.WINRM
    if host.transport == TransportKind.LOCAL:
        # only the local host asks: the Windows runner (and its PowerShell and XML modules) is not
        # what a scan over SSH should load
        from app.transports import local_windows

        windows = local_windows.workstation_is_windows()
    if windows:
        from app.platforms.windows.family import WINDOWS

        return WINDOWS
    from app.platforms.posix.family import POSIX

    return POSIX
