"""``patchdesk baseline …`` and ``patchdesk drift [fix|rollback]``: configuration baselines and drift."""

from __future__ import annotations

import argparse
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
from app.domain.baseline import DriftVerdict, describe_value
from app.domain.errors import ConfigError

if TYPE_CHECKING:
    from app.jobs.runner import JobRunner

#: The short item forms of ``baseline add`` (see app/services/baselines.py: parse_item).
_ITEM_KINDS = (
    *("file", "file-absent", "file-option", "package", "service", "sysctl", "user", "group", "port"),
    *("registry", "win-service", "program", "local-group", "firewall"),
)


def add_commands(sub: Any) -> None:
    bp = sub.add_parser("baseline", help="configuration baselines: capture, edit, assign, show")
    bsub = bp.add_subparsers(dest="baseline_command", metavar="ACTION", required=True)

    def job_options(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--deadline", type=seconds, default=600.0, help="overall seconds per host (default 600)"
        )
        p.add_argument("--connect-timeout", type=seconds, default=10.0)

    create = bsub.add_parser("create", help="a new baseline, captured from a golden host or empty")
    create.add_argument("name")
    create.add_argument("--from-host", metavar="HOST", help="capture from this host")
    create.add_argument("--files", help="comma-separated paths: content and metadata (needs --from-host)")
    create.add_argument("--packages", help="all, or comma-separated names: installed versions")
    create.add_argument("--services", help="comma-separated service names: enabled and running")
    create.add_argument("--json", action="store_true")
    job_options(create)
    create.set_defaults(func=baseline_create)

    add = bsub.add_parser("add", help="add checks to a baseline (an item of the same target is replaced)")
    add.add_argument("name")
    for kind in _ITEM_KINDS:
        add.add_argument(f"--{kind}", action="append", default=[], metavar="SPEC")
    add.add_argument("--from-host", metavar="HOST", help="capture the --file paths from this host")
    add.add_argument("--json", action="store_true")
    job_options(add)
    add.set_defaults(func=baseline_add)

    remove = bsub.add_parser("remove", help="remove items (by id, see `baseline show`)")
    remove.add_argument("name")
    remove.add_argument("--item", type=int, action="append", required=True, metavar="ID")
    remove.set_defaults(func=baseline_remove)

    for verb in ("assign", "unassign"):
        p = bsub.add_parser(verb, help=f"{verb} a baseline to hosts or a group")
        p.add_argument("name")
        p.add_argument("--hosts", help="comma-separated host names")
        p.add_argument("--group", help="a host group")
        p.set_defaults(func=baseline_assign, verb=verb)

    lst = bsub.add_parser("list", help="the baselines")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=baseline_list)

    show = bsub.add_parser("show", help="a baseline's items, assignments and history")
    show.add_argument("name")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=baseline_show)

    delete = bsub.add_parser("delete", help="delete a baseline (its history stays)")
    delete.add_argument("name")
    delete.set_defaults(func=baseline_delete)

    dp = sub.add_parser(
        "drift",
        help="check hosts against their baselines; `drift fix NAME` and `drift rollback NAME` put items back",
        description="drift [NAME ...|--all]: check hosts (NAME: a host or a baseline) and report, exit 1 "
        "when a host drifted or could not be checked. drift fix HOST ...: restore drifted items from the "
        "baseline (a snapshot first, a check after), inside the hosts' maintenance windows unless --now. "
        "drift rollback HOST ...: undo a fix from its snapshot.",
    )
    dp.add_argument("names", nargs="*", metavar="NAME")
    dp.add_argument("--all", action="store_true", help="every host with a baseline")
    dp.add_argument("--stored", action="store_true", help="report the stored results; contact no host")
    dp.add_argument(
        "--item", type=int, action="append", default=[], metavar="ID", help="fix: only these items"
    )
    dp.add_argument("--dry-run", action="store_true", help="fix: show what would be done and stop")
    dp.add_argument("--now", action="store_true", help="fix: run outside the maintenance window (audited)")
    dp.add_argument("--job", type=int, help="rollback: the fix job to undo (default: each host's newest)")
    dp.add_argument("--json", action="store_true")
    dp.add_argument("--concurrency", type=int, default=20)
    job_options(dp)
    dp.set_defaults(func=drift)


def _runner(args: argparse.Namespace) -> JobRunner:
    from app.jobs.runner import JobRunner
    from db.database import default_db_path

    return JobRunner(
        args.db or default_db_path(),
        secrets=secret_store(),
        concurrency=getattr(args, "concurrency", 20),
        host_deadline=args.deadline,
        connect_timeout=args.connect_timeout,
    )


def _host(db: Any, name: str) -> Any:
    from db import hosts as db_hosts

    return db_hosts.get_hosts_by_name(db, [name])[0]


