"""Baselines and drift, once for both faces: capture, edit, assign, check, report, fix and undo.

The checks themselves run on the hosts through the job machinery (app/jobs/drift.py); this module
reads and writes the database on the caller's thread, decides what a fix would do (the preview is made
from what is stored and touches no host), keeps fixes inside the hosts' maintenance windows like
routine patches, and writes the audit log.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from app.domain.baseline import (
    REGISTRY_TYPES,
    Baseline,
    BaselineItem,
    CheckKind,
    DriftItem,
    DriftVerdict,
    describe_value,
    make_item,
)
from app.domain.errors import ConfigError
from app.domain.maintenance_windows import window_at
from app.domain.models import Host, JobKind, StepState
from app.domain.schedule import no_window_reason
from app.jobs.drift import (
    Captured,
    CaptureRequest,
    FixOutcome,
    FixPlan,
    UndoPlan,
    capture_host,
    check_host,
    fix_host,
    undo_host,
)
from app.services import audit
from db import baselines as db_baselines
from db import hosts as db_hosts
from db import maintenance_windows as db_windows
from db.connection import Database

if TYPE_CHECKING:
    from app.jobs.runner import JobRunner

BASELINE_CHANGED = "baseline.changed"
DRIFT_FIX = "drift.fix"
DRIFT_ROLLBACK = "drift.rollback"


# -- making and editing baselines ------------------------------------------------------------------


@dataclass
class CaptureOutcome:
    baseline: Baseline
    problems: list[str] = field(default_factory=list)


def capture(
    db: Database,
    runner: JobRunner,
    name: str,
    host: Host,
    request: CaptureRequest,
    *,
    create: bool = True,
) -> CaptureOutcome:
    """Capture files (content and metadata), packages and services from a golden host into baseline
    ``name`` (a new one, or added to an existing one with ``create=False``)."""
    if create and any(b.name == name for b in db_baselines.list_baselines(db)):
        raise ConfigError(f"A baseline named {name!r} already exists.")
    handle = runner.start_task(
        db,
        JobKind.DRIFT,
        [host],
        functools.partial(capture_host, request=request),
        params={"capture": name},
        accept_new_keys=True,
    )
    handle.wait()
    assert host.id is not None
    outcome = handle.outcomes.get(host.id)
    if outcome is None or outcome.state != StepState.SUCCEEDED or not isinstance(outcome.result, Captured):
        why = outcome.error if outcome else "the job did not run"
        raise ConfigError(f"Nothing was captured from {host.name}: {why}")
    got: Captured = outcome.result
    items, blobs = _captured_items(got)
    if not items:
        raise ConfigError(f"Nothing was captured from {host.name}: " + "; ".join(got.problems[:5]))
    if create:
        db_baselines.create_baseline(db, name, items, audit.actor(), blobs)
    else:
        db_baselines.add_items(db, name, items, audit.actor(), blobs)
    details = {"from_host": host.name, "items": len(items), "problems": got.problems[:20]}
    audit.record(db, BASELINE_CHANGED, name, {"action": "captured", **details})
    return CaptureOutcome(db_baselines.get_baseline(db, name), got.problems)


def _captured_items(got: Captured) -> tuple[list[BaselineItem], list[bytes]]:
    items: list[BaselineItem] = []
    blobs: list[bytes] = []
    for f in got.files:
        items.append(make_item("file", f.path, f.expected()))
        if f.content is not None:
            blobs.append(f.content)
    for name, version in sorted(got.packages.items()):
        items.append(make_item("package", name, {"state": "present", "version": version, "match": "exact"}))
    for name, state in sorted(got.services.items()):
        items.append(make_item("service", name, dict(state)))
    items.extend(got.items)
    return items, blobs


def create(db: Database, name: str, items: Sequence[BaselineItem] = ()) -> Baseline:
    """An empty (or hand-made) baseline."""
    db_baselines.create_baseline(db, name, items, audit.actor())
    audit.record(db, BASELINE_CHANGED, name, {"action": "created", "items": len(items)})
    return db_baselines.get_baseline(db, name)


def parse_item(kind: str, spec: str) -> BaselineItem:
    """An item from the CLI's short forms: ``--package NAME[=VER|>=VER]``, ``--sysctl KEY=VAL``,
    ``--file PATH`` (must exist), ``--file-absent PATH``, ``--file-option PATH:KEY=VALUE``,
    ``--service NAME`` (enabled and running), ``--user/--group NAME``, ``--port tcp/22``;
    ``!NAME`` means absent for packages, services' "stopped and disabled", users and groups."""
    try:
        return _parse_item(kind, spec.strip())
    except ValueError as exc:
        raise ConfigError(f"--{kind} {spec[:80]!r}: {exc}.") from None


