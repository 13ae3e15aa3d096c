"""The apt adapter's pure edges, against real and crafted apt-get recordings (tests/data/apt/)."""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.errors import AdapterError, UnsupportedHostError
from app.domain.models import Classification, PendingUpdate, UpdateKind
from app.platforms.base import MAX_WARNINGS
from app.platforms.posix.apt import (
    AptAdapter,
    installed_versions_command,
    reboot_command,
    refresh_command,
    scan_command,
)
from app.platforms.posix.apt_parse import (
    SimulationParse,
    is_security_origin,
    parse_dpkg_query,
    parse_inst_line,
    parse_reboot,
    parse_removals,
    parse_simulation,
)
from app.transports.base import CommandResult, decode, to_shell

DATA = Path(__file__).resolve().parents[4] / "data" / "apt"


def read(name: str) -> str:
    return decode((DATA / name).read_bytes())


def by_name(parse: SimulationParse) -> dict[str, PendingUpdate]:
    return {u.name: u for u in parse.pending}


# --- real recordings -------------------------------------------------------------------------------


def test_real_dist_upgrade_parses_every_inst_line() -> None:
    text = read("debian12_dist_upgrade_real.txt")
    parse = parse_simulation(text)
    inst_lines = [line for line in text.splitlines() if line.startswith("Inst ")]
    assert len(parse.pending) == len(inst_lines) == 132  # the summary line says "132 upgraded"
    assert parse.warnings == ()
    assert parse.removals == ()
    assert all(u.manager == "apt" and u.installed is not None for u in parse.pending)
    assert sum(u.security for u in parse.pending) == 80
    assert all(u.kind == (UpdateKind.SECURITY if u.security else UpdateKind.BUGFIX) for u in parse.pending)
    # classification is policy's job: the parser leaves the default
    assert {u.classification for u in parse.pending} == {Classification.NONCRITICAL}


def test_real_dist_upgrade_fields() -> None:
    updates = by_name(parse_simulation(read("debian12_dist_upgrade_real.txt")))
    assert updates["base-files"] == PendingUpdate(
        manager="apt",
        name="base-files",
        installed="12.4+deb12u11",
        available="12.4+deb12u15",
        arch="amd64",
        source="Debian:12.15/oldstable",
        security=False,
        kind=UpdateKind.BUGFIX,
    )
    # several origins are kept in apt's order; one of them is the security archive
    gcrypt = updates["libgcrypt20"]
    assert gcrypt.source == "Debian:12.15/oldstable, Debian-Security:12/oldstable-security"
    assert gcrypt.security and gcrypt.kind == UpdateKind.SECURITY
    # an epoch in both versions
    assert (updates["libcap2"].installed, updates["libcap2"].available) == (
        "1:2.66-4+deb12u2+b2",
        "1:2.66-4+deb12u3+b1",
    )
    # Architecture: all
    assert updates["perl-modules-5.36"].arch == "all"
    # ShortBreaks / "[x on y]" suffixes after the candidate do not leak into any field
    perl = updates["libperl5.36"]
    assert (perl.available, perl.arch, perl.source) == (
        "5.36.0-7+deb12u4",
        "amd64",
        "Debian-Security:12/oldstable-security",
    )
    assert updates["libpam-modules-bin"].source == "Debian:12.15/oldstable"


def test_real_new_packages_have_no_installed_version() -> None:
    parse = parse_simulation(read("debian12_install_exim_new_packages_real.txt"))
    updates = by_name(parse)
    assert set(updates) == {
        "liblockfile-bin",
        "exim4-config",
        "exim4-base",
        "exim4-daemon-light",
        "liblockfile1",
        "bsd-mailx",
    }
    assert all(u.installed is None for u in parse.pending)
    assert updates["exim4-config"].arch == "all"
    assert updates["exim4-config"].security
    assert updates["bsd-mailx"].available == "8.1.2-0.20220412cvs-1"
    assert not updates["bsd-mailx"].security
    assert parse.warnings == ()


@pytest.mark.parametrize(
    "name", ["debian12_install_chrony_removal_real.txt", "debian12_install_chrony_purge_real.txt"]
)
def test_real_removals(name: str) -> None:
    text = read(name)
    parse = parse_simulation(text)
    assert parse.removals == ("systemd-timesyncd",)
    assert parse_removals(text) == ["systemd-timesyncd"]
    assert [(u.name, u.installed, u.available) for u in parse.pending] == [("chrony", None, "4.3-2+deb12u3")]
    assert parse.warnings == ()


@pytest.mark.parametrize(
    "name",
    [
        "debian12_no_updates_real.txt",
        "debian12_simulation_note_head_real.txt",
        "ubuntu2404_no_updates_crafted.txt",
    ],
)
def test_nothing_to_do(name: str) -> None:
    assert parse_simulation(read(name)) == SimulationParse()


