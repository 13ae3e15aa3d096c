"""``patchdesk scan | patch | verify | rollback | history``: the commands that run jobs on hosts."""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TextIO

from app.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    dump_json,
    open_db,
    print_table,
    seconds,
    secret_store,
    split_list,
)
from app.domain.errors import ConfigError
from app.domain.inventory import parse_choice
from app.domain.models import Host, StepState

if TYPE_CHECKING:
    from app.jobs.runner import JobRunner


def add_commands(sub: Any) -> None:
    sp = sub.add_parser("scan", help="scan hosts for pending updates")
    sp.add_argument("names", nargs="*", metavar="NAME")
    sp.add_argument("--all", action="store_true", help="scan every host")
    sp.add_argument("--concurrency", type=int, default=20)
    sp.add_argument("--refresh", action="store_true", help="refresh package indexes first (needs root/sudo)")
    sp.add_argument(
        "--no-refresh",
        action="store_true",
        help="never refresh an empty or old package index (policy index_max_age_hours); such a scan "
        "is reported incomplete",
    )
    sp.add_argument(
        "--full",
        action="store_true",
        help="simulate on every host, even where nothing apt reads changed since the last scan",
    )
    sp.add_argument("--deadline", type=seconds, default=600.0, help="overall seconds per host (default 600)")
    sp.add_argument("--connect-timeout", type=seconds, default=10.0)
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=scan)

    def targets(sp: argparse.ArgumentParser, verb: str) -> None:
        sp.add_argument("names", nargs="*", metavar="NAME")
        sp.add_argument("--all", action="store_true", help=f"{verb} every host")
        sp.add_argument("--concurrency", type=int, default=20)
        sp.add_argument(
            "--deadline", type=seconds, default=3600.0, help="overall seconds per host (default 3600)"
        )
        sp.add_argument("--connect-timeout", type=seconds, default=10.0)
        sp.add_argument("--json", action="store_true")

    patch = sub.add_parser("patch", help="install pending updates (plan, snapshot, install, verify)")
    patch.set_defaults(func=change)
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
        "--auto-rollback",
        action="store_true",
        help="roll each host back at once when its verification is red (for this job, whatever its policy)",
    )
    patch.add_argument(
        "--include-held",
        action="store_true",
        help="also install selected packages the host holds back (apt-mark hold); audited",
    )
    patch.add_argument(
        "--lock-wait", type=seconds, default=120.0, help="seconds to wait for a busy package manager"
    )
    patch.add_argument(
        "--reboot-timeout", type=seconds, default=600.0, help="seconds to wait for a host to come back"
    )

    verify = sub.add_parser("verify", help="verify hosts against their last patch (rescan and health)")
    verify.set_defaults(func=change)
    targets(verify, "verify")

    rollback = sub.add_parser("rollback", help="roll hosts back to before a patch job")
    rollback.set_defaults(func=change)
    targets(rollback, "roll back")
    rollback.add_argument("--job", type=int, help="the patch job to undo (default: each host's newest)")
    rollback.add_argument("--lock-wait", type=seconds, default=120.0)

    hist = sub.add_parser("history", help="jobs that touched a host, with their changes and verification")
    hist.set_defaults(func=history)
    hist.add_argument("name")
    hist.add_argument("--limit", type=int, default=50)
    hist.add_argument("--json", action="store_true")


def scan(args: argparse.Namespace, out: TextIO) -> int:
    from db import hosts as db_hosts
    from db import jobs as db_jobs
    from db import scans as db_scans

    _check_target_args(args)
    db = open_db(args)
    hosts = _select_hosts(db, args)
    runner = _runner(args)
    try:
        # First contact from the CLI behaves like OpenSSH's accept-new: record the key and go on;
        # a *changed* key still fails the host.
        handle = runner.start_scan(
            db,
            hosts,
            refresh=args.refresh,
            full=args.full,
            auto_refresh=not args.no_refresh,
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
            "index_updated": None,
            "complete": False,
            "notes": [],
        }
        if status == "ok":
            scan = db_scans.last_scan(db, host.id)
            entry["os"] = scan["os"] if scan else {}
            entry["reboot_required"] = bool(scan["reboot_required"]) if scan else False
            entry["index_updated"] = scan["index_updated"] if scan else None
            entry["complete"] = bool(scan["complete"]) if scan else False
            entry["notes"] = scan["notes"] if scan else []
            entry["pending"] = [u.as_json() for u in db_scans.pending_for_host(db, host.id)]
        report.append(entry)
    if args.json:
        dump_json(out, {"job": handle.job_id, "hosts": report})
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
        print_table(out, ["HOST", "STATUS", "URGENT", "IMPORTANT", "NONCRIT", "REBOOT", "ERROR"], rows)
        for e in report:
            if e["status"] == "ok" and not e["complete"]:
                for note in e["notes"] or ["the scan cannot vouch that it saw every update."]:
                    out.write(f"{e['name']}: incomplete: {note}\n")
    return worst


