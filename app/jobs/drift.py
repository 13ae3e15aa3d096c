"""Drift tasks: the check that rides along with every scan, the check on its own, capture from a golden
host, a fix of drifted items and the undoing of a fix.

Like every task these know nothing of Qt or SQL: what must be stored is reported as events
(``DriftRecorded``, ``RemediationRecorded``); what the caller needs back is the return value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.domain.baseline import (
    ENABLED_STATES,
    WINDOWS_KINDS,
    BaselineItem,
    CheckKind,
    DriftRecorded,
    ItemResult,
    ItemStatus,
    RemediationRecorded,
    describe_value,
    evaluate,
    make_item,
)
from app.domain.errors import AdapterError, PatchdeskError, UnsupportedHostError
from app.domain.models import LogLevel, OsFacts, PackageChange
from app.jobs.engine import TaskContext
from app.platforms.base import new_nonce
from app.platforms.family import Family, family_of
from app.platforms.posix import drift_fix
from app.platforms.posix.drift import check_script, package_format, parse_answer
from app.platforms.registry import detect
from app.platforms.windows import drift as windows_drift
from app.transports.base import Transport

#: Seconds the drift check may take on its own (hashing a few files, one dpkg-query).
CHECK_TIMEOUT = 120.0
#: Seconds one fix command may take (a package install or downgrade takes the longest).
FIX_TIMEOUT = 900.0


# -- the check --------------------------------------------------------------------------------------


def scan_snippet(family: Family, items: Sequence[BaselineItem]) -> tuple[str, str]:
    """The POSIX drift script to run after the facts in a scan's session, and its nonce ('' when none:
    a Windows host's check is a script of its own, run by :func:`report_check` in the same session)."""
    posix = [i for i in items if i.kind not in WINDOWS_KINDS]
    if not posix or family.name != "posix":
        return "", ""
    nonce = new_nonce()
    return check_script(posix, nonce), nonce


def with_snippet(snippet: str, extra: str) -> str:
    """The scan's extra commands with the drift script first (its answer then precedes the adapter's
    markers, which ignore what comes before them)."""
    return f"{snippet}; {extra}" if snippet and extra else snippet or extra


def report_check(
    ctx: TaskContext, family: Family, items: Sequence[BaselineItem], out: str, nonce: str, manager: str | None
) -> list[ItemResult]:
    """Judge the host's answer and report it. ``out``/``nonce``: the POSIX script's answer (run with the
    facts); on a Windows host its own script runs here, over the same session. ``manager``: the host's
    package manager, which says whose package database (dpkg's or rpm's) package items are read from.
    An item that could not be seen — of the other family, cut, unreadable — is unknown, never "no drift"."""
    if not items:
        return []
    assert ctx.host.id is not None
    results = _judge_all(ctx, family, items, out, nonce, manager)
    ctx.report(DriftRecorded(ctx.job_id, host_id=ctx.host.id, results=tuple(results)))
    drifted = sum(1 for r in results if r.status == ItemStatus.DRIFTED)
    unknown = sum(1 for r in results if r.status == ItemStatus.UNKNOWN)
    ctx.log(
        LogLevel.WARNING if drifted or unknown else LogLevel.INFO,
        f"Baseline check: {len(results)} item(s), {drifted} drifted, {unknown} not seen",
    )
    return results


def _judge_all(
    ctx: TaskContext, family: Family, items: Sequence[BaselineItem], out: str, nonce: str, manager: str | None
) -> list[ItemResult]:
    windows = family.name == "windows"
    mine = [i for i in items if (i.kind in WINDOWS_KINDS) == windows]
    fmt = package_format(manager)
    if windows:
        answer = (
            ctx.transport().run(windows_drift.check_script(mine), timeout=CHECK_TIMEOUT) if mine else None
        )
        observed = windows_drift.parse_answer(answer.out, mine) if answer is not None else {}
    else:
        observed = parse_answer(out, nonce, mine, fmt) if nonce else {}
    results = []
    for i in items:
        if i in mine:
            results.append(evaluate(i, observed.get(i.id), fmt=fmt or "deb"))
        else:
            why = f"a {i.kind} check does not apply to a {family.name} host"
            results.append(ItemResult(i.id, ItemStatus.UNKNOWN, {}, why))
    return results


