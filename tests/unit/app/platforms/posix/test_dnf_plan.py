"""dnf's transaction table and history, against recorded real and crafted output."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.models import PackageChange
from app.platforms.posix import dnf_parse, dnf_plan, rpm

DATA = Path(__file__).resolve().parents[4] / "data" / "dnf"
NONCE = "0123456789abcdef0123456789abcdef"


def read(name: str) -> str:
    return (DATA / name).read_bytes().decode("utf-8", errors="replace")


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


def test_plan_sections_and_rows_it_cannot_read() -> None:
    text = (
        "Dependencies resolved.\n"
        " Package   Arch   Version   Repository   Size\n"
        "=====\n"
        "Installing something new:\n"
        " pd-a      noarch 1.0-1     r            1 k\n"
        "Obsoleting:\n"
        " pd-b      noarch 2.0-1     r            1 k\n"
        "     replacing  pd-old.noarch 1.0-1\n"
        " replacing ???\n"
        " pd-bad    noarch\n"
        " pd-c      no/arch 1.0-1    r            1 k\n"
        "Weird section:\n"
        " pd-d      noarch 1.0-1     r            1 k\n"
        "Upgrading:\n"
        " a-very-long-package-name\n"
        "           noarch 3.0-1     r            1 k\n"
        "Transaction Summary\n"
        " pd-e      noarch 1.0-1     r            1 k\n"
    )
    parsed = dnf_plan.parse_plan(text)
    assert [(p.action, p.name, p.arch, p.version) for p in parsed.packages] == [
        ("install", "pd-a", "noarch", "1.0-1"),  # any "Installing ...:" header installs
        ("remove", "pd-b", "noarch", "2.0-1"),
        ("remove", "pd-old", "noarch", "1.0-1"),
        ("upgrade", "a-very-long-package-name", "noarch", "3.0-1"),
    ]
    assert parsed.warnings == (
        "Could not understand dnf line: replacing ???",
        "Could not understand dnf line: pd-bad    noarch",
        "Could not understand dnf line: pd-c      no/arch 1.0-1    r            1 k",
    )
    assert parsed.skipped == () and not parsed.nothing_to_do
