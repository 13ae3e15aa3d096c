"""The command-line face: the same services as the GUI, for scripts, cron and CI.

Exit status: 0 when everything succeeded, 1 when a host failed or was unreachable (or a known
error stopped the command), 2 on usage errors (bad options, unknown host names, unreadable input).
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from app import __version__
from app.domain.errors import (
    AdvisoryFormatError,
    ConfigError,
    ImportFormatError,
    PatchdeskError,
    SecretStoreError,
)
from app.domain.inventory import parse_choice
from app.domain.models import Criticality, Host, HostStatus, Ring, StepState, TransportKind, WinRMOptions

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _global_parser() -> argparse.ArgumentParser:
    """The options that come before a command (and are all a GUI start takes)."""
    p = _Parser(
        prog="patchdesk", description="Agentless patch-administration console. No command opens the GUI."
    )
    p.add_argument("--version", action="version", version=f"patchdesk {__version__}")
    p.add_argument("--db", type=Path, help="database file (default: under the platform data dir)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging to stderr")
    p.add_argument(
        "--no-first-run",
        dest="first_run",
        action="store_false",
        help="GUI: do not open the first-run assistant on a start with an empty inventory",
    )
    return p


#: Arguments of a plain GUI start, parsed without building the forty commands' parsers (8 ms of the
#: window's start-up); anything else, --help included, goes through the full parser.
_GUI_FLAGS = frozenset({"-v", "--verbose", "--no-first-run"})


def _gui_start(argv: Sequence[str]) -> bool:
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--db":
            if i + 1 >= len(argv) or argv[i + 1].startswith("-"):
                return False  # let the full parser say what is missing
            i += 2
            continue
        if not (arg in _GUI_FLAGS or (arg.startswith("--db=") and len(arg) > 5)):
            return False
        i += 1
    return True


def build_parser() -> argparse.ArgumentParser:
    p = _global_parser()
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    hosts = sub.add_parser("hosts", help="manage the inventory")
    hsub = hosts.add_subparsers(dest="hosts_command", metavar="ACTION", required=True, parser_class=_Parser)
    add = hsub.add_parser("add", help="add a host")
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
    lst.add_argument("--json", action="store_true")
    rm = hsub.add_parser("remove", help="remove a host (and its secrets)")
    rm.add_argument("name")
    imp = hsub.add_parser("import", help="import hosts from CSV, Ansible INI/YAML or an OpenSSH config")
    imp.add_argument("file", type=Path)
    imp.add_argument("--format", choices=["csv", "ansible-ini", "ansible-yaml", "ssh-config"])
    imp.add_argument("--json", action="store_true")
    fk = hsub.add_parser("forget-key", help="forget a host's trusted SSH key (after a verified key change)")
    fk.add_argument("name")

    scan = sub.add_parser("scan", help="scan hosts for pending updates")
    scan.add_argument("names", nargs="*", metavar="NAME")
    scan.add_argument("--all", action="store_true", help="scan every host")
    scan.add_argument("--concurrency", type=int, default=20)
    scan.add_argument(
        "--refresh", action="store_true", help="refresh package indexes first (needs root/sudo)"
    )
    scan.add_argument(
        "--full",
        action="store_true",
        help="simulate on every host, even where nothing apt reads changed since the last scan",
    )
    scan.add_argument("--deadline", type=float, default=600.0, help="overall seconds per host (default 600)")
    scan.add_argument("--connect-timeout", type=float, default=10.0)
    scan.add_argument("--json", action="store_true")

    def targets(sp: argparse.ArgumentParser, verb: str) -> None:
        sp.add_argument("names", nargs="*", metavar="NAME")
        sp.add_argument("--all", action="store_true", help=f"{verb} every host")
        sp.add_argument("--concurrency", type=int, default=20)
        sp.add_argument(
            "--deadline", type=float, default=3600.0, help="overall seconds per host (default 3600)"
        )
        sp.add_argument("--connect-timeout", type=float, default=10.0)
        sp.add_argument("--json", action="store_true")

    patch = sub.add_parser("patch", help="install pending updates (plan, snapshot, install, verify)")
    targets(patch, "patch")
    patch.add_argument(
        "--classification",
        help="comma-separated classes to install: urgent,important,noncritical (default: all)",
    )
    patch.add_argument("--packages", help="comma-separated package names to install (default: all selected)")
    patch.add_argument("--reboot", help="never | if-needed | always (default: each host's policy)")
    patch.add_argument("--dry-run", action="store_true", help="show the plan (what would change) and stop")
    patch.add_argument("--no-verify", action="store_true", help="skip verification after patching")
    patch.add_argument(
        "--lock-wait", type=float, default=120.0, help="seconds to wait for a busy package manager"
    )
    patch.add_argument(
        "--reboot-timeout", type=float, default=600.0, help="seconds to wait for a host to come back"
    )

    verify = sub.add_parser("verify", help="verify hosts against their last patch (rescan and health)")
    targets(verify, "verify")

    rollback = sub.add_parser("rollback", help="roll hosts back to before a patch job")
    targets(rollback, "roll back")
    rollback.add_argument("--job", type=int, help="the patch job to undo (default: each host's newest)")
    rollback.add_argument("--lock-wait", type=float, default=120.0)

    history = sub.add_parser("history", help="jobs that touched a host, with their changes and verification")
    history.add_argument("name")
    history.add_argument("--limit", type=int, default=50)
    history.add_argument("--json", action="store_true")

    _add_report_commands(sub)

    from app import cli_policy

    cli_policy.add_commands(sub)
    return p


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    args = list(sys.argv[1:] if argv is None else argv)
    if _gui_start(args):
        return _global_parser().parse_args(args, argparse.Namespace(command=None))
    return build_parser().parse_args(args)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run a parsed command; known errors become a sentence on stderr and an exit status."""
    from app.logsetup import setup_logging

    out = out or sys.stdout
    setup_logging(verbose=args.verbose)
    try:
        if args.command == "hosts":
            return _hosts(args, out)
        if args.command == "scan":
            return _scan(args, out)
        if args.command in ("patch", "verify", "rollback"):
            return _change(args, out)
        if args.command == "history":
            return _history(args, out)
        if args.command == "report":
            return _report(args, out)
        if args.command == "audit":
            return _audit(args, out)
        from app import cli_policy

        if args.command in cli_policy.COMMANDS:
            return cli_policy.run(args, out, _open(args))
        raise ConfigError(f"Unknown command {args.command!r}.")
    except (ConfigError, ImportFormatError, AdvisoryFormatError) as exc:
        print(f"patchdesk: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except PatchdeskError as exc:
        print(f"patchdesk: {exc}", file=sys.stderr)
        return EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    if args.command is None:
        build_parser().print_help()
        return EXIT_USAGE
    return run(args)


# -- hosts ------------------------------------------------------------------------------------------


def _open(args: argparse.Namespace) -> Any:
    from db.database import open_database
    from db.jobs import mark_interrupted

    db = open_database(args.db)
    # A console killed mid-job left steps "running": say they were interrupted, before anything else.
    marked = mark_interrupted(db)
    if marked:
        logger.warning("marked %d unfinished host step(s) of an earlier run as interrupted", marked)
    return db


def _secrets() -> Any:
    from app.secrets import SecretStore

    return SecretStore()


def _hosts(args: argparse.Namespace, out: TextIO) -> int:
    from db import hosts as db_hosts

    db = _open(args)
    action = args.hosts_command
    if action == "add":
        transport = TransportKind(parse_choice(TransportKind, args.transport, "--transport"))
        if args.winrm_auth not in ("ntlm", "kerberos", "basic", "credssp"):
            raise ConfigError(
                f"--winrm-auth must be ntlm, kerberos, basic or credssp, not {args.winrm_auth!r}."
            )
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
        refs: dict[str, str] = {}
        wanted = [
            (kind, interactive, from_stdin)
            for kind, interactive, from_stdin in (
                ("login", args.ask_password, args.password_stdin),
                ("sudo", args.ask_sudo_password, args.sudo_password_stdin),
            )
            if interactive or from_stdin
        ]
        if wanted:
            # Check the keyring first, so a missing one fails before anything is typed or stored.
            store = _secrets()
            ok, message = store.status()
            if not ok:
                raise SecretStoreError(message)
            secrets: dict[str, str] = {}
            for kind, interactive, _ in wanted:
                if interactive:
                    secrets[kind] = getpass.getpass(
                        f"{'Login' if kind == 'login' else 'sudo'} password for {args.name}: "
                    )
                else:
                    line = sys.stdin.readline()
                    if not line:
                        raise ConfigError(f"Expected the {kind} password on standard input, got nothing.")
                    secrets[kind] = line.rstrip("\r\n")
            for kind, secret in secrets.items():
                ref = store.new_ref(kind, args.name)
                store.set(ref, secret)
                refs[kind] = ref
        from dataclasses import replace

        host = replace(host, credential_ref=refs.get("login"), sudo_ref=refs.get("sudo"))
        saved = db_hosts.add_host(db, host)
        _audit_record(
            db, "host.added", saved.name, {"address": saved.address, "transport": str(saved.transport)}
        )
        if refs:
            _audit_record(db, "credentials.changed", saved.name, {"stored": sorted(refs)})
        print(f"Added {saved.name} ({saved.address}).", file=out)
        return EXIT_OK
    if action == "list":
        hosts = db_hosts.list_hosts(db)
        if args.json:
            json.dump({"hosts": [_host_json(h) for h in hosts]}, out, indent=2)
            out.write("\n")
        else:
            _print_table(
                out,
                ["NAME", "ADDRESS", "TRANSPORT", "GROUP", "RING", "OS", "URG", "IMP", "NONC", "STATUS"],
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
                    ]
                    for h in hosts
                ],
            )
        return EXIT_OK
    if action == "remove":
        found = db_hosts.find_host(db, args.name)
        if found is None:
            raise ConfigError(f"Unknown host {args.name!r}. See `patchdesk hosts list`.")
        db_hosts.remove_host(db, args.name)
        _audit_record(db, "host.removed", args.name, {"address": found.address})
        _drop_secrets(found)
        print(f"Removed {args.name}.", file=out)
        return EXIT_OK
    if action == "import":
        return _import(db, args, out)
    if action == "forget-key":
        known = db_hosts.find_host(db, args.name)
        if known is None or known.id is None:
            raise ConfigError(f"Unknown host {args.name!r}.")
        db_hosts.forget_host_keys(db, known.id)
        _audit_record(db, "host-key.forgotten", args.name, {})
        print(
            f"Forgot the trusted host key of {args.name}; the next scan trusts the key it is shown.", file=out
        )
        return EXIT_OK
    raise ConfigError(f"Unknown hosts action {action!r}.")