# -- baseline ---------------------------------------------------------------------------------------


def baseline_create(args: argparse.Namespace, out: TextIO) -> int:
    from app.jobs.drift import CaptureRequest
    from app.services import baselines

    db = open_db(args)
    files = split_list(args.files) or []
    packages = split_list(args.packages)
    services = split_list(args.services) or []
    if not args.from_host:
        if files:
            raise ConfigError("--files needs --from-host: a file's content comes from a host.")
        items = [baselines.parse_item("package", p) for p in packages or () if p != "all"]
        items += [baselines.parse_item("service", s) for s in services]
        baseline = baselines.create(db, args.name, items)
        return _print_baseline(db, args, out, baseline.name, [])
    request = CaptureRequest(
        tuple(files),
        None if packages is None else (("*",) if packages == ["all"] else tuple(packages)),
        tuple(services),
    )
    runner = _runner(args)
    try:
        outcome = baselines.capture(db, runner, args.name, _host(db, args.from_host), request)
    finally:
        runner.close()
    return _print_baseline(db, args, out, args.name, outcome.problems)


def baseline_add(args: argparse.Namespace, out: TextIO) -> int:
    from app.jobs.drift import CaptureRequest
    from app.services import baselines

    db = open_db(args)
    problems: list[str] = []
    specs = {kind: list(getattr(args, kind.replace("-", "_"))) for kind in _ITEM_KINDS}
    if args.from_host and specs["file"]:
        runner = _runner(args)
        try:
            request = CaptureRequest(tuple(specs.pop("file")))
            problems = baselines.capture(
                db, runner, args.name, _host(db, args.from_host), request, create=False
            ).problems
        finally:
            runner.close()
    items = [baselines.parse_item(kind, spec) for kind, values in specs.items() for spec in values]
    if not items and not args.from_host:
        raise ConfigError("Name something to add: --file, --package, --service, --sysctl, … (see --help).")
    if items:
        baselines.add_items(db, args.name, items)
    return _print_baseline(db, args, out, args.name, problems)


def baseline_remove(args: argparse.Namespace, out: TextIO) -> int:
    from app.services import baselines

    n = baselines.remove_items(open_db(args), args.name, args.item)
    print(f"{n} item(s) removed from {args.name}.", file=out)
    return EXIT_OK


def baseline_assign(args: argparse.Namespace, out: TextIO) -> int:
    from app.services import baselines
    from db import baselines as db_baselines

    hosts = split_list(args.hosts) or []
    if not hosts and not args.group:
        raise ConfigError(f"Name the hosts (--hosts) or the group (--group) to {args.verb}.")
    db = open_db(args)
    groups = [args.group] if args.group else []
    if args.verb == "assign":
        baselines.assign(db, args.name, hosts=hosts, groups=groups)
    else:
        baselines.unassign(db, args.name, hosts=hosts, groups=groups)
    now_hosts, now_groups = db_baselines.assignments(db, args.name)
    print(
        f"{args.name}: hosts {', '.join(now_hosts) or '-'}; groups {', '.join(now_groups) or '-'}", file=out
    )
    return EXIT_OK


def baseline_list(args: argparse.Namespace, out: TextIO) -> int:
    from db import baselines as db_baselines

    db = open_db(args)
    rows: list[dict[str, Any]] = []
    for b in db_baselines.list_baselines(db):
        hosts, groups = db_baselines.assignments(db, b.name)
        rows.append({"name": b.name, "items": len(b.items), "hosts": hosts, "groups": groups})
    if args.json:
        dump_json(out, {"baselines": rows})
    else:
        table = [
            [r["name"], str(r["items"]), ", ".join(r["hosts"]) or "-", ", ".join(r["groups"]) or "-"]
            for r in rows
        ]
        print_table(out, ["BASELINE", "ITEMS", "HOSTS", "GROUPS"], table)
    return EXIT_OK


def baseline_show(args: argparse.Namespace, out: TextIO) -> int:
    return _print_baseline(open_db(args), args, out, args.name, [])


def baseline_delete(args: argparse.Namespace, out: TextIO) -> int:
    from app.services import baselines

    baselines.delete(open_db(args), args.name)
    print(f"Baseline {args.name} deleted.", file=out)
    return EXIT_OK


def _print_baseline(db: Any, args: argparse.Namespace, out: TextIO, name: str, problems: list[str]) -> int:
    from app.services import baselines

    data = baselines.show(db, name)
    if getattr(args, "json", False):
        dump_json(out, {**data, "problems": problems})
        return EXIT_OK
    print(
        f"Baseline {name}: hosts {', '.join(data['hosts']) or '-'}; "
        f"groups {', '.join(data['groups']) or '-'}",
        file=out,
    )
    rows = [
        [str(i["id"]), i["kind"], i["target"], describe_value(i["kind"], i["expected"])]
        for i in data["items"]
    ]
    print_table(out, ["ID", "KIND", "TARGET", "EXPECTED"], rows)
    for p in problems:
        print(f"not captured: {p}", file=out)
    return EXIT_OK


