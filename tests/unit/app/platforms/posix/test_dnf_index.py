"""dnf: the index's age from the repository files and the cache's refresh times, and scans that could not
see (a failing, cut-short or unparsable answer) are never "nothing pending" nor complete."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.domain.errors import AdapterError
from app.platforms.posix import dnf
from app.platforms.posix.dnf_parse import cache_repo, parse_index, parse_scan
from app.platforms.posix.facts import marker
from app.transports.base import CommandResult

DATA = Path(__file__).resolve().parents[4] / "data" / "dnf"
NONCE = "0123456789abcdef0123456789abcdef"
NOW = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
HOST_NOW = 1796542902
PRIMARY = "/var/cache/dnf/{}-c62f47be9618e36c/repodata/c3cc-primary.xml.gz"


def recorded() -> str:
    return (DATA / "scan_with_index_real.txt").read_text()


def test_a_recorded_scan_is_dated_by_its_primary_file_on_the_hosts_clock() -> None:
    parsed = parse_scan(recorded(), NONCE, now=NOW)
    assert parsed.index is not None and parsed.index.measured and parsed.notes == ()
    # primary.xml.gz 1796532963, host clock 1796542905: 9942 s old, wherever the console's clock is
    assert parsed.index.updated == NOW - timedelta(seconds=9942)
    assert {u.name for u in parsed.pending} == {
        "pd-chain",
        "pd-chain-lib",
        "pd-reboot",
        "pd-regular",
        "pd-secfix",
    }


def test_cache_paths_name_their_repository() -> None:
    assert cache_repo(PRIMARY.format("patchdesk-test")) == "patchdesk-test"
    assert cache_repo("/var/cache/libdnf5/fedora-updates-0123456789abcdef/repodata/x-primary.xml.zck") == (
        "fedora-updates"
    )
    assert cache_repo("/var/cache/yum/x86_64/7/base/cachecookie") == "base"
    assert cache_repo("/var/cache/dnf/patchdesk-test/repodata/primary.xml.gz") is None  # no hash
    assert cache_repo("/etc/passwd") is None


def _index(repos: str, cache: str):  # type: ignore[no-untyped-def]
    return parse_index(repos.splitlines(), cache.splitlines(), NOW)


def test_the_oldest_enabled_repository_dates_the_index() -> None:
    repos = "[main]\ngpgcheck=1\n[a]\nenabled=1\n[b]\nenabled = True\n[off]\nenabled=0\n"
    cache = (
        f"now {HOST_NOW}\n{HOST_NOW - 60} {PRIMARY.format('a')}\n{HOST_NOW - 7200} {PRIMARY.format('b')}\n"
        f"{HOST_NOW - 999999} {PRIMARY.format('off')}\n"
    )
    state = _index(repos, cache)
    # b is two hours old: the disabled repository's old cache does not count
    assert state.measured and state.updated == NOW - timedelta(hours=2) and state.notes == ()


def test_an_enabled_repository_without_cache_makes_the_index_unusable() -> None:
    state = _index("[a]\n[gone]\nenabled=1\n", f"now {HOST_NOW}\n{HOST_NOW} {PRIMARY.format('a')}\n")
    # measured and undated: the scan refreshes it, or is incomplete
    assert state.measured and state.updated is None
    assert "'gone'" in state.notes[0] and "makecache" in state.notes[0]
    assert state.stale(NOW, timedelta(hours=24))


def test_no_enabled_repository_is_unmeasured_with_a_sentence() -> None:
    state = _index("[main]\n[a]\nenabled=0\n", f"now {HOST_NOW}\n")
    assert not state.measured and "No dnf repository is enabled" in state.notes[0]


def test_an_answer_without_the_hosts_clock_is_unmeasured() -> None:
    state = _index("[a]\n", f"{HOST_NOW} {PRIMARY.format('a')}\n")
    assert not state.measured and "could not read the age" in state.notes[0]


def test_the_index_snippet_runs_in_a_real_shell() -> None:
    import subprocess

    out = subprocess.run(["sh", "-c", dnf.index_command(NONCE)], capture_output=True, text=True, timeout=10)
    assert f"{marker(NONCE, 'cache')}\nnow " in out.stdout and marker(NONCE, "end") in out.stdout


def test_refresh_checks_every_repository_and_fails_on_one_it_cannot_reach() -> None:
    cmd = dnf.refresh_command("dnf")
    assert "--refresh" in cmd and "--setopt=skip_if_unavailable=False" in cmd and cmd[-1] == "makecache"
    assert dnf.refresh_command("yum")[-1] == "makecache"


# -- #17 item 7: a scan that could not see is never counted as "nothing pending" ----------------------


class Replay:
    """Answers every command with the next recorded result (the host's side of one scan)."""

    host = "replay"

    def __init__(self, *answers: CommandResult) -> None:
        self.answers = list(answers)

    def run(self, command: object, **kw: object) -> CommandResult:
        return self.answers.pop(0)


def _scan(*answers: CommandResult) -> tuple[dnf.DnfAdapter, list[str]]:
    adapter = dnf.DnfAdapter("h1.invalid", binary="dnf")
    names = [u.name for u in adapter.scan(Replay(*answers))]  # type: ignore[arg-type]
    return adapter, names


def _answer(text: str, rc: int = 100) -> CommandResult:
    return CommandResult(rc, text.encode(), b"")


@pytest.fixture(autouse=True)
def fixed_nonce(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dnf, "new_nonce", lambda: NONCE)


def test_a_failing_dnf_with_no_output_is_an_error_not_an_empty_list() -> None:
    with pytest.raises(AdapterError, match=r"could not check for updates on h1\.invalid"):
        _scan(CommandResult(1, b"", b""))


def test_a_cut_short_answer_keeps_what_was_read_but_is_incomplete() -> None:
    text = recorded()
    cut = text[: text.index(marker(NONCE, "cves"))]
    adapter, names = _scan(CommandResult(100, cut.encode(), b""))
    assert "pd-secfix" in names
    assert any("cut short" in n for n in adapter.last_scan_notes)


def test_updates_announced_but_unreadable_are_an_error() -> None:
    text = recorded()
    check = text.index(marker(NONCE, "check"))
    rc = text.index(marker(NONCE, "check-rc"))
    garbled = text[: check + len(marker(NONCE, "check"))] + "\n\x00\x01 garbage ;;\n" + text[rc:]
    garbled = garbled.replace("pd-", "p\x00d-")  # advisories and installed versions unreadable too
    with pytest.raises(AdapterError, match="could not read any"):
        _scan(CommandResult(100, garbled.encode(), b""))


def test_lines_not_understood_make_the_scan_incomplete() -> None:
    text = recorded()
    rc = text.index(marker(NONCE, "check-rc"))
    noisy = text[:rc] + "this is not an update line at all\n" + text[rc:]
    adapter, names = _scan(CommandResult(100, noisy.encode(), b""))
    assert "pd-secfix" in names and any("could not understand" in n for n in adapter.last_scan_notes)
    adapter, _ = _scan(CommandResult(100, text.encode(), b""))
    assert adapter.last_scan_notes == ()


def test_a_repository_error_fails_the_scan_with_dnfs_sentence() -> None:
    err = b"Error: Failed to download metadata for repo 'gone': Cannot download repomd.xml\n"
    no_cache = CommandResult(1, b"", b"Error: Cache-only enabled but no cache for 'gone'\n")
    with pytest.raises(AdapterError, match=r"could not download repository metadata.*'gone'"):
        _scan(no_cache, CommandResult(1, b"", err))


def test_the_index_of_the_scan_is_used_without_another_command() -> None:
    adapter, _ = _scan(CommandResult(100, recorded().encode(), b""))
    state = adapter.index_state(Replay())  # type: ignore[arg-type]  # no answer left: no command ran
    assert state.measured and state.updated is not None


def test_a_download_for_this_scan_only_is_current() -> None:
    no_cache = CommandResult(1, b"", b"Error: Cache-only enabled but no cache for 'patchdesk-test'\n")
    adapter, names = _scan(no_cache, CommandResult(100, recorded().encode(), b""))
    state = adapter.index_state(Replay())  # type: ignore[arg-type]
    assert names and state.updated is not None and datetime.now(UTC) - state.updated < timedelta(minutes=1)
