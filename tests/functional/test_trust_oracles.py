"""Issue 9 #8: forms that look something up answer "not usable here" the same way for
what does not exist and for what belongs to someone else (status, message, code), so
they cannot be used to learn about other communities or shops."""

from __future__ import annotations

import re

from sqlalchemy import select

from portal.people.models import Role
from portal.rewards.models import Voucher
from tests.factories import (
    give_points,
    login,
    make_community,
    make_reward,
    make_street,
    make_user,
    next_phone,
)


def _answer(resp) -> tuple[int, str]:
    html = resp.get_data(as_text=True)
    errors = re.findall(r'class="(?:field-error|flash flash-error)"[^>]*>\s*(?:<p>)?([^<]+)<', html)
    return resp.status_code, " ".join(e.strip() for e in errors)


def test_gift_form_same_answer_for_unregistered_and_other_community(client, session):
    client.set_cookie("fufen_lang", "en")
    street = make_street(session)
    a, b = make_community(session, street=street), make_community(session, street=street)
    giver = make_user(session, community=a)
    elsewhere = make_user(session, community=b)
    give_points(session, a, giver, 100)
    login(client, giver)
    answers = set()
    for phone in (elsewhere.phone, next_phone()):
        page = client.get("/exchange/gift").get_data(as_text=True)
        key = re.search(r'name="idem_key"[^>]*value="([^"]+)"', page)
        assert key
        data = {"phone": phone, "amount": "5", "note": "", "idem_key": key.group(1)}
        resp = client.post("/exchange/gift", data=data)
        answers.add(_answer(resp))
    assert len(answers) == 1, answers
    assert next(iter(answers))[0] == 404


def test_proxy_wish_same_answer_for_unregistered_and_other_community(client, session):
    client.set_cookie("fufen_lang", "en")
    street = make_street(session)
    a, b = make_community(session, street=street), make_community(session, street=street)
    staff = make_user(session, community=a, roles=(Role.STAFF,))
    elsewhere = make_user(session, community=b)
    login(client, staff)
    answers = set()
    for phone in (elsewhere.phone, next_phone()):
        resp = client.post(
            "/wishes/new",
            data={"title": "买菜", "description": "", "category": "生活帮扶", "requester_phone": phone},
        )
        answers.add(_answer(resp))
    assert len(answers) == 1, answers


def test_merchant_verify_same_answer_for_unknown_and_other_shops_code(client, session):
    client.set_cookie("fufen_lang", "en")
    community = make_community(session)
    shop = make_user(session, community=community, roles=(Role.MERCHANT,))
    shop2 = make_user(session, community=community, roles=(Role.MERCHANT,))
    resident = make_user(session, community=community)
    reward = make_reward(session, community, shop, price=10, stock=5)
    give_points(session, community, resident, 100)
    login(client, resident)
    page = client.get(f"/rewards/{reward.id}/redeem").get_data(as_text=True)
    key = re.search(r'name="idem_key"[^>]*value="([^"]+)"', page)
    assert key
    client.post(f"/rewards/{reward.id}/redeem", data={"idem_key": key.group(1)})
    voucher = session.scalar(select(Voucher))
    assert voucher is not None
    client.post("/accounts/logout")
    login(client, shop2)
    real, fake = voucher.code, "Z" * len(voucher.code)
    answers = {_answer(client.get(f"/merchant/verify?code={c}")) for c in (real, fake)}
    assert len(answers) == 1, answers
