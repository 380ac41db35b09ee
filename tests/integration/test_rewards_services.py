"""Rewards store services on SQLite and PostgreSQL: catalogue rules, redemption as a ledger
hold + stock, replays, limits, fulfilment by the owner only, cancel/expiry, settlement,
export — each refusal changes nothing and is audited; the ledger verifies after every flow."""

from __future__ import annotations

import datetime as dt
from io import BytesIO

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

import ledger
from core.db import utcnow
from portal.audit.models import AuditEvent
from portal.errors import Conflict, Forbidden, NotFound, ServiceError
from portal.people.models import Role
from portal.rewards import services as svc
from portal.rewards.models import Reward, Settlement, Voucher, VoucherStatus
from tests.factories import (
    give_points,
    make_community,
    make_reward,
    make_street,
    make_user,
    merchant_org_id,
)

KEY = "0f8fad5b-d9cb-469f-a165-70867728950e"
KEY2 = "7c9e6679-7425-40de-944b-e07fc1f90ae7"


@pytest.fixture(autouse=True)
def english(app):
    """The assertions below read the English messages (Chinese is the default UI)."""
    app.config["BABEL_DEFAULT_LOCALE"] = "en"


@pytest.fixture()
def w(session, app):
    with app.app_context():
        street = make_street(session)
        a = make_community(session, street=street)
        b = make_community(session, street=make_street(session))
        shop = make_user(session, community=a, roles=(Role.MERCHANT,))
        res = make_user(session, community=a)
        give_points(session, a, res, 100)
        yield {
            "a": a,
            "b": b,
            "shop": shop,
            "res": res,
            "shop2": make_user(session, community=a, roles=(Role.MERCHANT,)),
            "staff": make_user(session, community=a, roles=(Role.STAFF,)),
            "admin": make_user(session, roles=((Role.STREET_ADMIN, street),)),
            "poor": make_user(session, community=a),
            "outsider": make_user(session, community=b),
            "reward": make_reward(session, a, shop, price=30, stock=3, monthly_limit=2),
        }


def available(session, w, who="res"):
    return svc.spendable(session, w["a"].id, w[who].id)


def refusals(session, action):
    return session.scalars(
        select(AuditEvent).where(AuditEvent.action == f"rewards.{action}", AuditEvent.outcome == "refused")
    ).all()


def stock(session, reward):
    session.refresh(reward)
    return reward.stock


def vouchers(session):
    return session.scalars(select(Voucher)).all()


# --- catalogue ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field,value",
    [
        ("price", 0),
        ("price", -5),
        ("price", 1.5),
        ("price", True),
        ("price", svc.MAX_PRICE + 1),
        ("price", "10"),
        ("stock", -1),
        ("stock", 2.5),
        ("monthly_limit", 0),
        ("category", "bogus"),
        ("title", "  "),
    ],
)
def test_bad_reward_input_refused(session, w, field, value):
    before = session.scalar(select(Reward.id).order_by(Reward.id.desc()))
    data = svc.RewardData(title="好东西", category="discount", price=10, stock=1)
    setattr(data, field, value)
    with pytest.raises(ServiceError) as err:
        svc.create_reward(session, w["shop"], w["a"].id, merchant_org_id(w["shop"]), data)
    assert err.value.status == 400
    assert session.scalar(select(Reward.id).order_by(Reward.id.desc())) == before
    assert refusals(session, "create")


def test_dates_must_be_in_order(session, w):
    data = svc.RewardData(
        title="x",
        category="culture",
        price=5,
        stock=1,
        valid_from=dt.date(2030, 5, 2),
        valid_until=dt.date(2030, 5, 1),
    )
    with pytest.raises(ServiceError, match="end date"):
        svc.create_reward(session, w["shop"], w["a"].id, merchant_org_id(w["shop"]), data)


def test_only_owner_manages(session, w):
    data = svc.RewardData(title="x", category="discount", price=5, stock=1)
    org = merchant_org_id(w["shop"])
    for who in ("shop2", "res", "staff"):  # staff run community rewards, not a merchant's
        with pytest.raises(Forbidden):
            svc.create_reward(session, w[who], w["a"].id, org, data)
    with pytest.raises(Forbidden):
        svc.create_reward(session, w["res"], w["a"].id, None, data)
    community_reward = svc.create_reward(session, w["staff"], w["a"].id, None, data)
    assert community_reward.organisation_id is None
    with pytest.raises(Forbidden):
        svc.update_reward(session, w["shop2"], w["reward"].id, data)
    with pytest.raises(Forbidden):
        svc.set_active(session, w["res"], w["reward"].id, False)
    assert refusals(session, "create") and refusals(session, "update")


