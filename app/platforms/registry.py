"""Which adapters handle a host: an ordered probe table, in the spirit of Ansible's package-manager
detection.

Every adapter is a row, tagged with its family (app.platforms.family). A row is either a system
package manager (one per host: apt, dnf, zypper, Windows Update) or an additional one that runs beside
it where its binary was found (Chocolatey and winget on Windows).

The OS family from os-release decides first, because binaries lie: Debian hosts often carry ``rpm`` (for
alien or LSB tooling) and Fedora hosts may have ``dpkg`` installed. Only when os-release names no family
we know do the binaries found on the host decide, in table order. An entry without a factory (a
package manager not written yet) gets a clear "not supported yet" sentence instead of a wrong adapter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.domain.errors import UnsupportedHostError
from app.domain.models import OsFacts
from app.platforms.base import Adapter

#: Builds an adapter for a host (the argument is the host's display name, for error sentences).
AdapterFactory = Callable[[str | None], Adapter]


@dataclass(frozen=True)
class AdapterEntry:
    """One row of the probe table."""

    #: the adapter's name, as stored with pending updates ("apt")
    name: str
    #: os-release ID / ID_LIKE words that mean this package manager is the system's
    os_ids: frozenset[str]
    #: binaries whose presence means this package manager, when os-release is not conclusive
    binaries: tuple[str, ...]
    #: None while the adapter is not written: such hosts are refused with a clear sentence
    factory: AdapterFactory | None
    #: the family of hosts it runs on ("posix", "windows")
    family: str = "posix"
    #: True for an additional package manager, run beside the system's own
    extra: bool = False


# The adapters' modules are imported when a host first needs one: the GUI starts without them.


def _apt(host: str | None) -> Adapter:
    from app.platforms.posix.apt import AptAdapter

    return AptAdapter(host)


def _dnf(host: str | None) -> Adapter:
    from app.platforms.posix.dnf import DnfAdapter

    return DnfAdapter(host)


def _zypper(host: str | None) -> Adapter:
    from app.platforms.posix.zypper import ZypperAdapter

    return ZypperAdapter(host)


def _fwupd(host: str | None) -> Adapter:
    from app.platforms.posix.fwupd import FwupdAdapter

    return FwupdAdapter(host)


def _wua(host: str | None) -> Adapter:
    from app.platforms.windows.wua import WindowsUpdateAdapter

    return WindowsUpdateAdapter(host)


def _choco(host: str | None) -> Adapter:
    from app.platforms.windows.chocolatey import ChocolateyAdapter

    return ChocolateyAdapter(host)


def _winget(host: str | None) -> Adapter:
    from app.platforms.windows.winget import WinGetAdapter

    return WinGetAdapter(host)


#: The ordered probe table. Order matters for the binary fallback (first match wins) and is the order
#: in which additional package managers run. Windows hosts list their package managers by name
#: ("wua", "choco", "winget") where POSIX hosts list binaries.
ADAPTERS: tuple[AdapterEntry, ...] = (
    AdapterEntry("apt", frozenset({"debian", "ubuntu"}), ("apt-get",), _apt),
    AdapterEntry(
        "dnf",
        frozenset({"rhel", "fedora", "centos", "rocky", "almalinux", "ol", "amzn"}),
        ("dnf", "yum"),
        _dnf,
    ),
    AdapterEntry("zypper", frozenset({"suse", "opensuse", "sles", "sled"}), ("zypper",), _zypper),
    # firmware beside the system's package manager, where fwupdmgr is installed
    AdapterEntry("fwupd", frozenset(), ("fwupdmgr",), _fwupd, extra=True),
    AdapterEntry("wua", frozenset({"windows"}), ("wua",), _wua, family="windows"),
    AdapterEntry("choco", frozenset(), ("choco",), _choco, family="windows", extra=True),
    AdapterEntry("winget", frozenset(), ("winget",), _winget, family="windows", extra=True),
)

#: the system package managers: one of them handles a host
_SYSTEM = tuple(entry for entry in ADAPTERS if not entry.extra)


def _os_words(facts: OsFacts) -> list[str]:
    # ID first, then ID_LIKE in its own order (most to least similar), as os-release(5) says.
    # Some IDs carry a variant suffix ("opensuse-leap", "opensuse-tumbleweed", "sles_sap"); their
    # first part counts too.
    words: list[str] = []
    for word in (facts.id, *facts.id_like):
        word = word.lower()
        if not word:
            continue
        words.append(word)
        for sep in ("-", "_"):
            head = word.split(sep, 1)[0]
            if head != word:
                words.append(head)
    return words


def _build(entry: AdapterEntry, host: str) -> Adapter:
    if entry.factory is None:
        raise UnsupportedHostError(f"{host} uses {entry.name}, and {entry.name} hosts are not supported yet.")
    return entry.factory(host)


def detect(facts: OsFacts, binaries: frozenset[str], *, host: str | None = None) -> Adapter:
    """The adapter for a host, from its OS facts and the package-manager binaries found on it.

    os-release first (ID, then ID_LIKE), then binaries in table order. A family whose adapter is not
    written yet, or no package manager at all, raises UnsupportedHostError with a sentence naming the
    host (``host``, else the host's own name from its facts).
    """
    shown = host or facts.hostname or "the host"
    for word in _os_words(facts):
        for entry in _SYSTEM:
            if word in entry.os_ids:
                if entry.factory is not None and not set(entry.binaries) & binaries:
                    # Right family but the tool is missing (a stripped container image): say so.
                    system = facts.pretty_name or facts.id
                    raise UnsupportedHostError(
                        f"{shown} looks like {system} but {' or '.join(entry.binaries)} was not found on it."
                    )
                return _build(entry, shown)
    for entry in _SYSTEM:
        if set(entry.binaries) & binaries:
            return _build(entry, shown)
    family = "windows" if facts.id == "windows" else "posix"
    names = ", ".join(entry.name for entry in _SYSTEM if entry.family == family)
    raise UnsupportedHostError(f"No supported package manager found on {shown} (looked for {names}).")


def adapter_named(name: str, host: str, *, family: str | None = None) -> Adapter | None:
    """The adapter called ``name`` (as stored with a host's last scan), or None; with ``family``,
    only one of that family."""
    for entry in ADAPTERS:
        if entry.name == name and entry.factory is not None and family in (None, entry.family):
            return entry.factory(host)
    return None


def extra_adapters(family: str, found: frozenset[str], *, host: str | None = None) -> list[Adapter]:
    """The additional adapters of ``family`` whose binaries (or names) are in ``found``, in table order."""
    return [
        entry.factory(host)
        for entry in ADAPTERS
        if entry.extra
        and entry.family == family
        and entry.factory is not None
        and set(entry.binaries) & found
    ]
