"""Export to Ansible: an inventory and playbooks for a shop that outgrows one workstation.

``patchdesk export ansible -o DIR`` writes

- ``inventory.yml``: every host with its connection settings as host variables (``ansible_host``,
  ``ansible_port``, ``ansible_user``, ``ansible_connection`` ssh/winrm/local, ``ansible_become``), and
  groups for Patchdesk's groups, rings, criticality and family. No secret is written: a password is a
  vault placeholder (``{{ vault_patchdesk_<host>_password }}``) and the keyring reference is kept as
  ``patchdesk_credential_ref`` so the administrator knows where to fetch it from.
- ``patch.yml``: one play per ring and family (test, then pilot, then production), ``serial`` per ring,
  installing what the last scan classified as the chosen classifications (``patchdesk_classes``);
  the maintenance windows are written as documentation (comments and ``patchdesk_windows``), since
  AWX schedules, not the playbook, decide when it runs.
- ``baselines.yml`` (when baselines exist): each baseline as idempotent tasks (copy/lineinfile, package,
  service, sysctl, win_regedit, win_service), so ``--check`` reports what drifted.
- ``requirements.yml``: the collections the tasks use beyond ansible-core.
- ``known_hosts``: the SSH host keys Patchdesk trusts, which the inventory points Ansible's SSH at, so
  the trust established here carries over (no ``host_key_checking = False`` needed).

Everything is built by pure functions over values (``build_*``); only :func:`write_export` writes files.
Text that came from a host or the inventory is tagged ``!unsafe`` wherever it could reach Jinja, so a
package or host name such as ``{{ lookup('pipe', ...) }}`` stays text on the Ansible controller.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from app.domain.maintenance_windows import MaintenanceWindow
from app.domain.models import Classification, Host, HostKey, Ring, TransportKind

#: Rings in rollout order, and how many hosts of each Ansible patches at a time.
RING_ORDER: tuple[Ring, ...] = (Ring.TEST, Ring.PILOT, Ring.PRODUCTION)
RING_SERIAL: dict[Ring, str] = {Ring.TEST: "100%", Ring.PILOT: "25%", Ring.PRODUCTION: "10%"}

#: What ``patch.yml`` installs unless told otherwise (``-e patchdesk_classes=[...]``).
DEFAULT_CLASSES: tuple[str, ...] = (Classification.URGENT.value, Classification.IMPORTANT.value)

#: Collections the generated tasks use beyond ansible-core.
COLLECTIONS: tuple[str, ...] = ("ansible.posix", "ansible.windows", "community.windows")

_IDENT_RE = re.compile(r"[^A-Za-z0-9_]")


# -- the baseline protocol (app/domain/baseline.py once it lands: Baseline(name, items)) --------------


class BaselineItemLike(Protocol):
    """One check of a baseline: ``kind`` (file, package, service, sysctl, user, group, port, registry,
    win_service, local_group, firewall, program), ``target`` (path, package, unit, key…) and ``expected``."""

    @property
    def id(self) -> str | int: ...
    @property
    def kind(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def expected(self) -> Mapping[str, Any]: ...


class BaselineLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def items(self) -> Sequence[BaselineItemLike]: ...


# -- YAML that keeps host text inert ---------------------------------------------------------------


class Unsafe(str):
    """Text Ansible must never template (written with the ``!unsafe`` tag)."""

    __slots__ = ()


class _Dumper(yaml.SafeDumper):  # type: ignore[misc]  # PyYAML ships no type hints
    def ignore_aliases(self, data: object) -> bool:
        return True  # every play spelled out: no &id001 anchors for a reader to chase


def _unsafe_representer(dumper: yaml.SafeDumper, data: Unsafe) -> yaml.ScalarNode:
    return dumper.represent_scalar("!unsafe", str(data))


_Dumper.add_representer(Unsafe, _unsafe_representer)


def _text(value: object) -> str:
    """A string from the inventory or a host: tagged when Jinja could read anything into it."""
    s = str(value)
    return Unsafe(s) if any(c in s for c in "{}%#") else s


def dump(data: object, header: str = "") -> str:
    body = str(yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100))
    comments = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    return comments + body


def ident(name: str) -> str:
    """A valid Ansible group or variable name for ``name`` (letters, digits, underscores)."""
    out = _IDENT_RE.sub("_", name.strip()).lower() or "_"
    return out if not out[0].isdigit() else "_" + out


# -- inventory -------------------------------------------------------------------------------------


def host_vars(host: Host) -> dict[str, Any]:
    """Connection settings and Patchdesk's facts of one host; secrets only as vault placeholders."""
    v: dict[str, Any] = {"ansible_host": _text(host.address)}
    if host.port:
        v["ansible_port"] = host.port
    if host.user:
        v["ansible_user"] = _text(host.user)
    secret = f"vault_patchdesk_{ident(host.name)}"
    if host.transport == TransportKind.WINRM:
        w = host.winrm
        v["ansible_connection"] = "winrm"
        v["ansible_winrm_transport"] = w.auth
        v["ansible_winrm_scheme"] = w.scheme
        v.setdefault("ansible_port", 5986 if w.scheme == "https" else 5985)
        v["ansible_winrm_server_cert_validation"] = "validate" if w.cert_validation else "ignore"
        if w.ca_trust_path:
            v["ansible_winrm_ca_trust_path"] = _text(w.ca_trust_path)
        v["ansible_password"] = "{{ " + secret + "_password }}"
    elif host.transport == TransportKind.LOCAL:
        v["ansible_connection"] = "local"
    else:
        v["ansible_connection"] = "ssh"
        if host.key_file:
            v["ansible_ssh_private_key_file"] = _text(host.key_file)
        if host.credential_ref:
            v["ansible_password"] = "{{ " + secret + "_password }}"
        v["ansible_become"] = bool(host.use_sudo)
        if host.use_sudo and host.sudo_ref:
            v["ansible_become_password"] = "{{ " + secret + "_become_password }}"
    if host.credential_ref:
        v["patchdesk_credential_ref"] = _text(host.credential_ref)
    v["patchdesk_ring"] = str(host.ring)
    v["patchdesk_criticality"] = str(host.criticality)
    if host.group:
        v["patchdesk_group"] = _text(host.group)
    v["patchdesk_reboot"] = str(host.reboot_policy)
    if host.services:
        v["patchdesk_services"] = [_text(s) for s in host.services]
    if host.pre_command:
        v["patchdesk_pre_command"] = _text(host.pre_command)
    if host.post_command:
        v["patchdesk_post_command"] = _text(host.post_command)
    return v