# --- crafted recordings -----------------------------------------------------------------------------


def test_ubuntu_security_and_esm_pockets() -> None:
    parse = parse_simulation(read("ubuntu2204_security_esm_crafted.txt"))
    assert parse.warnings == ()
    updates = by_name(parse)
    assert len(updates) == 13
    assert updates["libssl3"].source == "Ubuntu:22.04/jammy-updates, Ubuntu:22.04/jammy-security"
    assert updates["libssl3"].security
    assert updates["linux-image-5.15.0-113-generic"].installed is None
    assert updates["linux-image-5.15.0-113-generic"].security
    assert not updates["linux-image-generic"].security
    assert updates["python3.10"].source == "UbuntuESM:22.04/jammy-infra-security"
    assert updates["python3.10"].security
    assert updates["imagemagick"].security
    assert updates["imagemagick"].available == "8:6.9.11.60+dfsg-1.3ubuntu0.22.04.5+esm1"
    assert not updates["libmagickcore-6.q16-6"].security  # jammy-apps-updates is not a security pocket
    assert not updates["curl"].security  # a PPA
    assert updates["libcurl4"].source == "ppa.example.org"  # no Release file: apt prints the site
    # a foreign-architecture package keeps apt's name:arch, and the arch field says i386
    assert updates["libc6:i386"].arch == "i386"
    assert updates["libc6"].arch == "amd64"
    assert updates["tzdata"].arch == "all"


def test_labels_with_spaces_and_debian_security_suites() -> None:
    parse = parse_simulation(read("debian12_backports_labels_crafted.txt"))
    updates = by_name(parse)
    assert updates["cockpit"].source == "Debian Backports:bookworm-backports"
    assert not updates["cockpit"].security
    assert updates["libc6"].security
    assert updates["nginx"].source == "Debian-Security:12/bookworm-security"
    assert updates["nginx"].security
    assert parse.removals == ("old-helper",)
    assert parse.warnings == ()


@pytest.mark.parametrize(
    ("origin", "security"),
    [
        ("Debian-Security:12/stable-security", True),
        ("Debian-Security:12/oldstable-security", True),
        ("Debian-Security:12/bookworm-security", True),
        ("Debian-Security:my-local-mirror", True),  # the label alone is enough
        ("Debian:12.5/stable", False),
        ("Debian:12.5/stable-updates", False),
        ("Debian Backports:bookworm-backports", False),
        ("Ubuntu:22.04/jammy-security", True),
        ("Ubuntu:24.04/noble-security", True),
        ("Ubuntu:22.04/jammy-updates", False),
        ("UbuntuESM:22.04/jammy-infra-security", True),
        ("UbuntuESMApps:22.04/jammy-apps-security", True),
        ("UbuntuESMApps:22.04/jammy-apps-updates", False),  # ESM labels also carry non-security pockets
        ("UbuntuESM:22.04/jammy-infra-updates", False),
        ("LP-PPA-someone:22.04/jammy", False),
        ("localhost", False),
        ("mirror.example.org", False),
        ("", False),
        ("security.example.org", False),  # a hostname that merely contains "security"
    ],
)
def test_is_security_origin(origin: str, security: bool) -> None:
    assert is_security_origin(origin) is security


def test_summary_mismatch_is_a_warning() -> None:
    text = (
        "2 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n"
        "Inst a [1] (2 Debian:12/stable [amd64])\n"
    )
    parse = parse_simulation(text)
    assert [u.name for u in parse.pending] == ["a"]
    assert parse.warnings == ("apt announced 2 package(s) to install but printed 1 Inst line(s).",)


def test_summary_with_reinstalled_and_downgraded_counts() -> None:
    text = (
        "0 upgraded, 1 newly installed, 1 reinstalled, 1 downgraded, 0 to remove and 0 not upgraded.\n"
        "Inst a (2 Debian:12/stable [amd64])\n"
        "Inst b [2] (2 Debian:12/stable [amd64])\n"
        "Inst c [3] (2 Debian:12/stable [amd64])\n"
    )
    assert parse_simulation(text).warnings == ()


def test_relstr_without_origins() -> None:
    # RelStr with no package files is just " [arch]", so apt prints two spaces.
    update = parse_inst_line("Inst foo [1.0] (1.1  [amd64])")
    assert update is not None
    assert (update.available, update.source, update.arch, update.security) == ("1.1", "", "amd64", False)


# --- hostile input ----------------------------------------------------------------------------------


