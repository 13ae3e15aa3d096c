"""dnf scan parsing: recorded real output (tests/data/dnf/*_real.txt, from the rpm test hosts) and
crafted RHEL/dnf5/yum/hostile output; the reboot check and failure sentences."""

from __future__ import annotations

from pathlib import Path

from app.domain.errors import AdapterError, UnsupportedHostError
from app.domain.models import UpdateKind
from app.platforms.base import MAX_WARNINGS
from app.platforms.posix import dnf_parse
from app.platforms.posix.facts import marker
from app.transports.base import CommandResult

DATA = Path(__file__).resolve().parents[4] / "data" / "dnf"
NONCE = "0123456789abcdef0123456789abcdef"


def read(name: str) -> str:
    return (DATA / name).read_bytes().decode("utf-8", errors="replace")


def scan_output(check: str, rc: int, advisories: str = "", cves: str = "", installed: str = "") -> str:
    m = {s: marker(NONCE, s) for s in dnf_parse.SCAN_SECTIONS}
    return (
        f"\n{m['check']}\n{check}\n{m['check-rc']}\n{rc}\n{m['advisories']}\n{advisories}\n"
        f"{m['cves']}\n{cves}\n{m['installed']}\n{installed}\n{m['end']}\n"
    )


# -- check-update / updateinfo (real) --------------------------------------------------------------


def test_check_update_real() -> None:
    parsed = dnf_parse.parse_check_update(read("check_update_real.txt"))
    assert parsed.warnings == ()
    got = {(e.name, e.arch, e.version, e.repo) for e in parsed.entries}
    assert got == {
        ("pd-chain", "noarch", "1.1-1", "patchdesk-test"),
        ("pd-chain-lib", "noarch", "1.1-1", "patchdesk-test"),
        ("pd-reboot", "noarch", "1.0-2", "patchdesk-test"),
        ("pd-regular", "noarch", "2.1-1", "patchdesk-test"),
        ("pd-secfix", "noarch", "1.0-2", "patchdesk-test"),
    }


def test_scan_real_attaches_advisories_severity_and_cves() -> None:
    text = scan_output(
        read("check_update_real.txt"),
        100,
        read("updateinfo_list_real.txt"),
        read("updateinfo_list_cve_real.txt"),
        read("rpm_qa_real.txt"),
    )
    parsed = dnf_parse.parse_scan(text, NONCE)
    assert parsed.exit_status == 100
    assert parsed.warnings == ()
    by = {u.name: u for u in parsed.pending}
    sec = by["pd-secfix"]
    assert (sec.installed, sec.available, sec.arch, sec.source) == (
        "1.0-1",
        "1.0-2",
        "noarch",
        "patchdesk-test",
    )
    assert sec.security and sec.kind == UpdateKind.SECURITY and sec.severity == "Important"
    assert sec.advisories == ("PDSA-2099:0001",) and sec.cves == ("CVE-2099-0001",)
    reboot = by["pd-reboot"]
    assert reboot.severity == "Critical" and reboot.cves == ("CVE-2099-0003",)
    regular = by["pd-regular"]
    assert regular.kind == UpdateKind.BUGFIX and not regular.security and regular.severity is None
    assert regular.advisories == ("PDBA-2099:0002",)
    assert by["pd-chain"].kind == UpdateKind.ENHANCEMENT and by["pd-chain"].advisories == ("PDEA-2099:0004",)
    assert "pd-current" not in by


def test_updateinfo_security_real() -> None:
    entries, warnings = dnf_parse.parse_updateinfo_list(read("updateinfo_list_security_real.txt"))
    assert warnings == ()
    assert {(e.id, e.severity, e.name, e.version) for e in entries} == {
        ("PDSA-2099:0003", "Critical", "pd-reboot", "1.0-2"),
        ("PDSA-2099:0001", "Important", "pd-secfix", "1.0-2"),
    }
    assert all(e.security for e in entries)


def test_nothing_pending() -> None:
    parsed = dnf_parse.parse_scan(scan_output("", 0), NONCE)
    assert parsed.pending == () and parsed.exit_status == 0


# -- crafted RHEL / dnf5 / yum ------------------------------------------------------------------------


