"""Choosing the adapter for a host: os-release first, then the binaries found."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.domain.errors import UnsupportedHostError
from app.domain.models import OsFacts
from app.platforms.posix.apt import AptAdapter
from app.platforms.posix.dnf import DnfAdapter
from app.platforms.posix.facts import marker, parse_facts
from app.platforms.posix.zypper import ZypperAdapter
from app.platforms.registry import ADAPTERS, detect

FACTS = Path(__file__).resolve().parents[3] / "data" / "facts"

DEBIAN = OsFacts(id="debian", pretty_name="Debian GNU/Linux 12 (bookworm)", hostname="web1")
UBUNTU = OsFacts(id="ubuntu", id_like=("debian",), hostname="web2")
MINT = OsFacts(id="linuxmint", id_like=("ubuntu", "debian"))
RASPBIAN = OsFacts(id="raspbian", id_like=("debian",))
ROCKY = OsFacts(id="rocky", id_like=("rhel", "centos", "fedora"), hostname="db1")
FEDORA = OsFacts(id="fedora")
LEAP = OsFacts(id="opensuse-leap", id_like=("suse", "opensuse"), hostname="suse1")
TUMBLEWEED = OsFacts(id="opensuse-tumbleweed", id_like=("opensuse", "suse"))
SLES = OsFacts(id="sles", id_like=("suse",))
UNKNOWN = OsFacts(id="exotic", hostname="box")
APT_BINS = frozenset({"apt-get", "dpkg"})


def test_table_order_and_names() -> None:
    assert [entry.name for entry in ADAPTERS] == ["apt", "dnf", "zypper", "fwupd", "wua", "choco", "winget"]


def test_fwupd_runs_beside_the_system_package_manager_where_fwupdmgr_is_found() -> None:
    from app.platforms.registry import extra_adapters

    assert [a.name for a in extra_adapters("posix", APT_BINS | {"fwupdmgr"}, host="fw1")] == ["fwupd"]
    assert extra_adapters("posix", APT_BINS) == []
    assert extra_adapters("windows", frozenset({"wua", "fwupdmgr"})) == []
    assert detect(DEBIAN, APT_BINS | {"fwupdmgr"}).name == "apt"


@pytest.mark.parametrize("facts", [DEBIAN, UBUNTU, MINT, RASPBIAN])
def test_debian_family_gets_apt(facts: OsFacts) -> None:
    adapter = detect(facts, APT_BINS)
    assert isinstance(adapter, AptAdapter)
    assert adapter.name == "apt"


def test_os_release_beats_stray_binaries() -> None:
    # Debian with rpm installed (alien, LSB tooling) is still an apt host
    assert isinstance(detect(DEBIAN, APT_BINS | {"rpm", "yum"}), AptAdapter)
    # Fedora with dpkg and apt-get installed is still a dnf host
    assert isinstance(detect(FEDORA, frozenset({"dnf", "rpm", "apt-get", "dpkg"})), DnfAdapter)


@pytest.mark.parametrize("facts", [ROCKY, FEDORA, OsFacts(id="centos", id_like=("rhel", "fedora"))])
def test_red_hat_family_gets_dnf(facts: OsFacts) -> None:
    adapter = detect(facts, frozenset({"dnf", "rpm"}))
    assert isinstance(adapter, DnfAdapter) and adapter.name == "dnf"


@pytest.mark.parametrize("facts", [LEAP, TUMBLEWEED, SLES])
def test_suse_family_gets_zypper(facts: OsFacts) -> None:
    adapter = detect(facts, frozenset({"zypper", "rpm"}))
    assert isinstance(adapter, ZypperAdapter) and adapter.name == "zypper"


def test_error_names_the_host() -> None:
    with pytest.raises(UnsupportedHostError, match=r"^db1 looks like"):
        detect(OsFacts(id="rocky", id_like=("rhel",), hostname="db1", pretty_name="Rocky"), frozenset())
    with pytest.raises(UnsupportedHostError, match=r"^web9 looks like"):
        detect(ROCKY, frozenset(), host="web9")


def test_unknown_os_falls_back_to_binaries() -> None:
    assert isinstance(detect(UNKNOWN, frozenset({"apt-get"})), AptAdapter)
    assert isinstance(detect(OsFacts(), frozenset({"apt-get", "rpm"})), AptAdapter)
    assert isinstance(detect(UNKNOWN, frozenset({"yum", "rpm"})), DnfAdapter)
    assert isinstance(detect(UNKNOWN, frozenset({"zypper"})), ZypperAdapter)


def test_nothing_found() -> None:
    with pytest.raises(UnsupportedHostError) as info:
        detect(UNKNOWN, frozenset({"rpm", "fwupdmgr"}))
    assert str(info.value) == "No supported package manager found on box (looked for apt, dnf, zypper)."
    with pytest.raises(UnsupportedHostError, match="found on the host "):
        detect(OsFacts(), frozenset())


def test_debian_without_apt_get() -> None:
    with pytest.raises(UnsupportedHostError) as info:
        detect(DEBIAN, frozenset({"dpkg"}))
    assert (
        str(info.value) == "web1 looks like Debian GNU/Linux 12 (bookworm) but apt-get was not found on it."
    )


def test_detect_from_recorded_facts() -> None:
    nonce = "0123456789abcdef0123456789abcdef"
    facts, binaries = parse_facts((FACTS / "debian12_real.txt").read_text(), nonce)
    assert isinstance(detect(facts, binaries), AptAdapter)
    rocky = (FACTS / "rocky9_os-release.txt").read_text()
    text = f"\n{marker(nonce, 'os-release')}\n{rocky}\n{marker(nonce, 'binaries')}\ndnf\nyum\nrpm\n"
    facts, binaries = parse_facts(text, nonce)
    assert isinstance(detect(facts, binaries, host="rocky9"), DnfAdapter)