def _parse_item(kind: str, spec: str) -> BaselineItem:
    absent = spec.startswith("!")
    name = spec[1:] if absent else spec
    if kind == "package":
        if ">=" in name:
            pkg, version = name.split(">=", 1)
            return make_item(kind, pkg, {"state": "present", "version": version, "match": "minimum"})
        pkg, _, version = name.partition("=")
        expected: dict[str, Any] = {"state": "absent" if absent else "present"}
        if version:
            expected.update(version=version, match="exact")
        return make_item(kind, pkg, expected)
    if kind == "sysctl":
        key, sep, value = spec.partition("=")
        if not sep:
            raise ValueError("write KEY=VALUE")
        return make_item(kind, key.strip(), {"value": value.strip()})
    if kind == "file":
        return make_item(kind, name, {"state": "absent" if absent else "present"})
    if kind == "file-absent":
        return make_item("file", name, {"state": "absent"})
    if kind == "file-option":
        path, sep, option = spec.partition(":")
        key, sep2, value = option.partition("=")
        if not sep or not sep2:
            raise ValueError("write PATH:KEY=VALUE")
        return make_item("file", path, {"options": {key.strip(): value.strip()}})
    if kind == "service":
        return make_item(kind, name, {"enabled": not absent, "running": not absent})
    if kind in ("user", "group"):
        return make_item(kind, name, {"state": "absent" if absent else "present"})
    if kind == "port":
        return make_item(kind, name, {"state": "closed" if absent else "listening"})
    return _parse_windows_item(kind, name, absent)


def _parse_windows_item(kind: str, name: str, absent: bool) -> BaselineItem:
    """``--registry 'HKLM\\KEY|NAME=TYPE:VALUE'`` (TYPE one of DWord, QWord, String, ExpandString,
    MultiString; without it a String) or ``'!HKLM\\KEY|NAME'``; ``--win-service NAME=Automatic,running``;
    ``--program NAME[=VER|>=VER]`` or ``!NAME``; ``--local-group GROUP:MEMBER``; ``--firewall Public=on``."""
    if kind == "registry":
        if absent:
            return make_item(kind, name, {"state": "absent"})
        target, sep, raw = name.partition("=")
        if not sep:
            raise ValueError("write KEY|NAME=TYPE:VALUE")
        vtype, colon, value = raw.partition(":")
        if not colon or vtype not in REGISTRY_TYPES:
            vtype, value = "String", raw
        return make_item(kind, target, {"state": "present", "type": vtype, "value": value})
    if kind == "win-service":
        target, _, spec = name.partition("=")
        words = [w.strip() for w in spec.split(",") if w.strip()]
        expected: dict[str, Any] = {}
        for w in words:
            if w in ("running", "stopped"):
                expected["running"] = w == "running"
            else:
                expected["start_mode"] = w
        return make_item(kind, target, expected or {"running": True})
    if kind == "program":
        if absent:
            return make_item(kind, name, {"state": "absent"})
        if ">=" in name:
            program, version = name.split(">=", 1)
            return make_item(kind, program, {"state": "present", "version": version, "match": "minimum"})
        program, _, version = name.partition("=")
        expected = {"state": "present"} | ({"version": version, "match": "exact"} if version else {})
        return make_item(kind, program, expected)
    if kind == "local-group":
        group, sep, member = name.partition(":")
        if not sep or not member:
            raise ValueError("write GROUP:MEMBER")
        return make_item(kind, group, {"members": [member]})
    if kind == "firewall":
        profile, _, state = name.partition("=")
        return make_item(kind, profile, {"enabled": state.strip().lower() not in ("off", "false", "no", "0")})
    raise ValueError(f"no such kind ({', '.join(k.value for k in CheckKind)})")


