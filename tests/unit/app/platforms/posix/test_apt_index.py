"""apt's index state: how old the package lists are, and whether there are any (the scan's evidence)."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.models import IndexState
from app.platforms.posix.apt import INDEX_COMMAND, AptAdapter, scan_script
from app.platforms.posix.apt_parse import (
    EMPTY_INDEX_NOTE,
    UNREADABLE_INDEX_NOTE,
    parse_index,
)
from app.transports.base import CommandResult, decode

DATA = Path(__file__).resolve().parents[4] / "data" / "apt"
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
NONCE = "0123456789abcdef0123456789abcdef"
DAY = timedelta(hours=24)


def lines(name: str) -> list[str]:
    return decode((DATA / name).read_bytes()).splitlines()


def test_prebuilt_lists_are_dated_by_their_release_files() -> None:
    index = parse_index(lines("index_prebuilt_real.txt"), NOW)
    # host clock 1796536644, Release files 1796532877: 3767 s old, measured against the console's clock
    assert index.measured and index.notes == ()
    assert index.updated == NOW - timedelta(seconds=3767)
    assert not index.stale(NOW, DAY) and index.stale(NOW, timedelta(minutes=30))


def test_after_a_refresh_the_stamp_dates_the_index() -> None:
    index = parse_index(lines("index_after_refresh_real.txt"), NOW)
    assert index.measured and index.updated == NOW


def test_no_lists_is_an_empty_index_never_a_fresh_one() -> None:
    index = parse_index(lines("index_empty_real.txt"), NOW)
    assert index.measured and index.updated is None and index.notes == (EMPTY_INDEX_NOTE,)
    assert index.stale(NOW, DAY)
    assert "--refresh" in EMPTY_INDEX_NOTE and "empty" in EMPTY_INDEX_NOTE


def test_a_stamp_without_lists_is_still_empty() -> None:
    index = parse_index(["now 1000", "999 /var/lib/apt/periodic/update-success-stamp"], NOW)
    assert index.updated is None and index.stale(NOW, DAY)


def test_missing_or_foreign_section_is_not_measured() -> None:
    for answer in ([], ["garbage"], ["1796532877 /var/lib/apt/lists/x_InRelease"], ["now soon"]):
        index = parse_index(answer, NOW)
        assert not index.measured and index.updated is None and index.notes == (UNREADABLE_INDEX_NOTE,)
        assert not index.stale(NOW, DAY)  # unmeasured: nothing to refresh, but never complete either


def test_packages_lists_without_release_files_cannot_be_dated() -> None:
    index = parse_index(["now 1000", "900 /var/lib/apt/lists/x_main_binary-amd64_Packages"], NOW)
    assert not index.measured and index.notes == (UNREADABLE_INDEX_NOTE,)


def test_hostile_lines_are_ignored_and_capped() -> None:
    junk = [
        "\x00\xff" * 1000,
        "now 2000",
        "99999999999999999999 /etc/passwd",
        "1500 /var/lib/apt/lists/a_main_binary-amd64_Packages",
        "1900 /var/lib/apt/lists/a_InRelease",
    ]
    index = parse_index(junk, NOW)
    assert index.updated == NOW - timedelta(seconds=100)
    # a host that prints forever is read up to a cap: cut short, it is neither empty nor dated
    flood = ["now 2000"] + ["1 /nowhere"] * 10_000 + ["1900 /var/lib/apt/lists/a_InRelease"]
    assert not parse_index(flood, NOW).measured


def test_a_clock_ahead_of_the_lists_is_not_a_future_index() -> None:
    index = parse_index(
        ["now 1000", "5000 /var/lib/apt/lists/a_InRelease", "5000 /var/lib/apt/lists/a_Packages"], NOW
    )
    assert index.updated == NOW


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=80), max_size=30))
def test_never_raises_and_unmeasured_without_a_clock(answer: list[str]) -> None:
    index = parse_index(answer, NOW)
    assert isinstance(index, IndexState)
    if not any(line.strip().startswith("now ") for line in answer):
        assert not index.measured


def test_index_command_runs_in_a_real_shell(tmp_path: Path) -> None:
    out = subprocess.run(["sh", "-c", INDEX_COMMAND], capture_output=True, text=True, timeout=10, check=True)
    assert out.stdout.startswith("now ")


def test_the_scan_script_carries_the_index_section() -> None:
    from app.platforms.posix.facts import marker

    script = scan_script(NONCE)
    assert marker(NONCE, "idx") in script and INDEX_COMMAND in script
    sim = decode((DATA / "debian12_no_updates_real.txt").read_bytes())
    body = "".join(
        f"\n{marker(NONCE, name)}\n{text}\n"
        for name, text in (
            ("idx", "\n".join(lines("index_empty_real.txt"))),
            ("sim", sim),
            ("simrc", "0"),
            ("simerr", ""),
        )
    )
    found = AptAdapter().parse_scan_script(body, NONCE)
    assert found is not None and found.pending == []
    # nothing pending, and the script says why: there is no index
    assert found.index is not None and found.index.measured and found.index.updated is None
    # without the idx section (an old or broken answer) the index is unmeasured, never complete
    body = "".join(
        f"\n{marker(NONCE, name)}\n{text}\n" for name, text in (("sim", sim), ("simrc", "0"), ("simerr", ""))
    )
    found = AptAdapter().parse_scan_script(body, NONCE)
    assert found is not None and found.index is not None and not found.index.measured


class _Replay:
    def __init__(self, result: CommandResult) -> None:
        self.result = result

    def run(self, *args: object, **kwargs: object) -> CommandResult:
        return self.result


def test_index_state_over_a_transport() -> None:
    ok = CommandResult(0, (DATA / "index_prebuilt_real.txt").read_bytes(), b"")
    assert AptAdapter().index_state(_Replay(ok)).measured  # type: ignore[arg-type]
    failed = CommandResult(255, b"", b"connection lost")
    assert not AptAdapter().index_state(_Replay(failed)).measured  # type: ignore[arg-type]


def _script_answer(sim: str, rc: str = "0") -> str:
    from app.platforms.posix.facts import marker

    return "".join(
        f"\n{marker(NONCE, name)}\n{text}\n"
        for name, text in (
            ("idx", "\n".join(lines("index_prebuilt_real.txt"))),
            ("sim", sim),
            ("simrc", rc),
            ("simerr", ""),
        )
    )


def test_unreadable_simulation_is_never_nothing_pending() -> None:
    import pytest

    from app.domain.errors import AdapterError

    hostile = [
        "",  # an empty answer from a tool that should have answered
        decode((DATA / "non_utf8_nul_crafted.bin").read_bytes()),
        decode((DATA / "hostile_names_crafted.txt").read_bytes()),
        "Reading package lists...\n" * 100_000,  # huge, and still no summary
        decode((DATA / "debian12_simulation_note_head_real.txt").read_bytes()),
    ]
    for sim in hostile:
        adapter = AptAdapter(host="web1.invalid")
        found = adapter.parse_scan_script(_script_answer(sim), NONCE)
        # what could be read is kept, but the scan says it cannot vouch for it (incomplete)
        assert found is not None
        assert any("no summary line" in n for n in adapter.last_scan_notes)
    # a failed simulation is an error, not an empty list
    with pytest.raises(AdapterError):
        AptAdapter(host="web1.invalid").parse_scan_script(_script_answer("", rc="100"), NONCE)


def test_lines_not_understood_make_the_scan_incomplete() -> None:
    sim = decode((DATA / "debian12_dist_upgrade_real.txt").read_bytes())
    broken = sim.replace("Inst ", "Inst \x00", 1)
    adapter = AptAdapter()
    found = adapter.parse_scan_script(_script_answer(broken), NONCE)
    assert found is not None and found.pending
    assert adapter.last_scan_notes and "could not understand" in adapter.last_scan_notes[0]
    adapter.parse_scan_script(_script_answer(sim), NONCE)
    assert adapter.last_scan_notes == ()


def test_a_missing_simulation_section_is_no_answer() -> None:
    from app.platforms.posix.facts import marker

    only_index = f"\n{marker(NONCE, 'idx')}\nnow 1\n"
    # None: the caller scans in full; it is never an empty pending list
    assert AptAdapter().parse_scan_script(only_index, NONCE) is None


def test_a_configured_source_without_lists_is_named_and_never_vouched_for() -> None:
    answer = [
        *lines("index_prebuilt_real.txt"),
        "'file:/srv/repo/dists/bookworm/InRelease' _srv_repo_dists_bookworm_InRelease 0 ",
        "'file:/srv/no-such-repo/dists/bookworm/InRelease' _srv_no-such-repo_dists_bookworm_InRelease 0 ",
    ]
    index = parse_index(answer, NOW)
    # dated by the sources that have lists, with a note naming the one that has none
    assert index.measured and index.updated is not None
    (note,) = index.notes
    assert "file:/srv/no-such-repo/dists/bookworm" in note and "srv/repo" not in note
    # every source with its lists: no note
    assert parse_index(answer[:-1], NOW).notes == ()
