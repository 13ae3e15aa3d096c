"""Maintenance windows: a recurrence rule, a duration and a time zone, and the maths on them.

Times that matter are absolute (aware, UTC); the recurrence is evaluated on local wall-clock time in
the window's zone, as an administrator means it ("Saturdays 22:00 Berlin time"). Two DST traps, and
the decisions taken:

* A local start that does not exist (spring forward, e.g. 02:30 on the last Sunday of March in
  Berlin) is taken with the offset from before the change, i.e. it starts at 03:30 local, the same
  instant the clock jumps past. Two rule times that land on the same instant give one window.
* A local start that exists twice (fall back) is the first of the two (``fold=0``).

The duration is elapsed time: a four-hour window across a DST change still lasts four real hours.
The scheduler works in wall-clock instants, so nothing here depends on a timer having run.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrule, rrulestr

from app.domain.errors import ConfigError

#: Estimate of a host's patch duration before it has any history.
DEFAULT_ESTIMATE = timedelta(minutes=10)
_UNTIL = re.compile(r"(?i)(^|;)UNTIL=([0-9TZ]+)")
_FORBIDDEN_FREQ = re.compile(r"(?i)FREQ=(SECONDLY|MINUTELY)")


@dataclass(frozen=True)
class MaintenanceWindow:
    name: str
    rrule: str  # the RRULE value, e.g. "FREQ=WEEKLY;BYDAY=SA;BYHOUR=22;BYMINUTE=0"
    duration: timedelta
    tz: str  # IANA zone, e.g. "Europe/Berlin"
    dtstart: datetime  # naive local time the recurrence starts from (and takes its default time of day)
    groups: tuple[str, ...] = ()
    id: int | None = None
    enabled: bool = True
    description: str = ""

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "rrule": self.rrule,
            "duration_minutes": self.duration.total_seconds() / 60,
            "tz": self.tz,
            "dtstart": self.dtstart.isoformat(),
            "groups": list(self.groups),
            "enabled": self.enabled,
            "description": self.description,
        }


@dataclass(frozen=True)
class Occurrence:
    """One concrete opening of a window: aware UTC start and end."""

    window: MaintenanceWindow
    start: datetime
    end: datetime

    def remaining(self, now: datetime) -> timedelta:
        return max(timedelta(0), self.end - max(now, self.start))

    def contains(self, now: datetime) -> bool:
        return self.start <= now < self.end

    def local_start(self) -> datetime:
        return self.start.astimezone(self.window.zone())

    def as_json(self) -> dict[str, object]:
        return {
            "window": self.window.name,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "local_start": self.local_start().isoformat(),
            "groups": list(self.window.groups),
        }


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"Unknown time zone {tz!r}: use an IANA name such as Europe/Berlin.") from exc


def _rule(w: MaintenanceWindow) -> rrule:
    body = w.rrule.strip()
    if body.upper().startswith("RRULE:"):
        body = body[6:]
    if _FORBIDDEN_FREQ.search(body):
        raise ConfigError(f"Window {w.name!r}: a window recurring more often than hourly makes no sense.")
    until: datetime | None = None
    m = _UNTIL.search(body)
    if m:
        # UNTIL in UTC ("...Z") or local: either way the rule runs on naive local time, so convert.
        raw = m.group(2)
        body = _UNTIL.sub("", body).strip(";")
        try:
            if raw.upper().endswith("Z"):
                u = datetime.strptime(raw.upper(), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
                until = u.astimezone(_zone(w.tz)).replace(tzinfo=None)
            elif "T" in raw.upper():
                until = datetime.strptime(raw.upper(), "%Y%m%dT%H%M%S")
            else:
                until = datetime.strptime(raw, "%Y%m%d").replace(hour=23, minute=59, second=59)
        except ValueError as exc:
            raise ConfigError(f"Window {w.name!r}: UNTIL={raw} is not a valid date-time.") from exc
    try:
        r = rrulestr(body, dtstart=w.dtstart, cache=True)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"Window {w.name!r}: the recurrence rule {w.rrule!r} is invalid: {exc}.") from exc
    if not isinstance(r, rrule):
        raise ConfigError(f"Window {w.name!r}: give a single RRULE, not a set.")
    if until is not None:
        r = r.replace(until=until)
    return r


def validate(w: MaintenanceWindow) -> None:
    """A ConfigError when the window cannot work: bad zone, rule or duration."""
    _zone(w.tz)
    if w.duration <= timedelta(0):
        raise ConfigError(f"Window {w.name!r}: the duration must be positive.")
    if w.duration > timedelta(days=7):
        raise ConfigError(f"Window {w.name!r}: a window longer than a week is not a window.")
    if w.dtstart.tzinfo is not None:
        raise ConfigError(f"Window {w.name!r}: the start is local time in {w.tz}, without an offset.")
    _rule(w)


def _to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    return local.replace(tzinfo=zone, fold=0).astimezone(UTC)


def _local(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("window maths needs an aware datetime")
    return now.astimezone(UTC)


def occurrences_between(w: MaintenanceWindow, start: datetime, end: datetime) -> list[Occurrence]:
    """Openings that overlap [start, end), in order."""
    start, end = _aware(start), _aware(end)
    zone = w.zone()
    # local bounds with slack for offsets and DST jumps
    lo = _local(start, zone) - w.duration - timedelta(hours=3)
    hi = _local(end, zone) + timedelta(hours=3)
    seen: dict[datetime, Occurrence] = {}
    for local in _rule(w).between(lo, hi, inc=True):
        s = _to_utc(local, zone)
        occ = Occurrence(w, s, s + w.duration)
        if occ.end > start and occ.start < end and s not in seen:
            seen[s] = occ
    return sorted(seen.values(), key=lambda o: o.start)


def window_at(windows: Iterable[MaintenanceWindow], now: datetime) -> Occurrence | None:
    """The open window at ``now`` (the one with the most time left when several are)."""
    now = _aware(now)
    best: Occurrence | None = None
    for w in windows:
        if not w.enabled:
            continue
        for occ in occurrences_between(w, now - w.duration, now + timedelta(seconds=1)):
            if occ.contains(now) and (best is None or occ.end > best.end):
                best = occ
    return best


def next_windows(
    windows: Iterable[MaintenanceWindow],
    now: datetime,
    limit: int = 10,
    horizon: timedelta = timedelta(days=400),
) -> list[Occurrence]:
    """The next ``limit`` openings that start after ``now``, over all windows, in order."""
    now = _aware(now)
    found: list[Occurrence] = []
    for w in windows:
        if not w.enabled:
            continue
        span = timedelta(days=8)
        while True:
            occs = [o for o in occurrences_between(w, now, now + span) if o.start > now]
            if len(occs) >= limit or span >= horizon:
                found.extend(occs[:limit])
                break
            span = min(horizon, span * 4)
    return sorted(found, key=lambda o: (o.start, o.window.name))[:limit]


def estimate_duration(past: Sequence[timedelta], default: timedelta = DEFAULT_ESTIMATE) -> timedelta:
    """A host's expected patch duration: the median of its past patch jobs (the default before any)."""
    usable = [d for d in past if d > timedelta(0)]
    if not usable:
        return default
    return timedelta(seconds=statistics.median(d.total_seconds() for d in usable))


