"""The exported Ansible inventory and patch playbook, run in --check mode against a real test host over
SSH: the connection settings Patchdesk exports (address, user, key, become, and the host key its scan
trusted, in the exported known_hosts: no host key checking is turned off) reach the host, and the
playbook's own logic (the last scan's classifications, the reboot check) runs there without changing it.

The install task itself is skipped (``--skip-tags install``): apt's module needs python3-apt for check
mode, which the minimal test hosts do not carry (a real run installs it itself)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.test_patch_cli import scanned
from tests.integration.test_scan_cli import cli

pytestmark = pytest.mark.hosts

BIN = Path(sys.executable).parent


def test_patch_playbook_check_mode_on_a_real_host(hosts, host_pool, db_path: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    h = hosts[0]
    scanned(db_path, [h], host_pool.client_key)
    cli(db_path, "hosts", "edit", h.name, "--ring", "test")
    out = tmp_path / "ansible"
    r = cli(db_path, "export", "ansible", "-o", str(out))
    assert r.returncode == 0, r.stderr
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp"),
        "ANSIBLE_NOCOLOR": "1",
    }
    r = subprocess.run(
        [
            str(BIN / "ansible-playbook"),
            "-i",
            str(out / "inventory.yml"),
            "--check",
            "--skip-tags",
            "install",
            "-v",
            str(out / "patch.yml"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
    )
    assert (out / "known_hosts").read_text().startswith(f"{h.address} ")
    assert r.returncode == 0, (r.stdout[-1500:], r.stderr[-2000:])
    # what the last scan classified urgent or important is what the playbook would install
    assert '"patchdesk_install": ["pd-reboot", "pd-secfix"]' in r.stdout
    assert f"{h.name}" in r.stdout and "failed=0" in r.stdout and "unreachable=0" in r.stdout
    assert h.installed_version("pd-secfix") == "1.0-1"  # --check changed nothing