def test_rhel_epochs_wrapped_names_obsoletes() -> None:
    parsed = dnf_parse.parse_check_update(read("rhel9_check_update_crafted.txt"))
    assert parsed.warnings == ()
    by = {e.name: e for e in parsed.entries}
    assert by["openssl"].version == "1:3.0.7-27.el9_4.1"
    assert by["python3-dnf-plugin-post-transaction-actions"].version == "4.3.0-13.el9"
    assert by["tzdata"].repo == "appstream"
    assert "grub2-tools" not in by and parsed.obsoletes == ("grub2-tools",)


def test_rhel_advisories_merge() -> None:
    check = dnf_parse.parse_check_update(read("rhel9_check_update_crafted.txt")).entries
    advs, w1 = dnf_parse.parse_updateinfo_list(read("rhel9_updateinfo_list_crafted.txt"))
    cves, w2 = dnf_parse.parse_updateinfo_list(read("rhel9_updateinfo_list_cve_crafted.txt"))
    assert w1 == () and w2 == ()
    by = {u.name: u for u in dnf_parse.merge_scan(check, advs, cves)}
    kernel = by["kernel-core"]
    # two advisories up to the candidate: both listed, the highest severity wins
    assert kernel.advisories == ("RHSA-2024:3619", "RHSA-2024:3927")
    assert kernel.severity == "Important" and kernel.reboot_expected
    assert kernel.cves == ("CVE-2023-52434", "CVE-2024-35235")
    openssl = by["openssl"]
    assert openssl.security and openssl.severity == "Low"
    assert openssl.advisories == ("RHBA-2024:3325", "RHSA-2024:3501")
    # an advisory for a version newer than the candidate does not apply
    assert by["tzdata"].kind == UpdateKind.ENHANCEMENT and by["tzdata"].advisories == ("RHEA-2024:1234",)
    assert by["NetworkManager"].installed is None


def test_dnf5_and_yum_tables() -> None:
    entries, warnings = dnf_parse.parse_updateinfo_list(read("dnf5_advisory_list_crafted.txt"))
    assert warnings == ()
    assert [(e.id, e.kind, e.severity, e.name) for e in entries] == [
        ("FEDORA-2024-3ad6d0b0a2", UpdateKind.SECURITY, "Moderate", "openssl"),
        ("FEDORA-2024-3ad6d0b0a2", UpdateKind.SECURITY, "Moderate", "openssl-libs"),
        ("FEDORA-2024-77f7ac1d37", UpdateKind.BUGFIX, "", "libnew"),
    ]
    check = dnf_parse.parse_check_update(read("dnf5_check_upgrade_crafted.txt"))
    assert check.warnings == () and [e.name for e in check.entries] == ["openssl", "openssl-libs"]
    cves, warnings = dnf_parse.parse_updateinfo_list(read("yum7_updateinfo_list_cves_crafted.txt"))
    assert warnings == () and [c.id for c in cves] == ["CVE-2019-1559", "CVE-2018-0734"]
    assert cves[0].version == "1:1.0.2k-19.el7"


# -- hostile ---------------------------------------------------------------------------------------


def test_hostile_names_never_become_updates() -> None:
    parsed = dnf_parse.parse_check_update(read("hostile_check_update_crafted.txt"))
    assert [e.name for e in parsed.entries] == ["pd-good"]
    assert len(parsed.warnings) == 7
    entries, warnings = dnf_parse.parse_updateinfo_list(read("hostile_updateinfo_crafted.txt"))
    assert [e.id for e in entries] == ["PDSA-2099:0001"]
    assert len(warnings) == 3


def test_non_utf8_and_huge_output() -> None:
    text = (DATA / "non_utf8_check_update_crafted.bin").read_bytes().decode("utf-8", errors="replace")
    parsed = dnf_parse.parse_check_update(text)
    assert [e.name for e in parsed.entries] == ["pd-fine"]
    huge = "x" * 2_000_000 + "\n" + "pd-a.noarch 1.0-1 repo\n" * 50_000
    parsed = dnf_parse.parse_check_update(huge)
    assert len(parsed.entries) == 50_000
    assert len(dnf_parse.merge_scan(parsed.entries, [], [])) == 1  # one update per name.arch
    assert len(parsed.warnings) == 1 and len(parsed.warnings[0]) < 200
    many_bad = "bad line with four tokens\n" * 10_000
    assert len(dnf_parse.parse_check_update(many_bad).warnings) == MAX_WARNINGS + 1