@dataclass(frozen=True)
class Fit:
    fits: bool
    needed: timedelta
    remaining: timedelta
    reason: str


def fits(occ: Occurrence, now: datetime, estimate: timedelta, reserve: timedelta) -> Fit:
    """Whether a host whose patch takes ``estimate`` (plus ``reserve`` to roll back) fits what is left."""
    needed = estimate + reserve
    left = occ.remaining(_aware(now))
    if needed <= left:
        return Fit(True, needed, left, "")
    return Fit(
        False,
        needed,
        left,
        f"estimated {_minutes(estimate)} + rollback reserve {_minutes(reserve)} does not fit in the "
        f"{_minutes(left)} left of window {occ.window.name!r}",
    )


def _minutes(d: timedelta) -> str:
    m = d.total_seconds() / 60
    return f"{m:.0f} min" if m >= 1 or m == 0 else f"{d.total_seconds():.0f} s"


def parse_dtstart(value: str | None, tz: str, now: datetime) -> datetime:
    """The naive local start of a window from the user's text (default: today 00:00 in ``tz``)."""
    zone = _zone(tz)
    if not value:
        local = now.astimezone(zone)
        return local.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    try:
        dt = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(f"--start {value!r} is not an ISO date-time (e.g. 2026-01-03T22:00).") from exc
    if dt.tzinfo is not None:
        dt = dt.astimezone(zone).replace(tzinfo=None)
    return dt
