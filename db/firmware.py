"""What the firmware evaluation view reads: firmware and driver updates pending on some host, with
the hosts, their rings and models, and how each install of an update went."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace

from app.domain.firmware import FirmwareHost, FirmwareInstall, FirmwareUpdate
from app.domain.models import Classification, PendingUpdate, Ring, UpdateKind
from app.domain.rollout import NEEDS_APPROVAL, update_key
from db.connection import Database

_KINDS = tuple(str(k) for k in NEEDS_APPROVAL)


def pending_firmware(db: Database) -> list[FirmwareUpdate]:
    """Every firmware/driver update pending on at least one host, most urgent first."""
    rows = db.execute(
        "SELECT p.manager, p.name, p.available, p.kind, p.classification, p.source, p.reason, p.cves, "
        "h.name, h.ring, hw.manufacturer, hw.model "
        "FROM pending_updates p JOIN hosts h ON h.id = p.host_id "
        "LEFT JOIN host_hardware hw ON hw.host_id = p.host_id "
        f"WHERE p.kind IN ({', '.join('?' * len(_KINDS))}) ORDER BY p.manager, p.name, p.available, h.name",
        list(_KINDS),
    ).fetchall()
    by_key: dict[str, FirmwareUpdate] = {}
    hosts: dict[str, list[FirmwareHost]] = {}
    for manager, name, version, kind, cls, source, reason, cves, host, ring, maker, model in rows:
        key = update_key(PendingUpdate(manager, name, version))
        if key not in by_key:
            by_key[key] = FirmwareUpdate(
                key, manager, name, version, UpdateKind(kind), Classification(cls), source, reason,
                tuple(json.loads(cves or "[]")),
            )  # fmt: skip
        shown = " ".join(p for p in (maker, model) if p) or None
        hosts.setdefault(key, []).append(FirmwareHost(host, Ring(ring), shown))
    order = {Classification.URGENT: 0, Classification.IMPORTANT: 1, Classification.NONCRITICAL: 2}
    out = [replace(u, hosts=tuple(hosts[k])) for k, u in by_key.items()]
    return sorted(out, key=lambda u: (order[u.classification], u.device.casefold(), u.version))


def installs(db: Database, manager: str, names: Sequence[str], version: str) -> list[FirmwareInstall]:
    """Each host's latest patch that installed the update (any of ``names``: firmware is recorded as
    ``GUID=VERSION``), its verification and whether it was rolled back."""
    marks = ", ".join("?" * len(names))
    rows = db.execute(
        "SELECT h.name, h.ring, jh.verdict, c.rolled_back_by FROM changes c "
        "JOIN job_hosts jh ON jh.job_id = c.job_id AND jh.host_id = c.host_id "
        "JOIN jobs j ON j.id = c.job_id JOIN hosts h ON h.id = c.host_id "
        f"WHERE j.kind = 'patch' AND c.manager = ? AND c.name IN ({marks}) AND c.to_version = ? "
        "ORDER BY c.id",
        [manager, *names, version],
    ).fetchall()
    latest: dict[str, FirmwareInstall] = {}
    for host, ring, verdict, rolled in rows:
        latest[host] = FirmwareInstall(host, Ring(ring), verdict, rolled is not None)
    return list(latest.values())