def test_hostile_names_are_warnings_not_updates() -> None:
    parse = parse_simulation(read("hostile_names_crafted.txt"))
    updates = by_name(parse)
    assert set(updates) == {"good-one", "good-two"}
    # the origin of good-one is hostile but only ever data: kept verbatim, never interpreted
    assert updates["good-one"].source == "$(touch /tmp/pwned):12/\"stable'`x`"
    assert not updates["good-one"].security
    assert updates["good-two"].installed == "2:1.0~rc1+dfsg-1"
    assert updates["good-two"].security
    assert parse.removals == ("ok-removed",)
    inst_or_remv = [
        line
        for line in read("hostile_names_crafted.txt").splitlines()
        if line.startswith(("Inst", "Remv", "Purg"))
    ]
    # every unparseable Inst/Remv/Purg line is reported; Conf and garbage lines are not our business
    assert len(parse.warnings) == len(inst_or_remv) - 3
    assert all(w.startswith("Could not understand apt line: ") for w in parse.warnings)
    assert not Path("/tmp/pwned").exists()


def test_non_utf8_and_nul_bytes() -> None:
    text = decode((DATA / "non_utf8_nul_crafted.bin").read_bytes())
    parse = parse_simulation(text)
    updates = by_name(parse)
    assert set(updates) == {"libfoo1", "libqux", "libbaz"}
    assert updates["libfoo1"].security
    assert updates["libqux"].available == "3.2"  # CRLF line ending
    # control characters (NUL) are stripped from the origin text, replaced bytes stay visible
    assert "\x00" not in updates["libbaz"].source
    assert "\ufffd" in updates["libbaz"].source
    assert len(parse.warnings) == 3
    assert all("\x00" not in w for w in parse.warnings)


def test_ten_thousand_lines() -> None:
    lines = ["Reading package lists..."]
    for i in range(10_000):
        suite = "Debian-Security:12/stable-security" if i % 3 == 0 else "Debian:12.5/stable"
        lines.append(f"Inst pkg{i} [1.{i}-1] (1.{i}-2 {suite} [amd64])")
    lines.append("10000 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.")
    parse = parse_simulation("\n".join(lines))
    assert len(parse.pending) == 10_000
    assert sum(u.security for u in parse.pending) == 3334
    assert parse.warnings == ()


def test_warnings_are_capped() -> None:
    text = "\n".join(f"Inst bad;{i} [1] (2 Debian:12/stable [amd64])" for i in range(10_000))
    parse = parse_simulation(text)
    assert parse.pending == ()
    assert len(parse.warnings) == MAX_WARNINGS + 1
    assert parse.warnings[-1] == f"… and {10_000 - MAX_WARNINGS} more unparseable line(s)"


@pytest.mark.parametrize(
    "line",
    [
        "Inst " + "a" * 1_000_000 + " [1] (2 Debian:12/stable [amd64])",
        "Inst a [1] (2 " + "[" * 500_000 + " [amd64])",
        "Inst a [1] (2 " + "Debian:12/stable, " * 50_000 + "[amd64])",
        "Inst a [" + "1" * 1_000_000,
        "Inst a [1] (2 Debian:12/stable [amd64])" + " [x:amd64 on y:amd64]" * 50_000,
    ],
)
def test_very_long_lines(line: str) -> None:
    parse = parse_simulation(line)
    assert len(parse.pending) + len(parse.warnings) == 1
    for warning in parse.warnings:
        assert len(warning) < 300


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parse_simulation_never_raises(text: str) -> None:
    parse = parse_simulation(text)
    for update in parse.pending:
        assert " " not in update.name and " " not in update.available


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(alphabet=st.characters(codec="utf-8"), max_size=80).map(lambda s: "Inst " + s),
            st.text(alphabet="Inst []():,/ abc123-+.~\x00\r", max_size=60),
            st.text(max_size=40).map(lambda s: "Remv " + s),
        ),
        max_size=30,
    )
)
def test_parse_simulation_never_raises_on_apt_like_lines(lines: list[str]) -> None:
    parse_simulation("\n".join(lines))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_parse_simulation_never_raises_on_bytes(data: bytes) -> None:
    parse_simulation(decode(data))


# --- commands ---------------------------------------------------------------------------------------


def test_scan_command_is_a_lock_free_simulation() -> None:
    cmd = scan_command()
    words = shlex.split(cmd)
    assert words[0] == "LC_ALL=C"
    assert words[1] == "apt-get"
    assert "-s" in words
    assert "Debug::NoLocking=true" in words
    assert words[-1] == "dist-upgrade"
    assert AptAdapter().scan_command() == cmd


def test_refresh_command() -> None:
    assert refresh_command() == "LC_ALL=C apt-get update -q"


