"""Scans that reuse the last simulation when nothing apt reads has changed, against a real apt host.

Each change below is one an administrator (or apt itself) makes on a real host; after each, the scan
must simulate again and show the new answer, never the stored one.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_scan_cli import add_hosts, scan_json

pytestmark = pytest.mark.hosts

REUSED = "its result was used again"


def _scan(db_path: Path, *args: str) -> tuple[dict[str, Any], list[str]]:
    """One CLI scan of every host: its single host's report entry and that job's log lines."""
    code, report, err = scan_json(db_path, "--all", *args)
    assert code == 0, err
    (entry,) = report["hosts"]
    with sqlite3.connect(db_path) as conn:
        job = conn.execute("SELECT max(id) FROM jobs").fetchone()[0]
        lines = [r[0] for r in conn.execute("SELECT text FROM job_logs WHERE job_id = ? ORDER BY id", [job])]
    return entry, lines


def _basis(db_path: Path) -> tuple[str, str, str] | None:
    with sqlite3.connect(db_path) as conn:
        row = conn.execute("SELECT manager, fingerprint, simulated_at FROM scan_basis").fetchone()
    return None if row is None else (row[0], row[1], row[2])


def _pending(entry: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["available"] for p in entry["pending"]}


def _held(entry: dict[str, Any]) -> dict[str, bool]:
    return {p["name"]: p["held"] for p in entry["pending"]}


def test_unchanged_host_reuses_the_simulation_and_every_change_forces_a_new_one(  # type: ignore[no-untyped-def]
    hosts, host_pool, db_path: Path
) -> None:
    host = hosts[0]
    add_hosts(db_path, [host], host_pool.client_key)

    first, log = _scan(db_path)
    assert not any(REUSED in line for line in log)
    basis = _basis(db_path)
    assert basis is not None and basis[0] == "apt"
    expected = _pending(first)
    assert {"pd-secfix", "pd-regular"} <= set(expected)

    # Nothing changed: the host skips apt-get, the stored output gives the same answer.
    again, log = _scan(db_path)
    assert any(REUSED in line for line in log), log
    assert _pending(again) == expected
    assert [p["classification"] for p in again["pending"]] == [p["classification"] for p in first["pending"]]
    assert _basis(db_path) == basis  # the age limit counts from the real simulation

    # --full simulates anyway.
    _, log = _scan(db_path, "--full")
    assert not any(REUSED in line for line in log)

    # An upgrade changes dpkg's status: pd-regular is gone from the list.
    host.check("DEBIAN_FRONTEND=noninteractive apt-get install -y -q --only-upgrade pd-regular", timeout=120)
    after_install, log = _scan(db_path)
    assert not any(REUSED in line for line in log)
    assert "pd-regular" not in _pending(after_install)
    assert "pd-secfix" in _pending(after_install)
    new_basis = _basis(db_path)
    assert new_basis is not None and new_basis[1] != basis[1]

    # A pin under /etc/apt (no package or index file changes) holds pd-secfix back.
    _, log = _scan(db_path)
    assert any(REUSED in line for line in log)
    host.check(
        "printf 'Package: pd-secfix\\nPin: version 1.0-1\\nPin-Priority: 1001\\n' "
        "> /etc/apt/preferences.d/hold-secfix"
    )
    pinned, log = _scan(db_path)
    assert not any(REUSED in line for line in log)
    # still pending, but held back by the pin, and said so
    assert _held(pinned).get("pd-secfix") is True

    # The pin edited in place (same file, same size, maybe the same second) releases it again.
    host.check("sed -i 's/version 1.0-1/version 9.9-9/' /etc/apt/preferences.d/hold-secfix")
    unpinned, log = _scan(db_path)
    assert not any(REUSED in line for line in log)
    assert "pd-secfix" in _pending(unpinned) and _held(unpinned)["pd-secfix"] is False


def test_stale_or_tampered_basis_is_never_used(hosts, host_pool, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    host = hosts[0]
    add_hosts(db_path, [host], host_pool.client_key)
    first, _ = _scan(db_path)

    # Older than a day: simulated again even though nothing changed.
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE scan_basis SET simulated_at = '2020-01-01T00:00:00.000+00:00'")
    _, log = _scan(db_path)
    assert not any(REUSED in line for line in log)
    assert _basis(db_path)[2] > "2021"  # type: ignore[index]

    # A fingerprint that is not one (a damaged or hostile database) is never sent to the host.
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE scan_basis SET fingerprint = fingerprint || ?", ["'; touch /tmp/pwned; echo '"])
    scanned, log = _scan(db_path)
    assert not any(REUSED in line for line in log)
    assert host.run("test -e /tmp/pwned").returncode != 0
    assert _pending(scanned) == _pending(first)

    # Damaged stored output: the host says "same", the output cannot be read, the scan simulates.
    _scan(db_path)  # a good basis again
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE scan_basis SET output = x'00ff00ff'")
    damaged, log = _scan(db_path)
    assert not any(REUSED in line for line in log)
    assert _pending(damaged) == _pending(first)

    # A refresh (apt-get update) always simulates and keeps no basis; the scan after it simulates too.
    _, log = _scan(db_path, "--refresh")
    assert not any(REUSED in line for line in log)
    assert _basis(db_path) is None
    _, log = _scan(db_path)
    assert not any(REUSED in line for line in log)
    assert _basis(db_path) is not None
