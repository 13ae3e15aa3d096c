"""#24: firmware and drivers are never selected for a patch (``patch --all``, named, or by the
scheduler) without an explicit approval for the host's ring; once approved, exactly the approved
release is named (``GUID=VERSION``)."""

from __future__ import annotations

from sqlite_utils import Database

from app.domain.models import Classification, Host, OsFacts, PendingUpdate, Ring, ScanResult, UpdateKind
from app.jobs.selection import select_updates, selections_for, withheld
from app.services import approvals
from db import audit as db_audit
from db import hosts as db_hosts
from db import scans as db_scans

GUID = "2082b5e0-7a64-478a-b1b2-e3404fab6dad"
FIRMWARE = PendingUpdate(
    "fwupd",
    GUID,
    "1.2.4",
    installed="1.2.3",
    kind=UpdateKind.FIRMWARE,
    security=True,
    severity="critical",
    classification=Classification.URGENT,
)
DRIVER = PendingUpdate(
    "wua",
    "KB5000001",
    "Intel - Display - 31.0.101.4502",
    kind=UpdateKind.DRIVER,
    classification=Classification.IMPORTANT,
)
PACKAGE = PendingUpdate("apt", "pd-secfix", "1.0-2", installed="1.0-1", security=True)


def test_select_updates_leaves_out_firmware_and_drivers_without_an_approval() -> None:
    sel = select_updates([FIRMWARE, DRIVER, PACKAGE])
    assert sel.names == ("pd-secfix",)
    # naming them is not an approval either
    assert select_updates([FIRMWARE, DRIVER], packages={GUID, "KB5000001"}).names == ()
    assert withheld([FIRMWARE, DRIVER, PACKAGE], ()) == [FIRMWARE, DRIVER]


def test_an_approved_firmware_is_named_by_its_release() -> None:
    sel = select_updates([FIRMWARE, PACKAGE], approved={f"fwupd:{GUID}=1.2.4"})
    assert sel.names == (f"{GUID}=1.2.4", "pd-secfix")
    assert sel.managers[f"{GUID}=1.2.4"] == "fwupd"
    # verification looks for the pending update by its own name
    assert GUID in sel.security


def _host(db: Database, name: str, ring: Ring) -> Host:
    host = db_hosts.add_host(db, Host(name, "127.0.0.1", ring=ring))
    assert host.id is not None
    db_scans.record_scan(
        db, host.id, None, ScanResult(OsFacts(id="debian"), ("apt", "fwupd"), (FIRMWARE, PACKAGE))
    )
    return host


def test_approval_per_ring_through_the_service(db: Database) -> None:
    test = _host(db, "t1", Ring.TEST)
    prod = _host(db, "p1", Ring.PRODUCTION)
    assert test.id is not None and prod.id is not None

    def names() -> dict[int, tuple[str, ...]]:
        return {k: v.names for k, v in selections_for(db, [test, prod]).items()}

    # patch --all before any decision: the firmware stays, everywhere (the test ring too)
    assert names() == {test.id: ("pd-secfix",), prod.id: ("pd-secfix",)}
    (rollout,) = approvals.resolve_update(db, GUID)
    approvals.approve(db, rollout.key, note="first on one host of the model", ring=Ring.TEST, actor="admin")
    assert names() == {test.id: (f"{GUID}=1.2.4", "pd-secfix"), prod.id: ("pd-secfix",)}
    approvals.defer(db, rollout.key, note="vendor recall", actor="admin")
    assert names()[test.id] == ("pd-secfix",)
    approvals.approve(db, rollout.key, note="verified on t1", actor="admin")
    assert names() == {test.id: (f"{GUID}=1.2.4", "pd-secfix"), prod.id: (f"{GUID}=1.2.4", "pd-secfix")}
    # every decision is in the audit log, with the ring approved
    entries = sorted((e for e in db_audit.entries(db) if e.target == rollout.key), key=lambda e: e.id)
    assert [e.details["decision"] for e in entries] == ["approved", "deferred", "approved"]
    assert entries[0].details["ring"] == "test"
    assert entries[2].details["ring"] == "production"


def test_ring_evidence_and_view_rows_see_firmware_recorded_as_guid_and_version(db: Database) -> None:
    """The change record names an installed firmware GUID=VERSION: the scheduler's ring evidence (is
    it deployed?) and the evaluation view's installs must find it under the update's own key."""
    from app.domain.models import JobKind, PackageChange
    from db import changes as db_changes
    from db import firmware as db_firmware
    from db import jobs as db_jobs
    from db import rollouts as db_rollouts

    host = _host(db, "t1", Ring.TEST)
    assert host.id is not None
    job = db_jobs.create_job(db, JobKind.PATCH, [host])
    change = PackageChange("fwupd", f"{GUID}=1.2.4", "1.2.3", "1.2.4")
    db_changes.record_changes(db, job, host.id, [change])
    db_changes.record_verification(db, job, host.id, job, "green", ["ok"])
    (rollout,) = approvals.resolve_update(db, GUID)
    evidence = db_rollouts.ring_evidence(db, rollout)
    assert evidence[Ring.TEST].got == ("t1",) and evidence[Ring.TEST].green == ("t1",)
    (done,) = db_firmware.installs(db, "fwupd", (GUID, f"{GUID}=1.2.4"), "1.2.4")
    assert (done.host, done.verdict, done.rolled_back) == ("t1", "green", False)
    (listed,) = db_firmware.pending_firmware(db)
    assert listed.key == f"fwupd:{GUID}=1.2.4" and [h.name for h in listed.hosts] == ["t1"]