def _drop_secrets(host: Host) -> None:
    refs = [r for r in (host.credential_ref, host.sudo_ref) if r]
    if not refs:
        return
    try:
        store = _secrets()
        for ref in refs:
            store.delete(ref)
    except PatchdeskError as exc:
        print(
            f"patchdesk: warning: could not delete the stored passwords of {host.name}: {exc}",
            file=sys.stderr,
        )


def _import(db: Any, args: argparse.Namespace, out: TextIO) -> int:
    from app.importers.detect import read_inventory
    from db import hosts as db_hosts

    result = read_inventory(args.file, args.format)
    added: list[str] = []
    problems = [str(p) for p in result.problems]
    for host in result.hosts:
        try:
            db_hosts.add_host(db, host)
            added.append(host.name)
        except ConfigError as exc:
            problems.append(f"line {result.lines.get(host.name, 0)}: {exc}")
    if added:
        _audit_record(db, "hosts.imported", str(args.file), {"added": added, "format": result.format})
    if args.json:
        json.dump({"format": result.format, "added": added, "problems": problems}, out, indent=2)
        out.write("\n")
    else:
        print(f"Imported {len(added)} host(s) from {args.file} ({result.format}).", file=out)
        for p in problems:
            print(f"  {args.file}: {p}", file=out)
    return EXIT_OK if not problems else EXIT_FAILED