def test_db_checks_are_a_backstop(session, w):
    for values in ({"stock": -1}, {"price": 0}, {"price": -3}):
        with pytest.raises(IntegrityError), session.begin_nested():
            session.execute(update(Reward).where(Reward.id == w["reward"].id).values(**values))


# --- redemption -------------------------------------------------------------------------------------


def test_redeem_holds_points_and_takes_stock(session, w):
    r = svc.redeem(session, w["res"], w["reward"].id, KEY)
    v = r.voucher
    assert not r.replayed and v.status == VoucherStatus.OPEN
    assert len(v.code) == 8 and set(v.code) <= set(svc.CODE_ALPHABET)
    assert stock(session, w["reward"]) == 2
    account = ledger.user_account(session, w["a"].id, w["res"].id)
    assert ledger.balance(session, account) == 100 and ledger.available(session, account) == 70
    assert dt.timedelta(days=13) < v.expires_at - utcnow() <= dt.timedelta(days=14)
    assert ledger.verify(session).ok


def test_voucher_expires_with_the_reward(session, w):
    tomorrow = svc.local_today() + dt.timedelta(days=1)
    reward = make_reward(session, w["a"], w["shop"], valid_until=tomorrow)
    v = svc.redeem(session, w["res"], reward.id, KEY).voucher
    assert v.expires_at == svc._end_of_local_day(tomorrow)


def test_replayed_form_returns_the_same_voucher(session, w):
    first = svc.redeem(session, w["res"], w["reward"].id, KEY).voucher
    again = svc.redeem(session, w["res"], w["reward"].id, KEY)
    assert again.replayed and again.voucher.id == first.id
    assert stock(session, w["reward"]) == 2 and available(session, w) == 70
    other = make_reward(session, w["a"], w["shop"])
    with pytest.raises(Conflict):
        svc.redeem(session, w["res"], other.id, KEY)
    assert ledger.verify(session).ok


@pytest.mark.parametrize("key", ["", "short", "x" * 65, "bad key!", None])
def test_bad_idem_key(session, w, key):
    with pytest.raises(ServiceError):
        svc.redeem(session, w["res"], w["reward"].id, key)  # type: ignore[arg-type]
    assert vouchers(session) == []


def test_too_few_points(session, w):
    with pytest.raises(Conflict) as err:
        svc.redeem(session, w["poor"], w["reward"].id, KEY)
    assert err.value.code == "insufficient_funds"
    assert stock(session, w["reward"]) == 3 and vouchers(session) == []
    assert refusals(session, "redeem")
    assert ledger.verify(session).ok


def test_held_points_cannot_be_spent_twice(session, w):
    give_points(session, w["a"], w["poor"], 40)
    svc.redeem(session, w["poor"], w["reward"].id, KEY)  # 40 - 30 = 10 left to spend
    with pytest.raises(Conflict, match="Not enough"):
        svc.redeem(session, w["poor"], w["reward"].id, KEY2)
    assert stock(session, w["reward"]) == 2


def test_monthly_limit(session, w):
    svc.redeem(session, w["res"], w["reward"].id, KEY)
    v2 = svc.redeem(session, w["res"], w["reward"].id, KEY2).voucher
    with pytest.raises(Conflict) as err:
        svc.redeem(session, w["res"], w["reward"].id, "aaaaaaaa-3")
    assert err.value.code == "monthly_limit"
    svc.cancel(session, w["res"], v2.id)  # a cancelled voucher does not count
    svc.redeem(session, w["res"], w["reward"].id, "aaaaaaaa-4")
    assert ledger.verify(session).ok


def test_sold_out(session, w):
    reward = make_reward(session, w["a"], w["shop"], stock=0)
    with pytest.raises(Conflict) as err:
        svc.redeem(session, w["res"], reward.id, KEY)
    assert err.value.code == "sold_out"
    assert available(session, w) == 100 and stock(session, reward) == 0


def test_inactive_expired_or_future_rewards(session, w):
    today = svc.local_today()
    inactive = make_reward(session, w["a"], w["shop"], is_active=False)
    past = make_reward(
        session,
        w["a"],
        w["shop"],
        valid_from=today - dt.timedelta(days=9),
        valid_until=today - dt.timedelta(days=1),
    )
    future = make_reward(session, w["a"], w["shop"], valid_from=today + dt.timedelta(days=1))
    for reward in (inactive, past, future):
        with pytest.raises(Conflict) as err:
            svc.redeem(session, w["res"], reward.id, KEY)
        assert err.value.code == "unavailable"
    assert vouchers(session) == [] and available(session, w) == 100


