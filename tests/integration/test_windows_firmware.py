"""#24 on a Windows host (FakeWindows behind the real WS-Management protocol and pywinrm): the hardware
inventory from CIM in ``hosts list --json``, and a driver update, named and with its device, is left
out of a patch until it is approved for the host's ring."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_credentials import keyring_env  # noqa: F401  (fixture)
from tests.integration.test_windows_cli import PASSWORD, add_host, js, run
from tests.support.wsman_server import FakeWindows, WSManServer, fake_windows

pytestmark = [
    pytest.mark.hosts,
    pytest.mark.filterwarnings(
        r"ignore:Exception ignored in. <socket\.socket .*/keyring/run/bus>:pytest.PytestUnraisableExceptionWarning"  # noqa: E501
    ),
]

DRIVER_ID = "5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c09"


@pytest.fixture
def win(tmp_path: Path) -> Iterator[tuple[WSManServer, FakeWindows]]:
    with fake_windows(tmp_path, PASSWORD, task_step=0.1) as (server, fake):
        yield server, fake


def test_windows_hardware_and_the_driver_gate(
    win: tuple[WSManServer, FakeWindows],
    tmp_path: Path,
    keyring_env: dict[str, str],  # noqa: F811
) -> None:
    server, fake = win
    db = tmp_path / "pd.sqlite3"
    add_host(db, keyring_env, server, "--ring", "test")
    entry = js(run(db, keyring_env, "scan", "win01", "--json"))["hosts"][0]
    assert entry["status"] == "ok", entry
    driver = next(p for p in entry["pending"] if p["name"] == DRIVER_ID)
    assert driver["kind"] == "driver"
    assert driver["source"] == "device: Intel Corporation Intel(R) Ethernet Connection I219-LM (Net)"

    (host,) = js(run(db, keyring_env, "hosts", "list", "--json"))["hosts"]
    hw = host["hardware"]
    assert (hw["manufacturer"], hw["model"], hw["serial"]) == ("Dell Inc.", "PowerEdge R650", "7XK2QK3")
    assert hw["cpu_count"] == 32 and hw["disks"][0]["model"] == "DELL PERC H755 SCSI Disk Device"

    # named, but not approved: nothing to do for the driver
    plan = js(run(db, keyring_env, "patch", "win01", "--packages", DRIVER_ID, "--dry-run", "--json"))
    assert plan["hosts"][0]["plan"] == [], plan
    r = run(db, keyring_env, "approve", DRIVER_ID, "--ring", "test", "--json")
    assert r.returncode == 0, r.stderr
    plan = js(run(db, keyring_env, "patch", "win01", "--packages", DRIVER_ID, "--dry-run", "--json"))
    assert [c["name"] for c in plan["hosts"][0]["plan"]] == [DRIVER_ID], plan
    assert any(u["UpdateID"] == DRIVER_ID for u in fake.pending)  # a plan installs nothing
