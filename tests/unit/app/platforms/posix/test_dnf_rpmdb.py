"""A login user whose rpm reads a private, empty database (Debian's rpm default, ``~/.rpmdb``; or a
database it may not read) gets "no updates" from dnf on a host with updates pending: the scan must say
it could not see, never "nothing pending". Recorded from a real rpm test host as ``admin``
(tests/data/dnf/scan_*_real.txt), before and after /etc/rpm/macros.dbpath was removed."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.domain.errors import AdapterError
from app.platforms.posix import dnf
from app.transports.base import CommandResult

DATA = Path(__file__).resolve().parents[4] / "data" / "dnf"
NONCE = "0123456789abcdef0123456789abcdef"


class Replay:
    host = "replay"

    def __init__(self, *answers: CommandResult) -> None:
        self.answers = list(answers)

    def run(self, command: object, **kw: object) -> CommandResult:
        return self.answers.pop(0)


def answer(name: str, rc: int = 0) -> CommandResult:
    err = DATA / name.replace("_real", "_stderr_real")
    return CommandResult(rc, (DATA / name).read_bytes(), err.read_bytes() if err.exists() else b"")


@pytest.fixture(autouse=True)
def fixed_nonce(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dnf, "new_nonce", lambda: NONCE)


def test_nothing_pending_with_packages_installed_is_nothing_pending() -> None:
    adapter = dnf.DnfAdapter("pdrpm01", binary="dnf")
    parsed = adapter.scan_detail(Replay(answer("scan_nothing_pending_real.txt")))  # type: ignore[arg-type]
    assert parsed.pending == () and parsed.rpmdb_empty is False and parsed.notes == ()


def test_a_user_who_reads_a_private_rpm_database_gets_an_error_not_nothing_pending() -> None:
    adapter = dnf.DnfAdapter("pdrpm01", binary="dnf")
    with pytest.raises(AdapterError, match=r"rpm on pdrpm01 shows the login user no installed package"):
        adapter.scan(Replay(answer("scan_private_rpmdb_real.txt")))  # type: ignore[arg-type]


def test_the_database_check_runs_only_when_dnf_says_no_updates() -> None:
    script = dnf.scan_command(NONCE)
    assert 'if [ "$rc" -eq 0 ]; then printf' in script and "rpm -qa --qf '.\\n' | head -n 1" in script
