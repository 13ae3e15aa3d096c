"""Changes made outside Patchdesk: the host's own package history, and what no Patchdesk job did.

Every scan reads the host's package history (dpkg.log, the dnf history database, zypper's history,
Windows Update's history) in the same session; each entry since the previous read is held against
Patchdesk's change records, and what no job did is an *outside* change. A history that could not be
read is *unknown*, never "no outside changes".

Pure values and the matching rule only; the parsers live with their platforms (app/platforms/posix/
history.py, app/platforms/windows/history.py) and the storage in db/outside_changes.py.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.domain.events import Event

#: Most entries one read keeps: a host that rewrote its whole history cannot fill the database.
MAX_ENTRIES = 2000

#: How far an entry's time may lie outside the job step that recorded the change and still be that
#: job's doing: the host's clock and the console's are compared, but a patch's own record is written a
#: moment after the package manager logged it.
MATCH_SLACK = timedelta(minutes=10)


class HistoryStatus(enum.StrEnum):
    OK = "ok"  # read back to the previous read (or the host's whole history)
    PARTIAL = "partial"  # read, but not back to the previous read: older entries are unknown
    UNKNOWN = "unknown"  # could not be read at all


@dataclass(frozen=True)
class HistoryEntry:
    """One package change the host itself logged. ``None`` versions: not installed before/after."""

    manager: str
    action: str  # install | upgrade | downgrade | remove | update (Windows)
    name: str
    when: datetime  # UTC
    from_version: str | None = None
    to_version: str | None = None
    arch: str = ""


@dataclass(frozen=True)
class HistoryRead:
    """What one scan read of the host's history.

    ``covered_from`` is the oldest moment the read reaches back to without a gap (None: the whole
    history the host keeps); an entry before it may have been missed. ``status`` UNKNOWN carries the
    reason in ``note`` and no entries. ``inventory`` is a list with no history of its own (Windows'
    installed programs, as (name, version)): it is compared with the one the previous read stored
    (None: not read).
    """

    manager: str
    status: HistoryStatus
    entries: tuple[HistoryEntry, ...] = ()
    covered_from: datetime | None = None
    note: str = ""
    inventory: tuple[tuple[str, str], ...] | None = None

    @classmethod
    def unknown(cls, manager: str, note: str) -> HistoryRead:
        return cls(manager, HistoryStatus.UNKNOWN, (), None, note)


@dataclass(frozen=True)
class HistoryRecorded(Event):
    """A scan read the host's package history (the recorder stores it and sorts out the outside ones)."""

    host_id: int
    read: HistoryRead


@dataclass(frozen=True)
class JobChange:
    """A change record of a Patchdesk job on a host, with the time span of the job's step there."""

    job_id: int
    name: str
    to_version: str | None
    started: datetime | None
    finished: datetime | None


def _same_name(a: str, b: str) -> bool:
    # dpkg logs "name:arch"; Patchdesk records the bare name (and the arch apart)
    return a.split(":", 1)[0] == b.split(":", 1)[0]


def _same_version(a: str | None, b: str | None) -> bool:
    if not a or not b:
        return not a and not b
    # an rpm record may carry the epoch ("0:") where the history does not
    return a == b or a.removeprefix("0:") == b.removeprefix("0:")


def authorized_by(entry: HistoryEntry, records: Iterable[JobChange]) -> int | None:
    """The Patchdesk job that made ``entry`` (same package, same resulting version, inside the job's
    step on that host give or take :data:`MATCH_SLACK`), or None: an outside change."""
    for r in records:
        if not _same_name(entry.name, r.name) or not _same_version(entry.to_version, r.to_version):
            continue
        start = r.started or r.finished
        end = r.finished or r.started
        if start is None or end is None:
            continue
        if start - MATCH_SLACK <= entry.when <= end + MATCH_SLACK:
            return r.job_id
    return None


#: The manager name of changes found by comparing two installed-program lists.
PROGRAMS = "programs"


def diff_programs(
    before: Iterable[tuple[str, str]], after: Iterable[tuple[str, str]], when: datetime
) -> list[HistoryEntry]:
    """What changed between two installed-program lists, as entries dated ``when`` (the list has no
    dates of its own: the change happened between the two reads)."""
    old: dict[str, set[str]] = {}
    new: dict[str, set[str]] = {}
    for name, version in before:
        old.setdefault(name, set()).add(version)
    for name, version in after:
        new.setdefault(name, set()).add(version)
    out = []
    for name in sorted(old.keys() | new.keys()):
        was, now = old.get(name, set()), new.get(name, set())
        if was == now:
            continue
        if not was:
            out += [HistoryEntry(PROGRAMS, "install", name, when, None, v or None) for v in sorted(now)]
        elif not now:
            out += [HistoryEntry(PROGRAMS, "remove", name, when, v or None, None) for v in sorted(was)]
        else:
            before_v, after_v = ", ".join(sorted(was - now)), ", ".join(sorted(now - was))
            out.append(HistoryEntry(PROGRAMS, "upgrade", name, when, before_v or None, after_v or None))
    return out


def _norm(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalnum())


def program_authorized_by(entry: HistoryEntry, records: Iterable[JobChange], since: datetime) -> int | None:
    """The Patchdesk job behind a program change seen between two reads (``since`` .. ``entry.when``):
    a job that changed the host in that span, to the same version or to a package whose name the
    program's carries (Chocolatey's "7zip" in "7-Zip 23.01 (x64)")."""
    for r in records:
        end = r.finished or r.started
        if end is None or not (since - MATCH_SLACK <= end <= entry.when + MATCH_SLACK):
            continue
        same_version = bool(entry.to_version) and _same_version(entry.to_version, r.to_version)
        key = _norm(r.name)
        if same_version or (len(key) >= 3 and key in _norm(entry.name)):
            return r.job_id
    return None