def test_installed_versions_command_passes_names_as_data() -> None:
    hostile = ["bash", "$(touch /tmp/pwned)", "-rf", "a b", "x;reboot", "`id`", "it's"]
    cmd = installed_versions_command(hostile)
    fmt = "${binary:Package}\\t${Version}\\t${db:Status-Abbrev}\\n"
    assert cmd[:5] == ["dpkg-query", "-W", "-f", fmt, "--"]
    # the transport renders lists with shlex.join: the shell sees every name as one literal word
    assert shlex.split(to_shell(cmd)) == cmd


def test_installed_versions_command_runs_in_a_real_shell() -> None:
    names = ["bash", "$(touch /tmp/pwned)", "no-such-package-xyz"]
    result = subprocess.run(
        ["sh", "-c", to_shell(installed_versions_command(names))], capture_output=True, check=False
    )
    assert not Path("/tmp/pwned").exists()
    versions = parse_dpkg_query(decode(result.stdout))
    if result.returncode == 127:  # no dpkg here
        pytest.skip("dpkg-query is not installed")
    assert set(versions) == {"bash"}


def test_parse_dpkg_query_real() -> None:
    assert parse_dpkg_query(read("dpkg_query_real.txt")) == {
        "bash": "5.2.15-2+b8",
        "libssl3": "3.0.19-1~deb12u2",
        "perl-base": "5.36.0-7+deb12u2",
        "systemd-timesyncd": "252.38-1~deb12u1",
    }


def test_parse_dpkg_query_states_and_garbage() -> None:
    text = (
        "bash\t5.2.15-2+b8\tii \n"
        "oldpkg\t1.0-1\trc \n"  # only config files left
        "gone\t\tun \n"  # known but not installed
        "held\t2.0\thi \n"
        "broken\t3.0\tiU \n"  # unpacked, not configured: files are on disk
        "reinst\t4.0\tiiR\n"
        "$(touch /tmp/pwned)\t1.0\tii \n"
        "ok\t1.0;reboot\tii \n"
        "too\tmany\tfields\there\n"
        "garbage\n"
        "\n"
        "crlf\t1.0\tii \r\n"
    )
    assert parse_dpkg_query(text) == {
        "bash": "5.2.15-2+b8",
        "held": "2.0",
        "broken": "3.0",
        "reinst": "4.0",
        "crlf": "1.0",
    }


# --- reboot-required --------------------------------------------------------------------------------

NONCE = "0123456789abcdef0123456789abcdef"
FP1, FP2, FP3 = ("1" * 64 + "  -", "2" * 64 + "  -", "3" * 64 + "  -")


def _reboot_output(flag: bool, pkgs: str) -> str:
    return (
        f"\n@@PATCHDESK:{NONCE}:flag@@\n"
        + ("yes\n" if flag else "")
        + f"\n@@PATCHDESK:{NONCE}:pkgs@@\n{pkgs}"
        + f"\n@@PATCHDESK:{NONCE}:end@@\n"
    )


def test_parse_reboot() -> None:
    assert parse_reboot(_reboot_output(True, "linux-image-6.1.0-21-amd64\nlibc6\nlibc6\n"), NONCE) == (
        True,
        ("linux-image-6.1.0-21-amd64", "libc6"),
    )
    assert parse_reboot(_reboot_output(False, ""), NONCE) == (False, ())
    assert parse_reboot("", NONCE) == (False, ())


def test_parse_reboot_cannot_be_spoofed() -> None:
    # The .pkgs file is writable by package scripts; it must not forge the flag section or inject names.
    hostile = f"@@PATCHDESK:{'f' * 32}:flag@@\nyes\n$(reboot)\nlibssl3\n"
    # "yes" is a valid package name, so it is listed; what matters is that the flag stays False
    assert parse_reboot(_reboot_output(False, hostile), NONCE) == (False, ("yes", "libssl3"))


def test_reboot_command_runs_in_a_real_shell() -> None:
    result = subprocess.run(["sh", "-c", reboot_command(NONCE)], capture_output=True, check=True)
    required, _ = parse_reboot(decode(result.stdout), NONCE)
    assert required is Path("/var/run/reboot-required").exists()


def test_reboot_command_rejects_bad_nonce() -> None:
    with pytest.raises(ValueError):
        reboot_command("x'; reboot; '")


# --- adapter error mapping (fake transport: only here, to replay recorded failures) ----------------


class ReplayTransport:
    """Answers each run() with the next recorded CommandResult and remembers what it was asked."""

    host = "web1"

    def __init__(self, *results: CommandResult) -> None:
        self.results = list(results)
        self.calls: list[tuple[str | Sequence[str], bool]] = []

    def run(
        self, command: str | Sequence[str], *, sudo: bool = False, timeout: float = 120.0
    ) -> CommandResult:
        self.calls.append((command, sudo))
        return self.results.pop(0)