# -- drift ----------------------------------------------------------------------------------------


def drift(args: argparse.Namespace, out: TextIO) -> int:
    if args.concurrency < 1:
        raise ConfigError("--concurrency must be at least 1.")
    if args.names and args.names[0] in ("fix", "rollback"):
        return _drift_change(args, out, args.names[0], args.names[1:])
    from app.services import baselines
    from db import jobs as db_jobs

    if args.all and args.names:
        raise ConfigError("Give host or baseline names or --all, not both.")
    db = open_db(args)
    hosts = baselines.hosts_for(db, args.names, args.all)
    if not hosts:
        raise ConfigError("No host has a baseline: `patchdesk baseline assign` gives them one.")
    failed: dict[int, str] = {}
    if not args.stored:
        runner = _runner(args)
        try:
            job_id = baselines.check(db, runner, hosts)
        finally:
            runner.close()
        for step in db_jobs.job_hosts(db, job_id):
            if step.state != "succeeded" and step.host_id is not None:
                failed[step.host_id] = step.error or str(step.state)
    report = baselines.drift_report(db, hosts, failed)
    if args.json:
        dump_json(out, report)
    else:
        _print_drift(out, report)
    clean = all(h["status"] in (DriftVerdict.NO_DRIFT, DriftVerdict.NO_BASELINE) for h in report["hosts"])
    return EXIT_OK if clean else EXIT_FAILED


def _print_drift(out: TextIO, report: dict[str, Any]) -> None:
    for h in report["hosts"]:
        print(f"{h['name']}: {h['status']}" + (f" ({h['error']})" if h.get("error") else ""), file=out)
        for d in h["drift"]:
            print(
                f"  [{d['id']}] {d['kind']} {d['target']}: "
                f"expected {describe_value(d['kind'], d['expected'])}; "
                f"actual {describe_value(d['kind'], d['actual'])}; since {d['since'][:19]}",
                file=out,
            )
        for d in h["unknown"]:
            print(f"  [{d['id']}] {d['kind']} {d['target']}: not seen", file=out)


def _drift_change(args: argparse.Namespace, out: TextIO, verb: str, names: list[str]) -> int:
    from app.services import baselines

    if not names and not args.all:
        raise ConfigError(f"Name the hosts to {verb}, or use --all.")
    db = open_db(args)
    hosts = baselines.hosts_for(db, names, args.all)
    runner = _runner(args)
    try:
        if verb == "fix":
            run = baselines.fix(db, runner, hosts, args.item, dry_run=args.dry_run, outside_window=args.now)
        else:
            run = baselines.rollback(db, runner, hosts, args.job)
    finally:
        runner.close()
    previews = {p.host.name: p for p in run.previews}
    entries: list[dict[str, Any]] = []
    for h in hosts:
        p = previews.get(h.name)
        outcomes = run.outcomes.get(h.name, [])
        error = run.errors.get(h.name)
        bad = error or any(not o.applied or o.verified != "ok" for o in outcomes if verb == "fix")
        entries.append(
            {
                "name": h.name,
                "status": "failed" if bad else ("planned" if args.dry_run else "ok"),
                "error": error,
                "actions": list(p.actions) if p else [],
                # why a fix would wait (outside the host's maintenance window); null: it may run now
                "window": baselines.window_refusal(db, h) if verb == "fix" else None,
                "refused": list(p.refused) if p else [],
                "items": [
                    {
                        "id": o.item_id,
                        "target": o.target,
                        "applied": o.applied,
                        "detail": o.detail,
                        "verified": o.verified,
                    }
                    for o in outcomes
                ],
            }
        )
    if args.json:
        dump_json(out, {"job": run.job_id, "dry_run": bool(args.dry_run and verb == "fix"), "hosts": entries})
    else:
        for e in entries:
            print(f"{e['name']}: {e['status']}" + (f" ({e['error']})" if e["error"] else ""), file=out)
            for a in e["actions"]:
                print(f"  {'would ' if args.dry_run else ''}{a}", file=out)
            for r in e["refused"]:
                print(f"  not fixed: {r}", file=out)
            for o in e["items"]:
                print(f"  [{o['id']}] {o['target']}: {o['detail']}; now {o['verified']}", file=out)
    return EXIT_FAILED if any(e["status"] == "failed" for e in entries) else EXIT_OK