# -- scan -------------------------------------------------------------------------------------------


def _scan(args: argparse.Namespace, out: TextIO) -> int:
    from app.jobs.runner import JobRunner
    from db import hosts as db_hosts
    from db import jobs as db_jobs
    from db import scans as db_scans
    from db.database import default_db_path

    if args.concurrency < 1:
        raise ConfigError("--concurrency must be at least 1.")
    if args.all and args.names:
        raise ConfigError("Give host names or --all, not both.")
    if not args.all and not args.names:
        raise ConfigError("Name the hosts to scan, or use --all.")
    db = _open(args)
    hosts = db_hosts.list_hosts(db) if args.all else db_hosts.get_hosts_by_name(db, args.names)
    if not hosts:
        raise ConfigError("The inventory is empty: add hosts with `patchdesk hosts add` or `hosts import`.")
    runner = JobRunner(
        args.db or default_db_path(),
        secrets=_secrets(),
        concurrency=args.concurrency,
        host_deadline=args.deadline,
        connect_timeout=args.connect_timeout,
    )
    try:
        # First contact from the CLI behaves like OpenSSH's accept-new: record the key and go on;
        # a *changed* key still fails the host.
        handle = runner.start_scan(
            db,
            hosts,
            refresh=args.refresh,
            full=args.full,
            accept_new_keys=True,
            concurrency=args.concurrency,
        )
        handle.wait()
    finally:
        runner.close()
    steps = {s.host_id: s for s in db_jobs.job_hosts(db, handle.job_id)}
    report = []
    worst = EXIT_OK
    for host in hosts:
        assert host.id is not None
        outcome = handle.outcomes.get(host.id)
        step = steps.get(host.id)
        state = outcome.state if outcome else (step.state if step else StepState.FAILED)
        status = {StepState.SUCCEEDED: "ok", StepState.UNREACHABLE: "unreachable"}.get(state, "failed")
        if status != "ok":
            worst = EXIT_FAILED
        fresh = db_hosts.get_host(db, host.id)
        entry: dict[str, Any] = {
            "name": host.name,
            "address": host.address,
            "status": status,
            "error": (outcome.error if outcome else step.error if step else None),
            "os": {},
            "reboot_required": fresh.reboot_required,
            "pending": [],
        }
        if status == "ok":
            scan = db_scans.last_scan(db, host.id)
            entry["os"] = scan["os"] if scan else {}
            entry["reboot_required"] = bool(scan["reboot_required"]) if scan else False
            entry["pending"] = [u.as_json() for u in db_scans.pending_for_host(db, host.id)]
        report.append(entry)
    if args.json:
        json.dump({"job": handle.job_id, "hosts": report}, out, indent=2)
        out.write("\n")
    else:
        rows = []
        for e in report:
            counts = {"urgent": 0, "important": 0, "noncritical": 0}
            for u in e["pending"]:
                counts[u["classification"]] += 1
            rows.append(
                [
                    e["name"],
                    e["status"],
                    str(counts["urgent"]),
                    str(counts["important"]),
                    str(counts["noncritical"]),
                    "yes" if e["reboot_required"] else "",
                    e["error"] or "",
                ]
            )
        _print_table(out, ["HOST", "STATUS", "URGENT", "IMPORTANT", "NONCRIT", "REBOOT", "ERROR"], rows)
    return worst


