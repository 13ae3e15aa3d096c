"""Maintenance-window maths: DST changes, RRULE edge cases, the fit of a host into what is left."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.errors import ConfigError
from app.domain.maintenance_windows import (
    MaintenanceWindow,
    estimate_duration,
    fits,
    next_windows,
    occurrences_between,
    validate,
    window_at,
)

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "UTC", "Asia/Kolkata"]


def win(
    rule: str, minutes: float = 60, tz: str = "Europe/Berlin", start: datetime | None = None
) -> MaintenanceWindow:
    return MaintenanceWindow(
        "w", rule, timedelta(minutes=minutes), tz, start or datetime(2025, 1, 1), groups=("lab",)
    )


# -- examples across DST ------------------------------------------------------------------------------------


def test_weekly_window_keeps_local_time_across_dst() -> None:
    w = win("FREQ=WEEKLY;BYDAY=SA;BYHOUR=22;BYMINUTE=0", 120)
    occ = next_windows([w], datetime(2026, 3, 20, tzinfo=UTC), 3)
    assert [o.local_start().strftime("%a %H:%M %z") for o in occ] == [
        "Sat 22:00 +0100",
        "Sat 22:00 +0100",  # the clocks change on Sunday 29 March
        "Sat 22:00 +0200",  # after it: the same wall clock, one hour earlier in UTC
    ]
    assert [o.start.hour for o in occ] == [21, 21, 20]


def test_start_in_the_spring_gap_moves_forward_and_is_not_doubled() -> None:
    w = win("FREQ=DAILY;BYHOUR=2;BYMINUTE=30", 60)
    occ = occurrences_between(w, datetime(2026, 3, 28, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC))
    assert [o.local_start().strftime("%d %H:%M %z") for o in occ] == [
        "28 02:30 +0100",
        "29 03:30 +0200",  # 02:30 does not exist on the 29th
        "30 02:30 +0200",
    ]


def test_ambiguous_autumn_start_is_the_first_and_duration_is_elapsed_time() -> None:
    w = win("FREQ=DAILY;BYHOUR=1;BYMINUTE=30", 120, tz="America/New_York")
    occ = occurrences_between(w, datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC))
    o = next(o for o in occ if o.local_start().day == 1)
    assert o.local_start().utcoffset() == timedelta(hours=-4)  # EDT, the first 01:30
    assert o.end - o.start == timedelta(hours=2)
    assert o.end.astimezone(ZoneInfo("America/New_York")).strftime("%H:%M %z") == "02:30 -0500"


def test_window_at_and_remaining() -> None:
    w = win("FREQ=DAILY;BYHOUR=2", 60)
    inside = datetime(2026, 6, 10, 0, 20, tzinfo=UTC)  # 02:20 CEST
    occ = window_at([w], inside)
    assert occ is not None and occ.remaining(inside) == timedelta(minutes=40)
    assert window_at([w], datetime(2026, 6, 10, 1, 0, tzinfo=UTC)) is None  # the end is exclusive
    assert window_at([w], datetime(2026, 6, 10, 0, 0, tzinfo=UTC)) is not None  # the start inclusive


def test_window_spanning_midnight_is_found_on_the_next_day() -> None:
    w = win("FREQ=WEEKLY;BYDAY=SA;BYHOUR=23", 180)
    sunday = datetime(2026, 6, 14, 0, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    occ = window_at([w], sunday)
    assert occ is not None and occ.local_start().strftime("%a %H:%M") == "Sat 23:00"


# -- RRULE edge cases ---------------------------------------------------------------------------------------


def test_bymonthday_31_only_in_long_months() -> None:
    w = win("FREQ=MONTHLY;BYMONTHDAY=31;BYHOUR=3", 60)
    occ = next_windows([w], datetime(2026, 1, 1, tzinfo=UTC), 7)
    assert [o.local_start().month for o in occ] == [1, 3, 5, 7, 8, 10, 12]
    assert all(o.local_start().day == 31 for o in occ)


def test_last_sunday_of_the_month() -> None:
    w = win("FREQ=MONTHLY;BYDAY=-1SU;BYHOUR=4", 60)
    for o in next_windows([w], datetime(2026, 1, 1, tzinfo=UTC), 12):
        d = o.local_start()
        assert d.weekday() == 6 and d.day + 7 > calendar.monthrange(d.year, d.month)[1]


def test_count_and_until() -> None:
    counted = win("FREQ=WEEKLY;COUNT=3;BYHOUR=1", 30, start=datetime(2026, 1, 5))
    assert len(next_windows([counted], datetime(2026, 1, 1, tzinfo=UTC), 10)) == 3
    assert next_windows([counted], datetime(2026, 2, 1, tzinfo=UTC), 10) == []
    # UNTIL in UTC is inclusive: 00:00Z on the 10th is 01:00 in Berlin, the last opening
    until = win("FREQ=DAILY;BYHOUR=1;UNTIL=20260110T000000Z", 30, start=datetime(2026, 1, 5))
    occ = next_windows([until], datetime(2026, 1, 1, tzinfo=UTC), 10)
    assert [o.local_start().day for o in occ] == [5, 6, 7, 8, 9, 10]
    later = win("FREQ=DAILY;BYHOUR=2;UNTIL=20260110T000000Z", 30, start=datetime(2026, 1, 5))
    assert [o.local_start().day for o in next_windows([later], datetime(2026, 1, 1, tzinfo=UTC), 10)] == [
        5,
        6,
        7,
        8,
        9,
    ]
    local_until = win("FREQ=DAILY;BYHOUR=1;UNTIL=20260107", 30, start=datetime(2026, 1, 5))
    assert len(next_windows([local_until], datetime(2026, 1, 1, tzinfo=UTC), 10)) == 3


@pytest.mark.parametrize(
    ("rule", "tz", "minutes", "message"),
    [
        ("FREQ=FORTNIGHTLY", "UTC", 60, "invalid"),
        ("FREQ=DAILY", "Mars/Olympus", 60, "Unknown time zone"),
        ("FREQ=DAILY", "UTC", 0, "positive"),
        ("FREQ=MINUTELY", "UTC", 5, "more often than hourly"),
        ("FREQ=DAILY;UNTIL=tomorrow", "UTC", 60, "UNTIL"),
    ],
)
def test_invalid_windows_are_config_errors(rule: str, tz: str, minutes: float, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        validate(win(rule, minutes, tz=tz))


# -- properties ---------------------------------------------------------------------------------------------

_rules = st.sampled_from(
    [
        "FREQ=DAILY;BYHOUR={h};BYMINUTE={m}",
        "FREQ=WEEKLY;BYDAY=SU;BYHOUR={h};BYMINUTE={m}",
        "FREQ=WEEKLY;BYDAY=SA,SU;BYHOUR={h};BYMINUTE={m}",
        "FREQ=MONTHLY;BYDAY=-1SU;BYHOUR={h};BYMINUTE={m}",
        "FREQ=MONTHLY;BYMONTHDAY=31;BYHOUR={h};BYMINUTE={m}",
        "FREQ=MONTHLY;BYMONTHDAY=-1;BYHOUR={h};BYMINUTE={m}",
        "FREQ=HOURLY;INTERVAL=7;BYMINUTE={m}",
    ]
)
_instants = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31)).map(
    lambda d: d.replace(tzinfo=UTC)
)


@st.composite
def windows(draw: st.DrawFn) -> MaintenanceWindow:
    rule = draw(_rules).format(h=draw(st.integers(0, 23)), m=draw(st.sampled_from([0, 15, 30, 45])))
    minutes = draw(st.sampled_from([15, 60, 90, 240, 600]))
    return win(rule, minutes, tz=draw(st.sampled_from(ZONES)), start=datetime(2024, 12, 1))


@settings(max_examples=150, deadline=None)
@given(windows(), _instants)
def test_open_window_contains_now_and_remaining_is_bounded(w: MaintenanceWindow, now: datetime) -> None:
    occ = window_at([w], now)
    if occ is not None:
        assert occ.start <= now < occ.end
        assert timedelta(0) < occ.remaining(now) <= w.duration
    else:
        # nothing open: no opening of the rule covers now
        assert all(
            not o.contains(now) for o in occurrences_between(w, now - w.duration, now + timedelta(seconds=1))
        )


@settings(max_examples=150, deadline=None)
@given(windows(), _instants)
def test_next_windows_are_ordered_future_and_found_again(w: MaintenanceWindow, now: datetime) -> None:
    occ = next_windows([w], now, 4)
    assert occ, "every rule here recurs forever"
    starts = [o.start for o in occ]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    assert all(s > now for s in starts)
    zone = ZoneInfo(w.tz)
    for o in occ:
        assert o.end - o.start == w.duration  # elapsed time, whatever DST does
        found = window_at([w], o.start + w.duration / 2)
        assert found is not None and found.contains(o.start + w.duration / 2)
        # the local start is the rule's wall-clock time, or shifted forward by a DST gap
        local = o.start.astimezone(zone)
        back = local.replace(tzinfo=None).replace(tzinfo=zone).astimezone(UTC)
        assert back == o.start
    # nothing was skipped between now and the first opening found
    first = occ[0]
    assert all(o.start >= first.start for o in occurrences_between(w, now, first.start) if o.start > now)


@settings(max_examples=100, deadline=None)
@given(windows(), _instants, st.floats(0, 0.999), st.integers(0, 600), st.integers(0, 600))
def test_fit_is_exactly_estimate_plus_reserve_within_remaining(
    w: MaintenanceWindow, after: datetime, into: float, est_min: int, reserve_min: int
) -> None:
    opening = next_windows([w], after, 1)[0]
    now = opening.start + w.duration * into
    occ = window_at([w], now)
    assert occ is not None
    est, reserve = timedelta(minutes=est_min), timedelta(minutes=reserve_min)
    f = fits(occ, now, est, reserve)
    assert f.fits == (est + reserve <= occ.end - now)
    if not f.fits:
        assert "does not fit" in f.reason and w.name in f.reason


def test_estimate_is_the_median_of_history_or_the_default() -> None:
    assert estimate_duration([]) == timedelta(minutes=10)
    assert estimate_duration([timedelta(minutes=m) for m in (3, 30, 5)]) == timedelta(minutes=5)
    assert estimate_duration([timedelta(minutes=4), timedelta(minutes=6)]) == timedelta(minutes=5)
    assert estimate_duration([timedelta(0)], default=timedelta(minutes=7)) == timedelta(minutes=7)
