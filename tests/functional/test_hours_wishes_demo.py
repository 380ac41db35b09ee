"""The hours and wishes demo seeds run on top of the base demo, twice without adding rows."""

from __future__ import annotations

from sqlalchemy import func, select

from portal.demo import seed_demo
from portal.hours import demo as hours_demo
from portal.volunteering.hours import HourLog, HourStatus
from portal.volunteering.wishes import Wish
from portal.wishes import demo as wishes_demo


def test_seed_twice(app, session):
    with app.app_context():
        seed_demo(session)
        for _ in range(2):
            wishes_demo.seed(session)
            hours_demo.seed(session)
            session.flush()
        assert session.scalar(select(func.count()).select_from(Wish)) == 6
        assert len({w.status for w in session.scalars(select(Wish))}) == 5
        statuses = {log.status for log in session.scalars(select(HourLog))}
        assert {HourStatus.APPROVED, HourStatus.PENDING} <= statuses
        assert session.scalar(select(func.count()).select_from(HourLog)) == 9
