"""The winget adapter ("winget"): best effort, through the Microsoft.WinGet.Client module.

winget.exe does not run under a plain WinRM logon (it is an MSIX app bound to an interactive user),
so everything goes through the one-shot SYSTEM task (app.platforms.windows.systask) and the
PowerShell module's structured objects (``Get-WinGetPackage``: Id, Name, InstalledVersion,
AvailableVersions, IsUpdateAvailable, Source; ``Update-WinGetPackage``: Status, RebootRequired,
InstallerErrorCode). Where the module is missing the adapter says so plainly and finds nothing:
winget is never the system's package manager, so its absence must not fail a scan -- but the scan
cannot vouch for winget's packages then, so it is incomplete.

Index age: winget answers from a local copy of each indexed source (Microsoft.PreIndexed.Package,
the "winget" source), refreshed in the background when older than its autoupdate interval. The
module does not say how old it is; ``winget source list -n <name>`` does, so the scan reads it,
refreshes a source older than ``index_max_age`` with ``winget source update``, and the scan is
complete only when every indexed source is then younger than that. REST and Store sources are asked
live and have no index to age.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from app.domain.errors import AdapterError
from app.domain.models import IndexState, InstallPlan, OsFacts, PackageChange, PendingUpdate, UpdateKind
from app.platforms.base import Adapter, LogFn, Snapshot
from app.platforms.windows.facts import is_windows
from app.platforms.windows.scripts import render, script_body
from app.platforms.windows.systask import run_system_task
from app.transports.base import OutputCallback, Transport

MANAGER = "winget"
MAX_PACKAGES = 5000
UNAVAILABLE = (
    "winget updates are checked only where the Microsoft.WinGet.Client PowerShell module is installed "
    "(Install-Module Microsoft.WinGet.Client); it is not on {host}, so winget was skipped."
)

_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+\-]{0,127}\Z")
_VERSION_RE = re.compile(r"[0-9A-Za-z<>][0-9A-Za-z.+\-_ ]{0,63}\Z")


def scan_script(max_age: timedelta = timedelta(hours=24), *, refresh: bool = True) -> str:
    """The scan payload; it refreshes an indexed source older than ``max_age`` when ``refresh``."""
    return render(
        "winget-scan",
        script_body("winget-import", "winget-scan"),
        {"maxAgeHours": max_age.total_seconds() / 3600, "refresh": refresh},
    )


def list_script() -> str:
    return render("winget-list", script_body("winget-import", "winget-list"))


def update_script(ids: Sequence[str]) -> str:
    return render(
        "winget-update", script_body("innermost-error", "winget-import", "winget-update"), {"ids": list(ids)}
    )


def _text(value: object, limit: int = 200) -> str:
    if not isinstance(value, str):
        return ""
    text = re.sub(r"[\x00-\x1f\x7f]", " ", value).strip()
    return text[:limit]


def parse_packages(result: object) -> tuple[list[dict[str, str]], bool]:
    """(packages, unavailable) from a scan/list payload result. Never raises."""
    if not isinstance(result, dict):
        return [], False
    if result.get("unavailable") is True:
        return [], True
    raw = result.get("packages")
    items = raw if isinstance(raw, list) else ([raw] if isinstance(raw, dict) else [])
    out = []
    for item in items[:MAX_PACKAGES]:
        if not isinstance(item, dict):
            continue
        pid = _text(item.get("Id"), 128)
        if not _ID_RE.fullmatch(pid):
            continue
        out.append(
            {
                "id": pid,
                "name": _text(item.get("Name")),
                "installed": _text(item.get("InstalledVersion"), 64),
                "available": _text(item.get("AvailableVersion"), 64),
                "source": _text(item.get("Source"), 64),
            }
        )
    return out, False


@dataclass(frozen=True)
class SourceAge:
    """One winget source as the scan saw it: its index time (UTC) and whether a refresh was tried."""

    name: str
    indexed: bool
    updated: datetime | None
    refreshed: bool
    refresh_exit: int | None


def _utc(value: object) -> datetime | None:
    text = _text(value, 40)
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
    except ValueError:
        return None
    if when is None:
        return None
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)


def parse_sources(result: object) -> list[SourceAge] | None:
    """The sources of a scan payload result; None when the result has no source list at all."""
    if not isinstance(result, dict) or "sources" not in result:
        return None
    raw = result.get("sources")
    out = []
    for item in (raw if isinstance(raw, list) else [raw] if isinstance(raw, dict) else [])[:50]:
        if not isinstance(item, dict) or not _text(item.get("Name"), 64):
            continue
        code = item.get("RefreshExit")
        out.append(
            SourceAge(
                name=_text(item.get("Name"), 64),
                indexed="PreIndexed" in _text(item.get("Type"), 64),
                updated=_utc(item.get("Updated")),
                refreshed=item.get("Refreshed") is True,
                refresh_exit=code if isinstance(code, int) and not isinstance(code, bool) else None,
            )
        )
    return out


def source_index(sources: list[SourceAge] | None, host: str, now: datetime, max_age: timedelta) -> IndexState:
    """Fresh when every indexed source is younger than ``max_age`` (after the scan's refresh); the
    oldest one dates the index. Anything else is a note, and the scan incomplete."""
    if sources is None:
        return IndexState.unknown("winget")
    if not sources:
        return IndexState(notes=(f"winget on {host} has no source, so nothing was compared.",))
    notes = []
    times = []
    for s in sources:
        if not s.indexed:
            continue  # REST and Store sources answer live
        if s.refreshed and s.refresh_exit != 0:
            code = "no exit code" if s.refresh_exit is None else f"exit code {s.refresh_exit}"
            notes.append(f"winget source {s.name} could not be refreshed on {host} ({code}).")
        if s.updated is None:
            notes.append(f"The age of winget source {s.name} on {host} is not known.")
        elif now - s.updated > max_age:
            hours = (now - s.updated).total_seconds() / 3600
            notes.append(f"winget source {s.name} on {host} was last updated {hours:.0f} h ago.")
        else:
            times.append(min(s.updated, now))
    if notes:
        return IndexState(min(times) if times else None, notes=tuple(notes))
    return IndexState(min(times) if times else now, measured=True)


def to_pending(pkg: dict[str, str]) -> PendingUpdate:
    return PendingUpdate(
        manager=MANAGER,
        name=pkg["id"],
        installed=pkg["installed"] or None,
        available=pkg["available"] or "newer version",
        source=f"winget ({pkg['source']})" if pkg["source"] else "winget",
        kind=UpdateKind.BUGFIX,
    )


def parse_update_results(result: object) -> list[dict[str, Any]]:
    if not isinstance(result, dict):
        return []
    raw = result.get("results")
    out = []
    for item in (raw if isinstance(raw, list) else [raw])[:MAX_PACKAGES]:
        if isinstance(item, dict) and _ID_RE.fullmatch(_text(item.get("Id"), 128)):
            out.append(
                {
                    "id": _text(item.get("Id"), 128),
                    "status": _text(item.get("Status"), 64),
                    "reboot": item.get("RebootRequired") is True,
                    "code": item.get("InstallerErrorCode")
                    if isinstance(item.get("InstallerErrorCode"), int)
                    else 0,
                    "error": _text(item.get("Error"), 300),
                    "hresult": item.get("HResult") if isinstance(item.get("HResult"), int) else 0,
                }
            )
    return out


class WinGetAdapter(Adapter):
    """winget packages through Microsoft.WinGet.Client in a SYSTEM task (best effort)."""

    name = MANAGER

    def __init__(self, host: str | None = None, *, poll_interval: float = 5.0) -> None:
        self.host = host
        self.poll_interval = poll_interval
        self.reboot_after_install = False
        self.last_index: IndexState | None = None

    def index_state(self, transport: Transport, *, refreshed: bool = False) -> IndexState:
        return self.last_index or IndexState.unknown("winget")

    def _task(
        self, transport: Transport, payload: str, what: str, timeout: float, log: LogFn | None
    ) -> object:
        outcome = run_system_task(
            transport,
            payload,
            what=what,
            host=self.host_name(transport),
            timeout=timeout,
            poll_interval=self.poll_interval,
            log=log,
        )
        if not outcome.ok:
            raise AdapterError(
                f"{what} failed on {self.host_name(transport)}: {' '.join(outcome.error.split())[:300]}"
            )
        return outcome.result

    def probe(self, transport: Transport, facts: OsFacts) -> bool:
        return is_windows(facts)

    def scan(
        self, transport: Transport, *, refresh: bool = False, log: LogFn | None = None
    ) -> list[PendingUpdate]:
        host = self.host_name(transport)
        self.last_index = None
        payload = scan_script(self.index_max_age, refresh=self.auto_refresh or refresh)
        result = self._task(transport, payload, "the winget check", 900, log)
        pkgs, unavailable = parse_packages(result)
        if unavailable:
            self.last_index = IndexState(notes=(UNAVAILABLE.format(host=host),))
            if log is not None:
                log("warning", UNAVAILABLE.format(host=host))
            return []
        if not isinstance(result, dict) or "packages" not in result:
            raise AdapterError(f"The winget check on {host} returned no readable result.")
        self.last_index = source_index(parse_sources(result), host, datetime.now(UTC), self.index_max_age)
        if log is not None:
            for note in self.last_index.notes:
                log("warning", note)
        return [to_pending(p) for p in pkgs]

    def reboot_required(self, transport: Transport) -> tuple[bool, tuple[str, ...]]:
        return self.reboot_after_install, ()

    def plan(
        self, transport: Transport, names: Sequence[str] | None, *, log: LogFn | None = None
    ) -> InstallPlan:
        """What updating ``names`` would change, from a fresh winget check (winget has no dry run)."""
        pending = self.scan(transport, log=log)
        wanted = None if names is None else {n.lower() for n in names}
        chosen = [u for u in pending if wanted is None or u.name.lower() in wanted]
        missing = sorted(wanted - {u.name.lower() for u in chosen}) if wanted is not None else []
        return InstallPlan(
            tuple(PackageChange(MANAGER, u.name, u.installed, u.available) for u in chosen),
            warnings=(f"Not pending in winget on this host: {', '.join(missing[:10])}",) if missing else (),
        )

    def snapshot(self, transport: Transport, names: Sequence[str]) -> Snapshot:
        pkgs, unavailable = parse_packages(
            self._task(transport, list_script(), "the winget inventory", 900, None)
        )
        if unavailable:
            raise AdapterError(UNAVAILABLE.format(host=self.host_name(transport)))
        have = {p["id"].lower(): p["installed"] or None for p in pkgs}
        return {n: have.get(n.lower()) for n in names}

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
        if names is None:
            names = [u.name for u in self.scan(transport, log=log)]
        ids = [n for n in names if _ID_RE.fullmatch(n)]
        if len(ids) != len(names):
            raise AdapterError("Some names are not winget package ids; nothing was installed.")
        if not ids:
            return None
        result = self._task(transport, update_script(ids), "the winget update", timeout, log)
        if isinstance(result, dict) and result.get("unavailable") is True:
            raise AdapterError(UNAVAILABLE.format(host=self.host_name(transport)))
        failed = []
        for r in parse_update_results(result):
            self.reboot_after_install |= r["reboot"]
            ok = r["status"] == "Ok"
            if log is not None:
                log("info" if ok else "error", f"winget: {r['id']}: {r['status']} {r['error']}".strip())
            if not ok:
                hresult = f", HRESULT 0x{r['hresult'] & 0xFFFFFFFF:08X}" if r["hresult"] else ""
                failed.append(
                    f"{r['id']} ({r['status'] or 'no status'}, installer code {r['code']}{hresult})"
                )
        if failed:
            raise AdapterError(
                f"winget could not update on {self.host_name(transport)}: {'; '.join(failed[:5])}"
            )
        return None
