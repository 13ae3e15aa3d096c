"""The Windows Update adapter ("wua"): the Windows Update Agent's COM API, driven over WinRM.

Scan, install and uninstall run through a one-shot scheduled task as SYSTEM (see
app.platforms.windows.systask): WUA refuses to download or install -- and on recent Windows even to
search -- for a remote logon, and wusa.exe refuses remote sessions. Reading the installed-update
inventory and the reboot flags works remotely, so those are short direct commands. The scripts are
``ps/wua-*.ps1``; what they print is read by app.platforms.windows.wua_parse.

install/plan/snapshot accept a KB or an UpdateID. Drivers are installed only when named explicitly
(by UpdateID or KB), never by "install everything". Snapshots map each name to ``"installed"`` or
None, so the change record of an install reads ``KB5034441: None -> installed`` and its reverse is an
uninstall.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from app.domain.bundle import BundleError, check_id
from app.domain.errors import AdapterError
from app.domain.models import IndexState, InstallPlan, OsFacts, PackageChange, PendingUpdate
from app.platforms.base import Adapter, LogFn, Snapshot, emit
from app.platforms.windows.facts import is_windows
from app.platforms.windows.output import json_value
from app.platforms.windows.scripts import render, script_body
from app.platforms.windows.systask import TaskOutcome, run_system_task
from app.platforms.windows.wua_parse import (
    DRIVER_CRITERIA,
    INSTALLED,
    MANAGER,
    REBOOT_NEVER,
    RESULT_NAMES,
    SOFTWARE_CRITERIA,
    Installed,
    InstallOutcome,
    RemovalCheck,
    RemovalResult,
    WuaScan,
    WuaUpdate,
    hresult_hex,
    normalize_kb,
    parse_install,
    parse_installed,
    parse_reboot,
    parse_removal_checks,
    parse_removals,
    parse_scan,
    split_names,
)
from app.transports.base import OutputCallback, Transport

#: How often the install script tries its search before it gives up, and the pause (seconds, growing
#: with each try) between tries: a busy update server or a network still coming up after a restart
#: should not turn an install into "failed".
SEARCH_ATTEMPTS = 3
SEARCH_PAUSE = 30


def scan_payload(offline: Sequence[str] = ()) -> str:
    """The scan; with ``offline`` (ids of the bundles applied on the host) a search of the newest
    bundle's wsusscn2.cab instead of Windows Update or WSUS."""
    params: dict[str, object] = {"software": SOFTWARE_CRITERIA, "driver": DRIVER_CRITERIA}
    if offline:
        params["offline"] = [check_id(i) for i in offline]
    return render(
        "wua-scan", script_body("innermost-error", "wua-convert-update", "wua-offline", "wua-scan"), params
    )


def install_payload(ids: Sequence[str], kbs: Sequence[str], *, all_software: bool) -> str:
    return render(
        "wua-install",
        script_body("innermost-error", "wua-install"),
        {
            "ids": list(ids),
            "kbs": list(kbs),
            "all": all_software,
            "searchAttempts": SEARCH_ATTEMPTS,
            "searchPause": SEARCH_PAUSE,
        },
    )


def installed_script() -> str:
    return render("wua-installed", script_body("innermost-error", "wua-installed"))


def reboot_script() -> str:
    return render("reboot-pending", script_body("reboot-pending"))


def removal_check_payload(kbs: Sequence[str], offline: Sequence[str] = ()) -> str:
    """Which KBs may be uninstalled; ``offline``: the bundles' catalogue answers, not Windows Update."""
    params: dict[str, object] = {"kbs": list(kbs)}
    if offline:
        params["offline"] = [check_id(i) for i in offline]
    return render("wua-removal-check", script_body("wua-offline", "wua-removal-check"), params)


def uninstall_payload(items: Sequence[RemovalCheck]) -> str:
    plan = [{"kb": c.kb, "method": c.method, "package": c.dism_package} for c in items]
    return render("wua-uninstall", script_body("wua-uninstall"), {"items": plan})


def scan_index(scan: WuaScan, now: datetime) -> IndexState:
    """How current a successful scan's answer is.

    An online search (IUpdateSearcher.Online, the default wua-scan.ps1 keeps) asks the update service
    (Microsoft Update or the host's WSUS) at that moment, so the index is as new as the search. Only
    Automatic Updates moves LastSearchSuccessDate, so that date is a second witness, never a reason to
    call a search we just ran old. An offline search read the host's cache: incomplete.
    """
    last = scan.last_search_success
    if not scan.online:
        return IndexState(
            min(last, now) if last else None,
            measured=True,
            notes=(
                "Windows Update searched offline (the host's cached catalogue), so updates published "
                "since its last online search may be missing.",
            ),
        )
    seen = [t for t in (scan.searched, last) if t is not None]
    if not seen:
        return IndexState.unknown("Windows Update")
    # a host clock ahead of ours must not make the answer look fresher than now
    return IndexState(min(max(seen), now), measured=True)


