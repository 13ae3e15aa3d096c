"""Stored scan bases: the raw simulation behind a host's last full scan, and the host fingerprint it
came from (see app/domain/models.py: ScanBasis).

The job runner reads the fingerprints up front (one query); a scan task loads an output only when the
host reports that nothing changed, through :class:`BasisReader`, which opens its own short read-only
connection so worker threads never share the recorder's or the window's connection.
"""

from __future__ import annotations

import sqlite3
import zlib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from app.domain.models import ScanBasis
from db.connection import Database
from db.database import now_iso, parse_ts

#: A basis older than this is not offered: the next scan simulates in full even if nothing changed,
#: so a fingerprint blind spot could never hide an update for longer than a day.
MAX_AGE = timedelta(hours=24)

#: Largest raw output stored (compressed size): a pathological host keeps no basis.
MAX_STORED = 8 * 1024 * 1024


def store(db: Database, host_id: int, basis: ScanBasis | None, *, reused: bool = False) -> None:
    """Remember ``basis`` for the host's next scan; None forgets any stored one.

    A scan that reused the stored basis leaves it as it is, with its original time: the age limit
    counts from the last real simulation.
    """
    if reused:
        return
    if basis is None:
        db.execute("DELETE FROM scan_basis WHERE host_id = ?", [host_id])
        return
    out, err = zlib.compress(basis.out, 6), zlib.compress(basis.err, 6)
    if len(out) + len(err) > MAX_STORED:
        db.execute("DELETE FROM scan_basis WHERE host_id = ?", [host_id])
        return
    db.execute(
        "INSERT OR REPLACE INTO scan_basis (host_id, manager, fingerprint, output, errors, simulated_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [host_id, basis.manager, basis.fingerprint, out, err, basis.simulated_at or now_iso()],
    )


def fingerprints(
    db: Database, host_ids: Iterable[int], *, now: datetime | None = None
) -> dict[int, tuple[str, str]]:
    """``{host_id: (manager, fingerprint)}`` of the stored bases young enough to offer."""
    cutoff = ((now or datetime.now(UTC)) - MAX_AGE).isoformat(timespec="milliseconds")
    ids = list(dict.fromkeys(host_ids))
    found: dict[int, tuple[str, str]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = db.execute(
            f"SELECT host_id, manager, fingerprint FROM scan_basis WHERE simulated_at > ? "
            f"AND host_id IN ({', '.join('?' * len(chunk))})",
            [cutoff, *chunk],
        ).fetchall()
        found.update({int(r[0]): (str(r[1]), str(r[2])) for r in rows})
    return found


def _load(conn: sqlite3.Connection, host_id: int, fingerprint: str) -> ScanBasis | None:
    row = conn.execute(
        "SELECT manager, fingerprint, output, errors, simulated_at FROM scan_basis "
        "WHERE host_id = ? AND fingerprint = ?",
        [host_id, fingerprint],
    ).fetchone()
    if row is None:
        return None
    try:
        out, err = zlib.decompress(row[2]), zlib.decompress(row[3])
    except zlib.error:
        return None  # damaged: the caller scans in full
    simulated = parse_ts(row[4])
    if simulated is None or datetime.now(UTC) - simulated > MAX_AGE + timedelta(minutes=10):
        return None
    return ScanBasis(str(row[0]), str(row[1]), out, err, str(row[4]))


def load(db: Database, host_id: int, fingerprint: str) -> ScanBasis | None:
    """The stored basis of ``host_id`` when its fingerprint is still ``fingerprint``."""
    return _load(db.conn, host_id, fingerprint)


class BasisReader:
    """Loads one stored basis from any thread, each time on its own short-lived connection."""

    def __init__(self, db_path: Path | str, *, timeout: float = 5.0) -> None:
        self.db_path = Path(db_path)
        self.timeout = timeout

    def __call__(self, host_id: int, fingerprint: str) -> ScanBasis | None:
        try:
            conn = sqlite3.connect(
                f"{self.db_path.resolve().as_uri()}?mode=ro", uri=True, timeout=self.timeout
            )
        except sqlite3.Error:
            return None
        try:
            return _load(conn, host_id, fingerprint)
        except sqlite3.Error:
            return None  # locked past the timeout, damaged: scan in full rather than fail
        finally:
            conn.close()
