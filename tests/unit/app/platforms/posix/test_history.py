"""The package-history parsers: recorded lines, a cut read, hostile text, and every way of not seeing."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.domain.outside_changes import HistoryStatus
from app.platforms.posix.facts import marker
from app.platforms.posix.history import (
    MAX_LINES,
    history_command,
    parse_dnf_rows,
    parse_history,
    parse_zypp_lines,
)

DATA = Path(__file__).resolve().parents[4] / "data" / "history"
NONCE = "0123456789abcdef0123456789abcdef"
NOW = datetime(2025, 6, 24, 15, 0, tzinfo=UTC)


def _out(*sections: tuple[str, list[str]], clock: tuple[str, str] | None = None) -> str:
    epoch = str(int(NOW.timestamp())) if clock is None else clock[0]
    offset = "+0200" if clock is None else clock[1]
    parts = [marker(NONCE, "hclock"), epoch, offset]
    for name, lines in sections:
        parts += ["", marker(NONCE, name), *lines]
    parts += ["", marker(NONCE, "hend")]
    return "login banner\n" + "\n".join(parts) + "\n"


def _dpkg_lines() -> list[str]:
    return (DATA / "dpkg_log_crafted.txt").read_text().splitlines()


def test_dpkg_log_in_local_time_becomes_utc_entries() -> None:
    lines = _dpkg_lines()
    read = parse_history(_out(("dpkg0", [str(len(lines)), lines[0][:19], *lines])), NONCE, "apt", NOW)
    assert read.status == HistoryStatus.OK and read.covered_from is None
    got = [(e.action, e.name, e.arch, e.from_version, e.to_version) for e in read.entries]
    assert got == [
        ("upgrade", "libsystemd0", "amd64", "252.36-1~deb12u1", "252.38-1~deb12u1"),
        ("install", "poppler-utils", "amd64", None, "22.12.0-2+deb12u3"),
        ("remove", "chrony", "amd64", "4.3-2+deb12u1", None),
        ("remove", "chrony", "amd64", "4.3-2+deb12u1", None),  # the purge after it
        ("upgrade", "pd-regular", "all", "2.1-1", "2.0-1"),  # dpkg logs a downgrade as "upgrade"
    ]
    assert read.entries[0].when == datetime(2025, 6, 24, 12, 36, 25, tzinfo=UTC)  # +0200 on the host


def test_cut_dpkg_read_covers_only_from_its_oldest_line() -> None:
    lines = _dpkg_lines()
    read = parse_history(_out(("dpkg0", ["5000", "2025-01-01 00:00:00", *lines])), NONCE, "apt", NOW)
    assert read.status == HistoryStatus.OK
    assert read.covered_from == datetime(2025, 6, 24, 12, 36, 25, tzinfo=UTC)


def test_rotated_dpkg_log_is_read_first_and_older_rotations_limit_coverage() -> None:
    lines = _dpkg_lines()
    older = ["2025-05-01 10:00:00 install pd-old:all <none> 1.0-1"]
    read = parse_history(
        _out(
            ("dpkg1", ["1", "2025-05-01 09:00:00", *older]),
            ("dpkg0", [str(len(lines)), lines[0][:19], *lines]),
            ("dpkgmore", []),
        ),
        NONCE,
        "apt",
        NOW,
    )
    assert read.entries[0].name == "pd-old"
    assert read.covered_from == datetime(2025, 5, 1, 8, 0, tzinfo=UTC)


def test_host_clock_far_off_is_corrected() -> None:
    lines = _dpkg_lines()[:1]
    host_now = NOW - timedelta(hours=1)  # the host's clock is an hour behind
    read = parse_history(
        _out(("dpkg0", ["1", lines[0][:19], *lines]), clock=(str(int(host_now.timestamp())), "+0000")),
        NONCE,
        "apt",
        NOW,
    )
    assert read.entries[0].when == datetime(2025, 6, 24, 15, 36, 25, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "note"),
    [
        ("", "did not run"),
        (_out(("dpkg1", ["0", ""])), "dpkg.log is missing"),
        (_out(("dpkg0", ["grep: /var/log/dpkg.log: Permission denied"])), "could not be read"),
        (_out(("dpkg0", ["0", ""]), clock=("soon", "+0000")), "clock"),
        (_out(("dpkg0", ["0", ""]), clock=("1750000000", "+9999")), "clock"),
    ],
)
def test_history_that_cannot_be_seen_is_unknown(text: str, note: str) -> None:
    read = parse_history(text, NONCE, "apt", NOW)
    assert read.status == HistoryStatus.UNKNOWN and read.entries == ()
    assert note in read.note


def test_other_nonce_cannot_forge_a_section() -> None:
    forged = (
        marker("f" * 32, "dpkg0") + "\n1\n2025-06-24 14:00:00\n2025-06-24 14:00:00 install evil:all <none> 1"
    )
    read = parse_history(_out(("dpkg1", [forged])), NONCE, "apt", NOW)
    assert read.status == HistoryStatus.UNKNOWN


def test_hostile_dpkg_lines_are_skipped_and_bounded() -> None:
    hostile = [
        "2025-06-24 14:36:25 install $(reboot):all <none> 1.0",
        "2025-06-24 14:36:25 install ok\x1b[31m:all <none> 1.0",
        "2025-13-45 99:99:99 install bad-date:all <none> 1.0",
        "2025-06-24 14:36:25 install " + "x" * 5000 + ":all <none> 1.0",
        "2025-06-24 14:36:25 install none-at-all:all <none> <none>",
        "\udcff\x00 garbage",
    ] + [f"2025-06-24 14:36:25 install pkg{i}:all <none> 1.0" for i in range(MAX_LINES + 50)]
    read = parse_history(_out(("dpkg0", [str(len(hostile)), "", *hostile])), NONCE, "apt", NOW)
    names = {e.name for e in read.entries}
    assert len(read.entries) == MAX_LINES
    assert not names & {"$(reboot)", "bad-date", "none-at-all"}
    assert all(n.startswith("pkg") for n in names)


def test_zypper_history_infers_the_version_replaced() -> None:
    lines = (DATA / "zypp_history_crafted.txt").read_text().splitlines()
    entries = parse_zypp_lines(lines, UTC, timedelta(0))
    assert [(e.action, e.name, e.from_version, e.to_version) for e in entries] == [
        ("install", "pd-regular", None, "2.0-1"),
        ("upgrade", "pd-regular", "2.0-1", "2.1-1"),
        ("remove", "pd-chain", "1.0-1", None),
    ]


def test_zypper_history_not_readable_is_unknown() -> None:
    read = parse_history(_out(("zypp", ["sudo: a password is required"])), NONCE, "zypper", NOW)
    assert read.status == HistoryStatus.UNKNOWN and "root" in read.note


def test_dnf_rows_pair_an_upgrade_with_the_version_it_replaced() -> None:
    lines = (DATA / "dnf_rows_crafted.txt").read_text().splitlines()
    entries = parse_dnf_rows(lines[1:])
    assert [(e.action, e.name, e.from_version, e.to_version) for e in entries] == [
        ("remove", "pd-old", "0.9-1", None),  # newest first on the wire: item order restored
        ("install", "pd-new", None, "1:1.0-2"),
        ("upgrade", "pd-regular", "2.0-1", "2.1-1"),
    ]
    read = parse_history(_out(("dnf", lines)), NONCE, "dnf", NOW)
    assert read.status == HistoryStatus.OK and read.covered_from is not None  # 9 items, 4 sent


def test_dnf_without_its_database_is_unknown() -> None:
    read = parse_history(_out(), NONCE, "dnf", NOW)
    assert read.status == HistoryStatus.UNKNOWN and "history.sqlite" in read.note


def test_unsupported_manager_is_unknown() -> None:
    read = parse_history(_out(), NONCE, "fwupd", NOW)
    assert read.status == HistoryStatus.UNKNOWN


def test_snippet_runs_in_a_posix_shell_and_reads_a_dpkg_log(tmp_path: Path) -> None:
    """The snippet as sent, run by dash/sh here: its sections come back under the nonce."""
    text = subprocess.run(["sh", "-c", history_command(NONCE)], capture_output=True, text=True, timeout=60)
    assert text.returncode == 0
    assert marker(NONCE, "hclock") in text.stdout and marker(NONCE, "hend") in text.stdout
    read = parse_history(text.stdout, NONCE, "apt", datetime.now(UTC))
    assert read.status == (HistoryStatus.OK if Path("/var/log/dpkg.log").exists() else HistoryStatus.UNKNOWN)


def test_nonce_must_be_inert() -> None:
    with pytest.raises(ValueError, match="nonce"):
        history_command("abc'; reboot")


def test_awk_programs_count_and_keep_the_newest_lines(tmp_path: Path) -> None:
    """The programs the snippet runs, here with this machine's awk: a count, where the file begins,
    then the newest MAX_LINES change lines (status lines and comments left out)."""
    from app.platforms.posix.history import _DPKG_AWK, _ZYPP_AWK

    log = tmp_path / "dpkg.log"
    lines = ["2025-01-01 00:00:00 startup archives unpack"]
    for i in range(MAX_LINES + 500):
        lines += [
            f"2025-01-02 00:00:00 install pkg{i}:all <none> 1.0",
            f"2025-01-02 00:00:00 status installed pkg{i}:all 1.0",
        ]
    log.write_text("\n".join(lines) + "\n")
    out = subprocess.run(
        ["awk", "-v", f"m={MAX_LINES}", _DPKG_AWK, str(log)], capture_output=True, text=True, timeout=60
    ).stdout.splitlines()
    assert out[0] == str(MAX_LINES + 500) and out[1] == "2025-01-01 00:00:00"
    assert len(out) == 2 + MAX_LINES and out[2].endswith("install pkg500:all <none> 1.0")
    assert out[-1].endswith(f"pkg{MAX_LINES + 499}:all <none> 1.0")

    zypp = tmp_path / "history"
    zypp.write_text("# 2025-01-01 00:00:00 comment\n2025-01-02 00:00:00|install|a|1|noarch|root||\n")
    out = subprocess.run(
        ["awk", "-v", f"m={MAX_LINES}", _ZYPP_AWK, str(zypp)], capture_output=True, text=True, timeout=60
    ).stdout.splitlines()
    assert out == ["1", "2025-01-02 00:00:00", "2025-01-02 00:00:00|install|a|1|noarch|root||"]
