"""Advisories, the KEV catalog, and the links from pending updates to them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from app.domain.advisories import AdvisoryBatch, KevEntry
from app.domain.matching import AdvisoryIndex, PackageAdvisory
from db.connection import Database
from db.database import now_iso


@dataclass(frozen=True)
class ImportSummary:
    kev: int
    advisories: int
    sources: tuple[str, ...]
    kev_version: str | None = None


@dataclass(frozen=True)
class AdvisoryRow:
    """One line of the Advisories view (an OSV advisory, or a KEV entry no advisory covers)."""

    id: str
    source: str  # "osv" | "kev"
    summary: str
    severity: str | None
    cves: tuple[str, ...]
    kev_due: str | None  # earliest KEV due date among its CVEs
    packages: tuple[str, ...]
    affected_hosts: int
    published: str | None

    @property
    def status(self) -> str:
        return f"{self.affected_hosts} host(s) need it" if self.affected_hosts else "no host needs it"

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "summary": self.summary,
            "severity": self.severity,
            "cves": list(self.cves),
            "kev_due": self.kev_due,
            "packages": list(self.packages),
            "affected_hosts": self.affected_hosts,
            "published": self.published,
            "status": self.status,
        }


@dataclass(frozen=True)
class AffectedHost:
    host_id: int
    host_name: str
    ring: str
    package: str
    installed: str | None
    available: str
    classification: str
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {
            "host": self.host_name,
            "ring": self.ring,
            "package": self.package,
            "installed": self.installed,
            "available": self.available,
            "classification": self.classification,
            "reason": self.reason,
        }


def import_batch(db: Database, batch: AdvisoryBatch) -> ImportSummary:
    """Store everything a batch brought in one transaction (an advisory seen again is replaced)."""
    at = now_iso()
    with db.atomic():
        for a in batch.advisories:
            db.execute("DELETE FROM advisories WHERE id = ?", [a.id])
            db.execute(
                "INSERT INTO advisories (id, source, summary, severity, aliases, cves, published, modified, imported_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    a.id,
                    a.source,
                    a.summary,
                    a.severity,
                    json.dumps(list(a.aliases)),
                    json.dumps(list(a.cves)),
                    a.published or None,
                    a.modified or None,
                    at,
                ],
            )
            db.conn.executemany(
                "INSERT INTO advisory_packages (advisory_id, ecosystem, name, fixed) VALUES (?, ?, ?, ?)",
                [(a.id, p.ecosystem, p.name, json.dumps(list(p.fixed))) for p in a.affected],
            )
            db.conn.executemany(
                "INSERT OR IGNORE INTO advisory_cves (advisory_id, cve) VALUES (?, ?)",
                [(a.id, c) for c in a.cves],
            )
        db.conn.executemany(
            "INSERT INTO kev (cve, vendor, product, name, date_added, due_date, ransomware, description, "
            "required_action, imported_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (cve) DO UPDATE SET vendor = excluded.vendor, product = excluded.product, "
            "name = excluded.name, date_added = excluded.date_added, due_date = excluded.due_date, "
            "ransomware = excluded.ransomware, description = excluded.description, "
            "required_action = excluded.required_action, imported_at = excluded.imported_at",
            [
                (
                    k.cve,
                    k.vendor,
                    k.product,
                    k.name,
                    k.date_added,
                    k.due_date,
                    k.ransomware,
                    k.description,
                    k.required_action,
                    at,
                )
                for k in batch.kev
            ],
        )
        db.execute(
            "INSERT INTO advisory_imports (at, sources, kev_version, kev_count, advisory_count) VALUES (?, ?, ?, ?, ?)",
            [at, json.dumps(list(batch.sources)), batch.kev_version, len(batch.kev), len(batch.advisories)],
        )
    return ImportSummary(len(batch.kev), len(batch.advisories), batch.sources, batch.kev_version)


def generation(db: Database) -> int:
    """Changes whenever advisory data changes: the id of the newest import (0 before any)."""
    row = db.execute("SELECT max(id) FROM advisory_imports").fetchone()
    return int(row[0] or 0)


def last_import(db: Database) -> dict[str, Any] | None:
    rows = list(db.query("SELECT * FROM advisory_imports ORDER BY id DESC LIMIT 1"))
    return dict(rows[0]) if rows else None


def _kev_row(r: dict[str, Any]) -> KevEntry:
    return KevEntry(
        cve=r["cve"],
        vendor=r["vendor"],
        product=r["product"],
        name=r["name"],
        date_added=r["date_added"],
        due_date=r["due_date"],
        ransomware=r["ransomware"],
        description=r["description"],
        required_action=r["required_action"],
    )


def kev_entries(db: Database) -> list[KevEntry]:
    return [_kev_row(r) for r in db.query("SELECT * FROM kev ORDER BY date_added DESC, cve")]


def kev_entry(db: Database, cve: str) -> KevEntry | None:
    rows = list(db.query("SELECT * FROM kev WHERE cve = ?", [cve.upper()]))
    return _kev_row(rows[0]) if rows else None


def advisory_index(db: Database, names: list[str] | None = None) -> AdvisoryIndex:
    """What the classifier needs: affected packages (optionally only ``names``) and the KEV catalog."""
    sql = (
        "SELECT p.advisory_id, p.ecosystem, p.name, p.fixed, a.cves, a.severity "
        "FROM advisory_packages p JOIN advisories a ON a.id = p.advisory_id"
    )
    params: list[Any] = []
    if names is not None:
        if not names:
            sql += " WHERE 0"
        else:
            sql += " WHERE p.name IN (SELECT value FROM json_each(?))"
            params.append(json.dumps(sorted(set(names))))
    by: dict[str, list[PackageAdvisory]] = {}
    for r in db.query(sql, params):
        by.setdefault(r["name"], []).append(
            PackageAdvisory(
                r["advisory_id"],
                r["ecosystem"],
                r["name"],
                tuple(json.loads(r["fixed"])),
                tuple(json.loads(r["cves"])),
                r["severity"],
            )
        )
    kev = {k.cve: k for k in (_kev_row(r) for r in db.query("SELECT * FROM kev"))}
    return AdvisoryIndex({k: tuple(v) for k, v in by.items()}, kev)


_AFFECTED_SQL = """
SELECT DISTINCT h.id AS host_id, h.name AS host_name, h.ring, p.name AS package, p.installed, p.available,
       p.classification, p.reason
