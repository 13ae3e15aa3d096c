"""Changes made outside Patchdesk on real Debian test hosts: a hand install shows as outside, with when
and what, in `changes`, the audit log and the change log; a Patchdesk patch does not."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from tests.integration.test_patch_cli import run_json, scanned
from tests.integration.test_scan_cli import cli

pytestmark = pytest.mark.hosts


def test_hand_install_is_outside_and_a_patchdesk_patch_is_not(hosts, host_pool, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    by_hand, patched = hosts[0], hosts[1]
    scanned(db_path, [by_hand, patched], host_pool.client_key)  # the first read: where watching starts

    r = by_hand.run("DEBIAN_FRONTEND=noninteractive apt-get install -y pd-regular=2.1-1", timeout=120)
    assert r.returncode == 0, r.stderr
    code, report, err = run_json(
        db_path, "patch", patched.name, "--packages", "pd-secfix", "--reboot", "never"
    )
    assert code == 0, (err, report)
    patch_job = report["job"]
    code, _, err = run_json(db_path, "scan", by_hand.name, patched.name)
    assert code == 0, err

    code, hand, err = run_json(db_path, "changes", by_hand.name, "--outside-only")
    assert code == 0, err
    assert hand["history"]["status"] == "ok", hand
    assert [(c["name"], c["from"], c["to"], c["outside"]) for c in hand["changes"]] == [
        ("pd-regular", "2.0-1", "2.1-1", True)
    ]
    assert hand["changes"][0]["when"].endswith("+00:00")

    code, theirs, err = run_json(db_path, "changes", patched.name)
    assert code == 0, err
    assert theirs["history"]["status"] == "ok"
    assert [(c["name"], c["to"], c["authorized_by_job"]) for c in theirs["changes"]] == [
        ("pd-secfix", "1.0-2", patch_job)
    ]
    code, none, _ = run_json(db_path, "changes", patched.name, "--outside-only")
    assert code == 0 and none["changes"] == []

    # the audit log names it; the change log tells authorized from outside
    r = cli(db_path, "audit", "list", "--action", "change.outside", "--json")
    entries = json.loads(r.stdout)["entries"]
    assert [(e["target"], e["details"]["name"], e["details"]["to"]) for e in entries] == [
        (by_hand.name, "pd-regular", "2.1-1")
    ]
    r = cli(db_path, "export", "changes", "--format", "csv")
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert {(x["host"], x["package"], x["authorized"]) for x in rows} == {
        (patched.name, "pd-secfix", f"job {patch_job}"),
        (by_hand.name, "pd-regular", "outside"),
    }

    # Patchdesk's rollback is Patchdesk's too
    code, undo, err = run_json(db_path, "rollback", patched.name)
    assert code == 0, (err, undo)
    code, _, err = run_json(db_path, "scan", patched.name)
    assert code == 0, err
    code, theirs, _ = run_json(db_path, "changes", patched.name)
    assert [(c["to"], c["authorized_by_job"]) for c in theirs["changes"]] == [
        ("1.0-2", patch_job),
        ("1.0-1", undo["job"]),
    ]

    # a rescan with nothing new adds nothing and alerts nothing again
    code, _, err = run_json(db_path, "scan", by_hand.name)
    assert code == 0, err
    code, again, _ = run_json(db_path, "changes", by_hand.name, "--outside-only")
    assert len(again["changes"]) == 1


def test_unreadable_history_is_unknown_not_empty(hosts, host_pool, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    h = hosts[0]
    r = h.run("rm -f /var/log/dpkg.log /var/log/dpkg.log.1")
    assert r.returncode == 0, r.stderr
    scanned(db_path, [h], host_pool.client_key)
    r = cli(db_path, "changes", h.name, "--json")
    assert r.returncode == 1, r.stdout
    found = json.loads(r.stdout)
    assert found["history"]["status"] == "unknown"
    assert "dpkg.log" in found["history"]["note"]
