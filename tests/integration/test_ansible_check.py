"""The exported Ansible inventory and patch playbook, run in --check mode against a real test host over
SSH: the connection settings Patchdesk exports (address, user, key, become, and the host key its scan
trusted, in the exported known_hosts: no host key checking is turned off) reach the host, and the
playbook's own logic (the last scan's classifications, the reboot check) runs there without changing it.

The install task itself is skipped (``--skip-tags install``): apt's module needs python3-apt for check
mode, which the minimal test hosts do not carry (a real run installs it itself)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_patch_cli import scanned
from tests.integration.test_scan_cli import cli

pytestmark = pytest.mark.hosts

BIN = Path(sys.executable).parent


def _playbook(out: Path, book: str, home: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """ansible-playbook --check -v on the export, with no Ansible state outside ``home``."""
    env = {**os.environ, "HOME": str(home), "ANSIBLE_LOCAL_TEMP": str(home / "tmp"), "ANSIBLE_NOCOLOR": "1"}
    return subprocess.run(
        [
            str(BIN / "ansible-playbook"),
            "-i",
            str(out / "inventory.yml"),
            "--check",
            "-v",
            *extra,
            str(out / book),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=home,
    )


def test_patch_playbook_check_mode_on_a_real_host(hosts, host_pool, db_path: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    h = hosts[0]
    scanned(db_path, [h], host_pool.client_key)
    cli(db_path, "hosts", "edit", h.name, "--ring", "test")
    out = tmp_path / "ansible"
    r = cli(db_path, "export", "ansible", "-o", str(out))
    assert r.returncode == 0, r.stderr
    r = _playbook(out, "patch.yml", tmp_path, "--skip-tags", "install")
    assert (out / "known_hosts").read_text().startswith(f"{h.address} ")
    assert r.returncode == 0, (r.stdout[-1500:], r.stderr[-2000:])
    # what the last scan classified urgent or important is what the playbook would install
    assert '"patchdesk_install": ["pd-reboot", "pd-secfix"]' in r.stdout
    assert f"{h.name}" in r.stdout and "failed=0" in r.stdout and "unreachable=0" in r.stdout
    assert h.installed_version("pd-secfix") == "1.0-1"  # --check changed nothing


@dataclass(frozen=True)
class _Item:
    id: str
    kind: str
    target: str
    expected: dict[str, Any]


@dataclass(frozen=True)
class _Baseline:
    name: str
    items: tuple[_Item, ...]


def test_baseline_check_mode_reports_exactly_the_drifted_item(
    hosts, host_pool, db_path: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """A baseline captured from the hosts as they are (an sshd option, the file's owner and mode, a
    user), one host drifted by hand: --check changes nothing and names that item on that host only."""
    from app.services import ansible_export as ax
    from db import hosts as db_hosts
    from db.database import open_database

    clean, drifted = hosts[0], hosts[1]
    scanned(db_path, [clean, drifted], host_pool.client_key)  # Patchdesk trusts their host keys now
    option = next(
        line.split(None, 1)
        for line in clean.run("cat /etc/ssh/sshd_config").stdout.splitlines()
        if line.strip() and not line.lstrip().startswith("#") and len(line.split(None, 1)) == 2
    )
    mode = clean.run("stat -c %a /etc/ssh/sshd_config").stdout.strip()
    baseline = _Baseline(
        "ssh",
        (
            _Item("sshd-option", "file", "/etc/ssh/sshd_config", {"lines": {option[0]: option[1]}}),
            _Item("sshd-meta", "file", "/etc/ssh/sshd_config", {"owner": "root", "mode": mode.zfill(4)}),
            _Item("admin-user", "user", "admin", {}),
        ),
    )
    r = drifted.run(f"sed -i 's/^{option[0]} .*/{option[0]} drifted-by-hand/' /etc/ssh/sshd_config")
    assert r.returncode == 0, r.stderr
    before = drifted.run("sha256sum /etc/ssh/sshd_config").stdout

    db = open_database(db_path)
    try:
        hs = db_hosts.list_hosts(db)
        keys = db_hosts.host_keys_for(db, [h.id for h in hs if h.id is not None])
        export = ax.build_export(hs, [], None, [baseline], {"ssh": [h.name for h in hs]}, keys)
    finally:
        db.conn.close()
    out = tmp_path / "ansible"
    ax.write_export(export, out)
    r = _playbook(out, "baselines.yml", tmp_path)
    assert r.returncode == 0, (r.stdout[-3000:], r.stderr[-2000:])
    changed = re.findall(r"^changed: \[(\S+)\]", r.stdout, re.M)
    assert changed == [drifted.name], r.stdout[-3000:]
    assert "[sshd-option] file /etc/ssh/sshd_config" in r.stdout
    assert drifted.run("sha256sum /etc/ssh/sshd_config").stdout == before  # --check wrote nothing
