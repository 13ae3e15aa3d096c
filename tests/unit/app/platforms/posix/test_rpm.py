"""rpm queries and rpm's name/version rules (shared by dnf and zypper), on recorded and crafted output."""

from __future__ import annotations

from pathlib import Path

from app.platforms.posix import rpm

DATA = Path(__file__).resolve().parents[4] / "data" / "dnf"


def read(name: str) -> str:
    return (DATA / name).read_bytes().decode("utf-8", errors="replace")


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