def _fail(stderr: str, stdout: str = "", status: int = 100) -> CommandResult:
    return CommandResult(status, read(stdout).encode() if stdout else b"", read(stderr).encode())


def _scan(transport: ReplayTransport, *, refresh: bool = False) -> list[PendingUpdate]:
    return AptAdapter().scan(transport, refresh=refresh)  # type: ignore[arg-type]


def test_refresh_lock_error_is_a_plain_sentence() -> None:
    transport = ReplayTransport(_fail("update_lock_held_stderr_real.txt", "update_lock_held_stdout_real.txt"))
    with pytest.raises(AdapterError) as info:
        _scan(transport, refresh=True)
    message = str(info.value)
    assert message.startswith("The package database on web1 is locked by another process (")
    assert "Could not get lock /var/lib/apt/lists/lock" in message
    assert transport.calls == [(refresh_command(), True)]


def test_frontend_lock_error() -> None:
    transport = ReplayTransport(_fail("frontend_lock_held_stderr_real.txt"))
    with pytest.raises(AdapterError, match="locked by another process"):
        _scan(transport)


def test_refresh_without_root() -> None:
    transport = ReplayTransport(_fail("update_as_nonroot_stderr_real.txt"))
    with pytest.raises(AdapterError) as info:
        _scan(transport, refresh=True)
    assert "needs root to refresh the package lists" in str(info.value)
    assert "Permission denied" in str(info.value)


def test_broken_repository() -> None:
    transport = ReplayTransport(
        _fail("update_missing_release_stderr_real.txt", "update_missing_release_stdout_real.txt")
    )
    with pytest.raises(AdapterError) as info:
        _scan(transport, refresh=True)
    assert str(info.value) == (
        "apt could not refresh the package lists on web1: The repository "
        "'file:/nonexistent-repo bookworm Release' does not have a Release file."
    )


def test_malformed_sources_on_simulation() -> None:
    transport = ReplayTransport(_fail("simulate_malformed_sources_stderr_real.txt"))
    with pytest.raises(AdapterError) as info:
        _scan(transport)
    message = str(info.value)
    assert message.startswith("apt could not check for updates on web1: Malformed entry 1 in list file")
    assert message.count(";") == 2  # at most three apt error lines
    assert transport.calls == [(scan_command(), False)]


def test_apt_get_missing_is_unsupported_host() -> None:
    transport = ReplayTransport(_fail("command_not_found_stderr_real.txt", status=127))
    with pytest.raises(UnsupportedHostError, match="apt-get was not found on web1"):
        _scan(transport)


def test_scan_runs_refresh_with_sudo_then_simulation_without() -> None:
    transport = ReplayTransport(
        CommandResult(0, b"Reading package lists...\n", b""),
        CommandResult(0, (DATA / "debian12_install_chrony_removal_real.txt").read_bytes(), b""),
    )
    logged: list[tuple[str, str]] = []
    pending = AptAdapter().scan(transport, refresh=True, log=lambda level, text: logged.append((level, text)))  # type: ignore[arg-type]
    assert [u.name for u in pending] == ["chrony"]
    assert transport.calls == [(refresh_command(), True), (scan_command(), False)]
    assert ("warning", "Upgrading would remove: systemd-timesyncd") in logged


# --- snapshot and reboot check in one session, against this machine's real dpkg ---------------------


def test_snapshot_and_reboot_in_one_command_against_real_dpkg() -> None:
    import os
    import shutil

    from app.transports.local import LocalTransport

    if shutil.which("dpkg-query") is None:
        pytest.skip("dpkg-query is not installed here")
    expected_dpkg = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}", "dpkg"], capture_output=True, text=True, check=True
    ).stdout
    snap, (needed, pkgs) = AptAdapter().snapshot_and_reboot(LocalTransport(), ["dpkg", "pd-not-installed"])
    assert snap == {"dpkg": expected_dpkg, "pd-not-installed": None}
    assert needed == os.path.exists("/var/run/reboot-required")
    assert isinstance(pkgs, tuple)
    # the same answers as the two separate calls it replaces
    assert snap == AptAdapter().snapshot(LocalTransport(), ["dpkg", "pd-not-installed"])
    assert (needed, pkgs) == AptAdapter().reboot_required(LocalTransport())
    with pytest.raises(AdapterError, match="not a valid Debian package name"):
        AptAdapter().snapshot_and_reboot(LocalTransport(), ["pd; touch /tmp/pwned"])


