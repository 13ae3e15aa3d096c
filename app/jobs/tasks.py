"""Task functions: what the engine runs on each host.

A task gets a TaskContext (host, transport on demand, deadline, report channel) and returns a result
dataclass. It knows nothing of Qt or SQL: what must be stored is reported as events.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from app.domain.errors import AdapterError, CommandTimeoutError, PatchdeskError, SudoError
from app.domain.events import ScanRecorded
from app.domain.models import IndexState, LogLevel, OsFacts, PendingUpdate, ScanBasis, ScanResult
from app.domain.outside_changes import HistoryRead, HistoryRecorded, HistoryStatus
from app.domain.rules import Classifier
from app.jobs.engine import TaskContext
from app.platforms.base import Adapter, LogFn, new_nonce
from app.platforms.family import Family, family_of
from app.platforms.registry import detect
from app.transports.base import Transport

if TYPE_CHECKING:
    from app.domain.baseline import BaselineItem

#: Loads a stored scan basis by host id and fingerprint (db/scan_basis.py: BasisReader).
BasisLoader = Callable[[int, str], ScanBasis | None]


#: How old the package index may be before a scan refreshes it (policy.index_max_age_hours).
DEFAULT_INDEX_MAX_AGE = timedelta(hours=24)


@dataclass
class _Found:
    """What the adapters said, before classification: the pending list and its evidence."""

    raw: list[PendingUpdate]
    index: IndexState
    reboot: bool = False
    reboot_packages: tuple[str, ...] = ()
    basis: ScanBasis | None = None
    reused: bool = False
    notes: list[str] = field(default_factory=list)  # anything else that limited the scan
    extras_complete: bool = True


def scan_host(
    ctx: TaskContext,
    *,
    refresh: bool = False,
    classifier: Classifier | None = None,
    known: Mapping[int, tuple[str, str]] | None = None,
    load_basis: BasisLoader | None = None,
    index_max_age: timedelta = DEFAULT_INDEX_MAX_AGE,
    auto_refresh: bool = True,
    drift: Mapping[int, Sequence[BaselineItem]] | None = None,
) -> ScanResult:
    """Scan one host: OS facts, the package manager, pending updates, reboot-required.

    Usually one command: the facts snippet and the scan of the package manager the host had last time
    (the family's usual one when it is new) go together, since each extra command is another session
    on the host. When the guess was wrong, or the indexes must be refreshed first, the adapter's own
    calls follow.
    ``classifier`` (rules and advisory data, loaded by the runner) classifies what was found.

    ``known`` maps host ids to the (manager, fingerprint) of a stored scan basis and ``load_basis``
    loads one: when the host reports that nothing the package manager reads has changed since, it
    skips its simulation and the stored output is parsed again (and classified with today's rules and
    advisories). A refresh always simulates.

    ``drift`` maps host ids to the baseline items assigned to them: their check runs in the same
    command as the facts (app/jobs/drift.py), so it costs no extra session.

    The result says what the scan can vouch for: the index's age, ``complete`` only when the adapter
    measured an index no older than ``index_max_age`` and nothing else limited it, and ``notes``. An
    index found empty or too old is refreshed first (``auto_refresh``; needs root or sudo, as
    ``refresh`` does); when that fails the pending list read from the old index is kept, incomplete.
    """
    classifier = classifier or Classifier()
    host = ctx.host
    assert host.id is not None
    family = family_of(host)
    ctx.log(LogLevel.INFO, f"Connecting to {host.address} over {host.transport}…")
    transport = ctx.transport()
    ctx.progress(0.1, "collecting facts")
    guess = family.guess(host.managers, host.name)
    if guess is not None:
        guess.extra_sources = ctx.extra_sources
    nonce = new_nonce()
    stored = (known or {}).get(host.id)
    fingerprint = (
        stored[1] if stored and guess is not None and stored[0] == guess.name and load_basis else None
    )
    extra = (guess.scan_script(nonce, fingerprint) if guess is not None and not refresh else None) or ""
    checks = (drift or {}).get(host.id, ())
    history_nonce = new_nonce()
    commands = family.history_script(history_nonce) + extra
    if checks:
        # Imported for a host with baseline items only: most scans check none, and the drift
        # machinery (both families' checks and fixes) is a tenth of a one-shot scan's imports.
        from app.jobs import drift as job_drift

        drift_script, drift_nonce = job_drift.scan_snippet(family, checks)
        commands = job_drift.with_snippet(drift_script, commands)
    facts, binaries, out = family.facts(transport, commands)
    ctx.log(LogLevel.INFO, family.describe(facts))
    adapter = detect(facts, binaries, host=host.name)
    adapter.extra_sources = ctx.extra_sources
    if checks:
        job_drift.report_check(ctx, family, checks, out, drift_nonce, adapter.name)
    _read_history(ctx, family, transport, out, history_nonce, adapter.name)

    def previous() -> ScanBasis | None:
        assert host.id is not None and fingerprint is not None and load_basis is not None
        return load_basis(host.id, fingerprint)

    combined = None
    if extra and guess is not None and adapter.name == guess.name:
        combined = adapter.parse_scan_script(
            out, nonce, log=_adapter_log(ctx), previous=previous if fingerprint else None
        )
    if combined is not None:
        found = _Found(
            list(combined.pending),
            combined.index or adapter.index_state(transport),
            combined.reboot,
            combined.reboot_packages,
            combined.basis,
            combined.reused,
        )
        if found.reused and found.basis is not None:
            ctx.log(
                LogLevel.INFO,
                f"Nothing {adapter.name} reads has changed on the host since the simulation of "
                f"{found.basis.simulated_at[:19].replace('T', ' ')} UTC: its result was used again.",
            )
    else:
        ctx.progress(0.3, adapter.scan_phase())
        if refresh and adapter.refreshes_indexes:
            ctx.log(LogLevel.INFO, f"Refreshing the {adapter.name} package indexes…")
        raw = list(adapter.scan(transport, refresh=refresh, log=_adapter_log(ctx)))
        found = _Found(raw, adapter.index_state(transport, refreshed=refresh))
        if family.reboot_check_phase is not None:
            ctx.progress(0.8, family.reboot_check_phase)
        found.reboot, found.reboot_packages = adapter.reboot_required(transport)
    if auto_refresh and not refresh:
        _refresh_if_stale(ctx, adapter, transport, found, index_max_age)
    found.notes.extend(adapter.last_scan_notes)
    extras = family.extra_adapters(binaries, host.name)
    for other in extras:
        other.index_max_age, other.auto_refresh = index_max_age, auto_refresh
    _scan_extras(ctx, extras, transport, found)
    pending = classifier.classify_all(
        found.raw, os_id=facts.id, os_version=facts.version, id_like=facts.id_like
    )
    result_ = _result(found, facts, family.managers(adapter, binaries), pending, adapter.name, index_max_age)
    _log_result(ctx, result_, family.reboot_phrase)
    ctx.report(ScanRecorded(ctx.job_id, host_id=host.id, result=result_))
    return result_


def _read_history(
    ctx: TaskContext, family: Family, transport: Transport, out: str, nonce: str, manager: str
) -> None:
    """Report the host's package history (changes made outside Patchdesk are sorted out when it is
    stored). A history that could not be read is reported as unknown and does not fail the scan."""
    assert ctx.host.id is not None
    try:
        read = family.read_history(transport, out, nonce, manager)
    except (PatchdeskError, OSError) as exc:
        read = HistoryRead.unknown(manager, f"the package history could not be read: {exc}")
    if read.status == HistoryStatus.UNKNOWN:
        ctx.log(
            LogLevel.WARNING,
            f"Package history unknown ({read.note}): changes made outside Patchdesk cannot be told.",
        )
    ctx.report(HistoryRecorded(ctx.job_id, host_id=ctx.host.id, read=read))


def _adapter_log(ctx: TaskContext) -> LogFn:
    def log(level: str, text: str) -> None:
        ctx.log(LogLevel(level), text)

    return log


def _scan_extras(ctx: TaskContext, extras: list[Adapter], transport: Transport, found: _Found) -> None:
    """Chocolatey and winget beside Windows Update: one failing must not hide the rest, but it makes
    the scan incomplete, and so does one that cannot say how current its source is."""
    for other in extras:
        ctx.progress(0.6, f"scanning {other.name}")
        try:
            found.raw.extend(other.scan(transport, log=_adapter_log(ctx)))
        except AdapterError as exc:
            ctx.log(LogLevel.WARNING, f"{other.name}: {exc}")
            found.notes.append(f"{other.name} could not be scanned: {exc}")
            found.extras_complete = False
            continue
        index = other.index_state(transport)
        if not index.measured:
            found.notes.extend(index.notes)
            found.extras_complete = False


def _refresh_if_stale(
    ctx: TaskContext, adapter: Adapter, transport: Transport, found: _Found, max_age: timedelta
) -> None:
    """Refresh an index found empty or older than ``max_age``, then scan again; when the refresh (or
    the scan after it) fails, keep what the old index showed and say why."""
    if not adapter.refreshes_indexes or not found.index.stale(datetime.now(UTC), max_age):
        return
    ctx.log(LogLevel.INFO, f"{_age_phrase(found.index, adapter.name, max_age)}; refreshing it first…")
    try:
        raw = list(adapter.scan(transport, refresh=True, log=_adapter_log(ctx)))
    except (AdapterError, SudoError, CommandTimeoutError) as exc:  # no sudo, apt's error, too slow
        ctx.log(LogLevel.WARNING, f"The {adapter.name} package index could not be refreshed: {exc}")
        found.notes.append(f"The package index could not be refreshed, so this scan read the old one: {exc}")
        return
    found.raw, found.index = raw, adapter.index_state(transport, refreshed=True)
    found.basis, found.reused = None, False
    found.reboot, found.reboot_packages = adapter.reboot_required(transport)


def _age_phrase(index: IndexState, manager: str, max_age: timedelta) -> str:
    if index.updated is None:
        # empty, or a repository in it has no metadata at all: the index's notes say which
        return f"The {manager} package index on the host is empty or lacks a repository"
    age = datetime.now(UTC) - index.updated
    return (
        f"The {manager} package index was last refreshed {_hours(age)} ago, "
        f"more than the {_hours(max_age)} allowed (policy index_max_age_hours)"
    )


def _hours(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.0f} h" if hours >= 10 else f"{hours:.1f} h"


def _result(
    found: _Found,
    facts: OsFacts,
    managers: tuple[str, ...],
    pending: list[PendingUpdate],
    manager: str,
    max_age: timedelta,
) -> ScanResult:
    index = found.index
    notes = list(index.notes)
    stale = index.stale(datetime.now(UTC), max_age)
    if stale and index.updated is not None:
        notes.append(_age_phrase(index, manager, max_age) + ", so updates published since may be missing.")
    notes.extend(found.notes)
    # a note on a measured, fresh index is something it lacks (a source without lists)
    vouched = index.measured and not stale and not index.notes
    return ScanResult(
        facts=facts,
        managers=managers,
        pending=tuple(pending),
        reboot_required=found.reboot,
        reboot_packages=found.reboot_packages,
        basis=found.basis,
        reused=found.reused,
        index_updated=index.updated,
        complete=vouched and not found.notes and found.extras_complete,
        notes=tuple(dict.fromkeys(notes)),
    )


def _log_result(ctx: TaskContext, result: ScanResult, reboot_phrase: str) -> None:
    security = sum(1 for u in result.pending if u.security)
    ctx.log(
        LogLevel.INFO,
        f"{len(result.pending)} pending update(s), {security} security"
        + (f"; {reboot_phrase}" if result.reboot_required else ""),
    )
    for note in result.notes:
        ctx.log(LogLevel.WARNING, f"Scan incomplete: {note}" if not result.complete else note)