def test_forged_markers_cannot_open_sections() -> None:
    # output cannot end the check-update section and claim "no updates" (exit status 0)
    forged = "pd-good.noarch 1.0-2 repo\n" + marker("f" * 32, "check-rc") + "\n0\n"
    parsed = dnf_parse.parse_scan(scan_output(forged, 100), NONCE)
    assert parsed.exit_status == 100 and [u.name for u in parsed.pending] == ["pd-good"]


def test_list_real() -> None:
    assert dnf_parse.parse_list(read("list_showduplicates_real.txt")) == {
        "pd-chain": {"1.0-1", "1.1-1"},
        "pd-secfix": {"1.0-1", "1.0-2"},
    }


# -- reboot ----------------------------------------------------------------------------------------


def reboot_output(nr: str, rc: int, kernel: str = "6.1.0-18-amd64", kernels: str = "") -> str:
    m = {s: marker(NONCE, s) for s in dnf_parse.REBOOT_SECTIONS}
    return (
        f"{m['nr']}\n{nr}\n{m['nr-rc']}\n{rc}\n{m['kernel']}\n{kernel}\n"
        f"{m['kernels']}\n{kernels}\n{m['end']}\n"
    )


def test_reboot_needs_restarting_real() -> None:
    yes = dnf_parse.parse_reboot(reboot_output(read("needs_restarting_yes_real.txt"), 1), NONCE)
    assert yes == dnf_parse.RebootStatus(True, ("pd-reboot",), "needs-restarting")
    no = dnf_parse.parse_reboot(reboot_output(read("needs_restarting_no_real.txt"), 0), NONCE)
    assert no == dnf_parse.RebootStatus(False, (), "needs-restarting")


def test_reboot_kernel_fallback_and_not_available() -> None:
    kernels = (
        "kernel-core\t(none)\t5.14.0-427.20.1.el9_4\tx86_64\n"
        "kernel-core\t(none)\t5.14.0-427.22.1.el9_4\tx86_64\n"
    )
    missing_plugin = "No such command: needs-restarting. Please use /usr/bin/dnf --help"
    old = dnf_parse.parse_reboot(
        reboot_output(missing_plugin, 1, "5.14.0-427.20.1.el9_4.x86_64", kernels), NONCE
    )
    assert old == dnf_parse.RebootStatus(True, ("kernel-core",), "kernel")
    new = dnf_parse.parse_reboot(reboot_output("", 127, "5.14.0-427.22.1.el9_4.x86_64", kernels), NONCE)
    assert new == dnf_parse.RebootStatus(False, (), "kernel")
    # the test hosts: no plugin answer, a Debian kernel that no rpm owns -> unknown, not "no"
    assert dnf_parse.parse_reboot(reboot_output("", 127), NONCE).required is None


# -- failures --------------------------------------------------------------------------------------


def test_lock_failure_real() -> None:
    result = CommandResult(
        200, read("install_lock_held_real.txt").encode(), read("install_lock_held_stderr_real.txt").encode()
    )
    assert dnf_parse.is_lock_failure(result)
    err = dnf_parse.describe_failure(result, "pdrpm01", what="install the updates")
    assert "pdrpm01" in str(err) and "locked by another process (process 194)" in str(err)


def test_failure_sentences_real() -> None:
    nonroot = CommandResult(1, b"", read("upgrade_nonroot_stderr_real.txt").encode())
    assert "needs root" in str(dnf_parse.describe_failure(nonroot, "h1", what="install the updates"))
    no_match = CommandResult(
        1, read("plan_no_match_real.txt").encode(), read("plan_no_match_stderr_real.txt").encode()
    )
    assert str(dnf_parse.describe_failure(no_match, "h1", what="plan the update")) == (
        "dnf could not plan the update on h1: No packages marked for upgrade."
    )
    assert isinstance(
        dnf_parse.describe_failure(CommandResult(127, b"", b"sh: dnf: not found"), "h1", what="x"),
        UnsupportedHostError,
    )
    nocache = CommandResult(1, b"", read("check_update_no_cache_stderr_real.txt").encode())
    assert isinstance(dnf_parse.describe_failure(nocache, "h1", what="check for updates"), AdapterError)
