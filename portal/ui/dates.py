"""One date format for every page, in both languages: ISO-like and unambiguous for a
reader of either language (``2026-12-04 09:00``), shown in community time (Asia/Shanghai).

Stored datetimes are UTC (naive ones are read as UTC); plain dates are shown as they are.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask import Flask

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
DATE = "%Y-%m-%d"
DATETIME = "%Y-%m-%d\u00a0%H:%M"  # no line break between the day and the time
TIME = "%H:%M"


def to_local(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(LOCAL_TZ)


def _fmt(value: dt.datetime | dt.date | None, pattern: str) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, dt.datetime):
        return to_local(value).strftime(pattern)
    if isinstance(value, dt.date):
        return value.strftime(DATE)
    return str(value)


def format_date(value: dt.datetime | dt.date | None) -> str:
    return _fmt(value, DATE)


def format_datetime(value: dt.datetime | dt.date | None) -> str:
    return _fmt(value, DATETIME)


def format_time(value: dt.datetime | None) -> str:
    return _fmt(value, TIME)


def register(app: Flask) -> None:
    app.jinja_env.filters.update(date=format_date, datetime=format_datetime, time=format_time)