def test_snapshot_and_reboot_reports_a_failing_dpkg_query(monkeypatch: pytest.MonkeyPatch) -> None:
    """dpkg-query exiting 2 (a broken status file) is an error sentence, not an empty snapshot."""
    import app.platforms.posix.apt as apt_mod

    monkeypatch.setattr(apt_mod, "new_nonce", lambda: "abc")
    out = "\n@@PATCHDESK:abc:queryrc@@\n2\n\n@@PATCHDESK:abc:flag@@\n\n@@PATCHDESK:abc:pkgs@@\n\n"
    err = b"dpkg-query: error: parsing file '/var/lib/dpkg/status' near line 7"
    transport = ReplayTransport(CommandResult(0, out.encode(), err))
    with pytest.raises(AdapterError) as info:
        AptAdapter().snapshot_and_reboot(transport, ["dpkg"])  # type: ignore[arg-type]
    assert "read the installed versions" in str(info.value)
    assert "parsing file" in str(info.value)


# -- the scan script's fingerprint and reuse --------------------------------------------------------

NONCE = "0123456789abcdef0123456789abcdef"
FP1, FP2, FP3 = ("1" * 64 + "  -", "2" * 64 + "  -", "3" * 64 + "  -")


def _answer(*sections: tuple[str, str]) -> str:
    from app.platforms.posix.facts import marker

    body = "".join(f"\n{marker(NONCE, name)}\n{text}\n" for name, text in sections)
    return body + f"\n{marker(NONCE, 'flag')}\n\n{marker(NONCE, 'pkgs')}\n\n{marker(NONCE, 'end')}\n"


def _basis(fp: str = FP1, out: str | None = None) -> object:
    from app.domain.models import ScanBasis

    return ScanBasis("apt", fp, (out if out is not None else read("debian12_dist_upgrade_real.txt")).encode())


def test_scan_script_sends_only_a_checked_fingerprint_and_quotes_it() -> None:
    from app.platforms.posix.apt import scan_script

    script = AptAdapter().scan_script(NONCE, FP1)
    assert script is not None and f"[ \"$pd_fp\" = '{FP1}' ]" in script
    # Text that is not a fingerprint (a damaged or hostile database) is never spliced: no comparison.
    for bad in (FP1 + "'; touch /tmp/x; '", "$(reboot)", "", "123 456", FP1[:63] + "g  -", FP1 + "\n"):
        sent = AptAdapter().scan_script(NONCE, bad)
        assert sent is not None and '"$pd_fp" =' not in sent and "reboot)" not in sent
        with pytest.raises(ValueError):
            scan_script(NONCE, bad)
    # The script parses as shell (no quoting slip), with and without a fingerprint.
    for known in (None, FP1):
        subprocess.run(["sh", "-n", "-c", scan_script(NONCE, known)], check=True, timeout=10)


def test_a_full_simulation_carries_the_basis_for_the_next_scan() -> None:
    sim = read("debian12_dist_upgrade_real.txt")
    found = AptAdapter().parse_scan_script(
        _answer(("fp", FP2), ("sim", sim), ("simrc", "0"), ("simerr", "")), NONCE
    )
    assert found is not None and not found.reused and found.pending
    assert found.basis is not None and found.basis.fingerprint == FP2
    assert found.basis.out.decode().strip() == sim.strip()
    # A fingerprint line that is not ours keeps no basis (the next scan simulates again).
    odd = AptAdapter().parse_scan_script(
        _answer(("fp", FP2 + "; rm -rf /"), ("sim", sim), ("simrc", "0"), ("simerr", "")), NONCE
    )
    assert odd is not None and odd.basis is None and odd.pending == found.pending


def test_same_reuses_the_stored_output_only_when_it_is_the_one_sent() -> None:
    stored = _basis(FP1)
    full = AptAdapter().parse_scan_script(
        _answer(("fp", FP1), ("sim", read("debian12_dist_upgrade_real.txt")), ("simrc", "0"), ("simerr", "")),
        NONCE,
    )
    same = AptAdapter().parse_scan_script(
        _answer(("fp", FP1), ("same", "")),
        NONCE,
        previous=lambda: stored,  # type: ignore[arg-type,return-value]
    )
    assert same is not None and same.reused and same.basis is stored
    assert full is not None and same.pending == full.pending
    # The host claims "same" but nothing was sent, nothing is stored, or a different fingerprint is
    # stored: no answer from the script, so the caller scans in full.
    assert AptAdapter().parse_scan_script(_answer(("fp", FP1), ("same", "")), NONCE) is None
    assert (
        AptAdapter().parse_scan_script(_answer(("fp", FP1), ("same", "")), NONCE, previous=lambda: None)
        is None
    )
    other = _basis(FP3)
    assert (
        AptAdapter().parse_scan_script(
            _answer(("fp", FP1), ("same", "")),
            NONCE,
            previous=lambda: other,  # type: ignore[arg-type,return-value]
        )
        is None
    )


