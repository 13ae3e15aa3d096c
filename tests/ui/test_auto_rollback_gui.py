"""A patch started from the GUI on a host whose policy is on-red rolls the host back by itself when
its custom check turns the verification red; the console audits it and shows the alert (issue #20
item 3, on a real Debian test host through the console's job worker)."""

from __future__ import annotations

import io

import pytest

from app.cli.main import parse, run
from app.domain.models import RebootPolicy
from app.jobs.selection import selections_for
from app.services import alerts as app_alerts
from app.services import audit
from db import hosts as db_hosts
from tests.ui.helpers import add_hosts
from ui.dialogs.patch_dialog import PatchRequest

pytestmark = pytest.mark.hosts

CHECK = "dpkg-query -W -f='${Version}' pd-regular | grep -qx 2.0-1"


def _cli(db_path, *argv: str) -> None:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    assert run(parse(["--db", str(db_path), *argv]), out) == 0, out.getvalue()


def test_gui_patch_rolls_back_on_red_audits_and_alerts(qtbot, window, db, db_path, hosts, host_pool) -> None:  # type: ignore[no-untyped-def]
    w = window
    [host] = add_hosts(db, hosts[:1], host_pool.client_key)
    _cli(db_path, "scan", host.name)
    _cli(db_path, "hosts", "edit", host.name, "--check-command", CHECK, "--auto-rollback", "on-red")
    fresh = db_hosts.get_host(db, host.id)
    selections = selections_for(db, [fresh], packages={"pd-regular"})
    request = PatchRequest((fresh,), selections, RebootPolicy.NEVER, True, 1)
    handle = w.job_control.start_patch(request)
    assert handle is not None
    qtbot.waitUntil(lambda: handle.done.is_set() and not w.job_panel.is_running(), timeout=180_000)
    qtbot.waitUntil(lambda: any(e.action == "rollback.automatic" for e in audit.entries(db)), timeout=10_000)

    outcome = handle.outcomes[host.id]
    assert outcome.result.auto_rollback.result == "rolled back automatically"
    assert "rolled back automatically" in (outcome.error or "")
    assert hosts[0].installed_version("pd-regular") == "2.0-1"
    kinds = [a.kind for a in w.tray_control.alerts_shown]
    assert app_alerts.AlertKind.AUTO_ROLLBACK in kinds and app_alerts.AlertKind.VERIFICATION_RED in kinds
    [entry] = [e for e in audit.entries(db) if e.action == "rollback.automatic"]
    assert entry.target == host.name and entry.details["job"] == handle.job_id
    assert any("custom health check failed" in r for r in entry.details["reason"])
