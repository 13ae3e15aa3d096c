"""db/baselines.py: the migration, history, assignments, drift since-when and audit, remediations."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlite_utils import Database

from app.domain.baseline import DriftVerdict, ItemResult, ItemStatus, RemediationRecorded, make_item
from app.domain.models import Host, JobKind
from db import audit as db_audit
from db import baselines as db_baselines
from db import hosts as db_hosts
from db import jobs as db_jobs
from db.database import open_database, schema_version
from db.schema import MIGRATIONS, SCHEMA_VERSION


def test_a_database_from_before_baselines_upgrades(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = Database(sqlite3.connect(str(path)))
    MIGRATIONS.apply(old, stop_before="m010_baselines")
    old.execute(
        "INSERT INTO hosts (name, address, created_at, updated_at) "
        "VALUES ('old.invalid', '127.0.0.1', 'x', 'x')"
    )
    old.execute("PRAGMA user_version = 7")
    old.conn.commit()
    old.conn.close()
    db = open_database(path)
    assert schema_version(db) == SCHEMA_VERSION
    assert {"baselines", "baseline_items", "baseline_history", "drift_state", "remediations"} <= set(
        db.table_names()
    )
    host = db_hosts.get_hosts_by_name(db, ["old.invalid"])[0]
    assert db_baselines.baselines_for_host(db, host) == []
    assert (path.parent / "old.db.bak-v7").exists()


def _setup(db: Database) -> tuple[Host, Host, int]:
    a = db_hosts.add_host(db, Host(name="a.invalid", address="127.0.0.1", group="web"))
    b = db_hosts.add_host(db, Host(name="b.invalid", address="127.0.0.2"))
    items = [
        make_item("package", "pd-regular", {"state": "present", "version": "2.0-1"}),
        make_item("sysctl", "net.ipv4.ip_forward", {"value": "0"}),
    ]
    db_baselines.create_baseline(db, "web", items, "tester")
    db_baselines.assign(db, "web", "tester", groups=["web"])
    db_baselines.assign(db, "web", "tester", host_ids=[b.id or 0])
    job = db_jobs.create_job(db, JobKind.DRIFT, [a, b])
    return a, b, job


def test_assignment_by_group_and_host_and_the_stable_read_interface(db) -> None:  # type: ignore[no-untyped-def]
    a, b, _ = _setup(db)
    assert [x.name for x in db_baselines.baselines_for_host(db, a)] == ["web"]
    assert [x.name for x in db_baselines.baselines_for_host(db, b)] == ["web"]
    (baseline,) = db_baselines.list_baselines(db)
    assert {(i.kind, i.target) for i in baseline.items} == {
        ("package", "pd-regular"),
        ("sysctl", "net.ipv4.ip_forward"),
    }
    assert all(isinstance(i.expected, dict) and i.id for i in baseline.items)
    actions = [h["action"] for h in db_baselines.history(db, "web")]
    assert actions == ["created", "items.set", "assigned", "assigned"]


def test_a_host_never_checked_is_unknown_and_since_stays_while_it_drifts(db) -> None:  # type: ignore[no-untyped-def]
    a, _, job = _setup(db)
    assert db_baselines.host_drift(db, a).verdict == DriftVerdict.UNKNOWN
    pkg, sysctl = sorted(db_baselines.get_baseline(db, "web").items, key=lambda i: i.kind)
    drifted = ItemResult(pkg.id, ItemStatus.DRIFTED, {"state": "present", "version": "2.1-1"})
    db_baselines.record_drift(db, job, a.id or 0, [drifted], "tester")
    first = db_baselines.host_drift(db, a)
    assert first.verdict == DriftVerdict.DRIFTED and [d.target for d in first.drift] == ["pd-regular"]
    assert [d.target for d in first.unknown] == ["net.ipv4.ip_forward"]  # never checked
    db_baselines.record_drift(
        db, job, a.id or 0, [drifted, ItemResult(sysctl.id, ItemStatus.OK, {})], "tester"
    )
    again = db_baselines.host_drift(db, a)
    assert again.drift[0].since == first.drift[0].since
    db_baselines.record_drift(db, job, a.id or 0, [ItemResult(pkg.id, ItemStatus.OK, {})], "tester")
    assert db_baselines.host_drift(db, a).verdict == DriftVerdict.NO_DRIFT
    actions = [e.action for e in db_audit.entries(db)]
    assert actions.count(db_baselines.DRIFT_DETECTED) == 1 and actions.count(db_baselines.DRIFT_RESOLVED) == 1


def test_remediation_snapshot_then_outcome_then_undo(db) -> None:  # type: ignore[no-untyped-def]
    a, _, job = _setup(db)
    pkg = next(i for i in db_baselines.get_baseline(db, "web").items if i.kind == "package")

    def event(
        job_id: int, before: dict[str, str], state: str, undoes: int | None = None
    ) -> RemediationRecorded:
        return RemediationRecorded(
            job_id,
            host_id=a.id or 0,
            item_id=pkg.id,
            kind="package",
            target=pkg.target,
            before=before,
            state=state,
            undoes_job=undoes,
        )

    db_baselines.record_remediation(db, job, event(job, {"state": "present", "version": "2.1-1"}, "snapshot"))
    db_baselines.record_remediation(db, job, event(job, {}, "applied"))
    (fix,) = db_baselines.remediations(db, host_id=a.id or 0)
    assert fix.state == "applied" and fix.before == {"state": "present", "version": "2.1-1"}
    undo = db_jobs.create_job(db, JobKind.REMEDIATE, [a])
    db_baselines.record_remediation(db, undo, event(undo, {}, "applied", job))
    assert db_baselines.remediations(db, host_id=a.id or 0) == []  # nothing left to undo


def test_the_items_a_scan_checks_come_by_host_and_by_group_once(db) -> None:  # type: ignore[no-untyped-def]
    a, b, _ = _setup(db)
    db_baselines.create_baseline(db, "extra", [make_item("user", "bob", {"state": "present"})], "tester")
    db_baselines.assign(db, "extra", "tester", host_ids=[a.id or 0])
    other = db_hosts.add_host(db, Host(name="c.invalid", address="127.0.0.3"))
    got = db_baselines.items_for_hosts(db, [a, b, other])
    assert sorted(i.target for i in got[a.id or 0]) == ["bob", "net.ipv4.ip_forward", "pd-regular"]
    assert sorted(i.target for i in got[b.id or 0]) == ["net.ipv4.ip_forward", "pd-regular"]
    assert (other.id or 0) not in got


def test_no_drift_seen_longer_ago_than_a_stale_scan_is_unknown(db) -> None:  # type: ignore[no-untyped-def]
    a, _, job = _setup(db)
    results = [ItemResult(i.id, ItemStatus.OK, {}) for i in db_baselines.get_baseline(db, "web").items]
    db_baselines.record_drift(db, job, a.id or 0, results, "tester")
    assert db_baselines.host_drift(db, a).verdict == DriftVerdict.NO_DRIFT
    db.execute("UPDATE drift_state SET checked_at = '2020-01-01T00:00:00.000+00:00'")
    assert db_baselines.host_drift(db, a).verdict == DriftVerdict.UNKNOWN
