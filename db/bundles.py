"""Offline bundles: the bundles known here, the signing keys trusted besides this workstation's own,
and which bundle each host received (its package manager then names it as an extra source)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from app.domain.bundle import Manifest, parse_manifest
from db.connection import Database


@dataclass(frozen=True)
class StoredBundle:
    id: str
    path: str
    created: str
    signer: str
    size: int
    manifest: Manifest
    verified_at: str | None


@dataclass(frozen=True)
class AppliedBundle:
    bundle_id: str
    host_id: int
    host: str
    manager: str
    files: int
    bytes: int
    applied_at: str


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def record_bundle(db: Database, manifest: Manifest, path: str, *, verified: bool) -> None:
    """Remember a bundle (built here or verified here); a known one gets its path and check time."""
    data = manifest.to_bytes()
    with db.atomic():
        db.execute(
            "INSERT INTO bundles (id, path, created, signer, size, manifest, verified_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET path = excluded.path, "
            "verified_at = COALESCE(excluded.verified_at, bundles.verified_at)",
            [
                manifest.id,
                path,
                manifest.created,
                manifest.signer,
                manifest.total_size,
                data,
                _now() if verified else None,
            ],
        )


def list_bundles(db: Database) -> list[StoredBundle]:
    rows = db.execute(
        "SELECT id, path, created, signer, size, manifest, verified_at FROM bundles ORDER BY created DESC"
    ).fetchall()
    return [StoredBundle(r[0], r[1], r[2], r[3], r[4], parse_manifest(bytes(r[5])), r[6]) for r in rows]


def get_bundle(db: Database, bundle_id: str) -> StoredBundle | None:
    return next((b for b in list_bundles(db) if b.id == bundle_id), None)


def trusted_keys(db: Database) -> dict[str, str]:
    """fingerprint -> public key (hex) of every key trusted besides this workstation's own."""
    return {r[0]: r[1] for r in db.execute("SELECT fingerprint, public_key FROM bundle_keys").fetchall()}


def trust_key(db: Database, fingerprint: str, public_key: str, label: str = "") -> None:
    with db.atomic():
        db.execute(
            "INSERT INTO bundle_keys (fingerprint, public_key, label, added_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (fingerprint) DO UPDATE SET label = excluded.label",
            [fingerprint, public_key, label, _now()],
        )


def record_applied(db: Database, bundle_id: str, host_id: int, manager: str, files: int, size: int) -> None:
    with db.atomic():
        db.execute(
            "INSERT INTO bundle_hosts (bundle_id, host_id, manager, files, bytes, applied_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (bundle_id, host_id) DO UPDATE SET "
            "files = excluded.files, bytes = excluded.bytes, applied_at = excluded.applied_at",
            [bundle_id, host_id, manager, files, size, _now()],
        )


def forget_applied(db: Database, bundle_id: str, host_id: int) -> None:
    with db.atomic():
        db.execute("DELETE FROM bundle_hosts WHERE bundle_id = ? AND host_id = ?", [bundle_id, host_id])


def applied(db: Database, bundle_id: str | None = None) -> list[AppliedBundle]:
    """What each host received (one bundle's, or all), oldest first."""
    sql = (
        "SELECT b.bundle_id, b.host_id, h.name, b.manager, b.files, b.bytes, b.applied_at "
        "FROM bundle_hosts b JOIN hosts h ON h.id = b.host_id"
    )
    args: list[str] = []
    if bundle_id is not None:
        sql += " WHERE b.bundle_id = ?"
        args.append(bundle_id)
    rows = db.execute(sql + " ORDER BY b.applied_at, h.name", args).fetchall()
    return [AppliedBundle(*r) for r in rows]


def sources_for(db: Database, host_ids: Iterable[int]) -> dict[int, tuple[str, ...]]:
    """host id -> the ids of the bundles applied on it: the extra sources of its package manager."""
    ids = [i for i in host_ids if i is not None]
    out: dict[int, list[str]] = {}
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        marks = ",".join("?" * len(part))
        for host_id, bundle_id in db.execute(
            f"SELECT host_id, bundle_id FROM bundle_hosts WHERE host_id IN ({marks}) ORDER BY bundle_id", part
        ).fetchall():
            out.setdefault(int(host_id), []).append(str(bundle_id))
    return {k: tuple(v) for k, v in out.items()}
