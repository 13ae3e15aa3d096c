"""What the inventory's Status column (and the host detail's badge) says about a host, in words and
colours: the last scan, the compliance state, the last job's outcome and its verification.

Built once per host from the rows loaded with it, never by a query while painting.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from app.domain.compliance import DEFAULT_STALE_DAYS, ComplianceState, LastJob, host_compliance, scan_is_stale
from app.domain.models import Host, HostStatus
from ui.theme import colour_pair

# Status colours: a text colour and its cell background, pale in the light look and dark in the dark
# one (ui/theme.py retints them), readable on either. "never" is grey, every real outcome has a colour.
STATUS_COLOURS = {
    HostStatus.OK: colour_pair("#17632f", "#e3f4e8"),
    HostStatus.FAILED: colour_pair("#9b1c14", "#fbe3e1"),
    HostStatus.UNREACHABLE: colour_pair("#8a4b00", "#fff0d4"),
    HostStatus.NEVER: colour_pair("#5b6372", "#eef0f3"),
}
BUSY_COLOURS = colour_pair("#1f4e89", "#e3eefb")
#: The Status column's colours by the host's state (worst part wins): the scan's outcomes as above,
#: plus non-compliant (amber) and unknown (a stale scan: muted violet, as on the dashboard).
STATE_COLOURS = {
    "ok": STATUS_COLOURS[HostStatus.OK],
    "failed": STATUS_COLOURS[HostStatus.FAILED],
    "unreachable": STATUS_COLOURS[HostStatus.UNREACHABLE],
    "never": STATUS_COLOURS[HostStatus.NEVER],
    "non_compliant": colour_pair("#7a4f00", "#fdf1c9"),
    "unknown": colour_pair("#5a4a85", "#efebf7"),
}
#: How bad each level is: the sort order of the Status column (worst first) and which part wins.
LEVEL_RANK = {"failed": 0, "unreachable": 1, "non_compliant": 2, "unknown": 3, "never": 4, "ok": 5}
BOLD_LEVELS = frozenset({"failed", "unreachable"})


def local_time(ts: datetime | None) -> str:
    if ts is None:
        return ""
    return ts.astimezone().strftime("%Y-%m-%d %H:%M")


def local_iso(text: str | None) -> str:
    """A stored ISO 8601 time (UTC) as the desktop's local "YYYY-MM-DD HH:MM"; text that is no time
    is shown as it is, cut to 16 characters."""
    if not text:
        return ""
    try:
        ts = datetime.fromisoformat(text)
    except ValueError:
        return text[:16]
    return local_time(ts if ts.tzinfo else ts.replace(tzinfo=UTC))


def one_line(text: str | None, limit: int = 200) -> str:
    """Host-supplied text shown in a cell: no control characters, bounded length."""
    if not text:
        return ""
    if len(text) <= limit and text.isprintable():
        return text  # the common case, without a loop over the characters
    clean = "".join(c if c.isprintable() else " " for c in text)
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


@dataclass(frozen=True)
class StatusCell:
    """What the Status column shows for a host: built once per host from the rows loaded with it
    (the host record and its last job), never on paint."""

    text: str
    level: str  # a key of STATE_COLOURS
    tooltip: str

    @property
    def rank(self) -> int:
        return LEVEL_RANK[self.level]


def _job_part(job: LastJob | None) -> tuple[str, str] | None:
    """The last job's outcome worth a word in the column: failed / interrupted / verified red (the
    "Failed last job" tile's rule), rolled back, or a verification's colour."""
    if job is None:
        return None
    if job.state in ("failed", "interrupted"):
        return f"{job.kind} {job.state}", "failed"
    if job.verdict == "red":
        return "verified red", "failed"
    if job.kind == "rollback" and job.state == "succeeded":
        return "rolled back", "ok"
    if job.verdict == "amber":
        return "verified amber", "non_compliant"
    if job.verdict == "green":
        return "verified green", "ok"
    return None


def status_cell(
    h: Host, job: LastJob | None, *, stale_days: int = DEFAULT_STALE_DAYS, now: datetime | None = None
) -> StatusCell:
    """The host's state in words: the last scan's result or the compliance state it gives, and the
    last job's outcome; the colour of the worst part."""
    tips = []
    if h.last_status == HostStatus.NEVER:
        scan, level = "never scanned", "never"
        tips.append("Not scanned yet: compliance unknown.")
    elif h.last_status == HostStatus.FAILED:
        scan, level = "scan failed", "failed"
        tips.append("The last scan failed: compliance unknown.")
    elif h.last_status == HostStatus.UNREACHABLE:
        scan, level = "unreachable", "unreachable"
        tips.append("The last scan could not reach the host: compliance unknown.")
    else:
        state = host_compliance(h, stale_days=stale_days, now=now)
        stale = scan_is_stale(h.last_scan_at, stale_days, now)
        if state == ComplianceState.UNKNOWN and stale:
            scan, level = "unknown · stale scan", "unknown"
            tips.append(f"The last successful scan is older than {stale_days} days: compliance unknown.")
        elif state == ComplianceState.UNKNOWN:
            scan, level = "unknown · incomplete scan", "unknown"
            tips.append("The last scan could not see everything: compliance unknown.")
            tips.extend(one_line(n, 300) for n in (h.scan_notes or ())[:3])
        elif state == ComplianceState.NON_COMPLIANT:
            scan, level = "non-compliant", "non_compliant"
            tips.append(f"The last scan succeeded and found {h.pending_total} update(s) pending.")
        else:
            scan, level = "compliant", "ok"
            tips.append("The last scan succeeded and found nothing pending.")
        if h.reboot_required:
            scan += " · reboot"
            tips.append("A reboot is required.")
    if h.last_error:
        tips.append(one_line(h.last_error, 1000))
    parts = [scan]
    part = _job_part(job)
    if job is not None:
        verdict = f", verified {job.verdict}" if job.verdict else ""
        tips.append(f"Last job #{job.job_id} ({job.kind}): {job.state}{verdict}.")
    if part is not None and part[0] != scan:
        text, job_level = part
        if job_level == "failed":
            parts.insert(0, text)  # a failed last job is what the row must say first
        else:
            parts.append(text)
        if LEVEL_RANK[job_level] < LEVEL_RANK[level]:
            level = job_level
    return StatusCell(" · ".join(parts), level, "\n".join(tips))
