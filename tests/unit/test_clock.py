"""The one clock (core.clock): injectable, UTC for storage, Asia/Shanghai for the calendar."""

from __future__ import annotations

import datetime as dt

from core import clock
from core.db import utcnow

UTC = dt.UTC


def test_now_is_aware_utc_and_is_the_db_default_clock():
    with clock.travel_to(dt.datetime(2026, 12, 31, 15, 58, tzinfo=UTC)):
        now, db_now = clock.now(), utcnow()
    assert now.tzinfo is not None and now.utcoffset() == dt.timedelta(0)
    assert dt.datetime(2026, 12, 31, 15, 58, tzinfo=UTC) <= now <= db_now < now + dt.timedelta(seconds=5)


def test_the_travelling_clock_runs_on():
    with clock.travel_to(dt.datetime(2027, 3, 14, 23, 59, tzinfo=UTC)):
        first, second = clock.now(), clock.now()
    assert first <= second


def test_just_after_midnight_in_china_is_the_next_day_there():
    with clock.travel_to(dt.datetime(2027, 3, 14, 16, 1, tzinfo=UTC)):
        assert clock.local_today() == dt.date(2027, 3, 15)
        start, end = clock.local_day_bounds(clock.local_today())
    assert start == dt.datetime(2027, 3, 14, 16, 0, tzinfo=UTC)
    assert end == dt.datetime(2027, 3, 15, 16, 0, tzinfo=UTC)


def test_new_years_eve_in_china():
    with clock.travel_to(dt.datetime(2026, 12, 31, 16, 0, 30, tzinfo=UTC)):
        assert clock.local_year() == 2027
    assert clock.year_bounds(2027) == (
        dt.datetime(2026, 12, 31, 16, tzinfo=UTC),
        dt.datetime(2027, 12, 31, 16, tzinfo=UTC),
    )


def test_the_system_clock_is_restored():
    with clock.travel_to(dt.datetime(2001, 1, 1, tzinfo=UTC)):
        pass
    assert clock.now().year >= 2026