def add_items(db: Database, name: str, items: Sequence[BaselineItem]) -> Baseline:
    """Add (or replace) items; a file-option item joins the options of the same file's item."""
    current = {(i.kind, i.target): i for i in db_baselines.get_baseline(db, name).items}
    merged = []
    for item in items:
        old = current.get((item.kind, item.target))
        if old is not None and item.kind == CheckKind.FILE and set(item.expected) == {"options"}:
            options = {**(old.expected.get("options") or {}), **item.expected["options"]}
            item = make_item(item.kind, item.target, {**old.expected, "options": options})
        elif old is not None and item.kind == CheckKind.LOCAL_GROUP:
            members = list(dict.fromkeys([*old.expected.get("members", []), *item.expected["members"]]))
            item = make_item(item.kind, item.target, {"members": members})
        merged.append(item)
    db_baselines.add_items(db, name, merged, audit.actor())
    audit.record(
        db,
        BASELINE_CHANGED,
        name,
        {"action": "items.added", "items": [f"{i.kind} {i.target}" for i in merged]},
    )
    return db_baselines.get_baseline(db, name)


def remove_items(db: Database, name: str, item_ids: Sequence[int]) -> int:
    n = db_baselines.remove_items(db, name, item_ids, audit.actor())
    audit.record(db, BASELINE_CHANGED, name, {"action": "items.removed", "ids": list(item_ids)})
    return n


def set_expected(db: Database, name: str, item: BaselineItem, expected: dict[str, Any]) -> Baseline:
    """Edit what one item expects (the GUI's item editor)."""
    return add_items(db, name, [make_item(item.kind, item.target, expected)])


def assign(db: Database, name: str, *, hosts: Sequence[str] = (), groups: Sequence[str] = ()) -> None:
    found = db_hosts.get_hosts_by_name(db, list(hosts)) if hosts else []
    missing = sorted(set(hosts) - {h.name for h in found})
    if missing:
        raise ConfigError(f"No host named {', '.join(missing)}.")
    db_baselines.assign(db, name, audit.actor(), host_ids=[h.id for h in found if h.id], groups=groups)
    audit.record(
        db, BASELINE_CHANGED, name, {"action": "assigned", "hosts": list(hosts), "groups": list(groups)}
    )


def unassign(db: Database, name: str, *, hosts: Sequence[str] = (), groups: Sequence[str] = ()) -> None:
    found = db_hosts.get_hosts_by_name(db, list(hosts)) if hosts else []
    db_baselines.unassign(db, name, audit.actor(), host_ids=[h.id for h in found if h.id], groups=groups)
    details = {"action": "unassigned", "hosts": list(hosts), "groups": list(groups)}
    audit.record(db, BASELINE_CHANGED, name, details)


def delete(db: Database, name: str) -> None:
    db_baselines.delete_baseline(db, name, audit.actor())
    audit.record(db, BASELINE_CHANGED, name, {"action": "deleted"})


def show(db: Database, name: str) -> dict[str, Any]:
    """A baseline as JSON: items, assignments and history."""
    b = db_baselines.get_baseline(db, name)
    hosts, groups = db_baselines.assignments(db, name)
    return {
        "name": b.name,
        "items": [{"id": i.id, "kind": i.kind, "target": i.target, "expected": i.expected} for i in b.items],
        "hosts": hosts,
        "groups": groups,
        "history": db_baselines.history(db, name),
    }


# -- drift -----------------------------------------------------------------------------------------