# -- patch / verify / rollback ----------------------------------------------------------------------


def _targets(db: Any, args: argparse.Namespace) -> list[Host]:
    from db import hosts as db_hosts

    if args.concurrency < 1:
        raise ConfigError("--concurrency must be at least 1.")
    if args.all and args.names:
        raise ConfigError("Give host names or --all, not both.")
    if not args.all and not args.names:
        raise ConfigError(f"Name the hosts to {args.command}, or use --all.")
    hosts = db_hosts.list_hosts(db) if args.all else db_hosts.get_hosts_by_name(db, args.names)
    if not hosts:
        raise ConfigError("The inventory is empty: add hosts with `patchdesk hosts add` or `hosts import`.")
    return hosts


def _split(value: str | None) -> list[str] | None:
    if value is None:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items:
        raise ConfigError("An empty list was given.")
    return items


def _change(args: argparse.Namespace, out: TextIO) -> int:
    from app.domain.models import Classification, RebootPolicy
    from app.jobs.runner import JobRunner
    from app.jobs.selection import selections_for
    from db.database import default_db_path

    db = _open(args)
    hosts = _targets(db, args)
    runner = JobRunner(
        args.db or default_db_path(),
        secrets=_secrets(),
        concurrency=args.concurrency,
        host_deadline=args.deadline,
        connect_timeout=args.connect_timeout,
    )
    try:
        if args.command == "patch":
            classes = _split(args.classification)
            chosen = (
                {Classification(parse_choice(Classification, c, "--classification")) for c in classes}
                if classes
                else None
            )
            packages = set(_split(args.packages) or []) or None
            reboot = (
                RebootPolicy(parse_choice(RebootPolicy, args.reboot, "--reboot")) if args.reboot else None
            )
            selections = selections_for(db, hosts, classifications=chosen, packages=packages)
            if args.dry_run:
                handle = runner.start_plan(db, hosts, selections, accept_new_keys=True)
            else:
                handle = runner.start_patch(
                    db,
                    hosts,
                    selections,
                    reboot=reboot,
                    verify=not args.no_verify,
                    accept_new_keys=True,
                    lock_wait=args.lock_wait,
                    reboot_timeout=args.reboot_timeout,
                )
        elif args.command == "verify":
            handle = runner.start_verify(db, hosts, accept_new_keys=True)
        else:
            handle = runner.start_rollback(
                db, hosts, job_id=args.job, accept_new_keys=True, lock_wait=args.lock_wait
            )
        _audit_change_started(db, args, hosts, handle.job_id)
        handle.wait()
    finally:
        runner.close()
    return _report_change(db, args, hosts, handle, out)


