"""Language at read time: the first visit follows Accept-Language; inbox messages are stored
as message ids and rendered for the reader; the service worker and offline page."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from portal.notifications.models import Notification
from portal.notifications.services import notify
from tests.factories import login, make_community, make_street, make_user


def _lang(html: str) -> str:
    m = re.search(r'<html lang="([^"]+)"', html)
    assert m is not None
    return m.group(1)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "zh-CN"),
        ("en-US,en;q=0.9", "en"),
        ("zh-TW,en;q=0.5", "zh-CN"),
        ("fr-FR,de;q=0.8", "zh-CN"),
        ("fr, en;q=0.3", "en"),
    ],
)
def test_first_visit_follows_accept_language(client, header: str | None, expected: str) -> None:
    headers = {"Accept-Language": header} if header else {}
    resp = client.get("/accounts/login", headers=headers)
    assert _lang(resp.get_data(as_text=True)) == expected
    assert "Accept-Language" in resp.headers.get("Vary", "")


def test_a_chosen_language_beats_accept_language(client) -> None:
    client.set_cookie("fufen_lang", "zh_Hans_CN")
    assert (
        _lang(client.get("/accounts/login", headers={"Accept-Language": "en"}).get_data(as_text=True))
        == "zh-CN"
    )


def test_inbox_renders_each_message_in_the_readers_language(client, session) -> None:
    from flask_babel import lazy_gettext as _l

    community = make_community(session, make_street(session))
    user = make_user(session, community=community)
    notify(session, user.id, "hours.approved", _l("Your hours were approved: +%(points)d 福分", points=15))
    notify(session, user.id, "hours.rejected", _l("Your hours were not approved"), "照片看不清，请重新上传")
    session.flush()
    stored = session.scalars(select(Notification).where(Notification.user_id == user.id)).all()
    assert {n.i18n["title"]["msgid"] for n in stored} == {
        "Your hours were approved: +%(points)d 福分",
        "Your hours were not approved",
    }
    login(client, user)
    client.set_cookie("fufen_lang", "en")
    en = client.get("/inbox/").get_data(as_text=True)
    assert "Your hours were approved: +15 Fufen points" in en and "照片看不清" in en
    client.set_cookie("fufen_lang", "zh_Hans_CN")
    zh = client.get("/inbox/").get_data(as_text=True)
    assert "Your hours were" not in zh and "照片看不清" in zh


def test_service_worker_and_offline_page(client) -> None:
    sw = client.get("/sw.js")
    assert sw.status_code == 200 and sw.mimetype == "text/javascript"
    assert sw.headers["Cache-Control"].startswith("no-cache")
    body = sw.get_data(as_text=True)
    assert re.search(r'const VERSION = "[0-9a-f]{16}"', body) and '"/offline"' in body
    offline = client.get("/offline")
    assert offline.status_code == 200 and "/static/js/app.js" in offline.get_data(as_text=True)


def test_the_offline_page_leaves_pending_messages_alone(app, client) -> None:
    """The service worker fetches /offline in the background (install): a message flashed
    for the page the person is about to see must still be there for it."""
    with client.session_transaction() as sess:
        sess["_flashes"] = [("success", "Approved 1 entries (15 福分).")]
    assert "Approved 1 entries" not in client.get("/offline").get_data(as_text=True)
    with client.session_transaction() as sess:
        assert sess.get("_flashes") == [("success", "Approved 1 entries (15 福分).")]


def test_the_app_is_installable(client) -> None:
    """The manifest names PNG icons of 192 and 512 px (what phones need to install) that exist."""
    import json

    resp = client.get("/static/manifest.webmanifest")
    manifest = json.loads(resp.get_data(as_text=True))
    resp.close()
    assert manifest["display"] == "standalone" and manifest["start_url"] == "/"
    sizes = {i["sizes"] for i in manifest["icons"] if i["type"] == "image/png"}
    assert {"192x192", "512x512"} <= sizes
    for icon in manifest["icons"]:
        resp = client.get(icon["src"])
        assert resp.status_code == 200 and resp.mimetype == icon["type"]
        resp.close()
