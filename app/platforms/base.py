"""The package-manager adapter contract.

One adapter per package manager. Command building and output parsing are pure functions in the
adapter's module, tested against recorded real output under ``tests/data/<adapter>/``; the adapter
class only runs them over a transport. Everything that comes back from a host is untrusted text.
"""

from __future__ import annotations

import abc
from collections.abc import Callable

from app.models import OsFacts, PendingUpdate
from app.transports.base import Transport

#: Log callback handed to adapters: (level, text). Levels are app.models.LogLevel values.
LogFn = Callable[[str, str], None]


class Adapter(abc.ABC):
    """Scans one kind of package manager on a host."""

    #: short name stored with each pending update, e.g. "apt"
    name: str = ""

    @abc.abstractmethod
    def probe(self, transport: Transport, facts: OsFacts) -> bool:
        """Whether this package manager is the host's system package manager."""

    @abc.abstractmethod
    def scan(self, transport: Transport, *, refresh: bool = False, log: LogFn | None = None) -> list[PendingUpdate]:
        """Pending updates. ``refresh`` first updates the package indexes (needs root/sudo)."""

    @abc.abstractmethod
    def reboot_required(self, transport: Transport) -> tuple[bool, tuple[str, ...]]:
        """Whether the host waits for a reboot, and the packages that asked for it."""
