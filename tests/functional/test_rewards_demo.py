"""The rewards demo seed runs on top of the base demo (from seed-demo), twice without adding rows."""

from __future__ import annotations

from sqlalchemy import func, select

import ledger
from portal.demo import seed_demo
from portal.rewards import demo as rewards_demo
from portal.rewards.models import Reward, Voucher, VoucherStatus


def test_seed_twice(app, session):
    with app.app_context():
        seed_demo(session)  # includes the rewards step
        for _ in range(2):
            rewards_demo.seed(session)
            session.flush()
        assert session.scalar(select(func.count()).select_from(Reward)) == 6
        statuses = sorted(v.status.value for v in session.scalars(select(Voucher)))
        assert statuses == [VoucherStatus.FULFILLED.value, VoucherStatus.OPEN.value]
        assert ledger.verify(session).ok