def test_fingerprint_changes_with_every_file_apt_reads(tmp_path: Path) -> None:
    """The real fingerprint command, run here against a copy of the paths it reads."""
    from app.platforms.posix.apt import FINGERPRINT_COMMAND, FINGERPRINT_PATHS

    root = tmp_path / "root"
    for path in ("var/lib/dpkg/updates", "var/lib/apt/lists", "etc/apt/preferences.d", "etc/apt/apt.conf.d"):
        (root / path).mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text("Package: a\n")
    (root / "var/lib/apt/lists/x_Packages").write_text("Package: a\n")
    (root / "etc/apt/sources.list").write_text("deb file:/srv/repo bookworm main\n")
    command = FINGERPRINT_COMMAND
    for p in FINGERPRINT_PATHS:
        command = command.replace(f" {p}", f" {root}{p}")

    def fp() -> str:
        return subprocess.run(
            ["sh", "-c", command], capture_output=True, text=True, check=True
        ).stdout.strip()

    first = fp()
    assert first == fp()  # stable while nothing changes
    seen = {first}
    changes = [
        lambda: (root / "var/lib/dpkg/updates/0001").write_text("Package: a\n"),  # dpkg's journal
        lambda: (root / "etc/apt/preferences.d/pin").write_text("Package: a\n"),  # a new pin
        lambda: (root / "etc/apt/preferences.d/pin").write_text("Package: b\n"),  # same size, rewritten
        lambda: (root / "etc/apt/apt.conf.d/99x").write_text("APT::Get::x 1;\n"),
        lambda: (root / "var/lib/apt/lists/x_Packages").write_text("Package: a\nVersion: 2\n"),
        lambda: (root / "var/lib/dpkg/status").write_text("Package: b\n"),  # same size
        lambda: (root / "etc/apt/sources.list").unlink(),
    ]
    for change in changes:
        change()
        now = fp()
        assert now not in seen
        seen.add(now)


# -- the install that reports its own transaction (apt's pre-install hook) ---------------------------

TXN_TAG = "@@PATCHDESK:0123456789abcdef0123456789abcdef:txn@@"


def _hook_lines(text: str) -> list[str]:
    return [line[len(TXN_TAG) + 1 :] for line in text.splitlines() if line.startswith(TXN_TAG + " ")]


def test_transaction_from_a_real_install_with_a_new_dependency() -> None:
    from app.platforms.posix.apt_parse import parse_transaction

    plan = parse_transaction(_hook_lines(read("debian12_install_chain_hook_real.txt")))
    assert [(c.name, c.from_version, c.to_version, c.arch) for c in plan.changes] == [
        ("pd-chain-lib", "1.0-1", "1.1-1", "all"),
        ("pd-chain-extra", None, "1.0-1", "all"),
        ("pd-chain", "1.0-1", "1.1-1", "all"),
        ("pd-secfix", "1.0-1", "1.0-2", "all"),
    ]
    assert not plan.reboot_expected


def test_transaction_names_match_dpkg_query_and_hostile_lines_are_skipped() -> None:
    from app.platforms.posix.apt_parse import parse_transaction

    plan = parse_transaction(
        [
            "Dir::Etc=etc",  # configuration that slipped through is not an action
            "APT::Architecture=amd64",
            "libssl3 3.0.1 amd64 same < 3.0.2 amd64 same /var/cache/apt/archives/libssl3.deb",
            "libssl3 3.0.1 i386 same < 3.0.2 i386 same /var/cache/apt/archives/libssl3-i386.deb",
            "wine32 1.0 i386 foreign < 1.1 i386 foreign /var/cache/apt/archives/wine32.deb",
            "systemd-timesyncd 252.1 amd64 none > - - none **REMOVE**",
            "pd-conf 1.0-1 all none = 1.0-1 all none **CONFIGURE**",  # configure only: no change
            "evil;reboot 1 amd64 none < 2 amd64 none /x.deb",
            "pd-x $(reboot) amd64 none < 2 amd64 none /x.deb",
            "pd-y 1 amd64 none ! 2 amd64 none /x.deb",
            "pd-z 1 amd64 none <",
            "linux-image-amd64 6.1.1 amd64 none < 6.1.2 amd64 none /k.deb",
        ]
    )
    assert [(c.name, c.from_version, c.to_version) for c in plan.changes] == [
        ("libssl3:amd64", "3.0.1", "3.0.2"),
        ("libssl3:i386", "3.0.1", "3.0.2"),
        ("wine32:i386", "1.0", "1.1"),
        ("systemd-timesyncd", "252.1", None),
        ("linux-image-amd64", "6.1.1", "6.1.2"),
    ]
    assert plan.reboot_expected