def _report_change(db: Any, args: argparse.Namespace, hosts: list[Host], handle: Any, out: TextIO) -> int:
    from app.domain.models import InstallPlan
    from app.domain.verdicts import Verification
    from app.jobs.patching import PatchResult, RollbackResult

    worst = EXIT_OK
    report = []
    for host in hosts:
        assert host.id is not None
        outcome = handle.outcomes.get(host.id)
        state = outcome.state if outcome else StepState.FAILED
        status = {StepState.SUCCEEDED: "ok", StepState.UNREACHABLE: "unreachable"}.get(state, "failed")
        entry: dict[str, Any] = {
            "name": host.name,
            "status": status,
            "error": outcome.error if outcome else None,
        }
        result = outcome.result if outcome else None
        verification: Verification | None = None
        if isinstance(result, InstallPlan):
            entry["plan"] = [c.as_json() for c in result.changes]
        elif isinstance(result, PatchResult):
            entry["plan"] = [c.as_json() for c in result.plan.changes]
            entry["changes"] = [c.as_json() for c in result.changes]
            entry["rebooted"] = result.rebooted
            entry["reboot_required"] = result.reboot_required
            verification = result.verification
        elif isinstance(result, RollbackResult):
            entry["restored"] = [c.as_json() for c in result.restored]
            verification = result.verification
        elif isinstance(result, Verification):
            verification = result
        if verification is not None:
            entry["verification"] = verification.as_json()
            if str(verification.verdict) == "red":
                worst = EXIT_FAILED
        if status != "ok":
            worst = EXIT_FAILED
        report.append(entry)
    if args.json:
        json.dump({"job": handle.job_id, "hosts": report}, out, indent=2)
        out.write("\n")
        return worst
    for e in report:
        head = f"{e['name']}: {e['status']}"
        if e.get("verification"):
            head += f", verification {e['verification']['verdict']}"
        print(head, file=out)
        if e["error"]:
            print(f"  error: {e['error']}", file=out)
        for key, label in (
            ("plan", "would change" if args.command == "patch" and getattr(args, "dry_run", False) else None),
            ("changes", "changed"),
            ("restored", "restored"),
        ):
            if not label or not e.get(key):
                continue
            for c in e[key]:
                print(f"  {label}: {c['name']} {c['from'] or '-'} -> {c['to'] or '-'}", file=out)
        if e.get("reboot_required"):
            print("  a reboot is required", file=out)
        for reason in (e.get("verification") or {}).get("reasons", []):
            print(f"  - {reason}", file=out)
    print(f"Job {handle.job_id}.", file=out)
    return worst


