"""The family interface: which family a host belongs to, and what each family supplies to the jobs."""

from __future__ import annotations

from typing import Any

import pytest

from app.domain.errors import AdapterError
from app.domain.models import Host, OsFacts, TransportKind
from app.platforms.family import family_of
from app.platforms.posix.apt import AptAdapter
from app.platforms.posix.family import POSIX, REBOOT_COMMAND
from app.platforms.windows.chocolatey import ChocolateyAdapter
from app.platforms.windows.family import WINDOWS
from app.platforms.windows.winget import WinGetAdapter
from app.platforms.windows.wua import WindowsUpdateAdapter
from app.transports.base import CommandResult


class RecordingTransport:
    def __init__(self, result: CommandResult) -> None:
        self.result = result
        self.calls: list[tuple[object, dict[str, Any]]] = []

    def run(self, command: object, **kwargs: Any) -> CommandResult:
        self.calls.append((command, kwargs))
        return self.result


@pytest.mark.parametrize(
    ("kind", "family"),
    [(TransportKind.SSH, POSIX), (TransportKind.LOCAL, POSIX), (TransportKind.WINRM, WINDOWS)],
)
def test_the_family_follows_how_the_host_is_reached(kind: TransportKind, family: object) -> None:
    assert family_of(Host("h", "127.0.9.1", transport=kind)) is family


def test_each_family_guesses_its_own_adapters() -> None:
    assert isinstance(POSIX.guess((), "h"), AptAdapter)
    assert isinstance(WINDOWS.guess((), "w"), WindowsUpdateAdapter)
    assert isinstance(WINDOWS.guess(("wua", "choco"), "w"), WindowsUpdateAdapter)
    assert WINDOWS.guess(("apt",), "w") is None  # never another family's adapter
    assert POSIX.guess(("wua",), "h") is None


def test_additional_adapters_come_from_the_probe_table_in_its_order() -> None:
    extras = WINDOWS.extra_adapters(frozenset({"winget", "wua", "choco"}), "w")
    assert [type(a) for a in extras] == [ChocolateyAdapter, WinGetAdapter]
    assert all(a.host == "w" for a in extras)
    assert POSIX.extra_adapters(frozenset({"apt-get", "dpkg", "choco"}), "h") == []


def test_managers_stored_with_a_scan() -> None:
    apt, wua = AptAdapter("h"), WindowsUpdateAdapter("w")
    assert POSIX.managers(apt, frozenset({"apt-get", "dpkg", "fwupdmgr", "rpm"})) == ("apt", "fwupd")
    assert WINDOWS.managers(wua, frozenset({"wua", "winget", "choco"})) == ("wua", "choco", "winget")


def test_wording() -> None:
    facts = OsFacts(id="debian", pretty_name="Debian GNU/Linux 12 (bookworm)", kernel="6.1.0-18-amd64")
    assert POSIX.describe(facts) == "Debian GNU/Linux 12 (bookworm), kernel 6.1.0-18-amd64"
    assert POSIX.describe(OsFacts(id="")) == "unknown OS, kernel ?"
    win = OsFacts(id="windows", pretty_name="Microsoft Windows Server 2022 Standard", version="10.0.20348")
    assert WINDOWS.describe(win) == "Microsoft Windows Server 2022 Standard (build 10.0.20348)"
    reasons = ("2 new error(s) in the journal since the change",)
    assert POSIX.wording(reasons) == reasons
    assert WINDOWS.wording(reasons) == (
        "2 new error(s) in the System/Application event logs since the change",
    )
    assert (POSIX.reboot_phrase, WINDOWS.reboot_phrase) == ("a reboot is required", "a reboot is pending")
    assert (POSIX.reboot_check_phase, WINDOWS.reboot_check_phase) == ("reboot check", None)


def test_posix_restart_is_detached_and_needs_root() -> None:
    transport = RecordingTransport(CommandResult(255, b"", b"connection closed"))
    POSIX.restart(transport, "h")  # type: ignore[arg-type]
    assert transport.calls == [(REBOOT_COMMAND, {"sudo": True, "timeout": 30})]


def test_windows_restart_refused_is_an_error_naming_the_host() -> None:
    transport = RecordingTransport(CommandResult(1190, b"", b"A system shutdown has already been scheduled."))
    with pytest.raises(
        AdapterError, match=r"win1 refused the restart \(exit status 1190\): A system shutdown"
    ):
        WINDOWS.restart(transport, "win1")  # type: ignore[arg-type]
    WINDOWS.restart(RecordingTransport(CommandResult(0, b"", b"")), "win1")  # type: ignore[arg-type]


def test_windows_facts_cannot_carry_a_posix_snippet() -> None:
    with pytest.raises(ValueError):
        WINDOWS.facts(RecordingTransport(CommandResult(0, b"{}", b"")), "echo hi")  # type: ignore[arg-type]
