"""The Chocolatey adapter ("choco"): third-party applications on Windows hosts.

Output formats (Chocolatey's ``-r``/``--limit-output``, documented for scripting):

* ``choco outdated -r`` prints ``id|installed|available|pinned`` per package (pinned is
  ``true``/``false``); exit code 2 means "outdated packages found" with enhanced exit codes, 0 none.
* ``choco list -r`` (v2; v1 needs ``--local-only``) and ``choco search --exact --all-versions -r``
  print ``id|version``.
* ``choco source list -r`` prints ``name|url|disabled|user|certificate|priority|bypassProxy|
  selfService|adminOnly`` per configured source.
* A source that does not answer makes ``choco outdated`` print "Unable to load the service index for
  source <url>" / "Unable to connect to source '<url>'" and carry on; with ``--ignore-unfound`` the
  packages from it just drop out of the list. So the scan reads the sources and those lines too: it is
  complete only when every enabled source answered.
* install/upgrade exit codes: 0 success; 1641 and 3010 success, a restart is needed (or started);
  350 "a restart is pending, nothing was done"; 1604 "installation suspended, incomplete".

Chocolatey runs under a plain WinRM logon, so these are direct commands. Package ids and versions
come from the host and are untrusted: they are checked against Chocolatey's own id/version syntax and
passed to the script as data (``$P``), never spliced into it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from app.domain.errors import AdapterError
from app.domain.models import (
    IndexState,
    InstallPlan,
    OsFacts,
    PackageChange,
    PendingUpdate,
    UpdateKind,
)
from app.platforms.base import Adapter, LogFn, Snapshot, emit, quote_line
from app.platforms.windows.facts import is_windows
from app.platforms.windows.output import json_value
from app.platforms.windows.scripts import render, script_body
from app.transports.base import CommandResult, OutputCallback, Transport

MANAGER = "choco"

EXIT_OK = 0
EXIT_REBOOT = frozenset({1641, 3010})
EXIT_PENDING_REBOOT = 350
EXIT_SUSPENDED = 1604
EXIT_OUTDATED_FOUND = 2

MAX_PACKAGES = 5000

_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,99}\Z")
_VERSION_RE = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+\-]{0,63}\Z")


@dataclass(frozen=True)
class Outdated:
    id: str
    installed: str
    available: str
    pinned: bool


def parse_outdated(text: str) -> tuple[list[Outdated], list[str]]:
    """``id|installed|available|pinned`` lines -> packages, plus warnings for malformed lines."""
    out: list[Outdated] = []
    warnings: list[str] = []
    for raw in text.splitlines()[: MAX_PACKAGES * 2]:
        line = raw.strip()
        if not line or "|" not in line:
            continue
        parts = line.split("|")
        if len(parts) != 4:
            if len(warnings) < 20:
                warnings.append(f"Could not understand Chocolatey line: {line[:120]!r}")
            continue
        pid, inst, avail, pinned = (p.strip() for p in parts)
        if not (_ID_RE.fullmatch(pid) and _VERSION_RE.fullmatch(inst) and _VERSION_RE.fullmatch(avail)):
            if len(warnings) < 20:
                warnings.append(f"Could not understand Chocolatey line: {line[:120]!r}")
            continue
        out.append(Outdated(pid, inst, avail, pinned.lower() == "true"))
        if len(out) >= MAX_PACKAGES:
            break
    return out, warnings


@dataclass(frozen=True)
class Source:
    name: str
    url: str
    disabled: bool


def parse_sources(lines: Sequence[str]) -> list[Source]:
    """``choco source list -r`` lines -> sources (lines that are not one are skipped)."""
    out = []
    for raw in lines[:200]:
        parts = raw.strip().split("|")
        if len(parts) < 3 or not parts[0].strip() or not parts[1].strip():
            continue
        out.append(Source(parts[0].strip()[:100], parts[1].strip()[:300], parts[2].strip().lower() == "true"))
    return out


_SOURCE_FAILED_RE = re.compile(
    r"(?:unable to load the service index for source|unable to connect to source|"
    r"error retrieving packages from source)\s+'?([^'\s]+?)'?[.:]?(?:\s|$)",
    re.I,
)


def failed_sources(lines: Sequence[str], sources: Sequence[Source]) -> list[str]:
    """The sources (by name, else the URL as printed) that choco said did not answer."""
    by_url = {s.url.rstrip("/").lower(): s.name for s in sources}
    out: list[str] = []
    for line in lines[: MAX_PACKAGES * 2]:
        m = _SOURCE_FAILED_RE.search(line)
        if m:
            url = m.group(1)
            name = by_url.get(url.rstrip("/").lower(), quote_line(url))
            if name not in out:
                out.append(name)
    return out


@dataclass(frozen=True)
class OutdatedRun:
    """What the outdated script printed: the packages, the sources and which of them failed."""

    items: list[Outdated]
    warnings: list[str]
    exit_code: int | None
    error_lines: list[str]
    sources: list[Source] | None  # None: the source list could not be read
    failed: list[str] = field(default_factory=list)

    @property
    def enabled(self) -> list[Source]:
        return [s for s in self.sources or [] if not s.disabled]


def parse_outdated_run(text: str) -> OutdatedRun | None:
    """The outdated script's JSON; None when it printed none (truncated, or not the script's)."""
    obj = json_value(text)
    if not isinstance(obj, dict):
        return None
    out = str_list_all(obj.get("out"))
    err = str_list_all(obj.get("err"))
    items, warnings = parse_outdated("\n".join(out))
    raw_code = obj.get("exit")
    code = raw_code if isinstance(raw_code, int) and not isinstance(raw_code, bool) else None
    sources = parse_sources(str_list_all(obj.get("sources"))) if obj.get("sourcesExit") == 0 else None
    return OutdatedRun(items, warnings, code, err, sources, failed_sources(out + err, sources or []))


def str_list_all(value: object) -> list[str]:
    """Every line of a JSON list of strings (PowerShell 5 makes one line a scalar), bounded."""
    items = value if isinstance(value, list) else ([] if value is None else [value])
    return [v for v in items[: MAX_PACKAGES * 2] if isinstance(v, str)]


def source_index(run: OutdatedRun, host: str, now: datetime) -> IndexState:
    """``choco outdated`` asks its sources live, so the answer is as fresh as now when every enabled
    source answered; anything else is said, and makes the scan incomplete."""
    if run.sources is None:
        return IndexState(
            notes=(
                f"Chocolatey's sources could not be listed on {host}; the scan cannot "
                "tell whether every source answered.",
            )
        )
    if not run.enabled:
        return IndexState(
            notes=(
                f"Chocolatey on {host} has no enabled source, so nothing was compared against a repository.",
            )
        )
    if run.failed:
        return IndexState(
            notes=tuple(
                f"Chocolatey source {name} did not answer on {host}; updates from it are missing."
                for name in run.failed[:10]
            )
        )
    if run.warnings:
        return IndexState(
            notes=(f"{len(run.warnings)} line(s) of choco outdated on {host} could not be read.",)
        )
    return IndexState(now, measured=True)


def parse_list(text: str) -> dict[str, str]:
    """``id|version`` lines -> {id: version} (ids compared case-insensitively by Chocolatey; kept as
    printed)."""
    out: dict[str, str] = {}
    for raw in text.splitlines()[: MAX_PACKAGES * 4]:
        parts = raw.strip().split("|")
        if len(parts) != 2:
            continue
        pid, version = parts[0].strip(), parts[1].strip()
        if _ID_RE.fullmatch(pid) and _VERSION_RE.fullmatch(version):
            out[pid] = version
    return out


def parse_versions(text: str, package: str) -> frozenset[str]:
    versions = set()
    for raw in text.splitlines()[: MAX_PACKAGES * 4]:
        parts = raw.strip().split("|")
        if (
            len(parts) == 2
            and parts[0].strip().lower() == package.lower()
            and _VERSION_RE.fullmatch(parts[1].strip())
        ):
            versions.add(parts[1].strip())
    return frozenset(versions)


def to_pending(item: Outdated) -> PendingUpdate:
    return PendingUpdate(
        manager=MANAGER,
        name=item.id,
        installed=item.installed,
        available=item.available,
        source="chocolatey" + (" (pinned)" if item.pinned else ""),
        kind=UpdateKind.BUGFIX,
    )


def exit_meaning(code: int) -> str:
    if code == EXIT_OK:
        return "ok"
    if code in EXIT_REBOOT:
        return "reboot"
    if code == EXIT_PENDING_REBOOT:
        return "pending-reboot"
    if code == EXIT_SUSPENDED:
        return "suspended"
    return "failed"


def check_id(pid: str) -> str:
    if not _ID_RE.fullmatch(pid):
        raise AdapterError(f"Not a Chocolatey package id: {pid[:60]!r}")
    return pid


def _choco(name: str) -> str:
    # every choco script starts by naming the binary; they go out with Windows line ends
    return script_body("choco-prelude", name, crlf=True)


def probe_script() -> str:
    return render("choco-probe", script_body("choco-probe", crlf=True))


def outdated_script() -> str:
    return render("choco-outdated", _choco("choco-outdated"))


def list_script() -> str:
    return render("choco-list", _choco("choco-list"))


def search_script(pid: str) -> str:
    return render("choco-search", _choco("choco-search"), {"id": check_id(pid)})


def upgrade_script(pid: str, version: str | None = None, *, downgrade: bool = False) -> str:
    if version is not None and not _VERSION_RE.fullmatch(version):
        raise AdapterError(f"Not a Chocolatey version: {version[:60]!r}")
    return render(
        "choco-upgrade",
        _choco("choco-upgrade"),
        {"id": check_id(pid), "version": version, "downgrade": downgrade},
    )


def uninstall_script(pid: str) -> str:
    return render("choco-uninstall", _choco("choco-uninstall"), {"id": check_id(pid)})


def _last_lines(res: CommandResult) -> str:
    lines = [ln.strip() for ln in (res.err + "\n" + res.out).splitlines() if ln.strip()]
    return "; ".join(lines[-3:])[:400] or f"exit code {res.exit_status}"


class ChocolateyAdapter(Adapter):
    """Chocolatey packages over a (WinRM) transport."""

    name = MANAGER

    def __init__(self, host: str | None = None) -> None:
        self.host = host
        self.last_outdated: list[Outdated] = []
        self.last_index: IndexState | None = None
        self.reboot_after_install = False

    def index_state(self, transport: Transport, *, refreshed: bool = False) -> IndexState:
        return self.last_index or IndexState.unknown("Chocolatey")

    def probe(self, transport: Transport, facts: OsFacts) -> bool:
        return is_windows(facts) and transport.run(probe_script(), timeout=30).ok

    def scan(
        self, transport: Transport, *, refresh: bool = False, log: LogFn | None = None
    ) -> list[PendingUpdate]:
        host = self.host_name(transport)
        self.last_index = None
        res = transport.run(outdated_script(), timeout=600)
        run = parse_outdated_run(res.out) if res.ok else None
        if run is None:
            raise AdapterError(f"choco outdated gave no readable answer on {host}: {_last_lines(res)}")
        if run.exit_code not in (EXIT_OK, EXIT_OUTDATED_FOUND):
            detail = "; ".join(quote_line(x) for x in (run.error_lines or run.warnings)[-3:])
            what = "did not run (is choco.exe installed?)" if run.exit_code is None else "failed"
            raise AdapterError(
                f"choco outdated {what} on {host}"
                + (f" (exit code {run.exit_code})" if run.exit_code is not None else "")
                + (f": {detail}" if detail else "")
            )
        for w in run.warnings:
            emit(log, "warning", w)
        self.last_index = source_index(run, host, datetime.now(UTC))
        for note in self.last_index.notes:
            emit(log, "warning", note)
        self.last_outdated = run.items
        return [to_pending(i) for i in run.items]

    def reboot_required(self, transport: Transport) -> tuple[bool, tuple[str, ...]]:
        """Chocolatey keeps no reboot flag of its own; Windows' flags are read by the WUA adapter."""
        return self.reboot_after_install, ()

    def plan(
        self, transport: Transport, names: Sequence[str] | None, *, log: LogFn | None = None
    ) -> InstallPlan:
        if not self.last_outdated:
            self.scan(transport, log=log)
        wanted = None if names is None else {n.lower() for n in names}
        chosen = [o for o in self.last_outdated if wanted is None or o.id.lower() in wanted]
        warnings = tuple(f"{o.id} is pinned; Chocolatey will not upgrade it." for o in chosen if o.pinned)
        changes = tuple(
            PackageChange(MANAGER, o.id, o.installed, o.available) for o in chosen if not o.pinned
        )
        return InstallPlan(changes, warnings=warnings)

    def snapshot(self, transport: Transport, names: Sequence[str]) -> Snapshot:
        res = transport.run(list_script(), timeout=300)
        if not res.ok:
            raise AdapterError(f"choco list failed on {self.host_name(transport)}: {_last_lines(res)}")
        have = {k.lower(): v for k, v in parse_list(res.out).items()}
        return {n: have.get(n.lower()) for n in names}

    def _run_choco(
        self, transport: Transport, script: str, what: str, timeout: float, on_output: OutputCallback | None
    ) -> str:
        res = transport.run(script, timeout=timeout, on_output=on_output)
        meaning = exit_meaning(res.exit_status)
        host = self.host_name(transport)
        if meaning == "pending-reboot":
            raise AdapterError(
                f"Chocolatey on {host} found a pending restart and did nothing for {what}; restart the host "
                "and try again."
            )
        if meaning == "suspended":
            raise AdapterError(f"Chocolatey on {host} suspended {what} before it finished (exit code 1604).")
        if meaning == "failed":
            raise AdapterError(f"Chocolatey could not {what} on {host}: {_last_lines(res)}")
        if meaning == "reboot":
            self.reboot_after_install = True
        return meaning

    def install(
        self,
        transport: Transport,
        names: Sequence[str] | None,
        *,
        log: LogFn | None = None,
        on_output: OutputCallback | None = None,
        timeout: float = 3600,
        lock_wait: float = 120,
    ) -> str | None:
        plan = self.plan(transport, names, log=log)
        for change in plan.changes:
            meaning = self._run_choco(
                transport,
                upgrade_script(change.name, change.to_version),
                f"upgrade {change.name}",
                timeout,
                on_output,
            )
            emit(log, "info", f"choco: {change.name} upgraded to {change.to_version}")
            if meaning == "reboot":
                emit(log, "warning", f"{change.name} asks for a restart of {self.host_name(transport)}.")
        return None

    def available_versions(self, transport: Transport, names: Sequence[str]) -> Mapping[str, frozenset[str]]:
        out: dict[str, frozenset[str]] = {}
        for name in names:
            res = transport.run(search_script(name), timeout=300)
            out[name] = parse_versions(res.out, name) if res.ok else frozenset()
        return out

    def rollback(
        self,
        transport: Transport,
        changes: Sequence[PackageChange],
        *,
        transaction_id: str | None = None,
        log: LogFn | None = None,
        on_output: OutputCallback | None = None,
        timeout: float = 3600,
        lock_wait: float = 120,
    ) -> None:
        for change in changes:
            check_id(change.name)
        for change in changes:
            if change.from_version is None:
                self._run_choco(
                    transport, uninstall_script(change.name), f"uninstall {change.name}", timeout, on_output
                )
                emit(log, "info", f"choco: {change.name} uninstalled")
            else:
                self._run_choco(
                    transport,
                    upgrade_script(change.name, change.from_version, downgrade=True),
                    f"put {change.name} back to {change.from_version}",
                    timeout,
                    on_output,
                )
                emit(log, "info", f"choco: {change.name} back to {change.from_version}")