def _runner(args: argparse.Namespace) -> JobRunner:
    """The job machinery in this process, with the command's concurrency and time limits."""
    import gc

    from app.jobs.runner import JobRunner
    from db.database import default_db_path

    # What start-up imported lives until the process ends: out of the collector's sight, the full
    # collections during the job (twenty threads allocate fast) and at exit do not walk it again.
    # The collector resumes here when the process entry paused it for start-up (ui/main.py).
    gc.freeze()
    gc.enable()
    return JobRunner(
        args.db or default_db_path(),
        secrets=secret_store(),
        concurrency=args.concurrency,
        host_deadline=args.deadline,
        connect_timeout=args.connect_timeout,
        # One job and the process ends: no later job could take a kept connection, so each host's
        # closes as the host finishes instead of all of them at exit.
        keep_connections=0,
    )


def _check_target_args(args: argparse.Namespace) -> None:
    if args.concurrency < 1:
        raise ConfigError("--concurrency must be at least 1.")
    if args.all and args.names:
        raise ConfigError("Give host names or --all, not both.")
    if not args.all and not args.names:
        raise ConfigError(f"Name the hosts to {args.command}, or use --all.")


def _select_hosts(db: Any, args: argparse.Namespace) -> list[Host]:
    from db import hosts as db_hosts

    hosts = db_hosts.list_hosts(db) if args.all else db_hosts.get_hosts_by_name(db, args.names)
    if not hosts:
        raise ConfigError("The inventory is empty: add hosts with `patchdesk hosts add` or `hosts import`.")
    return hosts


def change(args: argparse.Namespace, out: TextIO) -> int:
    from app.domain.models import Classification, RebootPolicy
    from app.jobs.selection import selections_for

    db = open_db(args)
    _check_target_args(args)
    hosts = _select_hosts(db, args)
    runner = _runner(args)
    try:
        if args.command == "patch":
            classes = split_list(args.classification)
            chosen = (
                {Classification(parse_choice(Classification, c, "--classification")) for c in classes}
                if classes
                else None
            )
            packages = set(split_list(args.packages) or []) or None
            reboot = (
                RebootPolicy(parse_choice(RebootPolicy, args.reboot, "--reboot")) if args.reboot else None
            )
            selections = selections_for(db, hosts, classifications=chosen, packages=packages)
            if args.include_held:
                selections = {k: replace(v, include_held=True) for k, v in selections.items()}
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
                    auto_rollback=args.auto_rollback,
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
    if args.command == "patch" and not args.dry_run:
        _after_patch(db, handle.job_id)
    return _report_change(db, args, hosts, handle, out)


def _after_patch(db: Any, job_id: int) -> None:
    """A finished patch job: audit the hosts it rolled back by itself, and send its alerts by mail
    when mail alerts are set up (the CLI has no desktop to show them on)."""
    from app.services import alerts, host_policy

    host_policy.record_auto_rollbacks(db, job_id)
    alerts.deliver(db, alerts.job_alerts(db, job_id), secrets=secret_store())


def _report_change(db: Any, args: argparse.Namespace, hosts: list[Host], handle: Any, out: TextIO) -> int:
    """Each host's outcome of a patch, rollback or verify job, as JSON or text; the job's exit code."""
    report = [_change_entry(host, handle) for host in hosts]
    worst = EXIT_OK
    for e in report:
        red = (e.get("verification") or {}).get("verdict") == "red"
        if e["status"] != "ok" or red:
            worst = EXIT_FAILED
    if args.json:
        dump_json(out, {"job": handle.job_id, "hosts": report})
        return worst
    dry_run = args.command == "patch" and getattr(args, "dry_run", False)
    for e in report:
        _print_change_entry(e, dry_run, out)
    print(f"Job {handle.job_id}.", file=out)
    return worst