FROM pending_updates p JOIN hosts h ON h.id = p.host_id
WHERE EXISTS (SELECT 1 FROM json_each(p.advisories) WHERE value = :id)
   OR EXISTS (SELECT 1 FROM json_each(p.cves) WHERE value = :id
              OR value IN (SELECT cve FROM advisory_cves WHERE advisory_id = :id))
ORDER BY h.name COLLATE NOCASE, p.name
"""


def affected_hosts(db: Database, advisory_or_cve: str) -> list[AffectedHost]:
    """Which hosts need this: pending updates linked to the advisory, KB or CVE."""
    key = advisory_or_cve.strip()
    if key.upper().startswith("CVE-"):
        key = key.upper()
    return [AffectedHost(**r) for r in db.query(_AFFECTED_SQL, {"id": key})]


def _pending_links(db: Database) -> tuple[dict[str, set[int]], dict[str, set[int]]]:
    """advisory id -> hosts and CVE -> hosts, over every pending update (one pass each)."""
    by_id: dict[str, set[int]] = {}
    by_cve: dict[str, set[int]] = {}
    for r in db.query("SELECT p.host_id, j.value FROM pending_updates p, json_each(p.advisories) j"):
        by_id.setdefault(r["value"], set()).add(r["host_id"])
    for r in db.query("SELECT p.host_id, j.value FROM pending_updates p, json_each(p.cves) j"):
        by_cve.setdefault(r["value"], set()).add(r["host_id"])
    return by_id, by_cve


def list_advisories(db: Database, *, relevant_only: bool = False, limit: int = 1000) -> list[AdvisoryRow]:
    """Advisories for the Advisories view, the ones affecting hosts first; KEV entries no advisory
    covers are listed as their own rows (a CVE a host reported directly, e.g. from Windows Update)."""
    by_id, by_cve = _pending_links(db)

    def hosts_of(adv_id: str, cves: tuple[str, ...]) -> int:
        found = set(by_id.get(adv_id, ()))
        for c in cves:
            found |= by_cve.get(c, set())
        return len(found)

    rows: list[AdvisoryRow] = []
    for r in db.query(
        "SELECT a.*, (SELECT min(k.due_date) FROM advisory_cves c JOIN kev k ON k.cve = c.cve "
        "             WHERE c.advisory_id = a.id AND k.due_date != '') AS kev_due, "
        "(SELECT json_group_array(DISTINCT name) FROM advisory_packages WHERE advisory_id = a.id) AS packages "
        "FROM advisories a ORDER BY a.published DESC, a.id LIMIT ?",
        [limit],
    ):
        hosts = hosts_of(r["id"], tuple(json.loads(r["cves"])))
        rows.append(
            AdvisoryRow(
                r["id"],
                r["source"],
                r["summary"],
                r["severity"],
                tuple(json.loads(r["cves"])),
                r["kev_due"],
                tuple(json.loads(r["packages"] or "[]")),
                hosts,
                r["published"],
            )
        )
    for r in db.query(
        "SELECT * FROM kev WHERE cve NOT IN (SELECT cve FROM advisory_cves) ORDER BY date_added DESC LIMIT ?",
        [limit],
    ):
        hosts = hosts_of(r["cve"], (r["cve"],))
        if relevant_only and not hosts:
            continue
        rows.append(
            AdvisoryRow(
                r["cve"],
                "kev",
                r["name"] or r["description"][:200],
                None,
                (r["cve"],),
                r["due_date"] or None,
                (r["product"],) if r["product"] else (),
                hosts,
                r["date_added"] or None,
            )
        )
    if relevant_only:
        rows = [r for r in rows if r.affected_hosts]
    rows.sort(key=lambda r: (-r.affected_hosts, r.kev_due is None, r.kev_due or "", r.id))
    return rows
