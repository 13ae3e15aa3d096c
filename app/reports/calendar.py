"""Exports for monitoring and the SOC: maintenance windows as iCalendar, the change log as iCalendar
or CSV, so a planned change can be told apart from an attacker's.

iCalendar (RFC 5545) details that matter: CRLF line ends, lines folded at 75 octets (never inside a
UTF-8 sequence) with a leading space on continuation lines, and TEXT values escaped (backslash,
semicolon, comma, newline). Windows are exported as concrete openings in UTC for a horizon rather
than as an RRULE with a TZID, because a TZID needs a VTIMEZONE definition that clients interpret
differently; each event still names the window's rule and zone.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from app.domain.maintenance_windows import Occurrence
from app.domain.models import ChangeLogEntry

PRODID = "-//Patchdesk//Patchdesk policy//EN"


def escape_text(value: str) -> str:
    """A TEXT property value (RFC 5545 3.3.11)."""
    out = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    out = out.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")
    # other control characters are not allowed in TEXT
    return "".join(c for c in out if c == "\t" or (ord(c) >= 0x20 and ord(c) != 0x7F))


def fold(line: str) -> str:
    """Fold one content line into chunks of at most 75 octets, CRLF-terminated."""
    data = line.encode("utf-8")
    if len(data) <= 75:
        return line + "\r\n"
    parts: list[str] = []
    chunk = ""
    size = 0
    limit = 75
    for ch in line:
        n = len(ch.encode("utf-8"))
        if size + n > limit:
            parts.append(chunk)
            chunk, size, limit = "", 0, 74  # continuation lines start with a space
        chunk += ch
        size += n
    parts.append(chunk)
    return "\r\n ".join(parts) + "\r\n"


def _stamp(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _calendar(name: str, events: Iterable[list[tuple[str, str]]], now: datetime) -> str:
    lines = [
        ("BEGIN", "VCALENDAR"),
        ("VERSION", "2.0"),
        ("PRODID", PRODID),
        ("CALSCALE", "GREGORIAN"),
        ("X-WR-CALNAME", escape_text(name)),
    ]
    for props in events:
        lines.append(("BEGIN", "VEVENT"))
        lines.append(("DTSTAMP", _stamp(now)))
        lines.extend(props)
        lines.append(("END", "VEVENT"))
    lines.append(("END", "VCALENDAR"))
    return "".join(fold(f"{k}:{v}") for k, v in lines)


def windows_ics(occurrences: Sequence[Occurrence], now: datetime, plans: dict[str, str] | None = None) -> str:
    """Upcoming window openings; ``plans`` (window name -> text) says what each will patch."""
    events = []
    for o in occurrences:
        w = o.window
        desc = (
            f"Patchdesk maintenance window {w.name}: {w.rrule} in {w.tz}, "
            f"{w.duration.total_seconds() / 60:.0f} min; groups: {', '.join(w.groups) or 'none'}."
        )
        if w.description:
            desc += "\n" + w.description
        if plans and plans.get(w.name):
            desc += "\n" + plans[w.name]
        events.append(
            [
                ("UID", f"window-{w.id or w.name}-{_stamp(o.start)}@patchdesk"),
                ("DTSTART", _stamp(o.start)),
                ("DTEND", _stamp(o.end)),
                ("SUMMARY", escape_text(f"Maintenance window: {w.name}")),
                ("DESCRIPTION", escape_text(desc)),
                ("CATEGORIES", "MAINTENANCE"),
                ("TRANSP", "TRANSPARENT"),
            ]
        )
    return _calendar("Patchdesk maintenance windows", events, now)


def changes_ics(
    entries: Sequence[ChangeLogEntry],
    now: datetime,
    outside: Sequence[tuple[str, datetime, str, str]] = (),
) -> str:
    """Patchdesk's changes, and ``outside`` ones (uid, when, summary, description) that no job made,
    under their own category so a SOC can tell them apart."""
    events = []
    for e in entries:
        start = e.started or e.finished or now
        end = e.finished if e.finished and e.finished > start else start
        summary = f"Patchdesk {e.job_kind} on {e.host}: {len(e.changes)} change(s)"
        lines = [
            f"{c.action} {c.name} {c.from_version or '-'} -> {c.to_version or '-'}"
            + (f" ({c.kb})" if c.kb else "")
            for c in e.changes
        ]
        meta = f"job {e.job_id}, trigger {e.trigger}" + (f", by {e.actor}" if e.actor else "")
        if e.verdict:
            meta += f", verification {e.verdict}"
        if e.rolled_back_by:
            meta += f", rolled back by job {e.rolled_back_by}"
        events.append(
            [
                ("UID", f"change-{e.job_id}-{e.host}@patchdesk"),
                ("DTSTART", _stamp(start)),
                ("DTEND", _stamp(end)),
                ("SUMMARY", escape_text(summary)),
                ("DESCRIPTION", escape_text(meta + "\n" + "\n".join(lines))),
                ("CATEGORIES", "CHANGE"),
            ]
        )
    for uid, when, summary, description in outside:
        events.append(
            [
                ("UID", f"{uid}@patchdesk"),
                ("DTSTART", _stamp(when)),
                ("DTEND", _stamp(when)),
                ("SUMMARY", escape_text(summary)),
                ("DESCRIPTION", escape_text(description)),
                ("CATEGORIES", "OUTSIDE-CHANGE"),
            ]
        )
    return _calendar("Patchdesk change log", events, now)


CSV_COLUMNS = (
    "finished_utc",
    "host",
    "job",
    "kind",
    "trigger",
    "actor",
    "manager",
    "package",
    "action",
    "from_version",
    "to_version",
    "kb",
    "verification",
    "rolled_back_by",
)


def changes_csv(entries: Sequence[ChangeLogEntry]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    for e in entries:
        when = e.finished or e.started
        for c in e.changes:
            w.writerow(
                [
                    when.astimezone(UTC).isoformat() if when else "",
                    _csv_safe(e.host),
                    e.job_id,
                    e.job_kind,
                    e.trigger,
                    _csv_safe(e.actor or ""),
                    c.manager,
                    _csv_safe(c.name),
                    str(c.action),
                    _csv_safe(c.from_version or ""),
                    _csv_safe(c.to_version or ""),
                    c.kb or "",
                    e.verdict or "",
                    e.rolled_back_by or "",
                ]
            )
    return buf.getvalue()


def _csv_safe(value: str) -> str:
    """Package names come from hosts: never let one start a spreadsheet formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
