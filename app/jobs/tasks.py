"""Task functions: what the engine runs on each host.

A task gets a TaskContext (host, transport on demand, deadline, report channel) and returns a result
dataclass. It knows nothing of Qt or SQL: what must be stored is reported as events.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from app.domain.errors import AdapterError
from app.domain.events import ScanRecorded
from app.domain.models import LogLevel, PendingUpdate, ScanBasis, ScanResult, TransportKind
from app.domain.rules import Classifier
from app.jobs.engine import TaskContext
from app.platforms.posix.facts import gather_facts_with, new_nonce
from app.platforms.registry import adapter_named, detect
from app.transports.base import Transport

#: Loads a stored scan basis by host id and fingerprint (db/scan_basis.py: BasisReader).
BasisLoader = Callable[[int, str], ScanBasis | None]


def scan_host(
    ctx: TaskContext,
    *,
    refresh: bool = False,
    classifier: Classifier | None = None,
    known: Mapping[int, tuple[str, str]] | None = None,
    load_basis: BasisLoader | None = None,
) -> ScanResult:
    """Scan one host: OS facts, the package manager, pending updates, reboot-required.

    Usually one command: the facts snippet and the scan of the package manager the host had last time
    (apt when it is new) go together, since each extra command is another session on the host. When
    the guess was wrong, or the indexes must be refreshed first, the adapter's own calls follow.
    ``classifier`` (rules and advisory data, loaded by the runner) classifies what was found.

    ``known`` maps host ids to the (manager, fingerprint) of a stored scan basis and ``load_basis``
    loads one: when the host reports that nothing the package manager reads has changed since, it
    skips its simulation and the stored output is parsed again (and classified with today's rules and
    advisories). A refresh always simulates.
    """
    classifier = classifier or Classifier()
    host = ctx.host
    assert host.id is not None
    ctx.log(LogLevel.INFO, f"Connecting to {host.address} over {host.transport}…")
    transport = ctx.transport()
    ctx.progress(0.1, "collecting facts")
    if host.transport == TransportKind.WINRM:
        return _scan_windows(ctx, transport, classifier)
    guess = adapter_named(host.managers[0] if host.managers else "apt", host.name)
    nonce = new_nonce()
    stored = (known or {}).get(host.id)
    fingerprint = (
        stored[1] if stored and guess is not None and stored[0] == guess.name and load_basis else None
    )
    extra = (guess.scan_script(nonce, fingerprint) if guess is not None and not refresh else None) or ""
    facts, binaries, result = gather_facts_with(transport, extra, timeout=300 if extra else 30)
    ctx.log(LogLevel.INFO, f"{facts.pretty_name or facts.id or 'unknown OS'}, kernel {facts.kernel or '?'}")
    adapter = detect(facts, binaries, host=host.name)

    def adapter_log(level: str, text: str) -> None:
        ctx.log(LogLevel(level), text)

    def previous() -> ScanBasis | None:
        assert host.id is not None and fingerprint is not None and load_basis is not None
        return load_basis(host.id, fingerprint)

    combined = None
    if extra and guess is not None and adapter.name == guess.name:
        combined = adapter.parse_scan_script(
            result.out, nonce, log=adapter_log, previous=previous if fingerprint else None
        )
    basis: ScanBasis | None = None
    reused = False
    if combined is not None:
        raw, reboot, reboot_pkgs = combined.pending, combined.reboot, combined.reboot_packages
        basis, reused = combined.basis, combined.reused
        if reused and basis is not None:
            ctx.log(
                LogLevel.INFO,
                f"Nothing {adapter.name} reads has changed on the host since the simulation of "
                f"{basis.simulated_at[:19].replace('T', ' ')} UTC: its result was used again.",
            )
    else:
        ctx.progress(0.3, f"scanning {adapter.name}")
        if refresh:
            ctx.log(LogLevel.INFO, f"Refreshing the {adapter.name} package indexes…")
        raw = adapter.scan(transport, refresh=refresh, log=adapter_log)
        ctx.progress(0.8, "reboot check")
        reboot, reboot_pkgs = adapter.reboot_required(transport)
    pending = classifier.classify_all(raw, os_id=facts.id, os_version=facts.version, id_like=facts.id_like)
    result_ = ScanResult(
        facts=facts,
        # the adapter used comes first: the next scan guesses it
        managers=(
            adapter.name,
            *sorted({_MANAGER_BINARIES[b] for b in binaries if b in _MANAGER_BINARIES} - {adapter.name}),
        ),
        pending=tuple(pending),
        reboot_required=reboot,
        reboot_packages=reboot_pkgs,
        basis=basis,
        reused=reused,
    )
    security = sum(1 for u in pending if u.security)
    ctx.log(
        LogLevel.INFO,
        f"{len(pending)} pending update(s), {security} security"
        + ("; a reboot is required" if reboot else ""),
    )
    ctx.report(ScanRecorded(ctx.job_id, host_id=host.id, result=result_))
    return result_


def _scan_windows(ctx: TaskContext, transport: Transport, classifier: Classifier) -> ScanResult:
    """Windows: facts over WinRM, Windows Update, then Chocolatey/winget where present."""
    from app.platforms.windows.wua import extra_windows_adapters, gather_windows_facts

    host = ctx.host
    assert host.id is not None
    facts, managers = gather_windows_facts(transport)
    ctx.log(LogLevel.INFO, f"{facts.pretty_name or 'Windows'} (build {facts.version or '?'})")
    adapter = detect(facts, managers, host=host.name)

    def adapter_log(level: str, text: str) -> None:
        ctx.log(LogLevel(level), text)

    ctx.progress(0.3, "searching Windows Update")
    raw: list[PendingUpdate] = list(adapter.scan(transport, log=adapter_log))
    for extra in extra_windows_adapters(managers, host=host.name):
        ctx.progress(0.6, f"scanning {extra.name}")
        try:
            raw.extend(extra.scan(transport, log=adapter_log))
        except AdapterError as exc:  # a third-party manager failing must not hide Windows updates
            ctx.log(LogLevel.WARNING, f"{extra.name}: {exc}")
    reboot, reboot_why = adapter.reboot_required(transport)
    pending = classifier.classify_all(raw, os_id=facts.id, os_version=facts.version)
    result = ScanResult(
        facts=facts,
        managers=(adapter.name, *sorted(set(managers) - {adapter.name})),
        pending=tuple(pending),
        reboot_required=reboot,
        reboot_packages=reboot_why,
    )
    ctx.log(
        LogLevel.INFO,
        f"{len(pending)} pending update(s), {sum(1 for u in pending if u.security)} security"
        + ("; a reboot is pending" if reboot else ""),
    )
    ctx.report(ScanRecorded(ctx.job_id, host_id=host.id, result=result))
    return result


#: binaries found on a host -> the package manager they stand for (shown in the inventory)
_MANAGER_BINARIES = {"apt-get": "apt", "dnf": "dnf", "yum": "yum", "zypper": "zypper", "fwupdmgr": "fwupd"}
