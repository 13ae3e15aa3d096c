"""Task functions: what the engine runs on each host.

A task gets a TaskContext (host, transport on demand, deadline, report channel) and returns a result
dataclass. It knows nothing of Qt or SQL: what must be stored is reported as events.
"""

from __future__ import annotations

from app.jobs.engine import TaskContext
from app.jobs.events import ScanRecorded
from app.models import LogLevel, ScanResult
from app.platforms.facts import gather_facts
from app.platforms.registry import detect
from app.policy.classify import classify_all


def scan_host(ctx: TaskContext, *, refresh: bool = False) -> ScanResult:
    """Scan one host: OS facts, the package manager, pending updates, reboot-required."""
    host = ctx.host
    assert host.id is not None
    ctx.log(LogLevel.INFO, f"Connecting to {host.address} over {host.transport}…")
    transport = ctx.transport()
    ctx.progress(0.1, "collecting facts")
    facts, binaries = gather_facts(transport)
    ctx.log(LogLevel.INFO, f"{facts.pretty_name or facts.id or 'unknown OS'}, kernel {facts.kernel or '?'}")
    adapter = detect(facts, binaries, host=host.name)
    ctx.progress(0.3, f"scanning {adapter.name}")
    if refresh:
        ctx.log(LogLevel.INFO, f"Refreshing the {adapter.name} package indexes…")

    def adapter_log(level: str, text: str) -> None:
        ctx.log(LogLevel(level), text)

    pending = classify_all(adapter.scan(transport, refresh=refresh, log=adapter_log))
    ctx.progress(0.8, "reboot check")
    reboot, reboot_pkgs = adapter.reboot_required(transport)
    result = ScanResult(
        facts=facts,
        managers=tuple(
            sorted({adapter.name} | {_MANAGER_BINARIES[b] for b in binaries if b in _MANAGER_BINARIES})
        ),
        pending=tuple(pending),
        reboot_required=reboot,
        reboot_packages=reboot_pkgs,
    )
    security = sum(1 for u in pending if u.security)
    ctx.log(
        LogLevel.INFO,
        f"{len(pending)} pending update(s), {security} security"
        + ("; a reboot is required" if reboot else ""),
    )
    ctx.report(ScanRecorded(ctx.job_id, host_id=host.id, result=result))
    return result


#: binaries found on a host -> the package manager they stand for (shown in the inventory)
_MANAGER_BINARIES = {"apt-get": "apt", "dnf": "dnf", "yum": "yum", "zypper": "zypper", "fwupdmgr": "fwupd"}
