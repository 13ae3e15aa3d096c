"""The Baselines tab, the host detail's Drift tab and the dashboard's Drifted tile (no hosts needed:
drift results are recorded as a check would)."""

from __future__ import annotations

from typing import Any

import pytest

from app.domain.baseline import ItemResult, ItemStatus, make_item
from app.domain.models import Host, JobKind
from db import baselines as db_baselines
from db import hosts as db_hosts
from db import jobs as db_jobs
from ui.views.baselines_view import BaselinesView
from ui.views.drift_panel import DiffDialog, DriftPanel, DriftTile, FixDialog, differing


def _drifted(db: Any) -> tuple[Host, Host]:
    a = db_hosts.add_host(db, Host(name="web1.invalid", address="127.0.0.1", group="web"))
    b = db_hosts.add_host(db, Host(name="web2.invalid", address="127.0.0.2", group="web"))
    items = [
        make_item("package", "pd-regular", {"state": "present", "version": "2.0-1", "match": "exact"}),
        make_item("file", "/etc/ssh/sshd_config", {"state": "present", "mode": "0644", "sha256": "a" * 64}),
    ]
    db_baselines.create_baseline(db, "web", items, "tester", [b"PermitRootLogin no\n"])
    db_baselines.assign(db, "web", "tester", groups=["web"])
    job = db_jobs.create_job(db, JobKind.DRIFT, [a, b])
    pkg, f = (
        next(i for i in db_baselines.get_baseline(db, "web").items if i.kind == k)
        for k in ("package", "file")
    )
    db_baselines.record_drift(
        db, job, a.id or 0,
        [ItemResult(pkg.id, ItemStatus.DRIFTED, {"state": "present", "version": "2.1-1"}),
         ItemResult(f.id, ItemStatus.OK, {})],
        "tester",
    )  # fmt: skip
    db_baselines.record_drift(db, job, b.id or 0, [ItemResult(pkg.id, ItemStatus.OK, {})], "tester")
    return a, b


def test_the_tab_lists_items_and_each_assigned_hosts_drift(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    _drifted(db)
    view = BaselinesView(db)
    qtbot.addWidget(view)
    assert view.names.count() == 1 and view.current_name() == "web"
    assert view.items_model.rowCount() == 2
    hosts = {r[0]: r for r in view.hosts_model.rows}
    assert hosts["web1.invalid"][1] == "drifted" and "pd-regular" in str(hosts["web1.invalid"][2])
    # web2's file item was never checked: unknown, not "no drift"
    assert str(hosts["web2.invalid"][1]).startswith("unknown")


def test_the_drift_tab_shows_what_differs_and_previews_the_fix(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    a, _ = _drifted(db)
    panel = DriftPanel(db)
    qtbot.addWidget(panel)
    panel.show_host(a)
    assert panel.tab_title() == "Drift (1)"
    assert panel.model.rows[0][:4] == ("package", "pd-regular", "2.0-1", "2.1-1")
    assert panel.fix_button.isEnabled()
    from app.services import baselines

    preview = baselines.preview(db, a)
    dialog = FixDialog(panel, a, list(preview.actions), list(preview.refused), "outside its window")
    qtbot.addWidget(dialog)
    assert "install pd-regular 2.0-1 (now 2.1-1)" in dialog.label.text()
    assert dialog.fix_button.text() == "Fix outside the window"


def test_a_changed_file_reads_as_changed_content_and_its_diff_is_escaped(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    from app.domain.baseline import DriftItem

    d = DriftItem(
        1, "file", "/etc/x", {"sha256": "a" * 64, "mode": "0644"}, {"sha256": "b" * 64, "mode": "0644"}, ""
    )
    assert differing(d) == ("baseline content", "changed content")
    dialog = DiffDialog(None, "/etc/x")  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    dialog.show_diff(("a\n", "a\n<script>x</script>\n"), "/etc/x")
    assert "<script>x</script>" in dialog.view.toPlainText()  # shown as text, not markup


def test_the_drifted_tile_counts_drifted_hosts(qtbot, db, db_path) -> None:  # type: ignore[no-untyped-def]
    a, _ = _drifted(db)
    tile = DriftTile(db)
    qtbot.addWidget(tile)
    tile.refresh()
    qtbot.waitUntil(lambda: tile.number.text() == "1", timeout=5000)
    assert tile.ids == [a.id] and tile.sub.text() == "1 not fully seen"


def test_new_drift_raises_an_alert_once(db) -> None:  # type: ignore[no-untyped-def]
    from app.services import alerts

    a, _ = _drifted(db)
    (alert,) = [x for x in alerts.job_alerts(db, 1) if x.kind == alerts.AlertKind.DRIFT]
    assert alert.hosts == ("web1.invalid",) and "package pd-regular" in alert.message
    pkg = next(i for i in db_baselines.get_baseline(db, "web").items if i.kind == "package")
    job2 = db_jobs.create_job(db, JobKind.DRIFT, [a])
    db_baselines.record_drift(
        db, job2, a.id or 0, [ItemResult(pkg.id, ItemStatus.DRIFTED, {"version": "2.1-1"})], "t"
    )
    assert alerts.drift_alerts(db, job2) == []  # still drifted: nothing new


@pytest.mark.hosts
def test_check_fix_and_roll_back_from_the_drift_tab_on_a_real_host(qtbot, db, hosts, host_pool) -> None:  # type: ignore[no-untyped-def]
    from app.services import baselines

    h = hosts[0]
    host = db_hosts.add_host(
        db, Host(name=h.name, address=h.address, user="admin", key_file=str(host_pool.client_key))
    )
    baselines.create(db, "b", [baselines.parse_item("package", "pd-regular=2.0-1")])
    baselines.assign(db, "b", hosts=[h.name])
    h.run("DEBIAN_FRONTEND=noninteractive apt-get install -y pd-regular=2.1-1", timeout=120)
    panel = DriftPanel(db)
    qtbot.addWidget(panel)
    panel.show_host(host)
    panel.check_now()
    qtbot.waitUntil(lambda: panel.tab_title() == "Drift (1)", timeout=60_000)
    panel._run_fix(host, [], outside=True)
    qtbot.waitUntil(lambda: panel.tab_title() == "Drift", timeout=180_000)
    assert h.installed_version("pd-regular") == "2.0-1"
    assert panel.undo_button.isEnabled()
