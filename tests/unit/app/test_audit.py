"""The audit log: hash chain, tamper detection naming the entry, no secrets, syslog forwarding."""

from __future__ import annotations

import itertools
import socket

import pytest

from app.domain.audit import GENESIS, entry_hash
from app.services import audit
from db import settings as db_settings


def _fill(db, n: int = 5) -> None:  # type: ignore[no-untyped-def]
    for i in range(n):
        audit.record(db, audit.HOST_ADDED, f"web{i:02d}", {"address": f"127.0.9.{i}"})


def test_chain_links_every_entry(db) -> None:  # type: ignore[no-untyped-def]
    _fill(db)
    entries = list(reversed(audit.entries(db)))
    assert [e.id for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == GENESIS
    for a, b in itertools.pairwise(entries):
        assert b.prev_hash == a.hash
    assert entries[0].actor  # the OS user
    check = audit.verify(db)
    assert check.ok and check.entries == 5


def test_edit_is_named(db) -> None:  # type: ignore[no-untyped-def]
    _fill(db)
    db.execute("UPDATE audit_log SET target = 'evil' WHERE id = 3")
    check = audit.verify(db)
    assert not check.ok and check.broken_id == 3
    assert "entry 3" in audit.describe(check)


def test_edit_with_recomputed_hash_breaks_the_next_link(db) -> None:  # type: ignore[no-untyped-def]
    _fill(db)
    r = db.execute("SELECT at, actor, action, details, prev_hash FROM audit_log WHERE id = 2").fetchone()
    forged = entry_hash(r[4], 2, r[0], r[1], r[2], "other", r[3])
    db.execute("UPDATE audit_log SET target = 'other', hash = ? WHERE id = 2", [forged])
    check = audit.verify(db)
    assert not check.ok and check.broken_id == 3


def test_deletion_in_the_middle_and_at_the_end(db) -> None:  # type: ignore[no-untyped-def]
    _fill(db)
    db.execute("DELETE FROM audit_log WHERE id = 2")
    check = audit.verify(db)
    assert not check.ok and check.broken_id == 3 and "missing" in check.reason
    db.execute("DELETE FROM audit_log")
    _fill(db, 3)  # ids continue (AUTOINCREMENT): 6, 7, 8
    assert not audit.verify(db).ok


def test_deleting_the_newest_entry_is_caught_by_the_head(db) -> None:  # type: ignore[no-untyped-def]
    _fill(db)
    db.execute("DELETE FROM audit_log WHERE id = 5")
    check = audit.verify(db)
    assert not check.ok and check.broken_id == 5


def test_appends_after_a_failed_write_do_not_fork(db) -> None:  # type: ignore[no-untyped-def]
    _fill(db, 2)
    with pytest.raises(ValueError):
        audit.record(db, audit.CREDENTIALS_CHANGED, "web01", {"password": "hunter2"})
    audit.record(db, audit.CREDENTIALS_CHANGED, "web01", {"stored": ["login"]})
    assert audit.verify(db).ok
    assert "hunter2" not in str([e.as_json() for e in audit.entries(db)])


def test_syslog_forwarding(db) -> None:  # type: ignore[no-untyped-def]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    try:
        port = sock.getsockname()[1]
        db_settings.set_setting(db, audit.SYSLOG_SETTING, f"127.0.0.1:{port}")
        entry = audit.record(db, audit.HOST_KEY_ACCEPTED, "web01", {"fingerprint": "SHA256:abc"})
        data = sock.recv(65536).decode()
    finally:
        sock.close()
    assert "patchdesk-audit:" in data and '"host-key.accepted"' in data and entry.hash in data


def test_prune_logs_is_never_silent(db) -> None:  # type: ignore[no-untyped-def]
    from app.domain.models import Host, JobKind
    from db import hosts as db_hosts
    from db import joblogs
    from db import jobs as db_jobs

    h = db_hosts.add_host(db, Host(name="a", address="1.1.1.1"))
    job = db_jobs.create_job(db, JobKind.SCAN, [h])
    with db.atomic():
        db_jobs.add_log_lines(
            db,
            [
                (job, h.id, "2000-01-01T00:00:00.000+00:00", "info", "old"),
                (job, h.id, "2000-01-02T00:00:00.000+00:00", "error", "old too"),
                (job, h.id, "2999-01-01T00:00:00.000+00:00", "info", "new"),
            ],
        )
    assert audit.prune_logs(db) == 0  # no retention set: keep forever
    joblogs.set_retention_days(db, 30)
    assert audit.prune_logs(db) == 2
    [entry] = audit.entries(db, action=audit.LOGS_PRUNED)
    assert entry.details["lines"] == 2
    assert [r.text for r in joblogs.search(db, joblogs.LogQuery())] == ["new"]


# -- issue #19 item 6: audit truncation goes undetected -------------------------------------------------


def _point_head_back(db, to_id: int) -> None:  # type: ignore[no-untyped-def]
    row = db.execute("SELECT hash FROM audit_log WHERE id = ?", [to_id]).fetchone()
    db_settings.set_setting(db, "audit.head", f"{to_id}:{row[0]}")


def test_audit_truncation_goes_undetected_newest_rows_deleted_and_head_pointed_back(db) -> None:  # type: ignore[no-untyped-def]
    _fill(db)
    db.execute("DELETE FROM audit_log WHERE id > 3")
    db.execute("UPDATE sqlite_sequence SET seq = 3 WHERE name = 'audit_log'")
    _point_head_back(db, 3)
    check = audit.verify(db)
    assert not check.ok and check.broken_id == 4 and "4..5" in check.reason
    text = audit.describe(check)
    assert "audit-anchors.log" in text and "entry 5" in text  # says which anchor it used


def test_audit_truncation_goes_undetected_wiped_log_and_head(db) -> None:  # type: ignore[no-untyped-def]
    _fill(db)
    db.execute("DELETE FROM audit_log")
    db.execute("DELETE FROM settings WHERE key = 'audit.head'")
    check = audit.verify(db)
    assert not check.ok and "1..5" in check.reason
    assert "intact" not in audit.describe(check)


def test_audit_truncation_goes_undetected_garbage_head(db) -> None:  # type: ignore[no-untyped-def]
    _fill(db, 2)
    for garbage in ("garbage", ":", "x" * 5000 + ":abc", "99999999999999999999999999:00"):
        db_settings.set_setting(db, "audit.head", garbage)
        check = audit.verify(db)
        assert not check.ok and "head" in check.reason and len(check.reason) < 200


def test_audit_truncation_goes_undetected_intact_log_names_its_anchor(db) -> None:  # type: ignore[no-untyped-def]
    _fill(db, 3)
    check = audit.verify(db)
    assert check.ok and "entry 3" in check.anchor
    assert "Checked against the anchor of entry 3" in audit.describe(check)


def test_audit_truncation_goes_undetected_rewritten_head_entry(db) -> None:  # type: ignore[no-untyped-def]
    """The whole chain recomputed from entry 2 on, head included: the anchor's hash no longer matches."""
    _fill(db, 3)
    rows = db.execute("SELECT id, at, actor, action, target, details, prev_hash FROM audit_log ORDER BY id")
    prev = None
    for rid, at, actor_, action, target, details, prev_hash in list(rows):
        if rid >= 2:
            target = "forged"
            prev_hash = prev
        digest = entry_hash(prev_hash, rid, at, actor_, action, target, details)
        db.execute(
            "UPDATE audit_log SET target = ?, prev_hash = ?, hash = ? WHERE id = ?",
            [target, prev_hash, digest, rid],
        )
        prev = digest
    db_settings.set_setting(db, "audit.head", f"3:{prev}")
    check = audit.verify(db)
    assert not check.ok and check.broken_id == 3 and "rewritten" in check.reason


def test_audit_truncation_goes_undetected_rolled_back_entries_are_not_anchored(db) -> None:  # type: ignore[no-untyped-def]
    _fill(db, 2)
    with pytest.raises(RuntimeError), audit.transaction(db):
        audit.record(db, audit.HOST_ADDED, "gone", {})
        raise RuntimeError("the change failed")
    assert audit.verify(db).ok
    audit.record(db, audit.HOST_ADDED, "kept", {})
    check = audit.verify(db)
    assert check.ok and check.entries == 3 and "entry 3" in check.anchor
