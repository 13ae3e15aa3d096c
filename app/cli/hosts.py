"""``patchdesk hosts``: add, list, remove and import hosts, forget a host's SSH key."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any, TextIO

from app.cli.common import EXIT_FAILED, EXIT_OK, Parser, dump_json, open_db, print_table, secret_store
from app.domain.compliance import COMPLIANCE_LABELS, ComplianceState, LastJob, host_compliance
from app.domain.errors import ConfigError, PatchdeskError, SecretStoreError
from app.domain.hardware import Hardware
from app.domain.inventory import parse_choice
from app.domain.models import Criticality, Host, HostStatus, Ring, TransportKind, WinRMOptions


def add_commands(sub: Any) -> None:
    hosts = sub.add_parser("hosts", help="manage the inventory")
    hsub = hosts.add_subparsers(dest="hosts_command", metavar="ACTION", required=True, parser_class=Parser)
    add = hsub.add_parser("add", help="add a host")
    add.set_defaults(func=add_host)
    add.add_argument("name")
    add.add_argument("--address", required=True)
    add.add_argument("--port", type=int)
    add.add_argument("--user")
    add.add_argument("--key", help="private key file for SSH")
    add.add_argument("--transport", default="ssh", help="ssh | winrm | local")
    add.add_argument("--group")
    add.add_argument("--ring", default="production", help="test | pilot | production")
    add.add_argument("--criticality", default="standard", help="mission-critical | standard | desktop")
    add.add_argument("--no-sudo", action="store_true", help="never use sudo on this host")
    add.add_argument("--winrm-auth", default="ntlm", help="WinRM: ntlm | kerberos | basic | credssp")
    add.add_argument(
        "--winrm-http", action="store_true", help="WinRM over HTTP (5985; only with NTLM/Kerberos encryption)"
    )
    add.add_argument("--ca-file", help="WinRM: CA bundle or certificate that signed the host's certificate")
    add.add_argument(
        "--insecure-no-cert-validation",
        action="store_true",
        help="WinRM: do not validate the host's certificate (marked as insecure everywhere)",
    )
    add.add_argument("--proxy", help="WinRM: HTTP proxy URL (default: none, whatever the environment says)")
    add.add_argument(
        "--ask-password", action="store_true", help="prompt for the login password (kept in the keyring)"
    )
    add.add_argument(
        "--ask-sudo-password", action="store_true", help="prompt for the sudo password (keyring)"
    )
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the login password from the first line of stdin (for scripts)",
    )
    add.add_argument(
        "--sudo-password-stdin",
        action="store_true",
        help="read the sudo password from the next line of stdin (for scripts)",
    )
    lst = hsub.add_parser("list", help="list hosts")
    lst.set_defaults(func=list_hosts)
    lst.add_argument("--json", action="store_true")
    lst.add_argument(
        "--model",
        metavar="TEXT",
        help="only hosts whose hardware manufacturer or model contains TEXT (as their last scan read it)",
    )
    rm = hsub.add_parser("remove", help="remove a host (and its secrets)")
    rm.set_defaults(func=remove_host)
    rm.add_argument("name")
    imp = hsub.add_parser("import", help="import hosts from CSV, Ansible INI/YAML or an OpenSSH config")
    imp.set_defaults(func=import_hosts)
    imp.add_argument("file", type=Path, help="the inventory file, or - for standard input")
    imp.add_argument("--format", choices=["csv", "ansible-ini", "ansible-yaml", "ssh-config"])
    imp.add_argument("--json", action="store_true")
    from app.cli.hosts_edit import add_edit_command

    add_edit_command(hsub)
    from app.cli.group_defaults import add_group_defaults_command

    add_group_defaults_command(hsub)
    fk = hsub.add_parser("forget-key", help="forget a host's trusted SSH key (after a verified key change)")
    fk.set_defaults(func=forget_key)
    fk.add_argument("name")


def _host_from_args(args: argparse.Namespace) -> Host:
    transport = TransportKind(parse_choice(TransportKind, args.transport, "--transport"))
    if args.winrm_auth not in ("ntlm", "kerberos", "basic", "credssp"):
        raise ConfigError(f"--winrm-auth must be ntlm, kerberos, basic or credssp, not {args.winrm_auth!r}.")
    if args.ca_file and not Path(args.ca_file).expanduser().is_file():
        raise ConfigError(f"The CA file {args.ca_file} does not exist.")
    host = Host(
        winrm=WinRMOptions(
            auth=args.winrm_auth,
            scheme="http" if args.winrm_http else "https",
            ca_trust_path=str(Path(args.ca_file).expanduser()) if args.ca_file else None,
            cert_validation=not args.insecure_no_cert_validation,
            proxy=args.proxy,
        ),
        name=args.name,
        address=args.address,
        port=args.port,
        user=args.user,
        key_file=str(Path(args.key).expanduser()) if args.key else None,
        transport=transport,
        group=args.group,
        ring=Ring(parse_choice(Ring, args.ring, "--ring")),
        criticality=Criticality(parse_choice(Criticality, args.criticality, "--criticality")),
        use_sudo=not args.no_sudo,
    )
    if args.key and not Path(args.key).expanduser().is_file():
        raise ConfigError(f"The key file {args.key} does not exist.")
    return host


def _read_passwords(args: argparse.Namespace) -> dict[str, str]:
    """The passwords asked for, stored in the keyring: kind -> keyring reference."""
    from app.services import inventory

    wanted = [
        (kind, interactive)
        for kind, interactive, from_stdin in (
            ("login", args.ask_password, args.password_stdin),
            ("sudo", args.ask_sudo_password, args.sudo_password_stdin),
        )
        if interactive or from_stdin
    ]
    if not wanted:
        return {}
    # Check the keyring first, so a missing one fails before anything is typed or stored.
    store = secret_store()
    ok, message = store.status()
    if not ok:
        raise SecretStoreError(message)
    secrets: dict[str, str] = {}
    for kind, interactive in wanted:
        if interactive:
            secrets[kind] = getpass.getpass(
                f"{'Login' if kind == 'login' else 'sudo'} password for {args.name}: "
            )
        else:
            line = sys.stdin.readline()
            if not line:
                raise ConfigError(f"Expected the {kind} password on standard input, got nothing.")
            secrets[kind] = line.rstrip("\r\n")
    return inventory.store_passwords(store, args.name, secrets)


def add_host(args: argparse.Namespace, out: TextIO) -> int:
    from dataclasses import replace

    from app.services import inventory

    db = open_db(args)
    host = _host_from_args(args)
    refs = _read_passwords(args)
    host = replace(host, credential_ref=refs.get("login"), sudo_ref=refs.get("sudo"))
    try:
        saved = inventory.add_host(db, host, stored=refs)
    except PatchdeskError:
        # the host was not added (locked database, duplicate name...): its passwords go too
        try:
            if refs:
                inventory.delete_secrets(secret_store(), refs.values())
        except PatchdeskError as exc:
            print(f"patchdesk: warning: the new passwords stay in the keyring: {exc}", file=sys.stderr)
        raise
    print(f"Added {saved.name} ({saved.address}).", file=out)
    return EXIT_OK


def list_hosts(args: argparse.Namespace, out: TextIO) -> int:
    from app.domain.hardware import matches_model
    from db import hardware as db_hardware
    from db import hosts as db_hosts
    from db import jobs as db_jobs
    from db import tiles as db_tiles

    db = open_db(args)
    hosts = db_hosts.list_hosts(db)
    hardware = db_hardware.all_hardware(db)
    model = getattr(args, "model", None)
    if model:
        hosts = [h for h in hosts if h.id is not None and matches_model(hardware.get(h.id), model)]
    days = db_tiles.stale_days(db)
    state = {h.id: host_compliance(h, stale_days=days) for h in hosts}
    if args.json:
        from db import host_policy as db_host_policy

        last = db_jobs.last_jobs(db)
        effective = db_host_policy.effective_settings_of(db, hosts)
        dump_json(
            out,
            {
                "hosts": [
                    host_json(
                        h,
                        compliance=state[h.id],
                        last_job=last.get(h.id) if h.id is not None else None,
                        effective=eff,
                        hardware=hardware.get(h.id) if h.id is not None else None,
                    )
                    for h, eff in zip(hosts, effective, strict=True)
                ]
            },
        )
        return EXIT_OK
    print_table(
        out,
        ["NAME", "ADDRESS", "TRANSPORT", "GROUP", "RING", "OS", "URG", "IMP", "NONC", "STATUS", "COMPLIANCE"],
        [
            [
                h.name,
                h.address + (f":{h.port}" if h.port else ""),
                str(h.transport),
                h.group or "",
                str(h.ring),
                h.os_name or "",
                str(h.pending_urgent),
                str(h.pending_important),
                str(h.pending_noncritical),
                str(h.last_status),
                COMPLIANCE_LABELS[state[h.id]],
            ]
            for h in hosts
        ],
    )
    return EXIT_OK


def remove_host(args: argparse.Namespace, out: TextIO) -> int:
    from app.services import inventory

    removed = inventory.remove_host(open_db(args), args.name)
    refs = inventory.secret_refs(removed)
    if refs:
        try:
            inventory.delete_secrets(secret_store(), refs)
        except PatchdeskError as exc:
            print(
                f"patchdesk: warning: could not delete the stored passwords of {removed.name}: {exc}",
                file=sys.stderr,
            )
    print(f"Removed {args.name}.", file=out)
    return EXIT_OK


def import_hosts(args: argparse.Namespace, out: TextIO) -> int:
    from app.importers.detect import read_inventory, read_inventory_stream
    from app.services import inventory
    from db.settings import policy_settings

    db = open_db(args)
    cap = policy_settings(db).import_max_hosts
    if str(args.file) == "-":
        result = read_inventory_stream(sys.stdin.buffer, args.format, max_hosts=cap)
    else:
        result = read_inventory(args.file, args.format, max_hosts=cap)
    outcome = inventory.import_hosts(
        db, result.hosts, str(args.file), lines=result.lines, format=result.format
    )
    added = outcome.added_names
    problems = [str(p) for p in result.problems] + outcome.problems
    if args.json:
        dump_json(out, {"format": result.format, "added": added, "problems": problems})
    else:
        print(f"Imported {len(added)} host(s) from {args.file} ({result.format}).", file=out)
        for p in problems:
            print(f"  {args.file}: {p}", file=out)
    return EXIT_OK if not problems else EXIT_FAILED


def forget_key(args: argparse.Namespace, out: TextIO) -> int:
    from app.services import inventory

    inventory.forget_host_key(open_db(args), args.name)
    print(f"Forgot the trusted host key of {args.name}; the next scan trusts the key it is shown.", file=out)
    return EXIT_OK


def host_json(
    h: Host,
    *,
    compliance: ComplianceState | None = None,
    last_job: LastJob | None = None,
    effective: dict[str, Any] | None = None,
    hardware: Hardware | None = None,
) -> dict[str, Any]:
    """A host as JSON; ``compliance`` (default: from the record with the default stale threshold), the
    newest finished job step (``last_job``: kind, state, verdict; null without one) and the hardware
    inventory its last scan read (null before one did). The settings are the host's own (null / empty:
    not set); ``effective`` (db.host_policy.effective_settings_of) adds what applies after its group's
    defaults and its criticality's rule, and where each comes from."""
    data = _host_fields(h)
    if effective is not None:
        data["effective"] = {
            k: list(v) if isinstance(v, tuple) else (str(v) if v is not None and k != "sources" else v)
            for k, v in effective.items()
        }
    data["compliance"] = str(compliance or host_compliance(h))
    data["last_job"] = last_job.as_json() if last_job is not None else None
    data["hardware"] = hardware.as_json() if hardware is not None else None
    return data


def _host_fields(h: Host) -> dict[str, Any]:
    return {
        "id": h.id,
        "name": h.name,
        "address": h.address,
        "port": h.port,
        "transport": str(h.transport),
        "user": h.user,
        "group": h.group,
        "ring": str(h.ring),
        "criticality": str(h.criticality),
        "tags": list(h.tags),
        "key_file": h.key_file,
        "use_sudo": h.use_sudo,
        "reboot_policy": str(h.reboot_policy) if h.reboot_policy else None,
        "pre_command": h.pre_command,
        "post_command": h.post_command,
        "services": list(h.services),
        "check_command": h.check_command,
        "auto_rollback": str(h.auto_rollback) if h.auto_rollback else None,
        "os": h.os_name,
        "kernel": h.kernel,
        "status": str(h.last_status) if h.last_status != HostStatus.NEVER else "never",
        "last_error": h.last_error,
        "last_scan": h.last_scan_at.isoformat() if h.last_scan_at else None,
        "reboot_required": h.reboot_required,
        "pending": {
            "urgent": h.pending_urgent,
            "important": h.pending_important,
            "noncritical": h.pending_noncritical,
        },
    }