def test_forged_or_foreign_reward(session, w):
    with pytest.raises(NotFound):
        svc.redeem(session, w["res"], 999_999, KEY)
    with pytest.raises(NotFound):
        svc.redeem(session, w["outsider"], w["reward"].id, KEY)
    assert refusals(session, "view")


def test_merchant_cannot_redeem_own_reward(session, w):
    give_points(session, w["a"], w["shop"], 100)
    with pytest.raises(Forbidden):
        svc.redeem(session, w["shop"], w["reward"].id, KEY)


def test_store_filters(session, w):
    cheap = make_reward(session, w["a"], w["shop"], price=5, category="culture")
    page = svc.store(session, w["poor"], affordable_only=True)
    assert page.items == []
    give_points(session, w["a"], w["poor"], 10)
    page = svc.store(session, w["poor"], affordable_only=True)
    assert [i.reward.id for i in page.items] == [cheap.id]
    assert [i.reward.id for i in svc.store(session, w["res"], category="culture").items] == [cheap.id]
    assert svc.store(session, w["outsider"]).items == []


# --- fulfilment ------------------------------------------------------------------------------------


def test_fulfil_captures_to_the_merchant(session, w):
    v = svc.redeem(session, w["res"], w["reward"].id, KEY).voucher
    done = svc.fulfil(session, w["shop"], v.code.lower()[:4] + "-" + v.code[4:])
    assert done.status == VoucherStatus.FULFILLED and done.capture_tx_id
    shop_acct = ledger.merchant_account(session, w["a"].id, merchant_org_id(w["shop"]))
    assert ledger.balance(session, shop_acct) == 30
    user_acct = ledger.user_account(session, w["a"].id, w["res"].id)
    assert ledger.balance(session, user_acct) == 70 and ledger.available(session, user_acct) == 70
    with pytest.raises(Conflict, match="already been used"):
        svc.fulfil(session, w["shop"], v.code)
    with pytest.raises(Conflict):
        svc.cancel(session, w["res"], v.id)
    assert ledger.balance(session, shop_acct) == 30
    assert ledger.verify(session).ok


def test_only_the_owner_fulfils(session, w):
    v = svc.redeem(session, w["res"], w["reward"].id, KEY).voucher
    for who in ("shop2", "staff", "res", "outsider"):
        # The same answer as for a code that does not exist (issue 9 #8).
        with pytest.raises(NotFound):
            svc.fulfil(session, w[who], v.code)
    with pytest.raises(NotFound):
        svc.fulfil(session, w["shop"], "ZZZZZZZZ")
    with pytest.raises(ServiceError):
        svc.fulfil(session, w["shop"], "")
    session.refresh(v)
    assert v.status == VoucherStatus.OPEN
    assert len(refusals(session, "fulfil")) >= 5


def test_community_reward_fulfilled_by_staff_back_to_fund(session, w):
    reward = make_reward(session, w["a"], w["staff"], merchant=False, price=20, category="housekeeping")
    v = svc.redeem(session, w["res"], reward.id, KEY).voucher
    with pytest.raises(NotFound):  # the neutral answer (issue 9 #8)
        svc.fulfil(session, w["shop"], v.code)
    fund = ledger.community_fund(session, w["a"].id)
    before = ledger.balance(session, fund)
    svc.fulfil(session, w["staff"], v.code)
    assert ledger.balance(session, fund) == before + 20
    assert ledger.verify(session).ok


def test_expired_voucher_cannot_be_fulfilled(session, w):
    v = svc.redeem(session, w["res"], w["reward"].id, KEY).voucher
    with pytest.raises(Conflict, match="expired"):
        svc.fulfil(session, w["shop"], v.code, now=v.expires_at + dt.timedelta(seconds=1))


# --- cancel and expiry ------------------------------------------------------------------------------


def test_cancel_releases_points_and_stock(session, w):
    v = svc.redeem(session, w["res"], w["reward"].id, KEY).voucher
    with pytest.raises(NotFound):
        svc.cancel(session, w["poor"], v.id)
    svc.cancel(session, w["res"], v.id)
    assert available(session, w) == 100 and stock(session, w["reward"]) == 3
    with pytest.raises(Conflict, match="cancelled"):
        svc.cancel(session, w["res"], v.id)
    with pytest.raises(Conflict, match="cancelled"):
        svc.fulfil(session, w["shop"], v.code)
    assert ledger.verify(session).ok


