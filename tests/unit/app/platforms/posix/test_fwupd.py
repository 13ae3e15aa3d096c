"""fwupd: parsing ``fwupdmgr --json`` (tests/data/fwupd/, see its README for where each file comes
from), the exit statuses, the metadata age, and the adapter over a replayed answer."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.errors import AdapterError
from app.domain.models import Classification, UpdateKind
from app.domain.rules import Classifier
from app.platforms.posix.facts import marker
from app.platforms.posix.fwupd import FwupdAdapter, scan_command, split_name
from app.platforms.posix.fwupd_parse import (
    parse_devices,
    parse_releases,
    parse_remotes,
    parse_text_urgencies,
    pending_updates,
    read_updates,
)
from app.transports.base import CommandResult

DATA = Path(__file__).resolve().parents[4] / "data" / "fwupd"
GUID = "2082b5e0-7a64-478a-b1b2-e3404fab6dad"


def device(**release: object) -> dict[str, object]:
    rel: dict[str, object] = {"AppstreamId": "com.example.Dock.firmware", "Version": "1.2.4", **release}
    return {
        "Name": "Example Dock",
        "DeviceId": "a45df35ac0e948ee180fe216a5f703f32dda163f",
        "Guid": [GUID],
        "Vendor": "Example",
        "Flags": ["updatable", "needs-reboot", "require-ac", "supported"],
        "Version": "1.2.3",
        "Releases": [rel],
    }


def devices_json(*devs: dict[str, object]) -> str:
    return json.dumps({"Devices": list(devs)})


def test_the_device_json_of_fwupds_own_self_test() -> None:
    (d,) = parse_devices((DATA / "selftest_device.json").read_text())
    assert d.name == "ColorHug2" and d.guid == GUID
    assert d.flags == {"updatable", "require-ac"} and d.can_downgrade
    (r,) = d.releases
    assert (r.version, r.appstream_id, r.description) == ("1.2.3", "org.dave.ColorHug.firmware", "Hi there!")
    assert r.urgency is None and r.issues == ()


@pytest.mark.parametrize(
    ("urgency", "issues", "expected"),
    [
        ("critical", [], Classification.URGENT),
        ("high", ["CVE-2024-1234"], Classification.IMPORTANT),
        ("medium", [], Classification.NONCRITICAL),
        (None, [], Classification.NONCRITICAL),
    ],
)
def test_firmware_is_of_kind_firmware_and_classified_by_its_urgency(
    urgency: str | None, issues: list[str], expected: Classification
) -> None:
    release: dict[str, object] = {"Issues": issues}
    if urgency:
        release["Urgency"] = urgency
    (u,) = Classifier().classify_all(pending_updates(read_updates(0, devices_json(device(**release)), "")))
    assert u.kind == UpdateKind.FIRMWARE and u.manager == "fwupd"
    assert (u.name, u.installed, u.available) == (GUID, "1.2.3", "1.2.4")
    assert u.classification == expected
    assert u.cves == tuple(issues)
    assert u.reboot_expected
    # the device it applies to, and what it needs
    assert u.source.startswith("Example Dock (Example)") and "AC power" in u.source


def test_exit_status_2_is_nothing_to_do_and_everything_else_could_not_see() -> None:
    assert read_updates(2, "", "No updates available") == []
    assert read_updates(2, devices_json(), "") == []
    assert read_updates(0, devices_json(), "") == []
    for status in (1, 3, 4, 127, -1):
        with pytest.raises(AdapterError, match=f"exit status {status}"):
            read_updates(status, "", "Failed to connect to daemon")
    with pytest.raises(AdapterError):
        read_updates(2, "Devices with no available firmware updates:", "")  # not its JSON


@pytest.mark.parametrize(
    "text",
    ["", "not json", "[]", '{"Devices": {}}', '{"Devices": null}', '{"Remotes": []}', "{" * 100000],
)
def test_unreadable_answers_are_errors_not_nothing_pending(text: str) -> None:
    with pytest.raises(AdapterError):
        read_updates(0, text, "")


def test_hostile_entries_are_skipped_or_cut() -> None:
    bad = [
        {"Name": "no guid", "DeviceId": "a" * 40, "Releases": [{"Version": "2"}]},
        {"Name": "bad id", "DeviceId": "x; reboot", "Guid": [GUID], "Releases": [{"Version": "2"}]},
        device(Version="1.0; rm -rf /"),
        device(Issues=["CVE-2024-1", "not-a-cve", 7], Urgency="apocalyptic"),
        "junk",
    ]
    pending = pending_updates(read_updates(0, devices_json(*bad), ""))
    assert len(pending) == 1
    assert pending[0].cves == () and pending[0].severity is None


def test_metadata_age_from_the_remotes() -> None:
    now = int(datetime.now(UTC).timestamp())
    state = parse_remotes(
        json.dumps(
            {
                "Remotes": [
                    {"Id": "lvfs", "Kind": "download", "Enabled": True, "Mtime": now - 3600},
                    {"Id": "vendor-directory", "Kind": "directory", "Enabled": True, "Mtime": 0},
                    {"Id": "lvfs-testing", "Kind": "download", "Enabled": False, "Mtime": 0},
                ]
            }
        )
    )
    assert state.enabled == ("lvfs",)
    assert state.updated == datetime.fromtimestamp(now - 3600, UTC)
    never = parse_remotes('{"Remotes": [{"Id": "lvfs", "Kind": "download", "Enabled": true, "Mtime": 0}]}')
    assert never.updated is None and never.enabled == ("lvfs",)


def test_names_on_the_command_line_are_a_guid_and_a_version_only() -> None:
    assert split_name(f"{GUID}=1.2.4") == (GUID, "1.2.4")
    assert split_name(GUID.upper()) == (GUID, None)
    for bad in ("Example Dock=1", f"{GUID}=1.2; reboot", f"{GUID}=", "$(reboot)"):
        with pytest.raises(AdapterError):
            split_name(bad)


# -- the adapter over a replayed answer -------------------------------------------------------------


class Replay:
    """Answers the scan command with sections built like the shell prints them (its nonce)."""

    def __init__(self, bodies: dict[str, str], *, stderr: str = "") -> None:
        self.bodies = bodies
        self.stderr = stderr
        self.calls: list[tuple[str, bool]] = []

    def run(self, command: str | Sequence[str], *, sudo: bool = False, timeout: float = 120, **kw: object):  # type: ignore[no-untyped-def]
        assert isinstance(command, str)
        self.calls.append((command, sudo))
        if "@@PATCHDESK:" not in command:
            return CommandResult(0, b"Successfully installed firmware\n", b"")
        nonce = command.split("@@PATCHDESK:", 1)[1].split(":", 1)[0]
        out = "".join(f"\n{marker(nonce, k)}\n{v}\n" for k, v in self.bodies.items())
        return CommandResult(0, out.encode(), self.stderr.encode())


def answer(
    updates: str, updates_rc: int = 0, *, mtime: int | None = None, devices_rc: int = 0
) -> dict[str, str]:
    stamp = mtime if mtime is not None else int(datetime.now(UTC).timestamp()) - 600
    return {
        "devices": devices_json(device()),
        "devices-rc": str(devices_rc),
        "updates": updates,
        "updates-rc": str(updates_rc),
        "remotes": json.dumps(
            {"Remotes": [{"Id": "lvfs", "Kind": "download", "Enabled": True, "Mtime": stamp}]}
        ),
        "remotes-rc": "0",
        "end": "",
    }


def test_a_scan_reads_devices_updates_and_metadata_age_in_one_command() -> None:
    t = Replay(answer(devices_json(device(Urgency="critical"))))
    a = FwupdAdapter("fw1")
    (u,) = a.scan(t)  # type: ignore[arg-type]
    assert len(t.calls) == 1 and t.calls[0][1] is False  # reads need no root
    assert "fwupdmgr update" not in t.calls[0][0] and "get-updates --json" in t.calls[0][0]
    assert u.severity == "critical"
    assert a.index_state(t).measured  # type: ignore[arg-type]


def test_a_daemon_that_does_not_answer_fails_the_scan() -> None:
    t = Replay(answer("", updates_rc=1, devices_rc=1), stderr="Failed to connect to daemon: no dbus\n")
    with pytest.raises(AdapterError, match="Failed to connect to daemon"):
        FwupdAdapter("fw1").scan(t)  # type: ignore[arg-type]


def test_a_scan_cut_short_fails() -> None:
    bodies = answer(devices_json())
    del bodies["end"]
    with pytest.raises(AdapterError, match="ended early"):
        FwupdAdapter("fw1").scan(Replay(bodies))  # type: ignore[arg-type]


def test_old_or_missing_metadata_makes_the_scan_incomplete() -> None:
    old = int((datetime.now(UTC) - timedelta(days=40)).timestamp())
    a = FwupdAdapter("fw1")
    t = Replay(answer("", updates_rc=2, mtime=old))
    assert a.scan(t) == []  # type: ignore[arg-type]
    state = a.index_state(t)  # type: ignore[arg-type]
    assert not state.measured and "40 days old" in state.notes[0]
    a.scan(Replay(answer("", updates_rc=2, mtime=0)))  # type: ignore[arg-type]
    assert "never refreshed" in a.index_state(t).notes[0]  # type: ignore[arg-type]
    assert not FwupdAdapter().index_state(t).measured  # type: ignore[arg-type]


def test_install_is_one_release_on_one_guid_never_an_update_of_everything() -> None:
    t = Replay(answer(devices_json(device())))
    a = FwupdAdapter("fw1")
    plan = a.plan(t, [f"{GUID}=1.2.4"])  # type: ignore[arg-type]
    assert [(c.from_version, c.to_version) for c in plan.changes] == [("1.2.3", "1.2.4")]
    assert plan.reboot_expected
    with pytest.raises(AdapterError, match="not offered"):
        a.plan(t, [f"{GUID}=9.9.9"])  # type: ignore[arg-type]
    with pytest.raises(AdapterError, match="never all at once"):
        a.install(t, None)  # type: ignore[arg-type]
    a.install(t, [f"{GUID}=1.2.4"])  # type: ignore[arg-type]
    command, sudo = t.calls[-1]
    assert sudo and "fwupdmgr install --assume-yes --no-reboot-check" in command
    assert command.rstrip().endswith(f"{GUID} 1.2.4 </dev/null")


def test_scan_command_has_every_section() -> None:
    cmd = scan_command("0" * 32)
    for what in ("get-devices", "get-updates", "get-remotes"):
        assert f"fwupdmgr {what} --json" in cmd


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300), st.integers(min_value=-5, max_value=300))
def test_read_updates_never_raises_anything_but_adapter_error(text: str, status: int) -> None:
    try:
        read_updates(status, text, "")
    except AdapterError:
        pass


# -- real fwupdmgr 2.0.20 output (tests/data/fwupd/README.md) ---------------------------------------

WEBCAM = "b585990a-003e-5270-89d5-3705a17f9a43"


def test_real_get_updates_with_the_urgency_from_the_text_tree() -> None:
    devices = read_updates(0, (DATA / "get-updates.json").read_text(), "")
    urgencies = parse_text_urgencies((DATA / "get-updates.txt").read_text())
    assert urgencies == {
        (WEBCAM, "1.2.5"): "critical",
        (WEBCAM, "1.2.4"): "medium",
        (WEBCAM, "1.2.3"): "medium",
    }
    (u,) = Classifier().classify_all(pending_updates(devices, urgencies))
    assert (u.name, u.installed, u.available, u.kind) == (WEBCAM, "1.2.2", "1.2.5", UpdateKind.FIRMWARE)
    assert u.severity == "critical" and u.classification == Classification.URGENT
    assert u.cves == ("CVE-2099-0100",) and u.security
    assert u.source.startswith("Integrated Webcam™ (ACME Corp.)") and "patchdesk-local" in u.source
    # without the text tree the JSON alone does not grade it: a security update, severity not graded
    (plain,) = Classifier().classify_all(pending_updates(devices))
    assert plain.severity is None and plain.classification == Classification.IMPORTANT


def test_real_text_tree_in_the_c_locale() -> None:
    """Over SSH the scan runs with LC_ALL=C, where fwupdmgr prints its tree characters as "?": the
    first run on a real test host read no urgency at all, and the critical update came out important."""
    urgencies = parse_text_urgencies((DATA / "get-updates-C-locale.txt").read_text())
    assert urgencies == {(WEBCAM, "1.2.5"): "critical"}


def test_real_get_devices_remotes_and_releases() -> None:
    devices = parse_devices((DATA / "get-devices.json").read_text())
    webcam = next(d for d in devices if d.guid == WEBCAM)
    assert webcam.version == "1.2.2" and webcam.can_downgrade and "updatable" in webcam.flags
    assert any(d.name == "EPYC" and "updatable" not in d.flags for d in devices)
    state = parse_remotes((DATA / "get-remotes.json").read_text())
    assert "patchdesk-local" in state.enabled and "lvfs-testing" not in state.enabled
    assert state.updated is not None
    versions = {r.version for r in parse_releases((DATA / "get-releases.json").read_text())}
    assert {"1.2.5", "1.2.2"} <= versions


def test_real_answer_without_a_daemon() -> None:
    text = (DATA / "no-daemon.json").read_text()
    with pytest.raises(AdapterError, match="Failed to connect to daemon"):
        read_updates(1, text, "")
