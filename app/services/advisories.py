"""Bringing advisory data in, for the CLI and the GUI alike: from files, or online when there is a
network, then storing it and re-classifying what is pending (one code path, so ``patchdesk
advisories import`` and the Advisories view's "Import advisories…" cannot disagree).

Everything a source brings is parsed before anything is stored: an import is all or nothing. Online
failures are :class:`~app.domain.errors.AdvisorySourceError` with a plain sentence ("offline — … import a
file instead"), never a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from app.advisories import feeds
from app.advisories.formats import read_path
from app.domain.advisories import AdvisoryBatch
from app.domain.errors import ConfigError
from db.connection import Database


@dataclass(frozen=True)
class ImportOutcome:
    """What an import or refresh stored, and what it changed."""

    kev: int
    advisories: int
    sources: tuple[str, ...]
    catalog_version: str | None
    reclassified: int  # pending updates whose class changed
    urgent_pending: int  # urgent updates pending over all hosts afterwards

    def sentence(self) -> str:
        return (
            f"Imported {self.kev} KEV entr{'y' if self.kev == 1 else 'ies'} and "
            f"{self.advisories} advisor{'y' if self.advisories == 1 else 'ies'}; "
            f"{self.reclassified} pending update(s) changed class."
        )

    def as_json(self) -> dict[str, object]:
        return {
            "kev": self.kev,
            "advisories": self.advisories,
            "sources": list(self.sources),
            "catalog_version": self.catalog_version,
            "reclassified": self.reclassified,
            "urgent_pending": self.urgent_pending,
        }


def read_paths(paths: Sequence[Path]) -> AdvisoryBatch:
    """KEV catalogs, OSV files and directories of OSV files, merged (nothing stored yet)."""
    if not paths:
        raise ConfigError("Name a file or directory to import (or --osv DIR).")
    batch = AdvisoryBatch()
    for p in paths:
        batch = batch.merged(read_path(Path(p)))
    return batch


def fetch_online(
    db: Database,
    *,
    kev_url: str | None = None,
    osv_url: str | None = None,
    include_osv: bool = True,
    timeout: float = feeds.DEFAULT_TIMEOUT,
) -> AdvisoryBatch:
    """The KEV feed, and OSV.dev advisories for the installed versions of every pending package."""
    from app.domain.matching import platform_for
    from db import hosts as db_hosts
    from db import scans as db_scans

    batch = feeds.fetch_kev(kev_url or feeds.KEV_URL, timeout=timeout)
    if not include_osv:
        return batch
    queries: dict[tuple[str, str, str], feeds.PackageQuery] = {}
    for h in db_hosts.list_hosts(db):
        platform = platform_for(h.os_id, h.os_version)
        if not platform.ecosystems or h.id is None:
            continue
        for u in db_scans.pending_for_host(db, h.id):
            if u.installed:
                q = feeds.PackageQuery(platform.ecosystems[0], u.name, u.installed)
                queries[(q.ecosystem, q.name, q.version)] = q
    return batch.merged(feeds.fetch_osv(list(queries.values()), osv_url or feeds.OSV_API, timeout=timeout))


def store(db: Database, batch: AdvisoryBatch) -> ImportOutcome:
    """Store ``batch`` and re-classify every host's pending updates against the new data."""
    from app.services.classification import reclassify_all
    from db import advisories as db_adv
    from db import hosts as db_hosts

    summary = db_adv.import_batch(db, batch)
    changed = reclassify_all(db)
    urgent = sum(h.pending_urgent for h in db_hosts.list_hosts(db))
    return ImportOutcome(
        summary.kev, summary.advisories, tuple(summary.sources), summary.kev_version, changed, urgent
    )


def import_paths(db: Database, paths: Sequence[Path]) -> ImportOutcome:
    """Read, then store: the file import of the CLI and the GUI."""
    return store(db, read_paths(paths))