def _manager(ctx: TaskContext, facts: OsFacts, binaries: frozenset[str]) -> str | None:
    """The host's package manager, chosen from os-release as a scan chooses it; None without one."""
    try:
        return detect(facts, binaries, host=ctx.host.name).name
    except UnsupportedHostError:
        return None


def _with_facts(ctx: TaskContext, transport: Transport, script: str) -> tuple[str, str | None]:
    """Run ``script`` after the facts in one command: its output and the host's package manager."""
    facts, binaries, out = family_of(ctx.host).facts(transport, script)
    return out, _manager(ctx, facts, binaries)


def _run_check(ctx: TaskContext, transport: Transport, items: Sequence[BaselineItem]) -> list[ItemResult]:
    family = family_of(ctx.host)
    snippet, nonce = scan_snippet(family, items)
    out, manager = _with_facts(ctx, transport, snippet) if snippet else ("", None)
    return report_check(ctx, family, items, out, nonce, manager)


def check_host(ctx: TaskContext, *, checks: Mapping[int, Sequence[BaselineItem]]) -> list[ItemResult]:
    """A drift check on its own (``patchdesk drift``): one command on the host."""
    items = checks.get(ctx.host.id or 0, ())
    ctx.log(LogLevel.INFO, f"Checking {len(items)} baseline item(s) on {ctx.host.name}…")
    return _run_check(ctx, ctx.transport(), items)


# -- capture ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaptureRequest:
    files: tuple[str, ...] = ()
    packages: tuple[str, ...] | None = None  # None: none; ("*",): the whole set
    services: tuple[str, ...] = ()