def hosts_for(db: Database, names: Sequence[str], all_hosts: bool) -> list[Host]:
    """The hosts a drift command covers: ``names`` (hosts, or baselines: their hosts), or with
    ``all_hosts`` every host that has a baseline."""
    every = db_hosts.list_hosts(db)
    with_baseline = [h for h in every if db_baselines.baselines_for_host(db, h)]
    if all_hosts or not names:
        return with_baseline
    baselines = {b.name for b in db_baselines.list_baselines(db)}
    picked = []
    for h in every:
        mine = {b.name for b in db_baselines.baselines_for_host(db, h)}
        if h.name in names or mine & set(names):
            picked.append(h)
    unknown = sorted(set(names) - baselines - {h.name for h in every})
    if unknown:
        raise ConfigError(f"No host or baseline named {', '.join(unknown)}.")
    return picked


def check(db: Database, runner: JobRunner, hosts: Sequence[Host]) -> int:
    """Run the drift check on ``hosts`` (one command each) and wait; the job's id."""
    checks = db_baselines.items_for_hosts(db, hosts)
    handle = runner.start_task(
        db,
        JobKind.DRIFT,
        hosts,
        functools.partial(check_host, checks=checks),
        params={"check": True},
        accept_new_keys=True,
    )
    handle.wait()
    runner.flush()
    return handle.job_id


def outside_changes_status(db: Database, host: Host) -> str:
    """Whether ``outside_changes_for`` could read the host's history: ok, partial, unknown or never."""
    from app.services import outside_changes

    return outside_changes.outside_changes_status(db, host)


def outside_changes_for(db: Database, host: Host) -> list[dict[str, Any]]:
    """Package changes on ``host`` that no Patchdesk job made (app/services/outside_changes.py); the
    one place the drift report takes them from."""
    from app.services.outside_changes import outside_changes_for_host

    return outside_changes_for_host(db, host)


def _item_json(d: DriftItem) -> dict[str, Any]:
    return {
        "id": d.id,
        "kind": d.kind,
        "target": d.target,
        "expected": d.expected,
        "actual": d.actual,
        "since": d.since,
    }


def drift_report(db: Database, hosts: Sequence[Host], failed: dict[int, str] | None = None) -> dict[str, Any]:
    """The ``drift --json`` document. A host whose check just failed is unknown, whatever was stored."""
    out = []
    for host in hosts:
        hd = db_baselines.host_drift(db, host)
        status = str(hd.verdict)
        error = (failed or {}).get(host.id or 0)
        if error is not None and hd.verdict != DriftVerdict.NO_BASELINE:
            status = str(DriftVerdict.UNKNOWN)
        out.append(
            {
                "name": host.name,
                "status": status,
                "error": error,
                "checked_at": hd.checked_at,
                "baselines": list(hd.baselines),
                "drift": [_item_json(d) for d in hd.drift],
                "unknown": [_item_json(d) | {"reason": "not seen"} for d in hd.unknown],
                "outside_changes": outside_changes_for(db, host),
                # an empty list means "none" only when this is "ok" (unknown: the history was unreadable)
                "outside_changes_status": outside_changes_status(db, host),
            }
        )
    return {"hosts": out}


# -- fix and undo ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FixPreview:
    """What a fix of one host would do, item by item, and the items it cannot fix."""

    host: Host
    plans: tuple[FixPlan, ...]
    actions: tuple[str, ...]
    refused: tuple[str, ...]


def preview(db: Database, host: Host, item_ids: Sequence[int] = ()) -> FixPreview:
    """The fix of ``host``'s drifted items (all, or ``item_ids``), from what is stored; no host is
    contacted. The preview is what the fix then does."""
    hd = db_baselines.host_drift(db, host)
    chosen = [d for d in hd.drift if not item_ids or d.id in item_ids]
    missing = set(item_ids) - {d.id for d in hd.drift}
    refused = [f"item {i} has no drift on {host.name}" for i in sorted(missing)]
    plans, actions = [], []
    for d in chosen:
        item = BaselineItem(d.id, d.kind, d.target, d.expected)
        content = db_baselines.blob(db, str(d.expected["sha256"])) if d.expected.get("sha256") else None
        why = _unfixable(item, content)
        if why:
            refused.append(f"{d.kind} {d.target}: {why}")
            continue
        plans.append(FixPlan(item, content))
        actions.append(_action(d))
    return FixPreview(host, tuple(plans), tuple(actions), tuple(refused))


