"""#23 item 9 (part): the add-host dialog defaulted to ring "test" and criticality "mission-critical"
(the first entries of its lists) while the CLI and the model default to production / standard."""

from __future__ import annotations

from app.domain.models import Host
from ui.dialogs.host_dialog import HostDialog


def test_a_new_host_starts_with_the_models_and_the_clis_defaults(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    dlg = HostDialog(db)
    qtbot.addWidget(dlg)
    default = Host(name="x", address="x.invalid")
    assert dlg.ring_combo.currentData() == default.ring.value == "production"
    assert dlg.criticality_combo.currentData() == default.criticality.value == "standard"
