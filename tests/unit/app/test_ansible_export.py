"""The Ansible export, checked by real Ansible (ansible-core and the collections from the `ansible`
package in the test extra): ansible-inventory reads the inventory, ansible-playbook --syntax-check
accepts every playbook; no secret is written; host text cannot reach Jinja."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from app.domain.maintenance_windows import MaintenanceWindow
from app.domain.models import Criticality, Host, HostKey, Ring, TransportKind, WinRMOptions
from app.services import ansible_export as ax

BIN = Path(sys.executable).parent
HOSTILE = "{{ lookup('pipe', 'id') }}"


@dataclass(frozen=True)
class Item:
    id: str
    kind: str
    target: str
    expected: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Baseline:
    name: str
    items: tuple[Item, ...]


LINUX = Baseline(
    "web servers",
    (
        Item(
            "f1",
            "file",
            "/etc/ssh/sshd_config",
            {"owner": "root", "mode": "0644", "lines": {"PermitRootLogin": "no"}},
        ),
        Item(
            "f2",
            "file",
            "/etc/motd",
            {"content": "Authorized use only {{ not a template }}\n", "mode": "0644"},
        ),
        Item("f3", "file", "/etc/issue", {"sha256": "a" * 64}),
        Item("f4", "file", "/etc/old.conf", {"state": "absent"}),
        Item("p1", "package", "pd-regular", {"version": "2.0-1"}),
        Item("p2", "package", "telnetd", {"state": "absent"}),
        Item("p3", "package", "openssh-server", {}),
        Item("s1", "service", "ssh", {"enabled": True, "running": True}),
        Item("k1", "sysctl", "net.ipv4.ip_forward", {"value": "0"}),
        Item("u1", "user", "admin", {}),
        Item("n1", "port", "tcp/22", {"listening": True}),
        Item("x1", "mystery", HOSTILE, {}),
    ),
)
WINDOWS = Baseline(
    "desktops",
    (
        Item("r1", "registry", r"HKLM:\SOFTWARE\Policies\Test\Enabled", {"data": 1, "type": "dword"}),
        Item("w1", "win_service", "Spooler", {"start_mode": "disabled", "state": "stopped"}),
        Item("g1", "local_group", "Administrators", {"members": ["Administrator"]}),
        Item("fw", "firewall", "Domain", {"enabled": True}),
        Item("pr", "program", "7-Zip", {"present": True}),
    ),
)


def _hosts() -> list[Host]:
    return [
        Host(
            "web1",
            "127.0.0.11",
            id=1,
            user="admin",
            key_file="/keys/id_ed25519",
            group="Web Servers",
            ring=Ring.TEST,
        ),
        Host(
            "db1",
            "127.0.0.12",
            id=2,
            port=2222,
            user="deploy",
            credential_ref="patchdesk:host:db1",
            sudo_ref="patchdesk:sudo:db1",
            ring=Ring.PRODUCTION,
            criticality=Criticality.MISSION_CRITICAL,
            services=("postgresql",),
            pre_command="systemctl stop app",
        ),
        Host(
            "win1",
            "127.0.0.13",
            id=3,
            transport=TransportKind.WINRM,
            user="Administrator",
            credential_ref="patchdesk:host:win1",
            winrm=WinRMOptions(auth="ntlm"),
            ring=Ring.PILOT,
            os_id="windows",
        ),
        Host("console", "127.0.0.1", id=4, transport=TransportKind.LOCAL, ring=Ring.TEST, tags=("lab",)),
    ]


WINDOW = MaintenanceWindow(
    "saturday-night",
    "FREQ=WEEKLY;BYDAY=SA;BYHOUR=22;BYMINUTE=0",
    timedelta(hours=4),
    "Europe/Berlin",
    datetime(2026, 1, 3, 22, 0),
    ("Web Servers",),
)


def _export(tmp_path: Path) -> Path:
    out = tmp_path / "ansible"
    export = ax.build_export(
        _hosts(),
        [WINDOW],
        {"web1": {"urgent": ["pd-secfix"], "important": [HOSTILE]}, "win1": {"important": ["KB5034441"]}},
        [LINUX, WINDOWS],
        {"web servers": ["web1", "db1", "nobody"], "desktops": ["win1"]},
    )
    ax.write_export(export, out)
    return out


def _ansible(tool: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = BIN / tool
    assert exe.exists(), f"{tool} is missing: install the test extra (pip install -e '.[test]')"
    env = {
        **os.environ,
        "HOME": str(cwd),
        "ANSIBLE_LOCAL_TEMP": str(cwd / "tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_DEPRECATION_WARNINGS": "0",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
    }
    return subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True, timeout=180, env=env)


def test_inventory_is_read_by_ansible_inventory(tmp_path: Path) -> None:
    out = _export(tmp_path)
    r = _ansible("ansible-inventory", "-i", str(out / "inventory.yml"), "--list", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    inv = json.loads(r.stdout)
    hv = inv["_meta"]["hostvars"]
    assert hv["web1"]["ansible_host"] == "127.0.0.11" and hv["web1"]["ansible_connection"] == "ssh"
    assert (
        hv["web1"]["ansible_ssh_private_key_file"] == "/keys/id_ed25519"
        and hv["web1"]["ansible_become"] is True
    )
    assert hv["db1"]["ansible_port"] == 2222 and hv["db1"]["ansible_user"] == "deploy"
    assert hv["db1"]["ansible_password"] == "{{ vault_patchdesk_db1_password }}"
    assert hv["db1"]["ansible_become_password"] == "{{ vault_patchdesk_db1_become_password }}"
    assert hv["db1"]["patchdesk_credential_ref"] == "patchdesk:host:db1"
    assert hv["win1"]["ansible_connection"] == "winrm" and hv["win1"]["ansible_port"] == 5986
    assert hv["win1"]["ansible_winrm_server_cert_validation"] == "validate"
    assert hv["console"]["ansible_connection"] == "local"
    assert inv["patchdesk_ring_test"]["hosts"] == ["console", "web1"]
    assert inv["patchdesk_ring_production"]["hosts"] == ["db1"]
    assert inv["patchdesk_criticality_mission_critical"]["hosts"] == ["db1"]
    assert inv["patchdesk_group_web_servers"]["hosts"] == ["web1"]
    assert inv["patchdesk_windows"]["hosts"] == ["win1"]
    assert inv["patchdesk_baseline_web_servers"]["hosts"] == ["db1", "web1"]  # unknown names left out
    assert hv["web1"]["patchdesk_pending"]["urgent"] == ["pd-secfix"]
    text = (out / "inventory.yml").read_text()
    assert "!unsafe" in text and "pd-sudo-pass" not in text


def test_playbooks_pass_the_syntax_check(tmp_path: Path) -> None:
    out = _export(tmp_path)
    assert sorted(p.name for p in out.iterdir()) == [
        "baselines.yml",
        "inventory.yml",
        "known_hosts",
        "patch.yml",
        "requirements.yml",
    ]
    for book in ("patch.yml", "baselines.yml"):
        r = _ansible(
            "ansible-playbook",
            "-i",
            str(out / "inventory.yml"),
            "--syntax-check",
            str(out / book),
            cwd=tmp_path,
        )
        assert r.returncode == 0, (book, r.stdout, r.stderr)
    patch = (out / "patch.yml").read_text()
    assert "saturday-night: RRULE FREQ=WEEKLY;BYDAY=SA;BYHOUR=22;BYMINUTE=0, 240 min, Europe/Berlin" in patch
    r = _ansible(
        "ansible-playbook",
        "-i",
        str(out / "inventory.yml"),
        "--list-hosts",
        str(out / "patch.yml"),
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert "serial" in patch and "Patch the test ring (linux)" in r.stdout


def test_hostile_text_stays_text_for_ansible(tmp_path: Path) -> None:
    """A package name that is a Jinja expression must come back as that text, never run."""
    out = _export(tmp_path)
    r = _ansible("ansible-inventory", "-i", str(out / "inventory.yml"), "--host", "web1", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert HOSTILE in r.stdout and "uid=" not in r.stdout


def test_baseline_items_become_idempotent_tasks() -> None:
    tasks = ax.baseline_tasks(LINUX)
    modules = [next(k for k in t if "." in k) for t in tasks]
    assert "ansible.builtin.lineinfile" in modules and "ansible.builtin.copy" in modules
    assert "ansible.posix.sysctl" in modules and "ansible.builtin.service" in modules
    assert modules.count("ansible.builtin.debug") == 1  # the unknown kind says so
    svc = next(t for t in tasks if "ansible.builtin.service" in t)["ansible.builtin.service"]
    assert svc == {"name": "ssh", "enabled": True, "state": "started"}
    win = [next(k for k in t if "." in k) for t in ax.baseline_tasks(WINDOWS)]
    assert win[:2] == ["ansible.windows.win_regedit", "ansible.windows.win_service"]
    plays = ax.build_baseline_playbook([LINUX, WINDOWS])
    assert [p["gather_facts"] for p in plays] == [True, False]


def test_no_baselines_no_baseline_playbook(tmp_path: Path) -> None:
    export = ax.build_export(_hosts(), [], None)
    assert "baselines.yml" not in export.files


@pytest.mark.parametrize("name", ["Web Servers", "9lives", "ünïcode", ""])
def test_group_names_are_identifiers(name: str) -> None:
    out = ax.ident(name)
    assert out.replace("_", "a").isalnum() and out.isascii() and not out[0].isdigit()


def test_known_hosts_carry_the_keys_patchdesk_trusts() -> None:
    key = "AAAAC3NzaC1lZDI1NTE5AAAAIGq0Yv0bVZ1m0d3xS0sQn6hT1yC3i0p9Y2Q0Q2l1b3dd"
    keys = {
        1: [HostKey(1, "ssh-ed25519", key, "SHA256:x")],
        2: [HostKey(2, "ssh-ed25519", key, "SHA256:x"), HostKey(2, "ssh-rsa", "bad key\nevil", "SHA256:y")],
        3: [HostKey(3, "ssh-ed25519", key, "SHA256:x")],  # a WinRM host has no SSH key to trust
    }
    text = ax.known_hosts(_hosts(), keys)
    assert text == f"127.0.0.11 ssh-ed25519 {key}\n[127.0.0.12]:2222 ssh-ed25519 {key}\n"
    inv = ax.build_inventory(_hosts())
    assert (
        "UserKnownHostsFile={{ inventory_dir }}/known_hosts" in inv["all"]["vars"]["ansible_ssh_common_args"]
    )
