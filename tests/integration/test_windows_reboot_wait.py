"""The reboot after a patch on a (scripted) Windows host, through the CLI (issue 18, item 3): the wait
for the host to come back must not end before the restart the console ordered has happened."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.platforms.windows.scripts import script_ops
from tests.integration.test_credentials import keyring_env  # noqa: F401  (fixture)
from tests.integration.test_windows_cli import PASSWORD, add_host, js, run
from tests.support.wsman_server import FakeWindows, Reply, ScriptCall, WSManServer, fake_windows

pytestmark = [
    pytest.mark.hosts,
    pytest.mark.filterwarnings(
        r"ignore:Exception ignored in. <socket\.socket .*/keyring/run/bus>:pytest.PytestUnraisableExceptionWarning"  # noqa: E501
    ),
]


@pytest.fixture
def win(tmp_path: Path) -> Iterator[tuple[WSManServer, FakeWindows]]:
    with fake_windows(tmp_path, PASSWORD, task_step=0.1) as (server, fake):
        yield server, fake


def test_reboot_wait_can_end_before_the_restart_happened(
    win: tuple[WSManServer, FakeWindows],
    tmp_path: Path,
    keyring_env: dict[str, str],  # noqa: F811
) -> None:
    """The host restarts by itself during the install (so its boot time is newer than the one taken
    before the install), then takes the console's restart order and keeps answering for a few seconds
    (shutdown /r /t 5). Nothing after the order may run on the host that is about to go down."""
    server, fake = win
    db = tmp_path / "pd.sqlite3"
    add_host(db, keyring_env, server)
    assert js(run(db, keyring_env, "scan", "win01", "--json"))["hosts"][0]["status"] == "ok"

    seen: list[tuple[str, str, int]] = []  # (script, boot time it ran at, restarts ordered so far)

    def note(call: ScriptCall) -> bool:
        ops = script_ops(call.script)
        with fake.lock:
            seen.append((ops[0] if ops else "", fake.boot_time, fake.restarts_ordered))
        return False  # only watching: FakeWindows answers as usual

    fake.on(note, Reply())
    fake.reboot_during_install = True
    fake.reboot_seconds = 1.0
    fake.restart_delay = 5.0
    r = run(
        db,
        keyring_env,
        "patch",
        "win01",
        "--packages",
        "KB5034129",
        "--reboot",
        "always",
        "--reboot-timeout",
        "90",
        "--json",
    )
    entry = js(r)["hosts"][0]
    assert r.returncode == 0, (r.stderr, entry)
    assert entry["rebooted"] is True
    # the restart during the install, then the one the console ordered -- before the job went on
    assert fake.reboots == 2 and fake.restarts_ordered == 1
    final_boot = fake.boot_time
    after_order = [(op, boot) for op, boot, ordered in seen if ordered]
    # while waiting, the health probe may still see the old boot; everything else (reconnect, facts,
    # rescan, snapshot, reboot flags) runs on the restarted host
    early = [(op, boot) for op, boot in after_order if op != "windows-health" and boot != final_boot]
    assert early == [], early
    assert after_order[-1] == ("windows-health", final_boot)  # verification's health probe
    assert entry["verification"]["verdict"] == "green", entry["verification"]
