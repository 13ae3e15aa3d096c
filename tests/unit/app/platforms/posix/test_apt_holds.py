"""Held packages (apt-mark hold): listed, marked, and installed only when named with --include-held."""

from __future__ import annotations

from pathlib import Path

from app.domain.models import PendingUpdate
from app.platforms.posix.apt import AptAdapter, scan_script
from app.platforms.posix.apt_install import ALLOW_HELD, install_command, plan_command
from app.platforms.posix.apt_parse import HELD_REASON, mark_held, parse_holds, parse_simulation
from app.platforms.posix.facts import marker
from app.transports.base import decode

DATA = Path(__file__).resolve().parents[4] / "data" / "apt"
NONCE = "0123456789abcdef0123456789abcdef"


def test_parse_holds_keeps_only_package_names() -> None:
    text = "pd-regular\nlibfoo1:i386\n\n  spaced  \n$(reboot)\n\xff\x00bad\n" + "x" * 5 + " y\n"
    assert parse_holds(text.splitlines()) == frozenset({"pd-regular", "libfoo1:i386", "spaced"})
    assert parse_holds([]) == frozenset()


def test_mark_held_matches_names_with_and_without_arch() -> None:
    pending = (
        PendingUpdate("apt", "pd-regular", "2.1-1", "2.0-1"),
        PendingUpdate("apt", "libfoo1:i386", "2", "1"),
        PendingUpdate("apt", "pd-secfix", "1.0-2", "1.0-1"),
    )
    marked = {u.name: u for u in mark_held(pending, frozenset({"pd-regular", "libfoo1"}))}
    assert marked["pd-regular"].held and marked["pd-regular"].held_reason == HELD_REASON
    assert marked["libfoo1:i386"].held
    assert not marked["pd-secfix"].held and marked["pd-secfix"].held_reason == ""


def test_the_scan_script_reads_holds_and_marks_them() -> None:
    script = scan_script(NONCE)
    assert marker(NONCE, "held") in script and "apt-mark showhold" in script
    sim = decode((DATA / "debian12_dist_upgrade_real.txt").read_bytes())
    first = parse_simulation(sim).pending[0].name
    body = "".join(
        f"\n{marker(NONCE, name)}\n{text}\n"
        for name, text in (("held", first), ("sim", sim), ("simrc", "0"), ("simerr", ""))
    )
    found = AptAdapter().parse_scan_script(body, NONCE)
    assert found is not None
    held = [u.name for u in found.pending if u.held]
    assert held == [first]
    assert len(found.pending) == len(parse_simulation(sim).pending)  # marked, never dropped


def test_held_packages_are_changed_only_when_allowed_and_named() -> None:
    assert ALLOW_HELD not in install_command(["pd-regular"], 120)
    assert ALLOW_HELD not in plan_command(["pd-regular"])
    allowed = install_command(["pd-regular"], 120, allow_held=True)
    assert ALLOW_HELD in allowed and allowed[-2:] == ["--", "pd-regular"]
    assert ALLOW_HELD in plan_command(["pd-regular"], allow_held=True)
    # never with a blind upgrade of everything
    assert ALLOW_HELD not in install_command(None, 120, allow_held=True)
    assert ALLOW_HELD not in plan_command(None, allow_held=True)


def test_pins_below_the_newest_version_are_pending_and_held() -> None:
    """A pin that keeps a package at its installed version hides the update from the simulation: it
    is listed from apt's policy (recorded on a test host with a Pin-Priority 1001 at 2.0-1 and a -1 on
    1.1*), held, with why."""
    from app.platforms.posix.apt_parse import PIN_REASON, parse_policy, pinned_updates

    pins = parse_policy((DATA / "policy_pinned_real.txt").read_text().splitlines())
    assert set(pins) == {"pd-regular", "pd-chain", "pd-chain-lib"}
    assert (pins["pd-regular"].installed, pins["pd-regular"].newest) == ("2.0-1", "2.1-1")
    assert pins["pd-regular"].source == "file:/srv/repo bookworm-updates/main"
    updates = pinned_updates(pins, [])
    assert all(u.held and u.held_reason == PIN_REASON for u in updates)
    # a package the simulation lists already is not listed twice; one not pinned below is not listed
    assert [u.name for u in pinned_updates(pins, updates[:1])] == [u.name for u in updates[1:]]
    current = "pd-current:\n  Installed: 1.0-1\n  Candidate: 1.0-1\n  Version table:\n *** 1.0-1 500\n"
    assert parse_policy(current.splitlines()) == {}


def test_include_held_names_the_pinned_version() -> None:
    cmd = install_command(["pd-regular", "pd-secfix"], 60, allow_held=True, versions={"pd-regular": "2.1-1"})
    assert cmd[-3:] == ["--", "pd-regular=2.1-1", "pd-secfix"]
    assert plan_command(["pd-regular"], versions={"pd-regular": "2.1-1"})[-1] == "pd-regular"  # not asked
