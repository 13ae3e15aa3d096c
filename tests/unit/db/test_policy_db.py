"""Policy storage (db/rules.py, settings.py, rollouts.py, maintenance_windows.py, schedule.py,
locks.py) and the scheduler's decisions against a real SQLite file (no hosts contacted)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.domain.errors import ConfigError
from app.domain.maintenance_windows import MaintenanceWindow
from app.domain.models import Classification, PendingUpdate, Ring, UpdateKind
from app.domain.rollout import RolloutState
from app.domain.rules import DEFAULT_RULES, Rule
from app.jobs.scheduler import run_due
from app.services.classification import reclassify_all
from db import advisories as db_adv
from db import hosts as db_hosts
from db import locks as db_locks
from db import maintenance_windows as db_windows
from db import rollouts as db_rollouts
from db import rules as db_rules
from db import scans as db_scans
from db import schedule as db_schedule
from db import settings as db_settings
from db.database import open_database
from tests.support.policy_data import REGULAR, SECFIX, add_scanned, import_samples


def test_default_rules_are_seeded_and_editable(db) -> None:  # type: ignore[no-untyped-def]
    assert db_rules.list_rules(db) == list(DEFAULT_RULES)
    db_rules.save_rule(
        db, Rule("fw", Classification.URGENT, kinds=frozenset({UpdateKind.FIRMWARE})), position=1
    )
    assert [r.name for r in db_rules.list_rules(db)] == ["fw", "kev", "critical", "security"]
    db_rules.save_rule(db, Rule("fw", Classification.IMPORTANT), position=4)
    assert [r.name for r in db_rules.list_rules(db)] == ["kev", "critical", "security", "fw"]
    assert db_rules.remove_rule(db, "fw") and not db_rules.remove_rule(db, "fw")
    db_rules.reset_rules(db, DEFAULT_RULES)
    assert db_rules.list_rules(db) == list(DEFAULT_RULES)


def test_policy_settings(db) -> None:  # type: ignore[no-untyped-def]
    s = db_settings.policy_settings(db)
    assert s.soak[Classification.URGENT] == timedelta(hours=2) and s.verify_share == 1.0
    db_settings.set_policy_setting(db, "soak.important", "12")
    db_settings.set_policy_setting(db, "urgent_push", "no")
    s = db_settings.policy_settings(db)
    assert s.soak[Classification.IMPORTANT] == timedelta(hours=12) and not s.urgent_push
    for key, value in (("verify_share", "2"), ("nope", "1"), ("soak.urgent", "soon"), ("lock_ttl", "0")):
        with pytest.raises(ConfigError):
            db_settings.set_policy_setting(db, key, value)


def test_import_links_and_reclassifies(db) -> None:  # type: ignore[no-untyped-def]
    h = add_scanned(db, "t1", Ring.TEST, (SECFIX, REGULAR))
    assert h.pending_important == 1 and h.pending_urgent == 0
    import_samples(db)
    assert reclassify_all(db) == 1
    h = db_hosts.get_host(db, h.id)  # type: ignore[arg-type]
    assert (h.pending_urgent, h.pending_important, h.pending_noncritical) == (1, 0, 1)
    pend = {u.name: u for u in db_scans.pending_for_host(db, h.id)}  # type: ignore[arg-type]
    assert pend["pd-secfix"].classification == Classification.URGENT
    assert pend["pd-secfix"].reason == "urgent: CVE-2099-0001 is in CISA KEV (due 2026-12-15)"
    assert pend["pd-secfix"].advisories == ("DSA-9901-1",)
    for key in ("DSA-9901-1", "CVE-2099-0001", "cve-2099-0002"):
        assert [a.host_name for a in db_adv.affected_hosts(db, key)] == ["t1"], key
    assert db_adv.affected_hosts(db, "CVE-2021-44228") == []
    rows = {r.id: r for r in db_adv.list_advisories(db, relevant_only=False)}
    assert rows["DSA-9901-1"].affected_hosts == 1 and rows["DSA-9901-1"].kev_due == "2026-12-15"
    assert rows["CVE-2021-44228"].source == "kev" and rows["CVE-2021-44228"].affected_hosts == 0
    assert [r.id for r in db_adv.list_advisories(db, relevant_only=True)] == ["DSA-9901-1"]
    # importing the same again replaces, not duplicates
    import_samples(db)
    assert len(db_adv.advisory_index(db).by_package["pd-secfix"]) == 1
    assert db_adv.generation(db) == 2


def test_rollouts_and_approvals(db) -> None:  # type: ignore[no-untyped-def]
    db_rollouts.ensure_rollouts(
        db, [SECFIX, REGULAR, PendingUpdate("wua", "KB5034441", "2024-01 Security Update")]
    )
    assert [r.key for r in db_rollouts.find_rollouts(db, "pd-secfix")] == ["apt:pd-secfix=1.0-2"]
    assert db_rollouts.find_rollouts(db, "pd-secfix=1.0-2") == db_rollouts.find_rollouts(
        db, "apt:pd-secfix=1.0-2"
    )
    assert [r.key for r in db_rollouts.find_rollouts(db, "KB5034441")] == ["wua:KB5034441"]
    assert db_rollouts.find_rollouts(db, "pd-secfix=9") == []
    r = db_rollouts.set_rollout(
        db, "apt:pd-regular=2.1-1", state=RolloutState.DECLINED, note="breaks ERP", actor="me"
    )
    assert r.state == RolloutState.DECLINED and r.note == "breaks ERP"
    r = db_rollouts.set_rollout(
        db, "apt:pd-regular=2.1-1", state=RolloutState.APPROVED, ring=Ring.PRODUCTION, explicit_approval=True
    )
    assert r.allows(Ring.PRODUCTION)
    assert [e["state"] for e in db_rollouts.rollout_history(db, "apt:pd-regular=2.1-1")] == [
        "declined",
        "approved",
    ]
    with pytest.raises(ConfigError):
        db_rollouts.set_rollout(db, "apt:nope=1", state=RolloutState.DECLINED)


def test_windows_storage(db) -> None:  # type: ignore[no-untyped-def]
    w = MaintenanceWindow(
        "nightly",
        "FREQ=DAILY;BYHOUR=2",
        timedelta(hours=1),
        "Europe/Berlin",
        datetime(2026, 1, 1),
        ("lab", "web"),
    )
    saved = db_windows.add_window(db, w)
    assert saved.groups == ("lab", "web") and saved.id is not None
    with pytest.raises(ConfigError, match="already exists"):
        db_windows.add_window(db, w)
    assert [x.name for x in db_windows.windows_for_group(db, "LAB")] == ["nightly"]
    assert db_windows.windows_for_group(db, "other") == []
    assert db_windows.remove_window(db, "nightly") and db_windows.list_windows(db) == []


def test_lock_between_two_connections_and_stale_holders(db_path: Path) -> None:
    a, b = open_database(db_path), open_database(db_path)
    ttl = timedelta(minutes=5)
    assert db_locks.acquire_lock(a, "scheduler", "gui", ttl) is None
    holder = db_locks.acquire_lock(b, "scheduler", "run-due", ttl)
    assert holder is not None and holder.owner == "gui" and holder.pid == os.getpid()
    db_locks.release_lock(a, "scheduler")
    assert db_locks.acquire_lock(b, "scheduler", "run-due", ttl) is None
    db_locks.release_lock(b, "scheduler")
    # a holder whose process is gone loses the lock
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    a.execute(
        "INSERT INTO scheduler_lock (name, owner, pid, acquired_at, expires_at) "
        "VALUES ('scheduler', 'old', ?, ?, ?)",
        [int(dead.stdout), datetime.now(UTC).isoformat(), (datetime.now(UTC) + ttl).isoformat()],
    )
    a.conn.commit()
    assert db_locks.acquire_lock(b, "scheduler", "run-due", ttl) is None
    a.conn.close()
    b.conn.close()


def test_run_due_dry_run_plans_urgent_push_to_the_test_ring_only(db_path: Path) -> None:
    db = open_database(db_path)
    add_scanned(db, "t1", Ring.TEST, (SECFIX, REGULAR))
    add_scanned(db, "p1", Ring.PRODUCTION, (SECFIX, REGULAR))
    import_samples(db)
    reclassify_all(db)
    db.conn.close()
    report = run_due(db_path, datetime.now(UTC) + timedelta(minutes=1), dry_run=True)
    assert [(p["host"], p["updates"], p["trigger"], p["status"]) for p in report.patches] == [
        ("t1", ["apt:pd-secfix=1.0-2"], "urgent", "planned")
    ]
    waits = {(w["host"], w["update"]): w["reason"] for w in report.waiting}
    assert "waiting for promotion to the production ring" in waits[("p1", "apt:pd-secfix=1.0-2")]
    assert "no window covers group 'lab'" in waits[("t1", "apt:pd-regular=2.1-1")]
    db = open_database(db_path)
    assert db_rollouts.list_rollouts(db) == []  # a dry run changes nothing
    db.conn.close()


def test_run_due_defers_a_host_that_does_not_fit_and_logs_why(db_path: Path) -> None:
    db = open_database(db_path)
    h = add_scanned(db, "t1", Ring.TEST, (REGULAR,))
    db_windows.add_window(
        db,
        MaintenanceWindow(
            "nightly", "FREQ=DAILY;BYHOUR=2", timedelta(hours=1), "UTC", datetime(2026, 1, 1), ("lab",)
        ),
    )
    db.conn.close()
    day = datetime.now(UTC).date() + timedelta(days=1)
    late = datetime(day.year, day.month, day.day, 2, 45, tzinfo=UTC)
    report = run_due(db_path, late, dry_run=True)
    assert report.patches == []
    assert report.deferred[0]["reason"].startswith(
        "estimated 10 min + rollback reserve 10 min does not fit in the 15 min left of window 'nightly'"
    )
    db = open_database(db_path)
    events = db_schedule.schedule_events(db, host_id=h.id)
    assert events[0].action == "deferred" and events[0].dry_run
    # with a reserve of half the estimate (10 + 5 = 15 min) it fits
    db_settings.set_policy_setting(db, "reserve_factor", "0.5")
    db.conn.close()
    report = run_due(db_path, late, dry_run=True)
    assert [p["window"] for p in report.patches] == ["nightly"]


def test_run_due_refuses_while_another_scheduler_holds_the_lock(db_path: Path) -> None:
    other = open_database(db_path)
    assert db_locks.acquire_lock(other, "scheduler", "the GUI", timedelta(minutes=5)) is None
    report = run_due(db_path, datetime.now(UTC))
    assert report.locked_by is not None and report.locked_by.startswith("the GUI")
    assert report.patches == [] and report.scans == []
    other.conn.close()


def test_soak_checks_gate_the_promotion_in_a_pass(db_path: Path) -> None:
    """Issue #20 item 5, without hosts: a dry run lists the soak checks due as planned, and the
    promotion waits for a check of every host that got the update; a green one lets it go, a red one
    holds it."""
    from app.domain.events import ChangesRecorded
    from app.domain.models import JobKind, PackageChange
    from app.domain.rollout import SoakCheck, SoakVerdict
    from db import changes as db_changes
    from db import jobs as db_jobs
    from db import soak as db_soak

    db = open_database(db_path)
    t1 = add_scanned(db, "t1", Ring.TEST, ())
    add_scanned(db, "p1", Ring.PRODUCTION, (REGULAR,))
    job = db_jobs.create_job(db, JobKind.PATCH, [t1])
    assert t1.id is not None
    change = PackageChange("apt", "pd-regular", "2.0-1", "2.1-1")
    ev = ChangesRecorded(job, host_id=t1.id, changes=(change,))
    db_changes.record_changes(db, ev.job_id, ev.host_id, ev.changes)
    db_changes.record_verification(db, job, t1.id, job, "green", ())
    key = "apt:pd-regular=2.1-1"
    db_rollouts.ensure_rollouts(db, [REGULAR])
    now = datetime.now(UTC) + timedelta(minutes=1)
    db_rollouts.set_rollout(
        db, key, state=RolloutState.TESTING, ring=Ring.TEST, ring_since=now - timedelta(days=4)
    )
    db.conn.commit()  # the change record above is written outside a transaction of its own
    db.conn.close()

    report = run_due(db_path, now, dry_run=True)
    assert [(c["update"], c["host"], c["status"], c["verdict"]) for c in report.soak] == [
        (key, "t1", "planned", None)
    ]
    assert report.promotions == []
    assert (
        next(h["reason"] for h in report.held if h["update"] == key)
        == "no soak check of t1 in the test ring yet"
    )

    db = open_database(db_path)
    db_soak.add_soak_checks(db, [(SoakCheck(key, "t1", Ring.TEST, now, SoakVerdict.GREEN), t1.id)])
    db.conn.close()
    report = run_due(db_path, now + timedelta(minutes=5), dry_run=True)
    assert report.soak == []  # checked 5 min ago: not due
    assert [(p["update"], p["to"]) for p in report.promotions] == [(key, "pilot")]

    db = open_database(db_path)
    red = SoakCheck(
        key, "t1", Ring.TEST, now + timedelta(minutes=6), SoakVerdict.RED, ("service x is failed",)
    )
    db_soak.add_soak_checks(db, [(red, t1.id)])
    db.conn.close()
    report = run_due(db_path, now + timedelta(minutes=7), dry_run=True)
    assert report.promotions == []
    held = next(h["reason"] for h in report.held if h["update"] == key)
    assert held.startswith("soak check red on t1 (test ring)") and held.endswith(": service x is failed")
