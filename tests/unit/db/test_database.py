from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from app.domain.errors import ConfigError, DatabaseError, SchemaTooNewError
from app.domain.models import (
    Classification,
    Host,
    HostKey,
    HostStatus,
    JobKind,
    OsFacts,
    PendingUpdate,
    Ring,
    ScanResult,
    StepState,
)
from db import hosts as db_hosts
from db import jobs as db_jobs
from db import scans as db_scans
from db.database import open_database, schema_version
from db.schema import MIGRATIONS, SCHEMA_VERSION


def test_schema_version_matches_migrations() -> None:
    assert SCHEMA_VERSION == len(MIGRATIONS._migrations)


def test_open_sets_pragmas_and_version(db_path: Path) -> None:
    db = open_database(db_path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
    assert schema_version(db) == SCHEMA_VERSION
    assert {"hosts", "host_keys", "jobs", "job_hosts", "job_logs", "scans", "pending_updates"} <= set(
        db.table_names()
    )


def test_open_does_not_load_sqlite_utils_plugins(db_path: Path) -> None:
    """A sqlite-utils plugin installed alongside must not touch the inventory's connection."""
    import subprocess
    import sys

    code = (
        "import sys; from db.database import open_database; import sqlite_utils.plugins as p; "
        "open_database(sys.argv[1]).execute('SELECT 1'); print(p._plugins_loaded)"
    )
    root = Path(__file__).resolve().parents[3]
    out = subprocess.run(
        [sys.executable, "-c", code, str(db_path)], cwd=root, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_newer_schema_is_refused_and_untouched(db_path: Path) -> None:
    open_database(db_path).conn.close()
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.commit()
    conn.close()
    before = db_path.read_bytes()
    with pytest.raises(SchemaTooNewError, match="newer Patchdesk"):
        open_database(db_path)
    assert db_path.read_bytes() == before


def test_backup_is_made_when_migrating(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlite_utils import Database

    import db.database as dbmod

    open_database(db_path).conn.close()
    extra = type(MIGRATIONS)("patchdesk")
    for m in MIGRATIONS._migrations:
        extra._migrations.append(m)

    @extra()
    def m999_add_column(d: Database) -> None:
        d.execute("ALTER TABLE settings ADD COLUMN note TEXT")

    monkeypatch.setattr(dbmod, "MIGRATIONS", extra)
    monkeypatch.setattr(dbmod, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    db = dbmod.open_database(db_path)
    assert schema_version(db) == SCHEMA_VERSION + 1
    backup = db_path.with_name(f"{db_path.name}.bak-v{SCHEMA_VERSION}")
    assert backup.exists()
    old = sqlite3.connect(backup)
    assert old.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    old.close()


def test_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    p = tmp_path / "junk.sqlite3"
    p.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(DatabaseError, match="not a valid Patchdesk database"):
        open_database(p)


def test_hosts_crud_groups_and_duplicates(db) -> None:  # type: ignore[no-untyped-def]
    h = db_hosts.add_host(
        db, Host(name="web1", address="127.0.9.1", group="web", ring=Ring.TEST, tags=("a", "b"))
    )
    assert h.id and h.group == "web" and h.ring == Ring.TEST and h.tags == ("a", "b")
    with pytest.raises(ConfigError, match="already exists"):
        db_hosts.add_host(db, Host(name="WEB1", address="127.0.9.2"))
    with pytest.raises(ConfigError, match="port"):
        db_hosts.add_host(db, Host(name="bad", address="x", port=70000))
    with pytest.raises(ConfigError, match="not a host name or an IP address"):
        db_hosts.add_host(db, Host(name="bad", address="a b"))
    from dataclasses import replace

    h2 = db_hosts.update_host(db, replace(h, address="127.0.9.9", group="db"))
    assert h2.address == "127.0.9.9" and h2.group == "db"
    assert db_hosts.list_groups(db) == ["db", "web"]
    with pytest.raises(ConfigError, match="Unknown host"):
        db_hosts.get_hosts_by_name(db, ["web1", "nope"])
    assert db_hosts.remove_host(db, "web1")
    assert db_hosts.list_hosts(db) == []


def test_host_keys_trust_and_replace(db) -> None:  # type: ignore[no-untyped-def]
    h = db_hosts.add_host(db, Host(name="h", address="h"))
    assert h.id
    db_hosts.trust_host_key(db, HostKey(h.id, "ssh-ed25519", "AAAA1", "SHA256:one"))
    db_hosts.trust_host_key(db, HostKey(h.id, "ecdsa-sha2-nistp256", "AAAA2", "SHA256:two"))
    assert [k.fingerprint for k in db_hosts.host_keys(db, h.id)] == ["SHA256:one", "SHA256:two"]
    db_hosts.trust_host_key(db, HostKey(h.id, "ssh-ed25519", "AAAA3", "SHA256:three"), replace=True)
    assert [k.fingerprint for k in db_hosts.host_keys(db, h.id)] == ["SHA256:three"]


def _result(n_sec: int, n_other: int) -> ScanResult:
    pend = [
        PendingUpdate("apt", f"s{i}", "2", "1", security=True, classification=Classification.IMPORTANT)
        for i in range(n_sec)
    ] + [PendingUpdate("apt", f"o{i}", "2", "1") for i in range(n_other)]
    return ScanResult(
        OsFacts(id="debian", pretty_name="Debian 12", kernel="6.1"), ("apt",), tuple(pend), True, ("k",)
    )


def test_scan_results_replace_pending_and_counts(db) -> None:  # type: ignore[no-untyped-def]
    h = db_hosts.add_host(db, Host(name="h", address="h"))
    assert h.id
    job = db_jobs.create_job(db, JobKind.SCAN, [h])
    db_scans.record_scan(db, h.id, job, _result(2, 3))
    h1 = db_hosts.get_host(db, h.id)
    assert (h1.pending_important, h1.pending_noncritical, h1.reboot_required) == (2, 3, True)
    assert h1.last_status == HostStatus.OK and h1.os_name == "Debian 12" and h1.managers == ("apt",)
    db_scans.record_scan(db, h.id, job, _result(0, 1))
    assert [u.name for u in db_scans.pending_for_host(db, h.id)] == ["o0"]
    db_scans.record_scan_failure(db, h.id, job, HostStatus.UNREACHABLE, "refused")
    h2 = db_hosts.get_host(db, h.id)
    assert h2.last_status == HostStatus.UNREACHABLE and h2.last_error == "refused"
    assert h2.pending_noncritical == 1  # the last known pending list is kept


def test_jobs_states_logs_and_interrupted(db) -> None:  # type: ignore[no-untyped-def]
    a = db_hosts.add_host(db, Host(name="a", address="a"))
    b = db_hosts.add_host(db, Host(name="b", address="b"))
    assert a.id and b.id
    job = db_jobs.create_job(db, JobKind.SCAN, [a, b])
    db_jobs.set_host_state(db, job, a.id, StepState.RUNNING)
    db_jobs.set_host_state(db, job, b.id, StepState.SUCCEEDED)
    db_jobs.add_log_lines(db, [(job, a.id, "2026-01-01T00:00:00+00:00", "info", "hello")])
    assert [ln.text for _, ln in db_jobs.log_lines(db, job, a.id)] == ["hello"]
    # Our own pid is alive: nothing is marked.
    assert db_jobs.mark_interrupted(db) == 0
    db.execute("UPDATE jobs SET pid = 999999999 WHERE id = ?", [job])
    assert db_jobs.mark_interrupted(db) == 1
    states = {s.host_name: s.state for s in db_jobs.job_hosts(db, job)}
    assert states == {"a": StepState.INTERRUPTED, "b": StepState.SUCCEEDED}
    assert [j.kind for j, _ in db_jobs.host_history(db, a.id)] == [JobKind.SCAN]
