"""db/soak.py and its migration: soak checks and patch health baselines on a real SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.domain.models import Classification, Host, JobKind, PendingUpdate, Ring
from app.domain.rollout import SoakCheck, SoakVerdict
from app.domain.verdicts import Health
from db import hosts as db_hosts
from db import jobs as db_jobs
from db import rollouts as db_rollouts
from db import soak as db_soak
from db.database import open_database, schema_version
from db.schema import MIGRATIONS, SCHEMA_VERSION

T0 = datetime(2026, 6, 6, 22, 0, tzinfo=UTC)
UPD = PendingUpdate("apt", "openssl", "3.0.15-1", "3.0.14-1", classification=Classification.IMPORTANT)
KEY = "apt:openssl=3.0.15-1"


def test_a_database_from_before_soak_monitoring_upgrades(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import db.database as dbmod

    old = type(MIGRATIONS)("patchdesk")
    for m in MIGRATIONS._migrations:
        if m.name < "m009":
            old._migrations.append(m)
    monkeypatch.setattr(dbmod, "MIGRATIONS", old)
    monkeypatch.setattr(dbmod, "SCHEMA_VERSION", len(old._migrations))
    db = dbmod.open_database(db_path)
    assert "soak_checks" not in db.table_names()
    host = db_hosts.add_host(db, Host("web1", "web1.soak.invalid", ring=Ring.TEST))
    db_rollouts.ensure_rollouts(db, [UPD])
    db.conn.close()
    monkeypatch.undo()

    db = open_database(db_path)
    assert schema_version(db) == SCHEMA_VERSION
    assert {"soak_checks", "health_baselines"} <= set(db.table_names())
    assert db_rollouts.get_rollout(db, KEY) is not None  # kept
    assert host.id is not None
    job = db_jobs.create_job(db, JobKind.PATCH, [host])
    check = SoakCheck(KEY, "web1", Ring.TEST, T0, SoakVerdict.RED, ("service nginx is failed",), job)
    db_soak.add_soak_checks(db, [(check, host.id)])
    assert db_soak.soak_checks(db, KEY) == [check]
    assert db_soak.last_checked(db, KEY, "web1", Ring.TEST) == T0
    assert db_soak.last_checked(db, KEY, "web1", Ring.PILOT) is None
    db.conn.close()


def test_checks_come_back_oldest_first_and_baselines_round_trip(db_path: Path) -> None:
    db = open_database(db_path)
    host = db_hosts.add_host(db, Host("web1", "web1.soak.invalid", ring=Ring.TEST))
    assert host.id is not None
    db_rollouts.ensure_rollouts(db, [UPD])
    checks = [
        SoakCheck(KEY, "web1", Ring.TEST, T0 + timedelta(minutes=15 * i), verdict)
        for i, verdict in enumerate((SoakVerdict.GREEN, SoakVerdict.UNKNOWN, SoakVerdict.AMBER))
    ]
    db_soak.add_soak_checks(db, [(c, host.id) for c in reversed(checks)])
    assert db_soak.soak_checks(db, KEY) == checks
    assert db_soak.soak_checks(db, KEY, limit=2) == checks[1:]
    assert db_soak.soak_checks_for(db, [KEY, "apt:none=1"]) == {KEY: checks, "apt:none=1": []}

    job = db_jobs.create_job(db, JobKind.PATCH, [host])
    health = Health(
        now=1.0,
        load1=0.5,
        mem_available_kb=1000,
        system_state="running",
        failed_units=("x.service",),
        services={"nginx": "active"},
        journal_errors=None,
    )
    assert db_soak.baseline(db, job, host.id) is None
    db_soak.record_baseline(db, job, host.id, health)
    assert db_soak.baseline(db, job, host.id) == health
    db.execute("UPDATE health_baselines SET health = 'not json'")
    assert db_soak.baseline(db, job, host.id) is None  # unreadable: compared with nothing, never a crash
    db.conn.close()
