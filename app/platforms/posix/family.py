"""The POSIX family: facts and health from shell snippets, restart through systemd or shutdown."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from app.domain.models import OsFacts
from app.domain.outside_changes import HistoryRead
from app.domain.verdicts import Health
from app.platforms.base import Adapter, new_nonce
from app.platforms.family import Family
from app.platforms.posix.facts import gather_facts_with
from app.platforms.posix.health import health_command, parse_health, probe_health
from app.platforms.posix.history import history_command, parse_history
from app.transports.base import Transport

#: Detached, with a short delay, so the command returns before the connection goes down.
REBOOT_COMMAND = (
    "nohup sh -c 'sleep 2; systemctl reboot || shutdown -r now || reboot' >/dev/null 2>&1 </dev/null &"
)

#: binaries found on a host -> the package manager they stand for (shown in the inventory)
MANAGER_BINARIES = {"apt-get": "apt", "dnf": "dnf", "yum": "yum", "zypper": "zypper", "fwupdmgr": "fwupd"}


class PosixFamily(Family):
    first_guess = "apt"
    name = "posix"

    def facts(self, transport: Transport, extra: str = "") -> tuple[OsFacts, frozenset[str], str]:
        facts, binaries, result = gather_facts_with(transport, extra, timeout=300 if extra else 30)
        return facts, binaries, result.out

    def facts_and_health(
        self, transport: Transport, services: Sequence[str]
    ) -> tuple[OsFacts, frozenset[str], Health]:
        # one shell session for both: the health snippet follows the facts snippet
        nonce = new_nonce()
        facts, binaries, result = gather_facts_with(transport, health_command(nonce, services), timeout=60)
        return facts, binaries, parse_health(result.out, nonce)

    def health(
        self,
        transport: Transport,
        services: Sequence[str] = (),
        since: float | None = None,
        timeout: float = 60,
    ) -> Health:
        return probe_health(transport, services, since, timeout=timeout)

    def restart(self, transport: Transport, host: str) -> None:
        transport.run(REBOOT_COMMAND, sudo=True, timeout=30)

    def history_script(self, nonce: str) -> str:
        return history_command(nonce)

    def read_history(self, transport: Transport, out: str, nonce: str, manager: str) -> HistoryRead:
        return parse_history(out, nonce, manager, datetime.now(UTC))

    def managers(self, adapter: Adapter, found: frozenset[str]) -> tuple[str, ...]:
        named = {MANAGER_BINARIES[b] for b in found if b in MANAGER_BINARIES}
        return (adapter.name, *sorted(named - {adapter.name}))


POSIX = PosixFamily()