def _history(args: argparse.Namespace, out: TextIO) -> int:
    from db import changes as db_changes
    from db import hosts as db_hosts
    from db import jobs as db_jobs

    db = _open(args)
    host = db_hosts.find_host(db, args.name)
    if host is None or host.id is None:
        raise ConfigError(f"Unknown host {args.name!r}. See `patchdesk hosts list`.")
    entries: list[dict[str, Any]] = []
    for job, step in db_jobs.host_history(db, host.id, args.limit):
        v = db_changes.verification_for(db, job.id, host.id)
        entries.append(
            {
                "job": job.id,
                "kind": str(job.kind),
                "trigger": str(job.trigger),
                "state": str(step.state),
                "started": step.started_at.isoformat() if step.started_at else None,
                "finished": step.finished_at.isoformat() if step.finished_at else None,
                "error": step.error,
                "changes": [c.as_json() for c in db_changes.changes(db, job.id, host.id)],
                "rolled_back_by": db_changes.rolled_back_by(db, job.id, host.id),
                "verification": {"verdict": v.verdict, "reasons": list(v.reasons)} if v else None,
            }
        )
    if args.json:
        json.dump({"host": host.name, "jobs": entries}, out, indent=2)
        out.write("\n")
        return EXIT_OK
    rows = [
        [
            str(e["job"]),
            e["kind"],
            e["state"],
            (e["started"] or "")[:19].replace("T", " "),
            str(len(e["changes"])),
            (e["verification"] or {}).get("verdict", ""),
            f"by job {e['rolled_back_by']}" if e["rolled_back_by"] else "",
            e["error"] or "",
        ]
        for e in entries
    ]
    _print_table(
        out, ["JOB", "KIND", "STATE", "STARTED (UTC)", "CHANGES", "VERIFY", "ROLLED BACK", "ERROR"], rows
    )
    return EXIT_OK


# -- output -----------------------------------------------------------------------------------------


def _host_json(h: Host) -> dict[str, Any]:
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


def _print_table(out: TextIO, header: list[str], rows: list[list[str]]) -> None:
    def clean(s: str) -> str:  # host text may carry control characters; never let it drive the terminal
        return "".join(c if c.isprintable() else "?" for c in s)

    table = [header] + [[clean(c) for c in r] for r in rows]
    widths = [min(60, max(len(r[i]) for r in table)) for i in range(len(header))]
    for r in table:
        print("  ".join(c[:60].ljust(w) for c, w in zip(r, widths, strict=True)).rstrip(), file=out)


# -- audit hooks, report and audit commands ----------------------------------------------------------


def _audit_record(db: Any, action: str, target: str, details: dict[str, Any]) -> None:
    from app.services import audit

    audit.record(db, action, target, details)


def _audit_change_started(db: Any, args: argparse.Namespace, hosts: list[Host], job_id: int) -> None:
    """A patch or rollback that will change hosts is an administrative action; a dry run is not."""
    if args.command == "patch" and not args.dry_run:
        details: dict[str, Any] = {"job": job_id, "hosts": [h.name for h in hosts]}
        if args.classification:
            details["classification"] = args.classification
        if args.packages:
            details["packages"] = args.packages
        _audit_record(db, "patch.started", ", ".join(h.name for h in hosts), details)
    elif args.command == "rollback":
        _audit_record(
            db,
            "rollback.started",
            ", ".join(h.name for h in hosts),
            {"job": job_id, "hosts": [h.name for h in hosts], "undo_job": args.job},
        )