@dataclass
class Captured:
    """What a golden host showed: files (with content), installed packages, service states, and the
    sentences for anything that could not be captured."""

    files: list[drift_fix.FileState] = field(default_factory=list)
    packages: dict[str, str] = field(default_factory=dict)
    services: dict[str, dict[str, bool]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    #: items made as captured (a Windows host's services and programs)
    items: list[BaselineItem] = field(default_factory=list)


def capture_host(ctx: TaskContext, *, request: CaptureRequest) -> Captured:
    """Read files (as root: a baseline may cover files only root reads), the package set and services."""
    transport = ctx.transport()
    got = Captured()
    if family_of(ctx.host).name == "windows":
        _capture_windows(transport, request, got)
        return got
    if request.files:
        nonce = new_nonce()
        res = transport.run(
            drift_fix.read_files_script(request.files, nonce), sudo=True, timeout=CHECK_TIMEOUT
        )
        for state in drift_fix.parse_files(res.out, nonce, request.files).values():
            if isinstance(state, str):
                got.problems.append(state)
            else:
                got.files.append(state)
    if request.packages is not None:
        nonce = new_nonce()
        out, manager = _with_facts(ctx, transport, drift_fix.package_set_script(nonce))
        found = drift_fix.parse_package_set(out, nonce, package_format(manager))
        if found is None:
            got.problems.append("the package list could not be read")
        else:
            wanted = set(request.packages)
            got.packages = found if "*" in wanted else {n: v for n, v in found.items() if n in wanted}
            got.problems.extend(f"package {n} is not installed" for n in sorted(wanted - set(found) - {"*"}))
    if request.services:
        _capture_services(transport, request.services, got)
    return got


def _capture_windows(transport: Transport, request: CaptureRequest, got: Captured) -> None:
    """Services (start mode and state) and named programs (their version) of a Windows host."""
    if request.files:
        got.problems.append("files are captured from POSIX hosts; on Windows add registry values")
    programs = [n for n in request.packages or () if n != "*"]
    if request.packages and "*" in request.packages:
        got.problems.append("a Windows host's whole program list is not captured: name the programs")
    probes = [make_item("win-service", n, {}, -1 - k) for k, n in enumerate(request.services)]
    probes += [make_item("program", n, {}, -1000 - k) for k, n in enumerate(programs)]
    if not probes:
        return
    observed = windows_drift.parse_answer(
        transport.run(windows_drift.check_script(probes), timeout=CHECK_TIMEOUT).out, probes
    )
    for probe in probes:
        fields = observed[probe.id].fields if probe.id in observed else None
        if probe.kind == CheckKind.WIN_SERVICE and fields and fields.get("exists") == "1":
            want = {"start_mode": fields.get("start_mode", ""), "running": fields.get("status") == "Running"}
        elif probe.kind == CheckKind.PROGRAM and fields and fields.get("installed"):
            want = {"state": "present", "version": fields["installed"], "match": "exact"}
        else:
            got.problems.append(f"{probe.kind} {probe.target}: not found, or could not be read")
            continue
        try:
            got.items.append(make_item(probe.kind, probe.target, want))
        except ValueError as exc:  # a start mode or version a baseline cannot hold
            got.problems.append(f"{probe.kind} {probe.target}: {exc}")


def _capture_services(transport: Transport, names: Sequence[str], got: Captured) -> None:
    from app.platforms.posix.drift import split_answer

    nonce = new_nonce()
    res = transport.run(drift_fix.services_script(names, nonce), timeout=CHECK_TIMEOUT)
    sections = split_answer(res.out, nonce)
    for n, name in enumerate(names):
        lines = sections.get(f"svc-{n}", [])
        fields = dict(line.partition("=")[::2] for line in lines if "=" in line)
        if "end" not in fields:
            got.problems.append(f"service {name}: systemd did not answer")
            continue
        enabled = fields.get("enabled", "") in ENABLED_STATES
        got.services[name] = {"enabled": enabled, "running": fields.get("active") == "active"}


# -- fix and undo ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FixPlan:
    """One drifted item to put back: the item, and for a file the baseline's content."""

    item: BaselineItem
    content: bytes | None = None


@dataclass(frozen=True)
class UndoPlan:
    """One item a fix changed, and what was there before it (the stored snapshot)."""

    item: BaselineItem
    before: dict[str, Any]
    before_content: bytes | None
    undoes_job: int


@dataclass(frozen=True)
class FixOutcome:
    item_id: int
    target: str
    applied: bool
    detail: str
    verified: str  # the item's status after the change: ok / drifted / unknown


def fix_host(ctx: TaskContext, *, plans: Mapping[int, Sequence[FixPlan]]) -> list[FixOutcome]:
    """Snapshot what each item replaces, put it back as the baseline says, then check it again."""
    assert ctx.host.id is not None
    transport = ctx.transport()
    todo = list(plans.get(ctx.host.id, ()))
    before = _snapshot(ctx, transport, [p.item for p in todo])
    done: dict[int, tuple[bool, str]] = {}
    for plan in todo:
        ctx.log(LogLevel.INFO, f"Restoring {plan.item.kind} {plan.item.target} from the baseline…")
        done[plan.item.id] = _apply(
            ctx, transport, plan.item, plan.item.expected, plan.content, before.get(plan.item.id)
        )
        _report_outcome(ctx, plan.item, done[plan.item.id], None)
    return _verify(ctx, transport, [p.item for p in todo], done)


def undo_host(ctx: TaskContext, *, plans: Mapping[int, Sequence[UndoPlan]]) -> list[FixOutcome]:
    """Put back what a fix replaced, from its snapshot; the check afterwards shows the drift again."""
    assert ctx.host.id is not None
    transport = ctx.transport()
    todo = list(plans.get(ctx.host.id, ()))
    done: dict[int, tuple[bool, str]] = {}
    for plan in todo:
        ctx.log(LogLevel.INFO, f"Undoing the fix of {plan.item.kind} {plan.item.target}…")
        done[plan.item.id] = _apply(ctx, transport, plan.item, plan.before, plan.before_content, None)
        _report_outcome(ctx, plan.item, done[plan.item.id], plan.undoes_job)
    return _verify(ctx, transport, [p.item for p in todo], done)


def _report_outcome(ctx: TaskContext, item: BaselineItem, done: tuple[bool, str], undoes: int | None) -> None:
    assert ctx.host.id is not None
    ok, detail = done
    ctx.log(LogLevel.INFO if ok else LogLevel.ERROR, f"{item.kind} {item.target}: {detail}")
    ctx.report(
        RemediationRecorded(
            ctx.job_id,
            host_id=ctx.host.id,
            item_id=item.id,
            kind=item.kind,
            target=item.target,
            before={},
            state="applied" if ok else "failed",
            detail=detail,
            undoes_job=undoes,
        )
    )


def _verify(
    ctx: TaskContext, transport: Transport, items: list[BaselineItem], done: Mapping[int, tuple[bool, str]]
) -> list[FixOutcome]:
    ctx.log(LogLevel.INFO, "Checking the items again…")
    results = {r.item_id: r for r in _run_check(ctx, transport, items)}
    outcomes = [
        FixOutcome(
            i.id,
            i.target,
            done[i.id][0],
            done[i.id][1],
            str(results[i.id].status) if i.id in results else "unknown",
        )
        for i in items
    ]
    failed = [o for o in outcomes if not o.applied]
    if failed:
        raise AdapterError(
            f"{len(failed)} item(s) could not be put back on {ctx.host.name}: "
            + "; ".join(f"{o.target}: {o.detail}" for o in failed[:3])
        )
    return outcomes


def _snapshot(ctx: TaskContext, transport: Transport, items: list[BaselineItem]) -> dict[int, dict[str, Any]]:
    """What each item is now, reported (and so stored) before anything changes."""
    assert ctx.host.id is not None
    ctx.log(LogLevel.INFO, "Taking a snapshot of what will be replaced…")
    files = [i for i in items if i.kind == CheckKind.FILE]
    states: dict[str, drift_fix.FileState | str] = {}
    if files:
        nonce = new_nonce()
        paths = [i.target for i in files]
        res = transport.run(drift_fix.read_files_script(paths, nonce), sudo=True, timeout=CHECK_TIMEOUT)
        states = drift_fix.parse_files(res.out, nonce, paths)
    others = [i for i in items if i.kind != CheckKind.FILE]
    family = family_of(ctx.host)
    snippet, nonce = scan_snippet(family, others)
    out, manager = _with_facts(ctx, transport, snippet) if snippet else ("", None)
    judged = {r.item_id: r for r in _judge_all(ctx, family, others, out, nonce, manager)} if others else {}
    before: dict[int, dict[str, Any]] = {}
    for item in items:
        content: bytes | None = None
        if item.kind == CheckKind.FILE:
            state = states.get(item.target)
            if isinstance(state, str) or state is None:
                raise AdapterError(
                    f"No snapshot of {item.target} could be taken ({state}); nothing was changed."
                )
            snap: dict[str, Any] = {"state": "present" if state.exists else "absent"}
            if state.exists:
                snap.update(owner=state.owner, group=state.group, mode=state.mode, sha256=state.sha256)
            content = state.content
        else:
            result = judged[item.id]
            if result.status == ItemStatus.UNKNOWN:
                raise AdapterError(
                    f"No snapshot of {item.kind} {item.target} could be taken; nothing was changed."
                )
            snap = dict(result.actual)
        before[item.id] = snap
        ctx.report(
            RemediationRecorded(
                ctx.job_id,
                host_id=ctx.host.id,
                item_id=item.id,
                kind=item.kind,
                target=item.target,
                before=snap,
                before_content=content,
            )
        )
    return before


def _apply(
    ctx: TaskContext,
    transport: Transport,
    item: BaselineItem,
    want: Mapping[str, Any],
    content: bytes | None,
    now: Mapping[str, Any] | None,
) -> tuple[bool, str]:
    """Make ``item`` on the host what ``want`` says; (done, what happened or why not)."""
    try:
        kind = CheckKind(item.kind)
        if kind in WINDOWS_KINDS:
            res = transport.run(windows_drift.fix_script(item, want), timeout=FIX_TIMEOUT)
            if res.ok:
                return True, f"restored ({describe_value(item.kind, want)})"
            return False, f"the script failed (exit status {res.exit_status}): {res.err.strip()[:300]}"
        if kind == CheckKind.FILE:
            return _apply_file(transport, item.target, want, content)
        if kind == CheckKind.PACKAGE:
            return _apply_package(ctx, transport, item.target, want)
        if kind == CheckKind.SERVICE:
            cmd = drift_fix.service_command(item.target, want.get("enabled"), want.get("running"))
            return _root(transport, cmd, None, "service state restored")
        if kind == CheckKind.SYSCTL:
            value = str(want.get("value", ""))
            return _root(
                transport, drift_fix.sysctl_command(item.target), (value + "\n").encode(), f"set to {value}"
            )
        return False, f"a {kind} item cannot be put back automatically; fix it by hand"
    except (PatchdeskError, ValueError) as exc:
        return False, str(exc)


def _root(transport: Transport, command: str, stdin: bytes | None, done: str) -> tuple[bool, str]:
    res = transport.run(command, sudo=True, stdin=stdin, timeout=FIX_TIMEOUT)
    if res.ok:
        return True, done
    err = " ".join(res.err.strip().splitlines()[-2:])[:300]
    return False, f"the command failed (exit status {res.exit_status}): {err}"


def _apply_file(
    transport: Transport, path: str, want: Mapping[str, Any], content: bytes | None
) -> tuple[bool, str]:
    if want.get("state", "present") == "absent":
        return _root(transport, drift_fix.remove_file_command(path), None, "removed")
    owner, group, mode = want.get("owner"), want.get("group"), want.get("mode")
    if want.get("sha256"):
        if content is None:
            return False, "the baseline holds no content for this file"
        if not (owner and group and mode):
            return False, "the baseline lacks the file's owner, group or mode"
        return _root(
            transport,
            drift_fix.write_file_command(path, owner, group, mode),
            content,
            "content and metadata restored",
        )
    if owner or group or mode:
        return _root(
            transport, drift_fix.set_metadata_command(path, owner, group, mode), None, "metadata restored"
        )
    return False, "the baseline checks only option lines of this file; restore them by hand"


def _apply_package(
    ctx: TaskContext, transport: Transport, name: str, want: Mapping[str, Any]
) -> tuple[bool, str]:
    family = family_of(ctx.host)
    facts, binaries, _ = family.facts(transport)
    adapter = detect(facts, binaries, host=ctx.host.name)
    current = adapter.snapshot(transport, [name]).get(name)
    target = want.get("version") if want.get("state", "present") == "present" else None
    if want.get("state", "present") == "present" and target is None:
        return False, "the baseline names no version to install"
    if current == target:
        return True, "already as the baseline says"
    change = PackageChange(adapter.name, name, from_version=target, to_version=current)

    def log(level: str, text: str) -> None:
        ctx.log(LogLevel(level), text)

    adapter.rollback(transport, [change], log=log, timeout=FIX_TIMEOUT)
    return True, f"{name} {current or '(absent)'} → {target or '(removed)'}"


def read_file_task(ctx: TaskContext, *, path: str) -> bytes | None:
    """A file's content now (for the diff viewer): None when it is absent; an error when unreadable."""
    nonce = new_nonce()
    res = ctx.transport().run(drift_fix.read_files_script([path], nonce), sudo=True, timeout=CHECK_TIMEOUT)
    state = drift_fix.parse_files(res.out, nonce, [path])[path]
    if isinstance(state, str):
        raise AdapterError(state)
    return state.content if state.exists else None