def test_transaction_hook_runs_in_a_real_shell_and_awk() -> None:
    """The option apt hands to /bin/sh, fed protocol-3 input: it prints the architecture and every
    action behind the marker, nothing of the configuration, and an end line."""
    import shutil

    from app.platforms.posix.apt import transaction_hook_options

    if shutil.which("awk") is None or not Path("/usr/bin/awk").exists():
        pytest.skip("no /usr/bin/awk here")
    opts = transaction_hook_options(TXN_TAG)
    assert opts[:2] == ["-o", "DPkg::Tools::Options::/usr/bin/awk::Version=3"]
    hook = opts[3].removeprefix("DPkg::Pre-Install-Pkgs::=")
    stdin = (
        "VERSION 3\nAPT::Architecture=amd64\nAPT::Secret=%22x%22 ; rm -rf /\n\n"
        "pd-secfix 1.0-1 all none < 1.0-2 all none /srv/pd-secfix_1.0-2_all.deb\n"
    )
    out = subprocess.run(["/bin/sh", "-c", hook], input=stdin, capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        f"{TXN_TAG} APT::Architecture=amd64",
        f"{TXN_TAG} pd-secfix 1.0-1 all none < 1.0-2 all none /srv/pd-secfix_1.0-2_all.deb",
        f"{TXN_TAG} end",
    ]
    with pytest.raises(ValueError):
        transaction_hook_options("x'; reboot; '")


class StreamTransport(ReplayTransport):
    """Streams the recorded stdout to ``on_output`` in small uneven chunks, as SSH does."""

    def run(  # type: ignore[override]
        self,
        command: str | Sequence[str],
        *,
        sudo: bool = False,
        timeout: float = 120.0,
        on_output=None,
        env=None,
    ) -> CommandResult:
        result = super().run(command, sudo=sudo, timeout=timeout)
        if on_output is not None:
            data = result.stdout
            for i, size in enumerate(range(0, len(data), 37)):
                on_output("stdout", data[size : size + 37])
                if i == 3:
                    on_output("stderr", b"W: a warning\n")
        return result


def test_install_reporting_reports_before_dpkg_and_keeps_the_log_clean(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import app.platforms.posix.apt as apt_mod

    monkeypatch.setattr(apt_mod, "new_nonce", lambda: "0123456789abcdef0123456789abcdef")
    recorded = (DATA / "debian12_install_chain_hook_real.txt").read_bytes()
    transport = StreamTransport(CommandResult(0, recorded, b""))
    events: list[object] = []
    streamed: dict[str, bytes] = {"stdout": b"", "stderr": b""}

    def on_output(stream: str, chunk: bytes) -> None:
        streamed[stream] += chunk
        events.append(("output", chunk))

    AptAdapter().install_reporting(
        transport,  # type: ignore[arg-type]
        ["pd-chain", "pd-secfix"],
        on_transaction=lambda plan: events.append(("plan", [c.name for c in plan.changes])),
        on_output=on_output,
    )
    command, sudo = transport.calls[0]
    assert sudo and "DPkg::Tools::Options::/usr/bin/awk::Version=3" in command
    assert list(command)[-3:] == ["--", "pd-chain", "pd-secfix"]
    plans = [e for e in events if e[0] == "plan"]
    assert plans == [("plan", ["pd-chain-lib", "pd-chain-extra", "pd-chain", "pd-secfix"])]
    # reported before any of dpkg's own lines reached the log
    after = b"".join(e[1] for e in events[events.index(plans[0]) :] if e[0] == "output")  # type: ignore[misc]
    assert b"Unpacking pd-chain-lib" in after
    before = b"".join(e[1] for e in events[: events.index(plans[0])] if e[0] == "output")  # type: ignore[misc]
    assert b"Unpacking" not in before
    # every line but the hook's, in order
    assert streamed["stdout"].decode().splitlines() == [
        line for line in recorded.decode().splitlines() if not line.startswith(TXN_TAG)
    ]
    assert streamed["stderr"] == b"W: a warning\n"


def test_install_reporting_stopped_before_its_transaction_reports_nothing() -> None:
    transport = StreamTransport(_fail("frontend_lock_held_stderr_real.txt"))
    seen: list[object] = []
    with pytest.raises(AdapterError):
        AptAdapter().install_reporting(transport, ["pd-secfix"], on_transaction=seen.append)  # type: ignore[arg-type]
    assert seen == []
    with pytest.raises(AdapterError, match="not a valid Debian package name"):
        AptAdapter().install_reporting(transport, ["pd; reboot"], on_transaction=seen.append)  # type: ignore[arg-type]
