"""The Windows drift check and fix through the real pywinrm client against the loopback WS-Management
server: FakeWindows answers the drift scripts from a small registry/service/firewall state of its own,
reading the items from the script's ``$P`` as Windows would."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.domain.baseline import ItemStatus, RemediationRecorded, evaluate, make_item
from app.domain.events import Event
from app.domain.models import Host, TransportKind
from app.jobs.drift import FixPlan, UndoPlan, check_host, fix_host, undo_host
from app.jobs.engine import TaskContext
from app.platforms.windows.drift import check_script, fix_script, parse_answer
from app.transports.base import Deadline
from tests.support.powershell import grammar_problems
from tests.support.wsman_server import (
    FakeWindows,
    Reply,
    ScriptCall,
    WSManServer,
    crlf,
    fake_windows,
    winrm_to,
)

PASSWORD = "Drift-Pa55-word"
KEY = "HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\WindowsUpdate\\AU"
HOSTILE = "x'); Remove-Item C:\\ -Recurse #\"$(calc)"


class WindowsState:
    """What the drift scripts read and change on the fake host."""

    def __init__(self) -> None:
        self.registry: dict[tuple[str, str], tuple[str, str]] = {(KEY, "NoAutoUpdate"): ("DWord", "1")}
        self.services = {"Spooler": ["Automatic", "Running"]}
        self.firewall = {"Domain": True, "Private": True, "Public": False}
        self.programs = {"7-Zip 23.01 (x64)": "23.01"}
        self.groups = {"Administrators": ["WIN01\\Administrator"]}

    def check(self, call: ScriptCall, p: dict[str, Any]) -> Reply:
        answers: dict[str, Any] = {}
        for item in p["items"]:
            r: dict[str, Any] = {"end": "1"}
            kind, target = item["kind"], item["target"]
            if kind == "registry":
                found = self.registry.get((item["key"], item["name"]))
                r.update({"exists": "1", "type": found[0], "value": found[1]} if found else {"exists": "0"})
            elif kind == "win-service":
                svc = self.services.get(target)
                r.update({"exists": "1", "start_mode": svc[0], "status": svc[1]} if svc else {"exists": "0"})
            elif kind == "firewall":
                r["enabled"] = str(self.firewall[target])
            elif kind == "program":
                r["installed"] = self.programs.get(target, "")
            elif kind == "local-group":
                members = self.groups.get(target)
                r.update(
                    {"exists": "1", "members": "\n".join(members)} if members is not None else {"exists": "0"}
                )
            answers[str(item["id"])] = r
        return Reply(stdout=crlf(json.dumps({"Items": answers}) + "\n"))

    def fix(self, call: ScriptCall, p: dict[str, Any]) -> Reply:
        if p["kind"] == "registry":
            if p.get("state") == "absent":
                self.registry.pop((p["key"], p["name"]), None)
            else:
                self.registry[(p["key"], p["name"])] = (p["type"], str(p["value"]))
        elif p["kind"] == "win-service":
            svc = self.services[p["target"]]
            svc[0] = p.get("start_mode", svc[0])
            if "running" in p:
                svc[1] = "Running" if p["running"] else "Stopped"
        elif p["kind"] == "firewall":
            self.firewall[p["target"]] = bool(p["enabled"])
        return Reply(stdout=crlf('{"ok":true}\n'))


@pytest.fixture
def win(tmp_path: Path) -> Iterator[tuple[WSManServer, FakeWindows, WindowsState]]:
    state = WindowsState()
    with fake_windows(tmp_path, PASSWORD) as (server, fake):
        fake.op_windows_drift = state.check  # type: ignore[attr-defined]
        fake.op_windows_drift_fix = state.fix  # type: ignore[attr-defined]
        yield server, fake, state


class _Connector:
    def __init__(self, server: WSManServer) -> None:
        self.server = server
        self.connects = 0

    def connect(self, host: Host, deadline: Deadline, emit: Any, job_id: int) -> Any:
        self.connects += 1
        return winrm_to(self.server, PASSWORD, name=host.name)


def _ctx(server: WSManServer, events: list[Event], connector: _Connector | None = None) -> TaskContext:
    host = Host(
        name="win01.invalid", address="127.0.0.1", port=server.port, transport=TransportKind.WINRM, id=1
    )
    connector = connector or _Connector(server)
    return TaskContext(7, host, Deadline(120), events.append, connector)  # type: ignore[arg-type]


ITEMS = [
    make_item("registry", f"{KEY}|NoAutoUpdate", {"state": "present", "type": "DWord", "value": "1"}, 1),
    make_item("win-service", "Spooler", {"start_mode": "Disabled", "running": False}, 2),
    make_item("firewall", "Public", {"enabled": True}, 3),
    make_item(
        "program", "7-Zip 23.01 (x64)", {"state": "present", "version": "23.00", "match": "minimum"}, 4
    ),
    make_item("local-group", "Administrators", {"members": ["WIN01\\Administrator", "WIN01\\helpdesk"]}, 5),
    make_item("file", "/etc/hostname", {"state": "present"}, 6),
]


def test_the_check_over_winrm_names_what_differs_and_never_passes_what_it_cannot_see(win) -> None:  # type: ignore[no-untyped-def]
    server, _, _ = win
    events: list[Event] = []
    results = {r.item_id: r for r in check_host(_ctx(server, events), checks={1: ITEMS})}
    assert results[1].status == ItemStatus.OK
    assert results[2].status == ItemStatus.DRIFTED and results[2].actual == {
        "start_mode": "Automatic",
        "running": True,
    }
    assert results[3].status == ItemStatus.DRIFTED and results[3].actual == {"enabled": False}
    assert results[4].status == ItemStatus.OK
    assert results[5].status == ItemStatus.DRIFTED and "helpdesk" in results[5].reason
    assert results[6].status == ItemStatus.UNKNOWN  # a POSIX check on a Windows host


def test_fix_snapshot_verify_and_undo_over_winrm(win) -> None:  # type: ignore[no-untyped-def]
    server, _, state = win
    events: list[Event] = []
    fixable = [ITEMS[1], ITEMS[2]]
    outcomes = fix_host(_ctx(server, events), plans={1: [FixPlan(i) for i in fixable]})
    assert [(o.applied, o.verified) for o in outcomes] == [(True, "ok"), (True, "ok")]
    assert state.services["Spooler"] == ["Disabled", "Stopped"] and state.firewall["Public"] is True
    snaps = [e for e in events if isinstance(e, RemediationRecorded) and e.state == "snapshot"]
    assert {s.item_id: s.before for s in snaps} == {
        2: {"start_mode": "Automatic", "running": True},
        3: {"enabled": False},
    }
    undo = [UndoPlan(i, next(s.before for s in snaps if s.item_id == i.id), None, 7) for i in fixable]
    outcomes = undo_host(_ctx(server, []), plans={1: undo})
    assert [o.verified for o in outcomes] == ["drifted", "drifted"]
    assert state.services["Spooler"] == ["Automatic", "Running"] and state.firewall["Public"] is False


def test_a_broken_answer_is_unknown() -> None:
    item = ITEMS[0]
    for out in ("", "not json", '{"Items": {"1": {"error": "Access denied"}}}', '{"Items": []}'):
        assert evaluate(item, parse_answer(out, [item]).get(1)).status == ItemStatus.UNKNOWN


def test_targets_travel_as_data_and_the_scripts_parse() -> None:
    hostile = make_item(
        "registry", f"{KEY}|{HOSTILE}", {"state": "present", "type": "String", "value": HOSTILE}, 9
    )
    for script in (check_script([hostile, *ITEMS[:5]]), fix_script(hostile, hostile.expected)):
        assert grammar_problems(script) == []
        assert "$(calc)" not in script and "C:\\ -Recurse" not in script  # only inside the base64 data


def test_a_scan_of_a_windows_host_checks_its_baseline_in_the_same_session(win) -> None:  # type: ignore[no-untyped-def]
    from app.domain.baseline import DriftRecorded
    from app.domain.events import ScanRecorded
    from app.jobs.tasks import scan_host

    server, _, _ = win
    events: list[Event] = []
    connector = _Connector(server)
    ctx = _ctx(server, events, connector)
    scan_host(ctx, drift={1: ITEMS[:3]})
    ctx.close()
    (drift,) = [e for e in events if isinstance(e, DriftRecorded)]
    assert {r.item_id: str(r.status) for r in drift.results} == {1: "ok", 2: "drifted", 3: "drifted"}
    assert any(isinstance(e, ScanRecorded) for e in events)
    assert connector.connects == 1  # the scan's own WinRM connection served the check: no extra login


def test_capture_from_a_windows_golden_host(win) -> None:  # type: ignore[no-untyped-def]
    from app.jobs.drift import CaptureRequest, capture_host

    server, _, _ = win
    request = CaptureRequest(
        ("/etc/ssh/sshd_config",), ("7-Zip 23.01 (x64)", "Missing App"), ("Spooler", "NoSuch")
    )
    got = capture_host(_ctx(server, []), request=request)
    assert {(i.kind, i.target): i.expected for i in got.items} == {
        ("win-service", "Spooler"): {"start_mode": "Automatic", "running": True},
        ("program", "7-Zip 23.01 (x64)"): {"state": "present", "version": "23.01", "match": "exact"},
    }
    assert len(got.problems) == 3  # the file, the missing program, the missing service: each said
