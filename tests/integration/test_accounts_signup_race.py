"""Two sign-ups with the same number at the same moment, on a real database with real
commits (SQLite and PostgreSQL): exactly one account, the other person gets a friendly
4xx, never a 500."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db import Base, make_engine
from portal.accounts import services
from portal.people.models import User
from tests.conftest import make_test_app
from tests.factories import make_community, next_phone

pytestmark = pytest.mark.slow


@pytest.fixture()
def real_app(backend, fresh_database):
    url = fresh_database(backend)
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        community_id = make_community(s).id
        s.commit()
    app = make_test_app(DATABASE_URL=url, DATABASE_ENGINE=engine, BABEL_DEFAULT_LOCALE="en")
    yield app, engine, community_id
    engine.dispose()


def test_concurrent_signups_with_the_same_phone(real_app, monkeypatch):
    app, engine, community_id = real_app
    phone = next_phone()
    barrier = threading.Barrier(2, timeout=3)
    original = services.phone_taken

    def slow_phone_taken(session, value):
        taken = original(session, value)
        try:  # let both requests pass the pre-check before either inserts (where the DB allows)
            barrier.wait()
        except threading.BrokenBarrierError:
            pass  # SQLite: the writer lock already serialises the two requests
        return taken

    monkeypatch.setattr(services, "phone_taken", slow_phone_taken)
    statuses: list[int] = []
    bodies: list[str] = []

    def sign_up(name):
        resp = app.test_client().post(
            "/accounts/signup",
            data={
                "phone": phone,
                "password": "Plum-Blossom-77",
                "confirm": "Plum-Blossom-77",
                "display_name": name,
                "community": str(community_id),
            },
        )
        statuses.append(resp.status_code)
        bodies.append(resp.get_data(as_text=True))

    threads = [threading.Thread(target=sign_up, args=(n,)) for n in ("甲", "乙")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(statuses) == [302, 422], statuses
    assert "already registered" in bodies[statuses.index(422)]
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(User).where(User.phone == phone)) == 1