def _change_entry(host: Host, handle: Any) -> dict[str, Any]:
    from app.domain.models import InstallPlan
    from app.domain.verdicts import Verification
    from app.jobs.patching import PatchResult
    from app.jobs.rollback import RollbackResult

    assert host.id is not None
    outcome = handle.outcomes.get(host.id)
    state = outcome.state if outcome else StepState.FAILED
    status = {StepState.SUCCEEDED: "ok", StepState.UNREACHABLE: "unreachable"}.get(state, "failed")
    entry: dict[str, Any] = {"name": host.name, "status": status, "error": outcome.error if outcome else None}
    result = outcome.result if outcome else None
    verification: Verification | None = None
    if isinstance(result, InstallPlan):
        entry["plan"] = [c.as_json() for c in result.changes]
        entry["held"] = list(result.held)
    elif isinstance(result, PatchResult):
        entry["plan"] = [c.as_json() for c in result.plan.changes]
        entry["held"] = list(result.plan.held)
        entry["changes"] = [c.as_json() for c in result.changes]
        entry["rebooted"] = result.rebooted
        entry["reboot_required"] = result.reboot_required
        if result.check_before is not None:
            entry["check_before"] = result.check_before.as_json()
        if result.auto_rollback is not None:
            entry["result"] = result.auto_rollback.result
            entry["auto_rollback"] = result.auto_rollback.as_json()
        verification = result.verification
    elif isinstance(result, RollbackResult):
        entry["restored"] = [c.as_json() for c in result.restored]
        verification = result.verification
    elif isinstance(result, Verification):
        verification = result
    if verification is not None:
        entry["verification"] = verification.as_json()
    return entry


def _print_change_entry(e: dict[str, Any], dry_run: bool, out: TextIO) -> None:
    head = f"{e['name']}: {e['status']}"
    if e.get("verification"):
        head += f", verification {e['verification']['verdict']}"
    print(head, file=out)
    if e["error"]:
        print(f"  error: {e['error']}", file=out)
    for key, label in (
        ("plan", "would change" if dry_run else None),
        ("changes", "changed"),
        ("restored", "restored"),
    ):
        if not label or not e.get(key):
            continue
        for c in e[key]:
            print(f"  {label}: {c['name']} {c['from'] or '-'} -> {c['to'] or '-'}", file=out)
    auto = e.get("auto_rollback")
    if auto:
        print(f"  {auto['result']} ({auto['trigger']})", file=out)
        for c in auto["restored"]:
            print(f"  restored: {c['name']} {c['from'] or '-'} -> {c['to'] or '-'}", file=out)
        if auto["verification"]:
            print(f"  rollback verification {auto['verification']['verdict']}", file=out)
    for name in e.get("held") or ():
        print(f"  held, will not be installed: {name} (patch --include-held installs it)", file=out)
    if e.get("reboot_required"):
        print("  a reboot is required", file=out)
    for reason in (e.get("verification") or {}).get("reasons", []):
        print(f"  - {reason}", file=out)


def history(args: argparse.Namespace, out: TextIO) -> int:
    from db import changes as db_changes
    from db import hosts as db_hosts
    from db import jobs as db_jobs

    db = open_db(args)
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
        dump_json(out, {"host": host.name, "jobs": entries})
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
    print_table(
        out, ["JOB", "KIND", "STATE", "STARTED (UTC)", "CHANGES", "VERIFY", "ROLLED BACK", "ERROR"], rows
    )
    return EXIT_OK


def _audit_change_started(db: Any, args: argparse.Namespace, hosts: list[Host], job_id: int) -> None:
    """A patch or rollback that will change hosts is an administrative action; a dry run is not."""
    from app.services import audit

    names = [h.name for h in hosts]
    if args.command == "patch" and not args.dry_run:
        details: dict[str, Any] = {}
        if args.classification:
            details["classification"] = args.classification
        if args.packages:
            details["packages"] = args.packages
        if args.include_held:
            details["include_held"] = True
        if args.auto_rollback:
            details["auto_rollback"] = True
        audit.patch_started(db, names, job_id, **details)
    elif args.command == "rollback":
        audit.rollback_started(db, names, job_id, args.job)
