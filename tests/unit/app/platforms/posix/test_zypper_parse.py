"""zypper's XML output, exit codes and reboot check, against crafted recordings written from zypper's
documented XML formats (tests/data/zypper/README.md) -- no real zypper host can run here."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.errors import AdapterError
from app.domain.models import PackageChange, UpdateKind
from app.platforms.posix import zypper_parse
from app.transports.base import CommandResult

DATA = Path(__file__).resolve().parents[4] / "data" / "zypper"


def read(name: str) -> str:
    return (DATA / name).read_text()


def test_list_updates() -> None:
    parsed = zypper_parse.parse_list_updates(read("list_updates_crafted.xml"))
    assert parsed.warnings == ()
    by = {u.name: u for u in parsed.pending}
    ssl = by["openssl-3"]
    assert (ssl.installed, ssl.available, ssl.arch) == (
        "3.1.4-150600.5.10.1",
        "3.1.4-150600.5.15.1",
        "x86_64",
    )
    assert ssl.source == "SLE-Module-Basesystem15-SP6-Updates" and ssl.kind == UpdateKind.BUGFIX
    assert by["kernel-default"].reboot_expected
    assert by["vim"].available == "1:9.1.0330-150500.20.12.1"


def test_list_patches() -> None:
    parsed = zypper_parse.parse_list_patches(read("list_patches_crafted.xml"))
    assert parsed.warnings == ()
    by = {u.name: u for u in parsed.pending}
    assert set(by) == {
        "patch:SUSE-SLE-Module-Basesystem-15-SP6-2024-2891",
        "patch:SUSE-SLE-Module-Basesystem-15-SP6-2024-3195",
        "patch:SUSE-SLE-Module-Basesystem-15-SP6-2024-3000",
        "patch:SUSE-SLE-Module-Basesystem-15-SP6-2024-1234",
    }  # the applied one is not pending
    ssl = by["patch:SUSE-SLE-Module-Basesystem-15-SP6-2024-2891"]
    assert ssl.security and ssl.kind == UpdateKind.SECURITY and ssl.severity == "Important"
    assert ssl.cves == ("CVE-2024-5535", "CVE-2024-6119")
    assert ssl.advisories == ("SUSE-SLE-Module-Basesystem-15-SP6-2024-2891",)
    kernel = by["patch:SUSE-SLE-Module-Basesystem-15-SP6-2024-3195"]
    assert kernel.severity == "Critical" and kernel.reboot_expected
    rec = by["patch:SUSE-SLE-Module-Basesystem-15-SP6-2024-3000"]
    assert rec.kind == UpdateKind.BUGFIX and not rec.security
    opt = by["patch:SUSE-SLE-Module-Basesystem-15-SP6-2024-1234"]
    assert opt.kind == UpdateKind.ENHANCEMENT and opt.severity is None


def test_update_stack_patches_come_first() -> None:
    parsed = zypper_parse.parse_list_patches(read("list_patches_update_stack_crafted.xml"))
    assert [u.name for u in parsed.pending] == ["patch:SUSE-SLE-Module-Basesystem-15-SP6-2024-4000"]
    assert parsed.blocked == ("SUSE-SLE-Module-Basesystem-15-SP6-2024-2891",)


def test_install_summary() -> None:
    parsed = zypper_parse.parse_install_summary(read("update_dry_run_crafted.xml"))
    assert parsed.changes == (
        PackageChange("zypper", "pd-chain", "1.0-1", "1.1-1", "noarch"),
        PackageChange("zypper", "pd-chain-lib", "1.0-1", "1.1-1", "noarch"),
        PackageChange("zypper", "pd-chain-extra", None, "1.0-1", "noarch"),
        PackageChange("zypper", "pd-obsolete", "0.9-1", None, "noarch"),
    )


def test_search_versions() -> None:
    assert zypper_parse.parse_search_versions(read("search_versions_crafted.xml")) == {
        "pd-secfix": {"1.0-1", "1.0-2"}
    }


def test_hostile_and_entity_tricks() -> None:
    parsed = zypper_parse.parse_list_updates(read("hostile_crafted.xml"))
    assert [u.name for u in parsed.pending] == ["pd-good"]
    assert len(parsed.warnings) == 5
    patches = zypper_parse.parse_list_patches(read("hostile_crafted.xml"))
    assert patches.pending == () and len(patches.warnings) == 1
    refused = zypper_parse.parse_list_updates(read("billion_laughs_crafted.xml"))
    assert refused.pending == () and "DOCTYPE refused" in refused.warnings[0]
    bad = zypper_parse.parse_list_updates(b"<stream>\xff\xfe<update".decode("utf-8", errors="replace"))
    assert bad.pending == () and bad.warnings
    huge = "<stream><update-status><update-list>" + '<update kind="package" name="a" edition="1-1"/>' * 50_000
    assert (
        zypper_parse.parse_list_updates(huge + "</update-list></update-status></stream>").pending[0].name
        == "a"
    )


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_parsers_never_crash(text: str) -> None:
    for fn in (
        zypper_parse.parse_list_updates,
        zypper_parse.parse_list_patches,
        zypper_parse.parse_install_summary,
    ):
        fn(text)
        fn("<stream>" + text + "</stream>")
    zypper_parse.parse_search_versions(text)
    zypper_parse.parse_reboot(text)


def test_exit_codes_and_sentences() -> None:
    locked = CommandResult(7, read("locked_crafted.xml").encode(), b"")
    err = zypper_parse.describe_failure(locked, "sles01", what="install the updates")
    assert isinstance(err, AdapterError) and "sles01 is locked" in str(err) and "pid 4242" in str(err)
    assert "needs root" in str(
        zypper_parse.describe_failure(CommandResult(5, b"", b"Root privileges are required"), "h", what="x")
    )
    assert "no repositories" in str(zypper_parse.describe_failure(CommandResult(6, b"", b""), "h", what="x"))
    assert zypper_parse.parse_reboot("rc=102\n") is True
    assert zypper_parse.parse_reboot("rc=0\n") is False
    assert (
        zypper_parse.parse_reboot("rc=2\nflag\n") is True
    )  # old zypper without needs-rebooting, flag file set
    assert zypper_parse.parse_reboot("rc=2\n") is None
    assert {102, 106, 107} <= zypper_parse.SUCCESS_CODES and 7 not in zypper_parse.SUCCESS_CODES
