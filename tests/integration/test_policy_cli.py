"""Policy on real Debian test hosts: KEV turns an update urgent, run-due pushes it through the rings,
and routine updates wait for (and must fit into) their maintenance window."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_scan_cli import ROOT, cli

pytestmark = pytest.mark.hosts

DATA = ROOT / "tests" / "data" / "advisories"


def run_json(db_path: Path, *args: str, timeout: float = 300) -> tuple[int, dict[str, Any], str]:
    r = cli(db_path, *args, "--json", timeout=timeout)
    try:
        data = json.loads(r.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"not JSON (exit {r.returncode}): {r.stdout!r} {r.stderr!r}") from None
    return r.returncode, data, r.stderr


def add(
    db_path: Path, h: Any, key: Path, ring: str, group: str = "lab", criticality: str = "standard"
) -> None:
    r = cli(
        db_path,
        "hosts",
        "add",
        h.name,
        "--address",
        h.address,
        "--user",
        "admin",
        "--key",
        str(key),
        "--group",
        group,
        "--ring",
        ring,
        "--criticality",
        criticality,
    )
    assert r.returncode == 0, r.stderr


def pending_of(report: dict[str, Any], host: str) -> dict[str, dict[str, Any]]:
    entry = next(h for h in report["hosts"] if h["name"] == host)
    return {p["name"]: p for p in entry["pending"]}


def test_kev_makes_it_urgent_and_run_due_pushes_test_ring_first(hosts, host_pool, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    test_host, prod = hosts[0], hosts[1:3]
    add(db_path, test_host, host_pool.client_key, "test")
    for h in prod:
        add(db_path, h, host_pool.client_key, "production")
    code, report, err = run_json(db_path, "scan", "--all")
    assert code == 0, err
    assert pending_of(report, test_host.name)["pd-secfix"]["classification"] == "important"

    code, imported, err = run_json(
        db_path, "advisories", "import", str(DATA / "kev_synthetic.json"), "--osv", str(DATA / "osv-debian12")
    )
    assert code == 0, err
    assert imported["kev"] == 2 and imported["advisories"] == 2
    assert imported["reclassified"] == 3  # pd-secfix on every host
    # the stored pending updates changed class at once; a rescan says the same, with the reason
    code, report, err = run_json(db_path, "scan", "--all")
    assert code == 0, err
    for h in hosts[:3]:
        secfix = pending_of(report, h.name)["pd-secfix"]
        assert secfix["classification"] == "urgent", secfix
        assert "CVE-2099-0001 is in CISA KEV (due 2026-12-15)" in secfix["reason"]
        reboot = pending_of(report, h.name)["pd-reboot"]
        assert reboot["classification"] == "important" and "DSA-9902-1" in reboot["reason"]
    code, hosts_json, _ = run_json(db_path, "advisories", "hosts", "CVE-2099-0001")
    assert sorted(e["host"] for e in hosts_json["hosts"]) == sorted(h.name for h in hosts[:3])

    t0 = datetime.now(UTC).replace(microsecond=0)
    code, due, err = run_json(db_path, "run-due", "--now", t0.isoformat())
    assert code == 0, (err, due)
    assert [(p["host"], p["updates"], p["trigger"]) for p in due["patches"]] == [
        (test_host.name, ["apt:pd-secfix=1.0-2"], "urgent")
    ]
    assert due["patches"][0]["verification"]["verdict"] == "green", due["patches"][0]
    assert test_host.installed_version("pd-secfix") == "1.0-2"
    for h in prod:
        assert h.installed_version("pd-secfix") == "1.0-1"
        waits = [w for w in due["waiting"] if w["host"] == h.name and w["update"] == "apt:pd-secfix=1.0-2"]
        assert waits and "waiting for promotion to the production ring" in waits[0]["reason"]
    # routine updates wait for a window (none is defined for the group)
    assert any(
        w["host"] == test_host.name
        and w["update"] == "apt:pd-regular=2.1-1"
        and "no window covers" in w["reason"]
        for w in due["waiting"]
    )

    # within the urgent soak time nothing is promoted
    code, due, err = run_json(db_path, "run-due", "--now", (t0 + timedelta(hours=1)).isoformat())
    assert code == 0, err
    assert due["patches"] == [] and due["promotions"] == []
    assert any("soaking in the test ring" in h["reason"] for h in due["held"])

    # soak passed, the test ring verified green: everyone else gets it
    code, due, err = run_json(db_path, "run-due", "--now", (t0 + timedelta(hours=3)).isoformat())
    assert code == 0, (err, due)
    assert [(p["update"], p["from"], p["to"]) for p in due["promotions"]] == [
        ("apt:pd-secfix=1.0-2", "test", "production")
    ]
    assert sorted(p["host"] for p in due["patches"]) == sorted(h.name for h in prod)
    for p in due["patches"]:
        assert p["status"] == "ok" and p["verification"]["verdict"] == "green", p
    for h in prod:
        assert h.installed_version("pd-secfix") == "1.0-2"
        assert h.installed_version("pd-regular") == "2.0-1"  # routine: still waiting for a window
    code, rollouts, _ = run_json(db_path, "rollouts")
    secfix = next(r for r in rollouts["rollouts"] if r["key"] == "apt:pd-secfix=1.0-2")
    assert secfix["ring"] == "production" and secfix["state"] == "approved"

    # the change log says what changed where, when
    r = cli(db_path, "export", "changes", "--format", "csv")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("finished_utc,host,job")
    assert sum(1 for line in lines if ",pd-secfix,upgrade,1.0-1,1.0-2," in line) == 3


def test_routine_update_waits_for_its_window_and_must_fit(hosts, host_pool, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    h = hosts[0]
    add(db_path, h, host_pool.client_key, "test")
    code, _, err = run_json(db_path, "scan", h.name)
    assert code == 0, err
    r = cli(
        db_path,
        "windows",
        "add",
        "lab-nightly",
        "--rrule",
        "FREQ=DAILY;BYHOUR=2;BYMINUTE=0",
        "--duration",
        "60",
        "--tz",
        "Europe/Berlin",
        "--groups",
        "lab",
        "--start",
        "2026-01-01T00:00",
    )
    assert r.returncode == 0, r.stderr
    # pd-reboot would restart the host: the administrator declines it here
    code, decided, err = run_json(db_path, "decline", "pd-reboot", "--note", "needs a reboot; next month")
    assert code == 0, err
    assert decided["rollouts"][0]["state"] == "declined"

    from zoneinfo import ZoneInfo

    berlin = ZoneInfo("Europe/Berlin")
    day = datetime.now(berlin).date() + timedelta(days=1)
    noon = datetime(day.year, day.month, day.day, 12, 0, tzinfo=berlin)
    code, due, err = run_json(db_path, "run-due", "--now", noon.isoformat())
    assert code == 0, err
    assert due["patches"] == []
    wait = next(w for w in due["waiting"] if w["update"] == "apt:pd-regular=2.1-1")
    assert "outside its maintenance window; next: lab-nightly at" in wait["reason"]
    assert any(
        w["update"] == "apt:pd-reboot=1.0-2" and w["reason"].startswith("declined") for w in due["waiting"]
    )

    # 10 minutes left: the default estimate (10 min) plus the reserve (10 min) does not fit
    late = datetime(day.year, day.month, day.day, 2, 50, tzinfo=berlin) + timedelta(days=1)
    code, due, err = run_json(db_path, "run-due", "--now", late.isoformat())
    assert code == 0, err
    assert due["patches"] == []
    assert len(due["deferred"]) == 1 and due["deferred"][0]["host"] == h.name
    reason = due["deferred"][0]["reason"]
    assert "estimated 10 min + rollback reserve 10 min does not fit in the 10 min left" in reason
    assert "deferred to the next window at" in reason
    con = sqlite3.connect(db_path)
    logged = con.execute(
        "SELECT action, reason FROM schedule_events WHERE host_name = ?", [h.name]
    ).fetchall()
    con.close()
    assert ("deferred", reason) in logged
    assert h.installed_version("pd-regular") == "2.0-1"

    # early in the window: it starts
    early = datetime(day.year, day.month, day.day, 2, 5, tzinfo=berlin) + timedelta(days=2)
    code, due, err = run_json(db_path, "run-due", "--now", early.isoformat(), timeout=600)
    assert code == 0, (err, due)
    assert [p["host"] for p in due["patches"]] == [h.name]
    patch = due["patches"][0]
    assert patch["trigger"] == "schedule" and patch["window"] == "lab-nightly" and patch["status"] == "ok"
    assert "apt:pd-regular=2.1-1" in patch["updates"] and "apt:pd-reboot=1.0-2" not in patch["updates"]
    assert h.installed_version("pd-regular") == "2.1-1"
    assert h.installed_version("pd-reboot") == "1.0-1"


def test_refresh_offline_says_so_quickly(db_path: Path) -> None:
    r = cli(db_path, "advisories", "refresh", "--kev-url", "http://127.0.0.1:9/kev.json", "--timeout", "3")
    assert r.returncode == 1
    assert "offline — cannot reach 127.0.0.1" in r.stderr and "import a file instead" in r.stderr.lower()
    assert "Traceback" not in r.stderr