def family(host: Host) -> str:
    """ "windows" or "linux", as the playbooks' plays are split."""
    if host.transport == TransportKind.WINRM or (host.os_id or "") == "windows":
        return "windows"
    return "linux"


def build_inventory(
    hosts: Sequence[Host],
    pending: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
    baseline_hosts: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """The inventory as a YAML-ready mapping.

    ``pending`` maps a host name to its last scan's pending package names by classification (what
    ``patch.yml`` installs); ``baseline_hosts`` maps a baseline name to the hosts it is assigned to.
    """
    pending = pending or {}
    all_hosts: dict[str, Any] = {}
    groups: dict[str, set[str]] = {}
    for h in hosts:
        v = host_vars(h)
        found = pending.get(h.name)
        if found:
            v["patchdesk_pending"] = {
                str(c): [_text(n) for n in found.get(str(c), ())] for c in Classification
            }
        all_hosts[h.name] = v  # Ansible does not template inventory host names
        memberships = [
            f"patchdesk_ring_{ident(str(h.ring))}",
            f"patchdesk_criticality_{ident(str(h.criticality))}",
            f"patchdesk_{family(h)}",
        ]
        if h.group:
            memberships.append(f"patchdesk_group_{ident(h.group)}")
        memberships += [f"patchdesk_tag_{ident(t)}" for t in h.tags]
        for g in memberships:
            groups.setdefault(g, set()).add(h.name)
    known = {h.name for h in hosts}
    for name, members in (baseline_hosts or {}).items():
        groups.setdefault(baseline_group(name), set()).update(m for m in members if m in known)
    for ring in RING_ORDER:
        groups.setdefault(f"patchdesk_ring_{ident(str(ring))}", set())
    children = {
        g: {"hosts": dict.fromkeys(sorted(members))} if members else {}
        for g, members in sorted(groups.items())
    }
    group_vars = {"ansible_ssh_common_args": KNOWN_HOSTS_ARGS}
    return {"all": {"vars": group_vars, "hosts": all_hosts, "children": children}}


_KEY_RE = re.compile(r"[A-Za-z0-9+/=]{16,16384}")
_KEYTYPE_RE = re.compile(r"[a-z0-9@.-]{3,64}")
_HOSTNAME_RE = re.compile(r"[A-Za-z0-9._:-]{1,253}")

#: Points Ansible's SSH at the exported known_hosts (next to the inventory) and nothing else.
KNOWN_HOSTS_ARGS = "-o UserKnownHostsFile={{ inventory_dir }}/known_hosts -o StrictHostKeyChecking=yes"


def known_hosts(hosts: Sequence[Host], keys: Mapping[int, Sequence[HostKey]]) -> str:
    """OpenSSH known_hosts lines for the SSH hosts' trusted keys (``[address]:port`` off port 22).
    A key or address that is not plainly one is left out rather than written into the file."""
    lines = []
    for h in hosts:
        if h.transport != TransportKind.SSH or h.id is None or not _HOSTNAME_RE.fullmatch(h.address):
            continue
        where = h.address if h.port in (None, 22) else f"[{h.address}]:{h.port}"
        for k in keys.get(h.id, ()):
            if _KEYTYPE_RE.fullmatch(k.keytype) and _KEY_RE.fullmatch(k.key_b64):
                lines.append(f"{where} {k.keytype} {k.key_b64}")
    return "".join(line + "\n" for line in lines)


def baseline_group(name: str) -> str:
    return f"patchdesk_baseline_{ident(name)}"


# -- patch playbook --------------------------------------------------------------------------------


def _windows_doc(windows: Sequence[MaintenanceWindow]) -> tuple[str, list[dict[str, Any]]]:
    lines, data = [], []
    for w in windows:
        minutes = int(w.duration.total_seconds() // 60)
        scope = ", ".join(w.groups) or "every group"
        state = "" if w.enabled else " (disabled)"
        lines.append(f"  {w.name}{state}: RRULE {w.rrule}, {minutes} min, {w.tz}, for {scope}")
        data.append(
            {
                "name": _text(w.name),
                "rrule": _text(w.rrule),
                "duration_minutes": minutes,
                "tz": _text(w.tz),
                "groups": [_text(g) for g in w.groups],
                "enabled": w.enabled,
            }
        )
    return "\n".join(lines), data


def _linux_patch_tasks() -> list[dict[str, Any]]:
    wanted = (
        "{{ patchdesk_classes | map('extract', patchdesk_pending | default({})) | select('defined')"
        " | flatten | unique }}"
    )
    return [
        {
            "name": "What the last Patchdesk scan classified as chosen",
            "ansible.builtin.set_fact": {"patchdesk_install": wanted},
        },
        {
            "name": "Run the host's pre-patch command",
            "ansible.builtin.shell": "{{ patchdesk_pre_command }}",
            "when": "patchdesk_pre_command is defined and patchdesk_install | length > 0",
            "changed_when": True,
        },
        {
            "name": "Install the chosen updates",
            "ansible.builtin.package": {"name": "{{ patchdesk_install }}", "state": "latest"},
            "when": "patchdesk_install | length > 0",
            "tags": ["install"],
        },
        {
            "name": "Is a reboot required?",
            "ansible.builtin.stat": {"path": "/run/reboot-required"},
            "register": "patchdesk_reboot_flag",
        },
        {
            "name": "Reboot per the host's policy",
            "ansible.builtin.reboot": {"reboot_timeout": 900},
            "tags": ["reboot"],
            "when": "patchdesk_reboot == 'always' or "
            "(patchdesk_reboot == 'if-needed' and patchdesk_reboot_flag.stat.exists)",
        },
        {
            "name": "Run the host's post-patch command",
            "ansible.builtin.shell": "{{ patchdesk_post_command }}",
            "when": "patchdesk_post_command is defined and patchdesk_install | length > 0",
            "changed_when": True,
        },
        {
            "name": "Services that must be running",
            "ansible.builtin.service_facts": {},
            "when": "patchdesk_services is defined",
        },
        {
            "name": "Verify the host's services are running",
            "ansible.builtin.assert": {
                "that": [
                    "(ansible_facts.services[item] | default(ansible_facts.services[item ~ '.service']"
                    " | default({}))).state | default('') == 'running'"
                ],
                "fail_msg": "{{ item }} is not running on {{ inventory_hostname }}",
            },
            "loop": "{{ patchdesk_services | default([]) }}",
        },
    ]


def _windows_patch_tasks() -> list[dict[str, Any]]:
    wanted = (
        "{{ patchdesk_classes | map('extract', patchdesk_pending | default({})) | select('defined')"
        " | flatten | unique }}"
    )
    return [
        {
            "name": "What the last Patchdesk scan classified as chosen",
            "ansible.builtin.set_fact": {"patchdesk_install": wanted},
        },
        {
            "name": "Install the chosen updates (Windows Update, by KB or title)",
            "ansible.windows.win_updates": {
                "accept_list": "{{ patchdesk_install }}",
                "reboot": "{{ patchdesk_reboot != 'never' }}",
            },
            "when": "patchdesk_install | length > 0",
        },
    ]


def build_patch_playbook(windows: Sequence[MaintenanceWindow]) -> tuple[str, list[dict[str, Any]]]:
    """The patch playbook: (header comment, plays). One play per ring and family, rings in rollout order;
    ``serial`` per ring; any play failing stops the rollout (``any_errors_fatal`` within a ring)."""
    doc, window_data = _windows_doc(windows)
    header = (
        "Patchdesk patch playbook: rings in order (test, pilot, production), serial per ring.\n"
        f"Installs what the last Patchdesk scan classified as patchdesk_classes (default "
        f"{', '.join(DEFAULT_CLASSES)}): ansible-playbook -i inventory.yml patch.yml "
        '-e \'{"patchdesk_classes": ["urgent"]}\'\n'
        "Maintenance windows (documentation: schedule the runs in AWX or cron accordingly):\n"
        + (doc or "  none defined in Patchdesk")
    )
    plays: list[dict[str, Any]] = []
    for ring in RING_ORDER:
        for fam, tasks in (("linux", _linux_patch_tasks()), ("windows", _windows_patch_tasks())):
            plays.append(
                {
                    "name": f"Patch the {ring} ring ({fam})",
                    "hosts": f"patchdesk_ring_{ident(str(ring))}:&patchdesk_{fam}",
                    "serial": RING_SERIAL[ring],
                    "gather_facts": fam == "linux",
                    "vars": {
                        "patchdesk_classes": list(DEFAULT_CLASSES),
                        "patchdesk_windows": window_data,
                    },
                    "tasks": tasks,
                }
            )
    return header, plays


# -- baselines as tasks ----------------------------------------------------------------------------


def _exp(item: BaselineItemLike) -> Mapping[str, Any]:
    e = item.expected
    return e if isinstance(e, Mapping) else {}


def _absent(e: Mapping[str, Any]) -> bool:
    return e.get("state") == "absent" or e.get("present") is False or e.get("exists") is False


def _label(item: BaselineItemLike) -> str:
    return f"[{item.id}] {item.kind} {item.target}"


def _file_tasks(item: BaselineItemLike) -> list[dict[str, Any]]:
    e, path = _exp(item), _text(item.target)
    if _absent(e):
        return [{"ansible.builtin.file": {"path": path, "state": "absent"}}]
    meta = {k: _text(e[k]) for k in ("owner", "group", "mode") if e.get(k) not in (None, "")}
    tasks: list[dict[str, Any]] = []
    if "content" in e:
        tasks.append({"ansible.builtin.copy": {"dest": path, "content": _text(e["content"]), **meta}})
    else:
        lines = e.get("lines") or e.get("values") or {}
        for key, value in lines.items() if isinstance(lines, Mapping) else ():
            tasks.append(
                {
                    "ansible.builtin.lineinfile": {
                        "path": path,
                        "regexp": _text(rf"^\s*{re.escape(str(key))}(\s|=)"),
                        "line": _text(f"{key} {value}"),
                    }
                }
            )
        if meta or not tasks:
            tasks.append({"ansible.builtin.file": {"path": path, "state": "file", **meta}})
        if e.get("sha256"):
            tasks += [
                {
                    "ansible.builtin.stat": {"path": path, "checksum_algorithm": "sha256"},
                    "register": "patchdesk_stat",
                },
                {
                    "ansible.builtin.assert": {
                        "that": [f"patchdesk_stat.stat.checksum | default('') == '{_hex(e['sha256'])}'"],
                        "fail_msg": "content differs from the baseline (Patchdesk can restore it)",
                    }
                },
            ]
    return tasks


def _hex(value: object) -> str:
    s = str(value).lower()
    return s if re.fullmatch(r"[0-9a-f]{64}", s) else "not-a-sha256"


def _package_tasks(item: BaselineItemLike) -> list[dict[str, Any]]:
    e, name = _exp(item), _text(item.target)
    if _absent(e):
        return [{"ansible.builtin.package": {"name": name, "state": "absent"}}]
    version = e.get("version")
    if version:
        return [
            {
                "ansible.builtin.apt": {"name": _text(f"{item.target}={version}"), "state": "present"},
                "when": "ansible_facts.pkg_mgr == 'apt'",
            },
            {
                "ansible.builtin.dnf": {"name": _text(f"{item.target}-{version}"), "state": "present"},
                "when": "ansible_facts.pkg_mgr in ['dnf', 'dnf5', 'yum']",
            },
            {
                "community.general.zypper": {"name": _text(f"{item.target}={version}"), "state": "present"},
                "when": "ansible_facts.pkg_mgr == 'zypper'",
            },
        ]
    return [{"ansible.builtin.package": {"name": name, "state": "present"}}]


def _service_tasks(item: BaselineItemLike) -> list[dict[str, Any]]:
    e = _exp(item)
    args: dict[str, Any] = {"name": _text(item.target)}
    if "enabled" in e:
        args["enabled"] = bool(e["enabled"])
    running = e.get("running", e.get("active"))
    state = e.get("state")
    if running is not None:
        args["state"] = "started" if running else "stopped"
    elif state in ("running", "started", "stopped"):
        args["state"] = "stopped" if state == "stopped" else "started"
    return [{"ansible.builtin.service": args}]


def _sysctl_tasks(item: BaselineItemLike) -> list[dict[str, Any]]:
    e = _exp(item)
    value = e.get("value", e.get("expected"))
    return [
        {
            "ansible.posix.sysctl": {
                "name": _text(item.target),
                "value": _text(value),
                "sysctl_set": True,
                "state": "present",
            }
        }
    ]


def _user_tasks(item: BaselineItemLike, module: str) -> list[dict[str, Any]]:
    state = "absent" if _absent(_exp(item)) else "present"
    return [{module: {"name": _text(item.target), "state": state}}]


def _port_tasks(item: BaselineItemLike) -> list[dict[str, Any]]:
    listening = not _absent(_exp(item)) and _exp(item).get("listening", True) is not False
    numbers = re.findall(r"\d{1,5}", str(item.target))  # "22", "tcp/22", "0.0.0.0:22"
    port = int(numbers[-1])
    return [
        {
            "ansible.builtin.wait_for": {
                "port": port,
                "state": "started" if listening else "stopped",
                "timeout": 5,
            }
        }
    ]


def _registry_tasks(item: BaselineItemLike) -> list[dict[str, Any]]:
    e = _exp(item)
    path, _, value_name = str(item.target).rpartition("\\")
    args: dict[str, Any] = {"path": _text(e.get("path", path)), "name": _text(e.get("name", value_name))}
    if _absent(e):
        args["state"] = "absent"
    else:
        args["data"] = _text(e.get("data", e.get("value", "")))
        args["type"] = _text(e.get("type", "string"))
    return [{"ansible.windows.win_regedit": args}]


def _win_service_tasks(item: BaselineItemLike) -> list[dict[str, Any]]:
    e = _exp(item)
    args: dict[str, Any] = {"name": _text(item.target)}
    if e.get("start_mode"):
        args["start_mode"] = _text(e["start_mode"])
    state = e.get("state")
    if state in ("running", "started"):
        args["state"] = "started"
    elif state == "stopped":
        args["state"] = "stopped"
    return [{"ansible.windows.win_service": args}]


def _local_group_tasks(item: BaselineItemLike) -> list[dict[str, Any]]:
    members = _exp(item).get("members", [])
    return [
        {
            "ansible.windows.win_group_membership": {
                "name": _text(item.target),
                "members": [_text(m) for m in members],
                "state": "pure",
            }
        }
    ]


def _firewall_tasks(item: BaselineItemLike) -> list[dict[str, Any]]:
    e = _exp(item)
    state = "enabled" if e.get("enabled", e.get("state") != "disabled") else "disabled"
    return [{"community.windows.win_firewall": {"profiles": [_text(item.target)], "state": state}}]


_KINDS = {
    "file": _file_tasks,
    "package": _package_tasks,
    "service": _service_tasks,
    "sysctl": _sysctl_tasks,
    "user": lambda i: _user_tasks(i, "ansible.builtin.user"),
    "group": lambda i: _user_tasks(i, "ansible.builtin.group"),
    "port": _port_tasks,
    "registry": _registry_tasks,
    "win_service": _win_service_tasks,
    "local_group": _local_group_tasks,
    "firewall": _firewall_tasks,
}

#: Kinds that only Windows hosts have: a baseline of these alone is played on Windows hosts.
WINDOWS_KINDS = frozenset({"registry", "win_service", "local_group", "firewall", "program"})


def baseline_tasks(baseline: BaselineLike) -> list[dict[str, Any]]:
    """The baseline as idempotent Ansible tasks, one or more per item, each named after the item.

    A kind Ansible has no idempotent task for (an installed program on Windows) becomes a debug task
    that says so, never a silent omission; an item whose target cannot be read the same way (a port
    that is no number) likewise.
    """
    tasks: list[dict[str, Any]] = []
    for item in baseline.items:
        make = _KINDS.get(item.kind)
        try:
            made = make(item) if make is not None else None
        except (ValueError, TypeError, AttributeError, IndexError):
            made = None
        if not made:
            made = [
                {
                    "ansible.builtin.debug": {
                        "msg": Unsafe(f"no Ansible task for {_label(item)}; check it in Patchdesk")
                    }
                }
            ]
        for n, task in enumerate(made, 1):
            name = _label(item) + (f" ({n}/{len(made)})" if len(made) > 1 else "")
            tasks.append({"name": _text(name), **task, "tags": ["baseline", ident(baseline.name)]})
    return tasks


def build_baseline_playbook(baselines: Iterable[BaselineLike]) -> list[dict[str, Any]]:
    """One play per baseline, on its inventory group (``patchdesk_baseline_<name>``)."""
    plays = []
    for b in baselines:
        windows = bool(b.items) and all(i.kind in WINDOWS_KINDS for i in b.items)
        plays.append(
            {
                "name": _text(f"Baseline {b.name}"),
                "hosts": baseline_group(b.name),
                "gather_facts": not windows,
                "tasks": baseline_tasks(b),
            }
        )
    return plays


def requirements() -> dict[str, Any]:
    return {"collections": [{"name": c} for c in (*COLLECTIONS, "community.general")]}


# -- writing ---------------------------------------------------------------------------------------


@dataclass
class AnsibleExport:
    """Everything the export writes, as file name -> text."""

    files: dict[str, str] = field(default_factory=dict)


def build_export(
    hosts: Sequence[Host],
    windows: Sequence[MaintenanceWindow],
    pending: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
    baselines: Sequence[BaselineLike] = (),
    baseline_hosts: Mapping[str, Sequence[str]] | None = None,
    keys: Mapping[int, Sequence[HostKey]] | None = None,
) -> AnsibleExport:
    out = AnsibleExport()
    inv_header = (
        "Patchdesk inventory. No secrets: passwords are vault placeholders\n"
        "(vault_patchdesk_<host>_password, define them with ansible-vault);\n"
        "patchdesk_credential_ref names the keyring entry Patchdesk used."
    )
    out.files["inventory.yml"] = dump(build_inventory(hosts, pending, baseline_hosts), inv_header)
    header, plays = build_patch_playbook(windows)
    out.files["patch.yml"] = dump(plays, header)
    if baselines:
        out.files["baselines.yml"] = dump(
            build_baseline_playbook(baselines),
            "Patchdesk baselines as idempotent tasks: run with --check --diff to see the drift.",
        )
    out.files["requirements.yml"] = dump(
        requirements(), "ansible-galaxy collection install -r requirements.yml"
    )
    out.files["known_hosts"] = known_hosts(hosts, keys or {})
    return out


def write_export(export: AnsibleExport, directory: Path) -> list[Path]:
    """Write every file atomically into ``directory`` (created when missing)."""
    from app.reports import files

    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in export.files.items():
        path = directory / name
        files.write_text(path, text)
        written.append(path)
    return written


# -- from the database -----------------------------------------------------------------------------


def pending_by_class(db: Any, hosts: Sequence[Host]) -> dict[str, dict[str, list[str]]]:
    """Each host's pending package names from its last successful scan, by classification."""
    from db import scans as db_scans

    out: dict[str, dict[str, list[str]]] = {}
    for h in hosts:
        if h.id is None:
            continue
        found: dict[str, list[str]] = {}
        for u in db_scans.pending_for_host(db, h.id):
            found.setdefault(str(u.classification), []).append(u.name)
        if found:
            out[h.name] = {c: sorted(set(n)) for c, n in found.items()}
    return out


def stored_baselines(db: Any) -> tuple[list[BaselineLike], dict[str, list[str]]]:
    """The baselines kept in the database and the hosts each applies to (directly or by group)."""
    from db import baselines as db_baselines

    baselines = db_baselines.list_baselines(db)
    return list(baselines), {b.name: db_baselines.assigned_hosts(db, b.name) for b in baselines}


def export_from_db(db: Any, directory: Path) -> list[Path]:
    """Build the export from the inventory, windows, last scans and baselines, and write it."""
    from db import hosts as db_hosts
    from db import maintenance_windows as db_windows

    hosts = db_hosts.list_hosts(db)
    baselines, assigned = stored_baselines(db)
    keys = db_hosts.host_keys_for(db, [h.id for h in hosts if h.id is not None])
    export = build_export(
        hosts, db_windows.list_windows(db), pending_by_class(db, hosts), baselines, assigned, keys
    )
    return write_export(export, directory)
