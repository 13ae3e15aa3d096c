"""The Windows family: facts and health from PowerShell over WinRM, restart with shutdown.exe."""

from __future__ import annotations

from collections.abc import Sequence

from app.domain.errors import AdapterError
from app.domain.models import OsFacts
from app.domain.outside_changes import HistoryRead
from app.domain.verdicts import Health
from app.platforms.family import Family
from app.platforms.windows.facts import gather_windows_facts
from app.platforms.windows.health import probe_windows_health, restart_script, windows_wording
from app.platforms.windows.history import read_windows_history
from app.transports.base import Transport


class WindowsFamily(Family):
    first_guess = "wua"
    name = "windows"
    reboot_phrase = "a reboot is pending"
    reboot_check_phase = None

    def facts(self, transport: Transport, extra: str = "") -> tuple[OsFacts, frozenset[str], str]:
        if extra:
            raise ValueError("Windows facts cannot carry a POSIX snippet")
        facts, managers = gather_windows_facts(transport)
        return facts, managers, ""

    def facts_and_health(
        self, transport: Transport, services: Sequence[str]
    ) -> tuple[OsFacts, frozenset[str], Health]:
        facts, managers = gather_windows_facts(transport)
        return facts, managers, self.health(transport, services)

    def health(
        self,
        transport: Transport,
        services: Sequence[str] = (),
        since: float | None = None,
        timeout: float = 60,
    ) -> Health:
        # the event logs, Get-Service and the boot time in one WinRM round trip
        return probe_windows_health(transport, services, since, timeout=timeout)

    def restart(self, transport: Transport, host: str) -> None:
        # shutdown /r /t 5 answers before the restart; "back" is WinRM answering with a newer boot time
        res = transport.run(restart_script(), timeout=60)
        if not res.ok:
            raise AdapterError(
                f"{host} refused the restart (exit status {res.exit_status}): " + res.err.strip()[:300]
            )

    def read_history(self, transport: Transport, out: str, nonce: str, manager: str) -> HistoryRead:
        # its own short call: the facts script runs for every verification too, the history only here
        return read_windows_history(transport)

    def describe(self, facts: OsFacts) -> str:
        return f"{facts.pretty_name or 'Windows'} (build {facts.version or '?'})"

    def wording(self, reasons: Sequence[str]) -> tuple[str, ...]:
        return windows_wording(reasons)


WINDOWS = WindowsFamily()
