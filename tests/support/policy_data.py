"""Policy test data shared by the storage tests and the GUI tests: the synthetic packages as pending
updates, a scanned host in one call, and the advisory samples under tests/data/advisories."""

from __future__ import annotations

from pathlib import Path

from sqlite_utils import Database

from app.advisories.formats import read_path
from app.domain.models import Host, OsFacts, PendingUpdate, Ring, ScanResult, UpdateKind
from db import advisories as db_adv
from db import hosts as db_hosts
from db import scans as db_scans

DATA = Path(__file__).resolve().parents[1] / "data" / "advisories"
SECFIX = PendingUpdate(
    "apt",
    "pd-secfix",
    "1.0-2",
    "1.0-1",
    security=True,
    kind=UpdateKind.SECURITY,
    source="Debian-Security:12/stable-security",
)
REGULAR = PendingUpdate("apt", "pd-regular", "2.1-1", "2.0-1")


def add_scanned(
    db: Database, name: str, ring: Ring, pending: tuple[PendingUpdate, ...], group: str = "lab"
) -> Host:
    """A host in the inventory with a recorded scan that found ``pending`` (classified as a scan would)."""
    from app.domain.classify import classify_all

    h = db_hosts.add_host(db, Host(name=name, address="127.0.2.1", ring=ring, group=group))
    assert h.id is not None
    facts = OsFacts(id="debian", version="12", pretty_name="Debian GNU/Linux 12 (bookworm)")
    db_scans.record_scan(
        db, h.id, None, ScanResult(facts, ("apt",), tuple(classify_all(pending)), complete=True)
    )
    return db_hosts.get_host(db, h.id)


def import_samples(db: Database) -> None:
    """The synthetic KEV catalog and the Debian 12 OSV samples."""
    db_adv.import_batch(db, read_path(DATA / "kev_synthetic.json").merged(read_path(DATA / "osv-debian12")))
