"""Reading apt's and dpkg's output: recorded real output (tests/data/apt/) and crafted, hostile text."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.models import Classification, PendingUpdate, UpdateKind
from app.platforms.base import MAX_WARNINGS
from app.platforms.posix.apt_parse import (
    SimulationParse,
    is_security_origin,
    parse_dpkg_query,
    parse_inst_line,
    parse_reboot,
    parse_removals,
    parse_simulation,
)
from app.transports.base import decode

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
    parsed = parse_simulation(read(name))
    assert (parsed.pending, parsed.removals, parsed.warnings) == ((), (), ())
    # "nothing to do" is only believed with apt's summary line (the NOTE banner's head has none)
    assert parsed.summary == ("head" not in name)


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


# -- the scan script's fingerprint and reuse --------------------------------------------------------

NONCE = "0123456789abcdef0123456789abcdef"


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
