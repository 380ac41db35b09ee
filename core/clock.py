"""The one clock. Storage is UTC; the community lives in Asia/Shanghai.

Everything that asks "what time is it?" calls ``now()`` (``core.db.utcnow`` is the same
clock), so a test, or the multi-clock CI step, can move the whole application in time with
``travel_to()`` / ``set_clock()``. Calendar questions ("today", "this year", "the day's
bounds") are answered in community time, because a day in 社区 starts at 00:00 Beijing time
(16:00 UTC the day before).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Callable, Iterator
from zoneinfo import ZoneInfo

# The community's time zone (China has one, without daylight saving).
LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def _system() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


_source: Callable[[], dt.datetime] = _system


def now() -> dt.datetime:
    """The current instant, timezone-aware, in UTC."""
    return _source().astimezone(dt.UTC)


def set_clock(source: Callable[[], dt.datetime] | None) -> None:
    """Replace the clock (``None`` restores the system clock)."""
    global _source
    _source = source or _system


def travelling_from(start: dt.datetime) -> Callable[[], dt.datetime]:
    """A clock that starts at ``start`` and then runs at the speed of the real one, so
    that things done one after another still get increasing times."""
    if start.tzinfo is None:
        raise ValueError("the start of a clock must be timezone-aware")
    origin = time.monotonic()
    return lambda: start + dt.timedelta(seconds=time.monotonic() - origin)


@contextlib.contextmanager
def travel_to(start: dt.datetime) -> Iterator[None]:
    """Run the block as if it were ``start`` (the clock keeps running from there)."""
    previous = _source
    set_clock(travelling_from(start))
    try:
        yield
    finally:
        set_clock(previous)


def local_now() -> dt.datetime:
    return now().astimezone(LOCAL_TZ)


def local_today() -> dt.date:
    return local_now().date()


def local_year(at: dt.datetime | None = None) -> int:
    return (at or now()).astimezone(LOCAL_TZ).year


def local_day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of a community day, in UTC."""
    start = dt.datetime.combine(day, dt.time.min, tzinfo=LOCAL_TZ)
    return start.astimezone(dt.UTC), (start + dt.timedelta(days=1)).astimezone(dt.UTC)


def year_bounds(year: int) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of a community calendar year, in UTC."""
    start = dt.datetime(year, 1, 1, tzinfo=LOCAL_TZ).astimezone(dt.UTC)
    end = dt.datetime(year + 1, 1, 1, tzinfo=LOCAL_TZ).astimezone(dt.UTC)
    return start, end
