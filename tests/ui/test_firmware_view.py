"""#24 item 5: the Firmware evaluation view: updates with their models and hosts, approve for the
test ring (audited), and the second approval only after a verified test-ring install."""

from __future__ import annotations

from app.domain.firmware import FirmwareInstall, promotion_blocker
from app.domain.hardware import Hardware
from app.domain.models import Classification, Host, OsFacts, PendingUpdate, Ring, ScanResult, UpdateKind
from db import audit as db_audit
from db import hosts as db_hosts
from db import rollouts as db_rollouts
from db import scans as db_scans
from ui.main_window import MainWindow

GUID = "b585990a-003e-5270-89d5-3705a17f9a43"
FW = PendingUpdate(
    "fwupd",
    GUID,
    "1.2.5",
    installed="1.2.2",
    source="Integrated Webcam (ACME Corp.); from lvfs",
    kind=UpdateKind.FIRMWARE,
    severity="critical",
    cves=("CVE-2099-0100",),
    classification=Classification.URGENT,
    reason="urgent: vendor severity critical (fwupd)",
)


def test_promotion_needs_a_verified_test_ring_install() -> None:
    assert "approve it for the test ring first" in (promotion_blocker([]) or "")
    assert (
        promotion_blocker([FirmwareInstall("t1", Ring.TEST, None)])
        == "its test-ring install is not verified yet"
    )
    assert (
        promotion_blocker([FirmwareInstall("t1", Ring.TEST, "red")])
        == "its verification on the test ring is red"
    )
    assert promotion_blocker([FirmwareInstall("t1", Ring.TEST, "green", rolled_back=True)]) is not None
    assert promotion_blocker([FirmwareInstall("p1", Ring.PRODUCTION, "green")]) is not None
    assert promotion_blocker([FirmwareInstall("t1", Ring.TEST, "amber")]) is None


def test_firmware_view_lists_models_and_hosts_and_approves_per_ring(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    for name, ring, model in (("t1", Ring.TEST, "Latitude 7440"), ("p1", Ring.PRODUCTION, "Latitude 7440")):
        h = db_hosts.add_host(db, Host(name, "127.0.34.1", ring=ring))
        facts = OsFacts(id="debian", hardware=Hardware(manufacturer="Dell Inc.", model=model))
        db_scans.record_scan(db, h.id, None, ScanResult(facts, ("apt", "fwupd"), (FW,)))
    win = MainWindow(db, runner=None, secrets=None)
    qtbot.addWidget(win)
    try:
        dialog = win.show_firmware()
        view = dialog.view  # type: ignore[attr-defined]
        assert view.model.rowCount() == 1
        assert view.model.text(0, 0).startswith("Integrated Webcam")
        assert view.model.text(0, 4) == "waiting for approval"
        assert view.model.text(0, 5) == "2" and view.model.text(0, 6) == "Dell Inc. Latitude 7440"
        view.table.selectRow(0)
        assert "t1 (test, Dell Inc. Latitude 7440)" in view.details.text()
        assert not view.promote_button.isEnabled()  # nothing installed on the test ring yet
        view.note_edit.setText("one host of the model first")
        view.decide("test")
        key = f"fwupd:{GUID}=1.2.5"
        r = db_rollouts.get_rollout(db, key)
        assert r is not None and r.ring == Ring.TEST and r.explicit_approval
        assert view.model.text(0, 4) == "approved for the test ring"
        (entry,) = [e for e in db_audit.entries(db) if e.target == key]
        assert entry.details["ring"] == "test" and entry.details["note"] == "one host of the model first"
        dialog.close()
    finally:
        win.close()


def test_patch_dialog_leaves_firmware_until_approved_for_the_ring(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    from app.services import approvals
    from ui.dialogs.patch_dialog import PatchDialog

    h = db_hosts.add_host(db, Host("t1", "127.0.34.1", ring=Ring.TEST))
    pkg = PendingUpdate(
        "apt", "pd-secfix", "1.0-2", installed="1.0-1", security=True, classification=Classification.URGENT
    )
    db_scans.record_scan(db, h.id, None, ScanResult(OsFacts(id="debian"), ("apt", "fwupd"), (FW, pkg)))
    dlg = PatchDialog(db, None, [h])
    qtbot.addWidget(dlg)
    assert "needs approval" in dlg.package_item(GUID).text()
    dlg.set_packages([GUID, "pd-secfix"])
    assert dlg.selections()[h.id].names == ("pd-secfix",)
    dlg.close()
    approvals.resolve_update(db, GUID)
    approvals.approve(db, f"fwupd:{GUID}=1.2.5", ring=Ring.TEST, actor="admin")
    dlg = PatchDialog(db, None, [h])
    qtbot.addWidget(dlg)
    dlg.set_packages([GUID])
    assert dlg.selections()[h.id].names == (f"{GUID}=1.2.5",)
    dlg.close()
