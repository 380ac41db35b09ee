"""In-app inbox: notify, dedupe, read, delivery after commit only."""

from __future__ import annotations

from sqlalchemy import select

from portal.notifications.models import Notification
from portal.notifications.services import inbox, mark_all_read, notify, unread_count
from tests.factories import login, make_community, make_user


class RecordingSender:
    sent: list[dict] = []

    def send(self, **kw):
        RecordingSender.sent.append(kw)


def test_notify_dedupes_and_counts(app, session):
    with app.app_context():
        user = make_user(session, community=make_community(session))
        notify(session, user.id, "activity.reminder", "Tomorrow 9:00", dedupe_key="a:1:u")
        notify(session, user.id, "activity.reminder", "Tomorrow 9:00", dedupe_key="a:1:u")
        notify(session, user.id, "hours.approved", "Hours approved")
        session.flush()
        assert unread_count(session, user.id) == 2
        assert [n.kind for n in inbox(session, user.id)] == ["hours.approved", "activity.reminder"]
        assert mark_all_read(session, user.id) == 2
        assert unread_count(session, user.id) == 0


def test_delivery_happens_only_after_commit(app, session):
    app.extensions["fufen_sender"] = RecordingSender()
    RecordingSender.sent = []
    with app.app_context():
        user = make_user(session, community=make_community(session))
        notify(session, user.id, "x", "rolled back")
        session.rollback()
        assert RecordingSender.sent == []
        user = make_user(session, community=make_community(session, name="Other"))
        notify(session, user.id, "x", "kept")
        session.commit()
        assert [s["title"] for s in RecordingSender.sent] == ["kept"]


def test_inbox_page_lists_and_marks_read(app, client, session):
    with app.app_context():
        user = make_user(session, community=make_community(session), password="Correct-Horse-9")
        notify(session, user.id, "hours.approved", "Your hours were approved")
        session.flush()
    login(client, user, "Correct-Horse-9")
    page = client.get("/inbox/")
    assert page.status_code == 200
    assert "Your hours were approved" in page.get_data(as_text=True)
    assert client.get("/inbox/read").status_code == 405  # no state change on GET
    assert client.post("/inbox/read").status_code == 302
    assert session.scalars(select(Notification.read_at)).all()[0] is not None