def _add_report_commands(sub: Any) -> None:
    report = sub.add_parser("report", help="compliance report (CSV, JSON, HTML or PDF)")
    report.add_argument("--group", help="only this patch group (default: all hosts)")
    report.add_argument("--ring", help="only this ring: test | pilot | production")
    report.add_argument("--criticality", help="only this criticality")
    report.add_argument("--os-family", help="only this OS family: debian | redhat | suse | windows | other")
    report.add_argument("--date", help="YYYY-MM-DD: a past day's snapshot (default: now)")
    report.add_argument("--format", choices=["csv", "json", "html", "pdf"], default="csv")
    report.add_argument("-o", "--output", type=Path, help="file to write (default: stdout; required for pdf)")

    audit = sub.add_parser("audit", help="the tamper-evident audit log")
    asub = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True, parser_class=_Parser)
    alist = asub.add_parser("list", help="list audit entries, newest first")
    alist.add_argument("--limit", type=int, default=100)
    alist.add_argument("--action", help="only this action, e.g. host.added")
    alist.add_argument("--json", action="store_true")
    averify = asub.add_parser("verify", help="check the hash chain; exit 1 naming the first broken entry")
    averify.add_argument("--json", action="store_true")


def _report(args: argparse.Namespace, out: TextIO) -> int:
    from datetime import date

    from app.domain.compliance import OS_FAMILIES, OS_FAMILY_OTHER, OS_FAMILY_UNKNOWN, ComplianceFilter
    from app.domain.models import Criticality, Ring
    from app.reports import pdf, render
    from app.services import audit
    from app.services.reports import build_report
    from db.hosts import list_groups

    db = _open(args)
    if args.group is not None and args.group not in list_groups(db):
        raise ConfigError(f"Unknown group {args.group!r}. Groups: {', '.join(list_groups(db)) or 'none'}.")
    families = (*OS_FAMILIES, OS_FAMILY_OTHER, OS_FAMILY_UNKNOWN)
    if args.os_family and args.os_family not in families:
        raise ConfigError(f"--os-family must be one of {', '.join(families)}.")
    scope = ComplianceFilter(
        group=args.group,
        ring=str(parse_choice(Ring, args.ring, "--ring")) if args.ring else None,
        criticality=(
            str(parse_choice(Criticality, args.criticality, "--criticality")) if args.criticality else None
        ),
        os_family=args.os_family,
    )
    try:
        day = date.fromisoformat(args.date) if args.date else None
    except ValueError as exc:
        raise ConfigError(f"--date must be YYYY-MM-DD, not {args.date!r}.") from exc
    try:
        report = build_report(db, scope, day)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    if args.format == "pdf":
        if args.output is None:
            raise ConfigError("A PDF report needs a file: add -o FILE.pdf.")
        pdf.write_pdf(report, args.output)
    else:
        text = {"csv": render.to_csv, "json": render.to_json, "html": render.to_html}[args.format](report)
        if args.output is None:
            out.write(text)
        else:
            try:
                args.output.write_text(text, encoding="utf-8")
            except OSError as exc:
                raise PatchdeskError(f"Cannot write {args.output}: {exc.strerror}.") from exc
    if args.output is not None:
        audit.record(
            db, audit.REPORT_EXPORTED, str(args.output), {"format": args.format, "scope": scope.describe()}
        )
        print(
            f"Wrote the {args.format.upper()} report ({len(report.hosts)} hosts) to {args.output}.",
            file=sys.stderr,
        )
    return EXIT_OK


def _audit(args: argparse.Namespace, out: TextIO) -> int:
    from app.services import audit

    db = _open(args)
    if args.audit_command == "verify":
        check = audit.verify(db)
        if args.json:
            json.dump(
                {
                    "ok": check.ok,
                    "entries": check.entries,
                    "broken_id": check.broken_id,
                    "reason": check.reason,
                },
                out,
                indent=2,
            )
            out.write("\n")
        else:
            print(audit.describe(check), file=out if check.ok else sys.stderr)
        return EXIT_OK if check.ok else EXIT_FAILED
    entries = audit.entries(db, limit=args.limit, action=args.action)
    if args.json:
        json.dump({"entries": [e.as_json() for e in entries]}, out, indent=2, ensure_ascii=False)
        out.write("\n")
        return EXIT_OK
    _print_table(
        out,
        ["ID", "TIME (UTC)", "ACTOR", "ACTION", "TARGET", "DETAILS"],
        [
            [
                str(e.id),
                e.at[:19].replace("T", " "),
                e.actor,
                e.action,
                e.target,
                json.dumps(e.details, ensure_ascii=False, sort_keys=True),
            ]
            for e in entries
        ],
    )
    return EXIT_OK