class WindowsUpdateAdapter(Adapter):
    """Windows Update through WUA. Keeps the last scan and install for the job tasks to read."""

    name = MANAGER
    refreshes_indexes = False

    def __init__(
        self,
        host: str | None = None,
        *,
        scan_timeout: float = 1800.0,
        poll_interval: float = 5.0,
    ) -> None:
        #: how error sentences name the host
        self.host = host
        self.scan_timeout = scan_timeout
        self.poll_interval = poll_interval
        self.last_scan: WuaScan | None = None
        self.last_install: InstallOutcome | None = None
        self.last_removals: tuple[RemovalResult, ...] = ()

    def index_state(self, transport: Transport, *, refreshed: bool = False) -> IndexState:
        """What the last scan's search says of its own freshness (see :func:`scan_index`)."""
        if self.last_scan is None:
            return IndexState.unknown("Windows Update")
        if self.extra_sources and not self.last_scan.online:
            # the bundle's catalogue is as old as the day it was downloaded; we do not know that day
            return IndexState(
                None,
                measured=True,
                notes=(
                    "Windows Update searched offline, against the wsusscn2.cab of the bundle applied "
                    "last: updates Microsoft published after that catalogue was downloaded are missing.",
                ),
            )
        return scan_index(self.last_scan, datetime.now(UTC))

    def probe(self, transport: Transport, facts: OsFacts) -> bool:
        return is_windows(facts)

    def scan_phase(self) -> str:
        return "searching Windows Update"

    def install_results(self) -> list[tuple[str, str]]:
        """Per update of the last install: its result code and HRESULT."""
        outcome = self.last_install
        if outcome is None:
            return []
        lines = []
        for r in outcome.results:
            what = RESULT_NAMES.get(r.result_code, "not offered" if r.not_found else "unknown")
            lines.append(
                (
                    "info" if r.ok else "warning",
                    f"result: {r.name} ResultCode {r.result_code} ({what}), HRESULT {hresult_hex(r.hresult)}"
                    + (f" — {r.title}" if r.title else ""),
                )
            )
        return lines

    def _task(
        self, transport: Transport, payload: str, what: str, timeout: float, log: LogFn | None
    ) -> TaskOutcome:
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
            detail = " ".join(outcome.error.split())[:400]
            raise AdapterError(
                f"{what[:1].upper()}{what[1:]} failed on {self.host_name(transport)} "
                f"({outcome.hresult or 'no HRESULT'}): {detail or 'no error text'}"
            )
        return outcome

    def scan_details(self, transport: Transport, *, log: LogFn | None = None) -> WuaScan:
        what = "the offline Windows Update search" if self.extra_sources else "the Windows Update search"
        outcome = self._task(transport, scan_payload(self.extra_sources), what, self.scan_timeout, log)
        scan = parse_scan(outcome.result)
        for warning in scan.warnings:
            emit(log, "warning", f"Windows Update: {warning}")
        self.last_scan = None
        self.last_scan_notes = ()
        if scan.failure is not None:
            # never "0 pending": a search that did not succeed saw nothing
            raise AdapterError(f"{scan.failure[:-1]} on {self.host_name(transport)}.")
        self.last_scan = scan
        self.last_scan_notes = scan.notes
        return scan

    def scan(
        self, transport: Transport, *, refresh: bool = False, log: LogFn | None = None
    ) -> list[PendingUpdate]:
        """Pending software and driver updates (WUA searches online, so ``refresh`` changes nothing)."""
        return [u.to_pending() for u in self.scan_details(transport, log=log).updates]

    def reboot_required(self, transport: Transport) -> tuple[bool, tuple[str, ...]]:
        res = transport.run(reboot_script(), timeout=60)
        if not res.ok:
            raise AdapterError(
                f"Could not read the reboot flags of {self.host_name(transport)}: {res.err.strip()[:300]}"
            )
        return parse_reboot(res.out)

    def installed(self, transport: Transport) -> Installed:
        res = transport.run(installed_script(), timeout=300)
        if not res.ok:
            host = self.host_name(transport)
            raise AdapterError(f"Could not list the installed updates of {host}: {res.err.strip()[:300]}")
        have = parse_installed(json_value(res.out))
        if have.errors:
            host = self.host_name(transport)
            raise AdapterError(
                f"Could not read the installed updates of {host}: {'; '.join(have.errors[:2])}"
            )
        return have

    # -- patching ---------------------------------------------------------------------------------------

    def _selected(
        self, transport: Transport, names: Sequence[str] | None, log: LogFn | None
    ) -> list[WuaUpdate]:
        scan = self.last_scan or self.scan_details(transport, log=log)
        if names is None:
            return [u for u in scan.updates if not u.is_driver]
        return [u for u in scan.updates if any(u.matches(n) for n in names)]

    def plan(
        self, transport: Transport, names: Sequence[str] | None, *, log: LogFn | None = None
    ) -> InstallPlan:
        """What installing ``names`` would do, from the last scan (scanning first if there is none)."""
        if names is not None:
            _ids, _kbs, bad = split_names(names)
            if bad:
                raise AdapterError(
                    f"Not a KB number or update id: {', '.join(repr(b)[:40] for b in bad[:5])}"
                )
        chosen = self._selected(transport, names, log)
        warnings = []
        for u in chosen:
            if u.is_driver:
                warnings.append(
                    f"{u.name} is a driver update ({u.title}); it is installed because it was named."
                )
            if not u.uninstallable:
                warnings.append(f"{u.name} cannot be uninstalled once installed; it cannot be rolled back.")
        if names is not None:
            missing = [n for n in names if not any(u.matches(n) for u in chosen)]
            if missing:
                warnings.append(f"Not pending on this host: {', '.join(missing[:10])}")
        changes = tuple(
            PackageChange(MANAGER, u.name, None, INSTALLED, kb=u.kbs[0] if u.kbs else None) for u in chosen
        )
        return InstallPlan(
            changes,
            reboot_expected=any(u.reboot_behavior != REBOOT_NEVER for u in chosen),
            warnings=tuple(warnings),
        )

    def snapshot(self, transport: Transport, names: Sequence[str]) -> Snapshot:
        have = self.installed(transport)
        return {name: (INSTALLED if have.has(name) else None) for name in names}

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
        """Install through the SYSTEM task. Per-update result codes and HRESULTs end up in the log and
        in :attr:`last_install`; any failed update raises AdapterError naming it. Returns the task id
        as the transaction id."""
        host = self.host_name(transport)
        if self.extra_sources:
            self._install_from_bundle(transport, names, log, timeout)
            return None
        ids: list[str]
        kbs: list[str]
        if names is None:
            ids, kbs = [], []
            bad: list[str] = []
        else:
            ids, kbs, bad = split_names(names)
            if bad:
                raise AdapterError(
                    f"Not a KB number or update id: {', '.join(repr(b)[:40] for b in bad[:5])}"
                )
            if not ids and not kbs:
                return None
        payload = install_payload(ids, kbs, all_software=names is None)
        outcome = self._task(transport, payload, "the Windows Update installation", timeout, log)
        result = parse_install(outcome.result)
        self.last_install = result
        self.last_scan = None  # stale now
        if result.search_failed:
            raise AdapterError(
                f"Nothing was installed on {host}: the Windows Update search failed "
                f"{result.search_attempts} time(s), the last with HRESULT {hresult_hex(result.hresult)}"
                + (f" ({result.search_error})" if result.search_error else "")
                + "."
            )
        for warning in result.warnings:
            emit(log, "warning", warning)
        if outcome.restarted:
            emit(
                log,
                "warning",
                f"{host} restarted during the installation; the task resumed after the restart.",
            )
        for r in result.results:
            emit(log, "info" if r.ok else "error", f"Windows Update: {r.describe()}")
        if result.reboot_required:
            emit(log, "warning", f"{host} needs a restart to finish installing the updates.")
        failed = [r for r in result.results if not r.ok and not r.not_found]
        not_found = [r for r in result.results if r.not_found]
        if not_found:
            emit(
                log, "warning", "Not offered on this host: " + ", ".join(r.requested for r in not_found[:20])
            )
        if failed:
            raise AdapterError(
                f"Windows Update could not install {len(failed)} update(s) on {host}: "
                + "; ".join(r.describe() for r in failed[:5])
            )
        if names is not None and not_found and len(not_found) == len(result.results):
            raise AdapterError(f"None of the requested updates is offered to {host}.")
        return None

    def _install_from_bundle(
        self, transport: Transport, names: Sequence[str] | None, log: LogFn | None, timeout: float
    ) -> None:
        """An offline host: each KB from the .msu/.cab its bundles carry, by wusa or DISM through the
        SYSTEM task. Any KB not installed -- no file for it, not applicable, any other exit code --
        fails the install naming it."""
        from app.platforms.windows import bundle_win

        host = self.host_name(transport)
        everything = names is None
        if names is None:
            names = [u.name for u in self._selected(transport, None, log)]
        _ids, kbs, bad = split_names(names)
        if bad or _ids:
            raise AdapterError(
                f"Nothing was installed on {host}: an offline bundle installs updates by KB number, and "
                f"{', '.join(repr(b)[:40] for b in [*bad, *_ids][:5])} is none."
            )
        if not kbs:
            return
        newest_first = list(reversed(self.extra_sources))
        payload = bundle_win.install_payload(kbs, newest_first)
        outcome = self._task(transport, payload, "the installation from the bundle", timeout, log)
        try:
            results = bundle_win.parse_install(outcome.result)
        except BundleError as exc:
            raise AdapterError(f"{exc} ({host})") from None
        self.last_scan = None  # stale now
        for r in results:
            emit(log, "info" if r.ok else "error", f"Offline bundle: {r.describe()}")
        if any(r.exit_code == bundle_win.EXIT_REBOOT for r in results):
            emit(log, "warning", f"{host} needs a restart to finish installing the updates.")
        if everything:
            # "install everything": wsusscn2.cab lists every missing update, the bundle carries the
            # chosen ones; the others stay pending (the next scan shows them), they did not fail
            left = [r.kb for r in results if r.missing]
            if left:
                emit(
                    log,
                    "warning",
                    f"Not in the bundles applied on {host}, left pending: {', '.join(left[:20])}",
                )
            results = [r for r in results if not r.missing]
            kbs = [r.kb for r in results]
        failed = [r for r in results if not r.ok]
        if failed or len(results) < len(kbs):
            raise AdapterError(
                f"Could not install {len(failed) or len(kbs) - len(results)} update(s) on {host} from the "
                "bundle: " + "; ".join(r.describe() for r in failed[:5])
            )

    def available_versions(self, transport: Transport, names: Sequence[str]) -> Mapping[str, frozenset[str]]:
        """Windows updates have no versions to go back to: rolling back an install is an uninstall,
        which needs nothing to be available. Every name maps to an empty set."""
        return {name: frozenset() for name in names}

    def check_removable(
        self, transport: Transport, kbs: Sequence[str], *, log: LogFn | None = None
    ) -> dict[str, RemovalCheck]:
        outcome = self._task(
            transport, removal_check_payload(kbs, self.extra_sources), "the uninstall check", 900, log
        )
        return parse_removal_checks(outcome.result, kbs)

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
        """Uninstall the KBs a change record installed: DISM where the KB's CBS package is removable
        (the LCU part of a combined SSU+LCU too), wusa for an uninstallable update without one.

        Every KB is checked first; if any cannot be uninstalled -- permanent, or whether it is could not
        be read -- nothing is started and the error names them all. Updates without a KB cannot be
        removed by wusa and are refused the same way.
        """
        host = self.host_name(transport)
        kbs: list[str] = []
        refused: list[str] = []
        for change in changes:
            if change.manager != MANAGER or change.from_version is not None:
                refused.append(f"{change.name} (not an installation Patchdesk can undo)")
                continue
            kb = normalize_kb(change.kb or change.name)
            if kb is None:
                refused.append(f"{change.name} (no KB number, so it cannot be uninstalled)")
            elif kb not in kbs:
                kbs.append(kb)
        if refused:
            raise AdapterError(f"Nothing was changed on {host}; cannot roll back: {'; '.join(refused[:10])}.")
        if not kbs:
            return
        checks = self.check_removable(transport, kbs, log=log)
        blocked = [c.blocked_reason for c in checks.values() if c.installed and c.method is None]
        if blocked:
            raise AdapterError(
                f"Nothing was changed on {host}: {'; '.join(blocked[:10])}; so the rollback was not started."
            )
        todo = [c for c in checks.values() if c.installed]
        for c in checks.values():
            if not c.installed:
                emit(log, "info", f"{c.kb} is not installed on {host}; nothing to remove.")
        if not todo:
            return
        outcome = self._task(transport, uninstall_payload(todo), "the uninstall", timeout, log)
        removals = parse_removals(outcome.result)
        self.last_removals = tuple(removals)
        for r in removals:
            extra = f" ({r.error})" if r.error else ""
            emit(log, "info" if r.ok else "error", f"{r.kb}: {r.method} exit code {r.exit_code}{extra}")
        done = {r.kb for r in removals if r.ok}
        failed = [r for r in removals if not r.ok]
        if failed or len(done) < len(todo):
            left = [c.kb for c in todo if c.kb not in done]
            raise AdapterError(
                f"The rollback on {host} stopped: removed {', '.join(sorted(done)) or 'nothing'}; still "
                f"installed: {', '.join(left)}"
                + (f" ({failed[0].method} exit code {failed[0].exit_code})" if failed else "")
                + "."
            )
        if any(r.reboot_required for r in removals):
            emit(log, "warning", f"{host} needs a restart to finish removing the updates.")
