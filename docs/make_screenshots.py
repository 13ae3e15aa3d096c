"""The docs/screenshots/ set, light and dark, at 1280x800 and 1920x1080 (``make screenshots``): the
dashboard, the inventory with a host's history, drift and outside changes, the Baselines tab, the
Updates tab, the patch preview, the Schedule tab (with sample soak checks) and its criticality rules,
the Offline bundles window, the Settings, alerts and user-guide dialogs, and the empty console a
first start shows.

    .venv/bin/python docs/make_screenshots.py [OUT_DIR]

Offscreen, over a generated 300-host fleet (tests/support/fleet.py), no test hosts and no root
needed; the patch preview shows a made-up plan with long Debian versions (what #23 item 1 was about).
Each screen size runs in its own process: the offscreen platform's screen is fixed at start.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZES = ((1280, 800), (1920, 1080))
SCHEMES = ("light", "dark")


def _shoot(out: Path, width: int, height: int) -> None:
    """In a process whose offscreen screen is ``width``x``height``: every picture of that size."""
    sys.path.insert(0, str(ROOT))
    os.environ["PATCHDESK_SCHEDULER"] = "off"
    os.environ["PATCHDESK_NO_FIRST_RUN"] = "1"
    work = Path(tempfile.mkdtemp(prefix="pd-shots-"))
    os.environ["PATCHDESK_LOG_DIR"] = str(work / "logs")

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from app.domain.models import PackageChange
    from db import hosts as db_hosts
    from db.database import open_database
    from tests.support.fleet import populate
    from ui.dialogs.patch_dialog import PatchDialog
    from ui.main_window import MainWindow

    app = QApplication(sys.argv[:1])
    # View → Theme is kept in the user's settings: these shots' choices stay in the scratch directory
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(work / "settings"))
    db = open_database(work / "shots.sqlite3")
    fleet = populate(db, hosts=300, days=30)
    _soak_samples(db)
    _alerts(db, fleet)
    drifted = _baselines(db)
    outside = _outside_changes(db)
    _bundle(db, work)

    def settle(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.02)

    empty = open_database(work / "empty.sqlite3")
    for scheme in SCHEMES:
        tag = f"{scheme}-{width}x{height}"
        w = MainWindow(db, runner=None, secrets=None)
        w.set_theme(scheme)
        w.resize(width, height)
        w.show()
        deadline = time.monotonic() + 30
        while (w.dashboard.data is None or w.dashboard.busy) and time.monotonic() < deadline:
            settle(0.05)
        settle(0.5)
        w.grab().save(str(out / f"dashboard-{tag}.png"))
        w.show_inventory()
        w.inventory.table.selectRow(0)
        settle(0.5)
        w.grab().save(str(out / f"inventory-{tag}.png"))
        w.inventory.select_host(fleet.host_ids[25])  # one the fleet's patch job went to
        settle(0.3)
        w.detail.tabs.setCurrentIndex(1)  # the host's history
        settle(0.3)
        w.grab().save(str(out / f"history-{tag}.png"))
        w.inventory.select_host(drifted)
        settle(0.3)
        w.detail.tabs.setCurrentWidget(w.detail.drift_panel)
        settle(0.3)
        w.grab().save(str(out / f"host-drift-{tag}.png"))
        w.inventory.select_host(outside)
        settle(0.3)
        w.detail.tabs.setCurrentWidget(w.detail.outside)
        settle(0.3)
        w.grab().save(str(out / f"host-outside-{tag}.png"))
        w.detail.tabs.setCurrentIndex(0)
        w.tabs.setCurrentWidget(w.baselines_view)
        settle(0.4)
        w.grab().save(str(out / f"baselines-{tag}.png"))
        w.show_updates("urgent", None, "Missing urgent")
        _wait(settle, lambda w=w: not w.updates_view.busy)
        first = w.updates_view.list_model.payload[0] if w.updates_view.list_model.payload else None
        if first is not None:
            w.show_update(first.name)  # type: ignore[attr-defined]
            _wait(settle, lambda w=w: not w.updates_view.busy)
        settle(0.3)
        w.grab().save(str(out / f"updates-{tag}.png"))
        hosts = db_hosts.list_hosts(db)[:3]
        dlg = PatchDialog(db, None, hosts, w)
        dlg.show()
        dlg.plans = {h.id: _plan(PackageChange) for h in hosts if h.id is not None}
        dlg._fill_plan_tree()
        settle(0.5)
        dlg.grab().save(str(out / f"patch-{tag}.png"))
        dlg.close()
        view = w.schedule_view
        w.tabs.setCurrentWidget(view)
        deadline = time.monotonic() + 30
        while view.snapshot is None and time.monotonic() < deadline:
            settle(0.05)
        view.waiting_check.setChecked(False)  # every rollout: the soaking ones' health side by side
        view.select_rollout(SOAK_RED)
        settle(0.5)
        w.grab().save(str(out / f"schedule-{tag}.png"))
        view.tabs.setCurrentWidget(view.criticality_panel)
        settle(0.3)
        w.grab().save(str(out / f"criticality-{tag}.png"))
        view.tabs.setCurrentIndex(0)
        w.show_bundles()  # File → Offline bundles…, at the size it opens with
        bundles = w.bundles_view
        settle(0.2)
        bundles.bundles_table.selectRow(0)
        settle(0.4)
        bundles.grab().save(str(out / f"bundles-{tag}.png"))
        bundles.close()
        w.bundles_view = None
        for name, opener in (
            ("settings", "show_settings"),
            ("alerts", "show_alerts"),
            ("guide", "show_user_guide"),
        ):
            if hasattr(w, opener):  # the dialogs #23 items 6 and 7 added
                extra = getattr(w, opener)()
                settle(0.4)
                extra.grab().save(str(out / f"{name}-{tag}.png"))
                extra.close()
                settle(0.1)
        w.close()
        settle(0.2)
        # a first start: nothing in the inventory, each view says what to do next (#23 item 5)
        e = MainWindow(empty, runner=None, secrets=None)
        e.set_theme(scheme)
        e.resize(width, height)
        e.show()
        settle(0.5)
        e.show_inventory()
        settle(0.3)
        e.grab().save(str(out / f"empty-inventory-{tag}.png"))
        e.tabs.setCurrentWidget(e.logs_view)
        _wait(settle, lambda e=e: not e.logs_view.busy)
        settle(0.3)
        e.grab().save(str(out / f"empty-logs-{tag}.png"))
        e.close()
        settle(0.2)
    empty.conn.close()
    db.conn.close()


SOAK_RED = ""  # the rollout whose soak turned red (selected in the Schedule shot)


def _soak_samples(db) -> None:  # type: ignore[no-untyped-def]
    """A few updates soaking in the test ring with their soak checks: one turned red, one could not
    see its host once, one amber, one green (app/jobs/soak.py records these on real passes)."""
    global SOAK_RED
    from datetime import UTC, datetime, timedelta

    from app.domain.maintenance_windows import MaintenanceWindow
    from app.domain.models import Ring
    from app.domain.rollout import RolloutState, SoakCheck, SoakVerdict
    from app.services import approvals
    from db import hosts as db_hosts
    from db import maintenance_windows as db_windows
    from db import rollouts as db_rollouts
    from db import soak as db_soak

    approvals.ensure_pending_rollouts(db)
    groups = sorted({h.group for h in db_hosts.list_hosts(db) if h.group})
    db_windows.add_window(
        db,
        MaintenanceWindow(
            "nightly",
            "FREQ=DAILY;BYHOUR=2;BYMINUTE=0",
            timedelta(hours=2),
            "Europe/Berlin",
            datetime(2026, 1, 1),
            tuple(groups[: max(1, len(groups) // 2)]),
        ),
    )
    db_windows.add_window(
        db,
        MaintenanceWindow(
            "saturday",
            "FREQ=WEEKLY;BYDAY=SA;BYHOUR=22;BYMINUTE=0",
            timedelta(hours=4),
            "Europe/Berlin",
            datetime(2026, 1, 3),
            tuple(groups[max(1, len(groups) // 2) :]),
        ),
    )
    tested = [h.name for h in db_hosts.list_hosts(db) if h.ring == Ring.TEST][:2] or ["web01"]
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=3)
    why = {
        "red": "service nginx is failed",
        "unknown": f"could not check: {tested[0]} did not answer within 10 s",
        "amber": "2 new error(s) in the journal, e.g. nginx[812]: worker exited on signal 11",
    }
    histories = (
        ["green", "green", "green", "red", "green", "green"],
        ["green", "unknown", "green", "green"],
        ["green", "amber", "amber"],
        ["green"] * 8,
    )
    candidates = [r for r in db_rollouts.list_rollouts(db) if r.kind not in ("firmware", "driver")]
    for r, verdicts in zip(candidates[:4], histories, strict=False):
        db_rollouts.set_rollout(db, r.key, state=RolloutState.TESTING, ring=Ring.TEST, ring_since=start)
        checks = [
            SoakCheck(
                r.key,
                tested[i % len(tested)],
                Ring.TEST,
                start + timedelta(minutes=15 * (i + 1)),
                SoakVerdict(v),
                (why[v],) if v in why else (),
            )
            for i, v in enumerate(verdicts)
        ]
        db_soak.add_soak_checks(db, [(c, None) for c in checks])
        if verdicts[3:4] == ["red"]:
            SOAK_RED = r.key


def _alerts(db, fleet) -> None:  # type: ignore[no-untyped-def]
    """What the fleet's failed patch job would have raised, for the alerts list (when it exists)."""
    try:
        from app.services import alerts
    except ImportError:
        return
    if not hasattr(alerts, "record"):
        return
    found = alerts.job_alerts(db, fleet.failed_job)
    found.append(
        alerts.Alert(
            alerts.AlertKind.HOST_KEY_CHANGED,
            "Patchdesk: host key of dmz-024 changed",
            "dmz-024 presented a different SSH host key. Possible interception: verify before accepting.",
            None,
            ("dmz-024",),
        )
    )
    alerts.record(db, found)


