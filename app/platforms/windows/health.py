"""Host health of a Windows host for verification, in one WinRM round trip.

The POSIX health snippet (app.platforms.posix.health) cannot run there; this script reads the same things
the Windows way and is mapped into the same :class:`~app.domain.verdicts.Health`, so
app.domain.verdicts.judge works unchanged:

- new errors since the change: ``Get-WinEvent`` over the System and Application logs, levels 1 and 2
  (critical, error). When nothing matches, Get-WinEvent does not return an empty list: it *throws*
  ``NoMatchingEventsFound``. That is zero errors, not a failed check; any other error means the logs
  could not be read, which is reported as "not available" (None), never as healthy;
- the services the host declares: ``Get-Service`` Status (Running → "active", as judge expects);
- the boot time (Win32_OperatingSystem.LastBootUpTime), which reboot_and_wait compares.

``system_state`` is "running" whenever the script answered: Windows has no systemd-like overall
state, and the answer itself shows the service control manager and event log are up.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Sequence

from app.domain.errors import AdapterError
from app.domain.verdicts import Health
from app.platforms.family import MAX_JOURNAL_LINES
from app.platforms.windows.scripts import render, script_body
from app.transports.base import Transport

#: how far back to look for errors when the caller has no change time (as the POSIX probe: one hour)
DEFAULT_LOOKBACK = 3600
MAX_SERVICES = 100
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
#: Windows service names: letters, digits and a few punctuation marks (spaces in display names only)
_SERVICE_RE = re.compile(r"[A-Za-z0-9 @._:$\-]{1,256}\Z")


def check_service_names(names: Sequence[str]) -> list[str]:
    bad = [n for n in names if not _SERVICE_RE.fullmatch(n)]
    if bad:
        raise ValueError(f"invalid Windows service name(s): {', '.join(map(repr, bad))}")
    return list(names)[:MAX_SERVICES]


def health_script(
    services: Sequence[str] = (), since: float | None = None, *, now: float | None = None
) -> str:
    """The probe; ``since`` is epoch seconds (the host's clock, from an earlier probe's ``now``)."""
    if since is None:
        since = (now if now is not None else dt.datetime.now(dt.UTC).timestamp()) - DEFAULT_LOOKBACK
    return render(
        "windows-health",
        script_body("windows-health"),
        # in milliseconds: an event logged earlier in the start's second is not new
        {"services": check_service_names(services), "sinceMs": int(since * 1000), "max": MAX_JOURNAL_LINES},
    )


def parse_time(value: object) -> float | None:
    """An ISO 8601 time as Windows' ``ToString('o')`` writes it (seven fractional digits) -> epoch."""
    if not isinstance(value, str):
        return None
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?", value.strip())
    if not m:
        return None
    try:
        base = dt.datetime.fromisoformat(m.group(1) + (m.group(3) or "Z").replace("Z", "+00:00"))
    except ValueError:
        return None
    frac = float("0." + m.group(2)) if m.group(2) else 0.0
    return base.timestamp() + frac


def _clean(value: object, limit: int = 300) -> str:
    if not isinstance(value, str | int) or isinstance(value, bool):
        return ""
    text = _CONTROL_RE.sub(" ", str(value)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _service_state(status: object) -> str:
    text = _clean(status, 40)
    if text == "Running":
        return "active"
    if text == "NotFound":
        return "not installed"
    return text.lower() or "unknown"


def parse_windows_health(text: str) -> Health:
    """The probe's JSON -> Health. Unreadable output is an error (the check did not run)."""
    try:
        obj = json.loads(text.strip().lstrip("\ufeff"))
    except ValueError:
        obj = None
    if not isinstance(obj, dict):
        raise AdapterError("The host did not answer the Windows health check with JSON.")
    raw_events = obj.get("Events")
    # PowerShell 5 unwraps a one-element array
    events = (
        raw_events if isinstance(raw_events, list) else [raw_events] if isinstance(raw_events, dict) else []
    )
    journal: tuple[str, ...] | None
    if obj.get("EventsError"):
        journal = None
    else:
        lines = []
        for e in events[:MAX_JOURNAL_LINES]:
            if not isinstance(e, dict):
                continue
            when = _clean(e.get("Time"), 40)[:19].replace("T", " ")
            lines.append(
                f"{when} {_clean(e.get('Log'), 40)} log, {_clean(e.get('Source'), 80)} "
                f"event {_clean(e.get('Id'), 12)}: {_clean(e.get('Message'))}".strip()
            )
        journal = tuple(lines)
    raw_services = obj.get("Services")
    services = {
        _clean(k, 256): _service_state(v)
        for k, v in (raw_services.items() if isinstance(raw_services, dict) else [])
        if _clean(k, 256)
    }
    return Health(
        now=parse_time(obj.get("Now")),
        boot_time=parse_time(obj.get("LastBoot")),
        system_state="running",
        services=services,
        journal_errors=journal,
    )


def probe_windows_health(
    transport: Transport, services: Sequence[str] = (), since: float | None = None, timeout: float = 60
) -> Health:
    res = transport.run(health_script(services, since), timeout=timeout)
    if not res.ok:
        raise AdapterError(f"The Windows health check failed: {res.err.strip()[:300] or res.exit_status}")
    return parse_windows_health(res.out)


#: judge() speaks of the systemd journal; on Windows the same finding is in the event logs
_WORDING = (("in the journal", "in the System/Application event logs"),)


def windows_wording(reasons: Sequence[str]) -> tuple[str, ...]:
    """Verification reasons as a Windows administrator reads them."""
    out = []
    for r in reasons:
        for old, new in _WORDING:
            r = r.replace(old, new)
        out.append(r)
    return tuple(out)


def restart_script() -> str:
    """Restart in a few seconds, so the command's answer gets back before WinRM goes away
    (Restart-Computer -Force can drop the connection before it replies)."""
    return render("restart", script_body("restart", crlf=True))
