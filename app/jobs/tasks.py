"""Task functions: what the engine runs on each host.

A task gets a TaskContext (host, transport on demand, deadline, report channel) and returns a result
dataclass. It knows nothing of Qt or SQL: what must be stored is reported as events.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from app.domain.errors import AdapterError
from app.domain.events import ScanRecorded
from app.domain.models import LogLevel, PendingUpdate, ScanBasis, ScanResult
from app.domain.rules import Classifier
from app.jobs.engine import TaskContext
from app.platforms.base import new_nonce
from app.platforms.family import family_of
from app.platforms.registry import detect

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
    (the family's usual one when it is new) go together, since each extra command is another session
    on the host. When the guess was wrong, or the indexes must be refreshed first, the adapter's own
    calls follow.
    ``classifier`` (rules and advisory data, loaded by the runner) classifies what was found.

    ``known`` maps host ids to the (manager, fingerprint) of a stored scan basis and ``load_basis``
    loads one: when the host reports that nothing the package manager reads has changed since, it
    skips its simulation and the stored output is parsed again (and classified with today's rules and
    advisories). A refresh always simulates.
    """
    classifier = classifier or Classifier()
    host = ctx.host
    assert host.id is not None
    family = family_of(host)
    ctx.log(LogLevel.INFO, f"Connecting to {host.address} over {host.transport}…")
    transport = ctx.transport()
    ctx.progress(0.1, "collecting facts")
    guess = family.guess(host.managers, host.name)
    nonce = new_nonce()
    stored = (known or {}).get(host.id)
    fingerprint = (
        stored[1] if stored and guess is not None and stored[0] == guess.name and load_basis else None
    )
    extra = (guess.scan_script(nonce, fingerprint) if guess is not None and not refresh else None) or ""
    facts, binaries, out = family.facts(transport, extra)
    ctx.log(LogLevel.INFO, family.describe(facts))
    adapter = detect(facts, binaries, host=host.name)

    def adapter_log(level: str, text: str) -> None:
        ctx.log(LogLevel(level), text)

    def previous() -> ScanBasis | None:
        assert host.id is not None and fingerprint is not None and load_basis is not None
        return load_basis(host.id, fingerprint)

    def scan_extras() -> list[PendingUpdate]:
        # Chocolatey and winget beside Windows Update: one failing must not hide the rest
        found: list[PendingUpdate] = []
        for other in family.extra_adapters(binaries, host.name):
            ctx.progress(0.6, f"scanning {other.name}")
            try:
                found.extend(other.scan(transport, log=adapter_log))
            except AdapterError as exc:
                ctx.log(LogLevel.WARNING, f"{other.name}: {exc}")
        return found

    combined = None
    if extra and guess is not None and adapter.name == guess.name:
        combined = adapter.parse_scan_script(
            out, nonce, log=adapter_log, previous=previous if fingerprint else None
        )
    basis: ScanBasis | None = None
    reused = False
    if combined is not None:
        raw, reboot, reboot_pkgs = list(combined.pending), combined.reboot, combined.reboot_packages
        basis, reused = combined.basis, combined.reused
        if reused and basis is not None:
            ctx.log(
                LogLevel.INFO,
                f"Nothing {adapter.name} reads has changed on the host since the simulation of "
                f"{basis.simulated_at[:19].replace('T', ' ')} UTC: its result was used again.",
            )
        raw.extend(scan_extras())
    else:
        ctx.progress(0.3, adapter.scan_phase())
        if refresh and adapter.refreshes_indexes:
            ctx.log(LogLevel.INFO, f"Refreshing the {adapter.name} package indexes…")
        raw = list(adapter.scan(transport, refresh=refresh, log=adapter_log))
        raw.extend(scan_extras())
        if family.reboot_check_phase is not None:
            ctx.progress(0.8, family.reboot_check_phase)
        reboot, reboot_pkgs = adapter.reboot_required(transport)
    pending = classifier.classify_all(raw, os_id=facts.id, os_version=facts.version, id_like=facts.id_like)
    result_ = ScanResult(
        facts=facts,
        managers=family.managers(adapter, binaries),
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
        + (f"; {family.reboot_phrase}" if reboot else ""),
    )
    ctx.report(ScanRecorded(ctx.job_id, host_id=host.id, result=result_))
    return result_