def _baselines(db) -> int:  # type: ignore[no-untyped-def]
    """A "web" baseline on the web group, checked: one host drifted (a package and sshd_config), one
    whose file check could not run (unknown), the rest in line. Returns the drifted host's id."""
    from app.domain.baseline import ItemResult, ItemStatus, make_item
    from app.domain.models import JobKind
    from db import baselines as db_baselines
    from db import hosts as db_hosts
    from db import jobs as db_jobs

    web = [h for h in db_hosts.list_hosts(db) if h.group == "web"][:8]
    ssh = {"state": "present", "version": "1:9.2p1-2+deb12u6", "match": "exact"}
    items = [
        make_item("package", "openssh-server", ssh),
        make_item("package", "telnetd", {"state": "absent"}),
        make_item("file", "/etc/ssh/sshd_config", {"state": "present", "mode": "0644", "sha256": "a" * 64}),
        make_item("service", "nginx", {"running": True, "enabled": True}),
    ]
    db_baselines.create_baseline(db, "web", items, "admin", [b"PermitRootLogin no\n"])
    db_baselines.assign(db, "web", "admin", groups=["web"])
    job = db_jobs.create_job(db, JobKind.DRIFT, web)
    found = {"package": {"version": "1:9.2p1-2+deb12u5"}, "file": {"mode": "0664"}}
    for i, host in enumerate(web):
        results = []
        for item in db_baselines.get_baseline(db, "web").items:
            if i == 0 and item.kind in found and item.target != "telnetd":
                results.append(ItemResult(item.id, ItemStatus.DRIFTED, {**item.expected, **found[item.kind]}))
            elif i == 1 and item.kind == "file":
                results.append(ItemResult(item.id, ItemStatus.UNKNOWN, {}, "could not read the file"))
            else:
                results.append(ItemResult(item.id, ItemStatus.OK, {}))
        db_baselines.record_drift(db, job, host.id or 0, results, "admin")
    return web[0].id or 0


