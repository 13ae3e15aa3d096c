"""dnf adapter: parsers against recorded real output (tests/data/dnf/*_real.txt, from the rpm test hosts)
and crafted RHEL/dnf5/yum/hostile output; command builders keep untrusted text as argv data."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.errors import AdapterError, UnsupportedHostError
from app.domain.models import PackageChange, UpdateKind
from app.platforms.base import MAX_WARNINGS
from app.platforms.posix import dnf, dnf_parse, dnf_plan, rpm
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


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_parsers_never_crash(text: str) -> None:
    dnf_parse.parse_check_update(text)
    dnf_parse.parse_updateinfo_list(text)
    dnf_plan.parse_plan(text)
    rpm.parse_rpm_query(text)
    dnf_plan.parse_history_ids(text)
    dnf_plan.parse_history_info(text)
    dnf_parse.parse_list(text)
    dnf_parse.parse_scan(text, NONCE)
    dnf_parse.parse_reboot(text, NONCE)


def test_split_nevra() -> None:
    assert rpm.split_nevra("openssl-1:3.0.7-27.el9.x86_64") == ("openssl", "1:3.0.7-27.el9", "x86_64")
    assert rpm.split_nevra("pd-chain-lib-0:1.1-1.noarch") == ("pd-chain-lib", "1.1-1", "noarch")
    assert rpm.split_nevra("noversion.noarch") is None


# -- rpm -q, list, history ----------------------------------------------------------------------------


def test_rpm_query_real() -> None:
    assert rpm.parse_rpm_query(read("rpm_query_missing_real.txt")) == {"pd-secfix": ("1.0-1", "noarch")}
    qa = rpm.parse_rpm_query(read("rpm_qa_real.txt"))
    assert qa["pd-chain"] == ("1.0-1", "noarch") and "pd-system-base" in qa


def test_rpm_query_keeps_newest_kernel_and_epochs() -> None:
    text = (
        "kernel-core\t(none)\t5.14.0-1.el9\tx86_64\n"
        "kernel-core\t(none)\t5.14.0-3.el9\tx86_64\n"
        "openssl\t1\t3.0.7-27.el9\tx86_64\n"
    )
    got = rpm.parse_rpm_query(text)
    assert got == {"kernel-core": ("5.14.0-3.el9", "x86_64"), "openssl": ("1:3.0.7-27.el9", "x86_64")}


def test_list_real() -> None:
    assert dnf_parse.parse_list(read("list_showduplicates_real.txt")) == {
        "pd-chain": {"1.0-1", "1.1-1"},
        "pd-secfix": {"1.0-1", "1.0-2"},
    }


def test_history_real() -> None:
    assert dnf_plan.parse_history_ids(read("history_list_real.txt")) == [3, 2, 1]
    assert dnf_plan.parse_history_info(read("history_info_real.txt")) == {
        "pd-reboot": ("1.0-1", "1.0-2"),
        "pd-secfix": ("1.0-1", "1.0-2"),
    }
    assert dnf_plan.parse_history_info("Transaction ID : 4\n") is None
    assert dnf_plan.parse_history_info("Packages Altered:\n    Frobnicate pd-x-1.0-1.noarch @r\n") is None


# -- plan ------------------------------------------------------------------------------------------


def test_plan_real_chain() -> None:
    parsed = dnf_plan.parse_plan(read("plan_chain_real.txt"))
    assert [(p.action, p.name, p.version) for p in parsed.packages] == [
        ("upgrade", "pd-chain", "1.1-1"),
        ("upgrade", "pd-chain-lib", "1.1-1"),
    ]
    installed = {"pd-chain": ("1.0-1", "noarch"), "pd-chain-lib": ("1.0-1", "noarch")}
    changes = dnf_plan.plan_changes(parsed, installed)
    assert changes == (
        PackageChange("dnf", "pd-chain", "1.0-1", "1.1-1", "noarch"),
        PackageChange("dnf", "pd-chain-lib", "1.0-1", "1.1-1", "noarch"),
    )


def test_plan_real_all_and_nothing() -> None:
    assert len(dnf_plan.parse_plan(read("plan_all_real.txt")).packages) == 5
    nothing = dnf_plan.parse_plan(read("plan_nothing_real.txt"))
    assert nothing.nothing_to_do and nothing.packages == ()


def test_plan_rhel_kernel_crafted() -> None:
    parsed = dnf_plan.parse_plan(read("rhel9_plan_kernel_crafted.txt"))
    assert parsed.warnings == ()
    got = [(p.action, p.name, p.version) for p in parsed.packages]
    assert ("install", "kernel-core", "5.14.0-427.22.1.el9_4") in got
    assert ("upgrade", "python3-dnf-plugin-post-transaction-actions", "4.3.0-13.el9") in got
    assert ("remove", "grub2-tools-efi", "1:2.06-77.el9") in got
    assert ("remove", "kernel-core", "5.14.0-284.11.1.el9_2") in got
    assert parsed.skipped == ("libfoo",)


def test_plan_dnf5_crafted() -> None:
    parsed = dnf_plan.parse_plan(read("dnf5_plan_crafted.txt"))
    assert parsed.warnings == ()
    assert [(p.action, p.name, p.version) for p in parsed.packages] == [
        ("upgrade", "openssl", "1:3.2.2-9.fc41"),
        ("upgrade", "openssl-libs", "1:3.2.2-9.fc41"),
        ("install", "libnew", "1.0-1.fc41"),
    ]
    changes = dnf_plan.plan_changes(parsed, {"openssl": ("1:3.2.2-7.fc41", "x86_64")})
    assert changes[0].from_version == "1:3.2.2-7.fc41" and changes[2].from_version is None


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
    assert "yum -q -C --setopt=skip_if_unavailable=False updateinfo list cves" in script


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
