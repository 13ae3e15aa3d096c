"""dnf adapter: parsers against recorded real output (tests/data/dnf/*_real.txt, from the rpm test hosts)
and crafted RHEL/dnf5/yum/hostile output; command builders keep untrusted text as argv data."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.domain.errors import AdapterError
from app.domain.models import PackageChange
from app.platforms.posix import dnf, rpm
from app.transports.base import CommandResult

DATA = Path(__file__).resolve().parents[4] / "data" / "dnf"
NONCE = "0123456789abcdef0123456789abcdef"


def read(name: str) -> str:
    return (DATA / name).read_bytes().decode("utf-8", errors="replace")


# -- command builders: untrusted text is argv data ---------------------------------------------------


def test_commands_are_argv_lists() -> None:
    evil = "x; reboot"
    assert dnf.install_command([evil])[-2:] == ["--", evil]
    assert dnf.plan_command(["pd-secfix"])[-3:] == ["upgrade", "--", "pd-secfix"]
    assert rpm.rpm_query_command(["-a"])[-2:] == ["--", "-a"]
    assert "--setopt=exit_on_lock=True" in dnf.install_command(None)
    with pytest.raises(ValueError):
        dnf.history_undo_command("3; reboot")
    with pytest.raises(ValueError):
        dnf.scan_command("not a nonce!")
    with pytest.raises(ValueError):
        dnf.scan_command(NONCE, binary="sh -c")
    script = dnf.scan_command(NONCE, binary="yum")
    assert "yum -q -C --setopt=skip_if_unavailable=False $pd_h updateinfo list cves" in script


def test_rollback_commands() -> None:
    changes = [
        PackageChange("dnf", "pd-secfix", "1.0-1", "1.0-2", "noarch"),
        PackageChange("dnf", "pd-new", None, "1.0-1", "noarch"),
        PackageChange("dnf", "pd-gone", "2.0-1", None, "noarch"),
        PackageChange("dnf", "pd-down", "1:3.0-1", "1:2.0-1", "x86_64"),
    ]
    cmds = dnf.rollback_commands(changes)
    assert [c[5:] for c in cmds] == [
        ["downgrade", "--", "pd-secfix-1.0-1.noarch"],
        ["install", "--", "pd-gone-2.0-1.noarch", "pd-down-1:3.0-1.x86_64"],
        ["remove", "--", "pd-new.noarch"],
    ]
    with pytest.raises(ValueError):
        dnf.rollback_commands([PackageChange("dnf", "pd-x", "$(id)-1", "1.0-1")])
    with pytest.raises(ValueError):
        dnf.rollback_commands([PackageChange("dnf", "pd;x", "1.0-1", "1.0-2")])


# -- the adapter over a scripted transport: the lock wait ---------------------------------------------


class ScriptedTransport:
    """Answers commands from a list of results; records what it ran. Only for retry logic that no real
    host can make fast enough (the real lock wait is in tests/integration/test_dnf_hosts.py)."""

    host = "scripted"

    def __init__(self, answers: list[CommandResult]) -> None:
        from app.transports.base import Deadline

        self.answers = answers
        self.ran: list[object] = []
        self.deadline = Deadline(None)

    def run(self, command, **kw):  # type: ignore[no-untyped-def]
        self.ran.append(command)
        return self.answers.pop(0)


def test_install_retries_while_locked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dnf, "LOCK_RETRY", 0.01)
    locked = CommandResult(200, b"", b"RPMDB already locked by 42\n")
    history = CommandResult(0, read("history_list_real.txt").encode(), b"")
    later = CommandResult(0, b"     4 | upgrade | x | Upgrade | 1\n" + history.stdout, b"")
    t = ScriptedTransport([history, locked, locked, CommandResult(0, b"Complete!\n", b""), later])
    logs: list[tuple[str, str]] = []
    assert (
        dnf.DnfAdapter("h1", binary="dnf").install(
            t, ["pd-secfix"], log=lambda *a: logs.append(a), lock_wait=5
        )
        == "4"
    )
    assert sum(1 for c in t.ran if isinstance(c, list) and "upgrade" in c) == 3
    assert any("locked by process 42" in text for _l, text in logs)


def test_install_gives_up_after_lock_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dnf, "LOCK_RETRY", 0.01)
    locked = CommandResult(200, b"", b"RPMDB already locked by 42\n")
    history = CommandResult(0, read("history_list_real.txt").encode(), b"")
    t = ScriptedTransport([history, *([locked] * 50)])
    with pytest.raises(AdapterError, match="package database on h1 is locked"):
        dnf.DnfAdapter("h1", binary="dnf").install(t, ["pd-secfix"], lock_wait=0)


def test_adapter_refuses_invalid_names() -> None:
    t = ScriptedTransport([])
    with pytest.raises(AdapterError, match="invalid package name"):
        dnf.DnfAdapter("h1", binary="dnf").install(t, ["pd-x; reboot"])
    assert t.ran == []