def _outside_changes(db) -> int:  # type: ignore[no-untyped-def]
    """Package changes made by hand on an office host (seen in its package log), and a host whose
    log could not be read. Returns the first host's id."""
    from datetime import UTC, datetime, timedelta

    from app.domain.outside_changes import HistoryEntry, HistoryRead, HistoryStatus
    from db import hosts as db_hosts
    from db import outside_changes as db_outside

    hand, blind = [h for h in db_hosts.list_hosts(db) if h.group == "office"][:2]
    now = datetime.now(UTC)
    entries = (
        HistoryEntry(
            "dnf", "install", "htop", now - timedelta(days=3, hours=2), None, "3.3.0-1.el9", "x86_64"
        ),
        HistoryEntry(
            "dnf", "upgrade", "curl", now - timedelta(days=2), "7.76.1-29.el9", "7.76.1-31.el9", "x86_64"
        ),
        HistoryEntry("dnf", "remove", "nano", now - timedelta(hours=5), "5.6.1-5.el9", None, "x86_64"),
    )
    # a history is read from the previous scan on: as if that was four days ago (then put back)
    last = db.execute("SELECT last_scan_at FROM hosts WHERE id = ?", [hand.id]).fetchone()[0]
    db.execute(
        "UPDATE hosts SET last_scan_at = ? WHERE id = ?", [(now - timedelta(days=4)).isoformat(), hand.id]
    )
    db_outside.record_history(db, None, hand.id, HistoryRead("dnf", HistoryStatus.OK, entries))
    db.execute("UPDATE hosts SET last_scan_at = ? WHERE id = ?", [last, hand.id])
    db_outside.record_history(db, None, blind.id, HistoryRead.unknown("dnf", "dnf history could not be read"))
    return hand.id or 0