#: Kinds a fix does not put back (it would need more than the baseline says: a user's details, which
#: process should listen, an installer, a member's account).
UNFIXABLE = (CheckKind.USER, CheckKind.GROUP, CheckKind.PORT, CheckKind.PROGRAM, CheckKind.LOCAL_GROUP)


def _unfixable(item: BaselineItem, content: bytes | None) -> str | None:
    exp = item.expected
    if item.kind in (
        CheckKind.USER,
        CheckKind.GROUP,
        CheckKind.PORT,
        CheckKind.PROGRAM,
        CheckKind.LOCAL_GROUP,
    ):
        return "cannot be put back automatically; fix it by hand"
    if item.kind == CheckKind.REGISTRY and exp.get("state", "present") == "present" and "type" not in exp:
        return "the baseline names no value type to write"
    if item.kind == CheckKind.FILE and exp.get("sha256") and content is None:
        return "the baseline holds no content for this file"
    if (
        item.kind == CheckKind.FILE
        and exp.get("state", "present") == "present"
        and not (exp.get("sha256") or exp.get("owner") or exp.get("mode"))
    ):
        return "the baseline checks only option lines of this file; restore them by hand"
    if item.kind == CheckKind.PACKAGE and exp.get("state", "present") == "present" and not exp.get("version"):
        return "the baseline names no version to install"
    return None


def _action(d: DriftItem) -> str:
    exp = d.expected
    if d.kind == CheckKind.FILE:
        if exp.get("state") == "absent":
            return f"remove {d.target}"
        what = "write the baseline's content to" if exp.get("sha256") else "set owner/group/mode of"
        meta: dict[str, Any] = {k: exp[k] for k in ("owner", "group", "mode") if k in exp}
        return f"{what} {d.target} ({describe_value(d.kind, meta)})"
    if d.kind == CheckKind.PACKAGE:
        if exp.get("state") == "absent":
            return f"remove package {d.target}"
        return f"install {d.target} {exp.get('version')} (now {d.actual.get('version') or 'absent'})"
    if d.kind in (CheckKind.SERVICE, CheckKind.WIN_SERVICE):
        return f"service {d.target}: {describe_value(d.kind, exp)}"
    if d.kind == CheckKind.REGISTRY:
        if exp.get("state") == "absent":
            return f"remove registry value {d.target}"
        return f"set registry value {d.target} to {exp.get('value')} ({exp.get('type')})"
    if d.kind == CheckKind.FIREWALL:
        return f"firewall profile {d.target}: {describe_value(d.kind, exp)}"
    return f"sysctl {d.target} = {exp.get('value')} (now {d.actual.get('value')})"


def window_refusal(db: Database, host: Host, now: datetime | None = None) -> str | None:
    """Why a fix of ``host`` may not run now: like routine patches, only inside one of its group's
    maintenance windows (None: a window is open)."""
    now = now or datetime.now(UTC)
    windows = db_windows.windows_for_group(db, host.group)
    if window_at(windows, now) is not None:
        return None
    return no_window_reason(host, windows, now, urgent=False)


@dataclass
class FixRun:
    job_id: int | None
    previews: list[FixPreview]
    outcomes: dict[str, list[FixOutcome]]
    errors: dict[str, str]


