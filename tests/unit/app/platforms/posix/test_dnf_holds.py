"""dnf: updates that versionlock or exclude= hide are listed, marked held with why; when dnf cannot list
them the scan says so (incomplete) rather than pretending there are none."""

from __future__ import annotations

from pathlib import Path

from app.platforms.posix import dnf
from app.platforms.posix.dnf_parse import lock_names, parse_scan
from app.platforms.posix.facts import marker

DATA = Path(__file__).resolve().parents[4] / "data" / "dnf"
NONCE = "0123456789abcdef0123456789abcdef"


def _with_held(held: str, rc: str, locks: str = "") -> str:
    """The recorded scan with pd-regular hidden from the first check and the held sections added."""
    text = (DATA / "scan_with_index_real.txt").read_text()
    lines = [line for line in text.splitlines() if not line.startswith("pd-regular.noarch")]
    text = "\n".join(lines) + "\n"
    at = text.index(marker(NONCE, "advisories"))
    sections = f"\n{marker(NONCE, 'locks')}\n{locks}\n{marker(NONCE, 'held')}\n{held}\n"
    return text[:at] + sections + f"{marker(NONCE, 'held-rc')}\n{rc}\n" + text[at:]


ALL = """
pd-chain.noarch                         1.1-1                     patchdesk-test
pd-regular.noarch                       2.1-1                     patchdesk-test
pd-secfix.noarch                        1.0-2                     patchdesk-test
"""


def test_a_versionlocked_update_is_pending_and_held() -> None:
    parsed = parse_scan(_with_held(ALL, "100", "# Added lock\npd-regular-0:2.0-1.*\n"), NONCE)
    by = {u.name: u for u in parsed.pending}
    assert by["pd-regular"].held and "versionlock" in by["pd-regular"].held_reason
    assert by["pd-regular"].advisories == ("PDBA-2099:0002",) and by["pd-regular"].installed == "2.0-1"
    assert not by["pd-secfix"].held and parsed.notes == ()


def test_without_a_matching_lock_the_reason_is_an_exclude() -> None:
    parsed = parse_scan(_with_held(ALL, "100"), NONCE)
    (held,) = [u for u in parsed.pending if u.held]
    assert held.name == "pd-regular" and "exclude=" in held.held_reason


def test_a_failed_listing_of_held_updates_makes_the_scan_incomplete() -> None:
    parsed = parse_scan(_with_held("", "2"), NONCE)  # e.g. dnf 5: no --disableexcludes
    assert "pd-regular" not in {u.name for u in parsed.pending}
    assert any("listing them failed" in n for n in parsed.notes)


def test_lock_names() -> None:
    assert lock_names(["# c", "pd-regular-0:2.0-1.*", "!pd-x-1:3-4.noarch", "kernel*", ""]) == [
        "pd-regular",
        "pd-x",
        "kernel*",
    ]


def test_include_held_unlocks_named_packages_only() -> None:
    assert "--disableplugin=versionlock" in dnf.install_command(["pd-regular"], allow_held=True)
    assert "--disableexcludes=all" in dnf.plan_command(["pd-regular"], allow_held=True)
    assert "--disableexcludes=all" not in dnf.install_command(None, allow_held=True)
    assert "--disableexcludes=all" not in dnf.install_command(["pd-regular"])