def _bundle(db, work: Path) -> None:  # type: ignore[no-untyped-def]
    """One verified offline bundle, applied to a host, for the Offline bundles window."""
    from db import bundles as db_bundles
    from db import hosts as db_hosts
    from tests.ui.test_bundles_view import make_bundle

    folder = work / "bundle"
    folder.mkdir()
    path, manifest = make_bundle(folder, db)
    db_bundles.record_bundle(db, manifest, str(path), verified=True)
    first = db_hosts.list_hosts(db)[0]
    db_bundles.record_applied(db, manifest.id, first.id or 0, "apt", 4, 72_000)


def _wait(settle, done, seconds: float = 20) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + seconds
    while not done() and time.monotonic() < end:
        settle(0.05)


def _plan(change):  # type: ignore[no-untyped-def]
    from app.domain.models import InstallPlan

    return InstallPlan(
        (
            change("apt", "perl-base", "5.36.0-7+deb12u1", "5.36.0-7+deb12u2"),
            change("apt", "libssl3", "3.0.15-1~deb12u1", "3.0.17-1~deb12u2"),
            change("apt", "linux-image-6.1.0-37-amd64", None, "6.1.140-1"),
            change("apt", "openssh-server", "1:9.2p1-2+deb12u5", "1:9.2p1-2+deb12u6"),
        ),
        reboot_expected=True,
    )


def main(argv: list[str]) -> int:
    if len(argv) == 4 and argv[1] == "--size":
        width, height = (int(v) for v in argv[2].split("x"))
        _shoot(Path(argv[3]), width, height)
        return 0
    out = Path(argv[1]) if len(argv) > 1 else ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    for width, height in SIZES:
        config = Path(tempfile.mkdtemp(prefix="pd-screen-")) / "screen.json"
        screen = {"name": "shot", "x": 0, "y": 0, "width": width, "height": height, "logicalDpi": 96}
        config.write_text(json.dumps({"screens": [screen]}), encoding="utf-8")
        env = dict(os.environ, QT_QPA_PLATFORM=f"offscreen:configfile={config}")
        subprocess.run(
            [sys.executable, __file__, "--size", f"{width}x{height}", str(out)], env=env, check=True, cwd=ROOT
        )
    print(f"screenshots in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