def fix(
    db: Database,
    runner: JobRunner,
    hosts: Sequence[Host],
    item_ids: Sequence[int] = (),
    *,
    dry_run: bool = False,
    outside_window: bool = False,
) -> FixRun:
    """Preview, and unless ``dry_run`` fix, the drifted items of ``hosts`` (each inside its window
    unless ``outside_window``); audited before it starts."""
    previews = [preview(db, h, item_ids) for h in hosts]
    errors: dict[str, str] = {}
    if not dry_run and not outside_window:
        for p in previews:
            why = window_refusal(db, p.host)
            if why:
                errors[p.host.name] = f"{why} (give --now to fix it outside its window)"
    todo = [p for p in previews if p.plans and p.host.name not in errors]
    if dry_run or not todo:
        return FixRun(None, previews, {}, errors)
    plans = {p.host.id: p.plans for p in todo if p.host.id is not None}
    handle = runner.start_task(
        db,
        JobKind.REMEDIATE,
        [p.host for p in todo],
        functools.partial(fix_host, plans=plans),
        params={"fix": {p.host.name: [pl.item.id for pl in p.plans] for p in todo}},
        accept_new_keys=True,
    )
    audit.record(
        db,
        DRIFT_FIX,
        ", ".join(p.host.name for p in todo),
        {
            "job": handle.job_id,
            "items": {p.host.name: list(p.actions) for p in todo},
            "outside_window": outside_window,
        },
    )
    return _finish(runner, handle, [p.host for p in todo], previews, errors)


def _finish(
    runner: JobRunner, handle: Any, hosts: Sequence[Host], previews: list[FixPreview], errors: dict[str, str]
) -> FixRun:
    handle.wait()
    runner.flush()
    outcomes: dict[str, list[FixOutcome]] = {}
    for h in hosts:
        o = handle.outcomes.get(h.id)
        if o is None or o.state != StepState.SUCCEEDED:
            errors[h.name] = (o.error if o else None) or "the job did not run on this host"
        if o is not None and isinstance(o.result, list):
            outcomes[h.name] = o.result
    return FixRun(handle.job_id, previews, outcomes, errors)


def rollback(db: Database, runner: JobRunner, hosts: Sequence[Host], job_id: int | None = None) -> FixRun:
    """Undo a fix (``job_id``, default each host's newest) from the snapshot it took."""
    plans: dict[int, list[UndoPlan]] = {}
    errors: dict[str, str] = {}
    for h in hosts:
        assert h.id is not None
        fixes = [
            r for r in db_baselines.remediations(db, host_id=h.id, job_id=job_id) if r.state == "applied"
        ]
        items = db_baselines.expected_of(db, [r.item_id for r in fixes])
        todo = [
            UndoPlan(items[r.item_id], r.before, r.before_content, r.job_id)
            for r in fixes
            if r.item_id in items and r.before
        ]
        if todo:
            plans[h.id] = todo
        else:
            errors[h.name] = "no fix to undo" + (f" in job {job_id}" if job_id else "")
    targets = [h for h in hosts if h.id in plans]
    if not targets:
        return FixRun(None, [], {}, errors)
    handle = runner.start_task(
        db,
        JobKind.REMEDIATE,
        targets,
        functools.partial(undo_host, plans=plans),
        params={"undo": {h.name: plans[h.id or 0][0].undoes_job for h in targets}},
        accept_new_keys=True,
    )
    audit.record(
        db,
        DRIFT_ROLLBACK,
        ", ".join(h.name for h in targets),
        {"job": handle.job_id, "undoes": {h.name: plans[h.id or 0][0].undoes_job for h in targets}},
    )
    return _finish(runner, handle, targets, [], errors)


def file_diff(db: Database, runner: JobRunner, host: Host, item: BaselineItem) -> tuple[str, str]:
    """(baseline text, host text) of a file item, the host's read now (only when a diff is opened)."""
    from app.jobs.drift import read_file_task

    sha = item.expected.get("sha256")
    base = db_baselines.blob(db, str(sha)) if sha else None
    handle = runner.start_task(
        db,
        JobKind.DRIFT,
        [host],
        functools.partial(read_file_task, path=item.target),
        params={"diff": item.target},
    )
    handle.wait()
    o = handle.outcomes.get(host.id or 0)
    if o is None or o.state != StepState.SUCCEEDED:
        raise ConfigError(f"{item.target} could not be read on {host.name}: {o.error if o else 'no answer'}")
    now = o.result
    return _text(base), _text(now if isinstance(now, bytes) else None)


def _text(data: bytes | None) -> str:
    if data is None:
        return ""
    return data.decode("utf-8", errors="replace")