@pytest.mark.parametrize("ledger_first", [False, True])
def test_expiry(session, w, ledger_first):
    v = svc.redeem(session, w["res"], w["reward"].id, KEY).voucher
    later = v.expires_at + dt.timedelta(minutes=1)
    assert svc.expire_due(session, now=v.expires_at - dt.timedelta(minutes=1)) == 0
    if ledger_first:  # the ledger's own job released the hold already
        ledger.expire_holds(session, now=later)
    assert svc.expire_due(session, now=later) == 1
    session.refresh(v)
    assert v.status == VoucherStatus.EXPIRED
    assert available(session, w) == 100 and stock(session, w["reward"]) == 3
    assert svc.expire_due(session, now=later) == 0
    with pytest.raises(Conflict):
        svc.fulfil(session, w["shop"], v.code, now=later)
    assert ledger.verify(session).ok


# --- statements, settlement, export -----------------------------------------------------------------


def _last_month_sale(session, w, key=KEY):
    """A voucher used last month (the ledger's clock is real, so the sale happens now and
    the voucher's own dates are moved back a month)."""
    v = svc.redeem(session, w["res"], w["reward"].id, key).voucher
    svc.fulfil(session, w["shop"], v.code)
    past = utcnow() - dt.timedelta(days=35)
    session.execute(update(Voucher).where(Voucher.id == v.id).values(created_at=past, fulfilled_at=past))
    session.refresh(v)
    return svc.month_of(past), v


def test_settlement_zeroes_the_merchant_for_the_month(session, w):
    month, _v = _last_month_sale(session, w)
    org, cid = merchant_org_id(w["shop"]), w["a"].id
    st = svc.statement_for(session, w["shop"], org, cid, month)
    assert (st.points, st.count, st.per_reward[0][1:]) == (30, 1, (1, 30))
    pending = svc.settlements_to_confirm(session, w["admin"])
    assert [(p.organisation_id, p.month) for p in pending] == [(org, month)]
    for who in ("staff", "shop", "res"):
        with pytest.raises(Forbidden):
            svc.confirm_settlement(session, w[who], org, cid, month)
    s = svc.confirm_settlement(session, w["admin"], org, cid, month)
    shop_acct = ledger.merchant_account(session, cid, org)
    assert ledger.balance(session, shop_acct) == 0
    assert ledger.balance(session, ledger.system_account(session, cid, "settlement")) == 30
    again = svc.confirm_settlement(session, w["admin"], org, cid, month)
    assert again.id == s.id and ledger.balance(session, shop_acct) == 0
    assert session.scalars(select(Settlement)).all() == [s]
    assert svc.settlements_to_confirm(session, w["admin"]) == []
    assert ledger.verify(session).ok


def test_settlement_refusals(session, w):
    org, cid = merchant_org_id(w["shop"]), w["a"].id
    this_month = svc.month_of(utcnow())
    with pytest.raises(Conflict, match="ended"):
        svc.confirm_settlement(session, w["admin"], org, cid, this_month)
    with pytest.raises(Conflict, match="Nothing"):
        svc.confirm_settlement(session, w["admin"], org, cid, "2020-01")
    with pytest.raises(ServiceError):
        svc.confirm_settlement(session, w["admin"], org, cid, "2020-13")
    with pytest.raises(Forbidden):
        svc.confirm_settlement(session, w["admin"], org, w["b"].id, "2020-01")  # another street
    assert len(refusals(session, "settle")) == 4


def test_export_masks_and_neutralises(session, w):
    from openpyxl import load_workbook

    w["reward"].title = '=HYPERLINK("http://evil")'
    w["res"].display_name = "王建华"
    session.flush()
    month, v = _last_month_sale(session, w)
    data = svc.export_statement_xlsx(session, w["shop"], merchant_org_id(w["shop"]), w["a"].id, month)
    ws = load_workbook(BytesIO(data)).active
    cells = [c.value for row in ws.iter_rows() for c in row if c.value is not None]
    assert v.code in cells and "王**" in cells
    assert all(not (isinstance(c, str) and c.startswith("=")) for c in cells)
    assert w["res"].phone not in cells
    assert session.scalars(select(AuditEvent).where(AuditEvent.action == "rewards.statement_export")).all()
    with pytest.raises(Forbidden):
        svc.export_statement_xlsx(session, w["shop2"], merchant_org_id(w["shop"]), w["a"].id, month)


def test_merchant_view_is_masked(session, w):
    v = svc.redeem(session, w["res"], w["reward"].id, KEY).voucher
    view = svc.merchant_view(session, v)
    assert view.phone != w["res"].phone and "****" in view.phone
    assert view.resident.endswith("*") and len(view.resident) >= 2
